package p2p

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// benchSize is the file each benchmark moves: 256 MiB, sixteen stripes.
const benchSize = 256 << 20

// BenchmarkRawStream is the ceiling the exchange is measured against (issue 13): one libp2p
// stream (TCP, Noise, yamux) on loopback between two hosts, writing 256 MiB that the other
// side reads and discards.
func BenchmarkRawStream(b *testing.B) {
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{}}
	from, to := newHost(b, testKey("alice"), reg), newHost(b, testKey("bob"), reg)
	to.h.SetStreamHandler("/bench/1", func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_ = s.Close()
	})
	connect(b, from, to)
	buf := make([]byte, 1<<20)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		s, err := from.h.NewStream(context.Background(), to.ID(), "/bench/1")
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchSize; n += len(buf) {
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.CloseWrite(); err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, s) // until the reader closes: every byte arrived
		_ = s.Close()
	}
}

// BenchmarkPutFile puts a 256 MiB file 4+2 on six suppliers on loopback: sealed, coded, hashed,
// sent and committed (fsync) by each supplier.
func BenchmarkPutFile(b *testing.B) {
	w, key := benchWorld(b)
	data := shardData(benchSize, 3)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := range b.N {
		if _, err := w.customer.PutFile(context.Background(), key, ledger.ID{byte(i), 1}, bytes.NewReader(data), Spread{Contracts: w.contracts, K: 4, M: 2}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetFile reads the 256 MiB file back: four shards a stripe, each checked against its
// commitment, decoded, decrypted, the whole file's hash checked.
func BenchmarkGetFile(b *testing.B) {
	w, key := benchWorld(b)
	data := shardData(benchSize, 3)
	rec, err := w.customer.PutFile(context.Background(), key, ledger.ID{1}, bytes.NewReader(data), Spread{Contracts: w.contracts, K: 4, M: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		if err := w.customer.GetFile(context.Background(), key, rec, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWorld is six suppliers and alice's customer side, which countersigns their bandwidth
// receipts as the supplier service collects them (or reads would stop at MaxUnreceipted).
func benchWorld(b *testing.B) (supplierSet, [32]byte) {
	alice := testKey("alice")
	w := sixSuppliers(b, alice, 4<<30, "bench")
	w.customer.ServeReceipts()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	for _, sup := range w.served {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-sup.BandwidthDue():
					sup.CollectBandwidth(ctx)
				}
			}
		}()
	}
	key, err := stripe.Key(alice)
	if err != nil {
		b.Fatal(err)
	}
	return w, key
}
