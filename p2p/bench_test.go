package p2p

import (
	"bytes"
	"context"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
	"github.com/trustledger/trustledger/test/bench/procstat"
)

// benchMiB is the size of the file each benchmark moves: 256 MiB (sixteen stripes) unless
// -p2p.bench-mib says otherwise (1024: the 1 GiB file of issue 13's memory and slow-supplier
// targets).
var benchMiB = flag.Int("p2p.bench-mib", 256, "the file size the exchange's benchmarks move, in MiB")

func benchBytes() int { return *benchMiB << 20 }

// BenchmarkRawStream is the ceiling the exchange is measured against (issue 13): one libp2p
// stream (TCP, Noise, yamux) on loopback between two hosts, writing the file's size that the other
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
	b.SetBytes(int64(benchBytes()))
	b.ResetTimer()
	cpu := startCPU()
	defer cpu.report(b)
	for range b.N {
		s, err := from.h.NewStream(context.Background(), to.ID(), "/bench/1")
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchBytes(); n += len(buf) {
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
	data := shardData(benchBytes(), 3)
	b.SetBytes(int64(benchBytes()))
	b.ResetTimer()
	cpu := startCPU()
	defer cpu.report(b)
	for i := range b.N {
		if _, err := w.customer.PutFile(context.Background(), key, ledger.ID{byte(i), 1}, bytes.NewReader(data), Spread{Contracts: w.contracts, K: 4, M: 2}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutFileSlowSupplier (issue 13: a supplier throttled to 1 MB/s raises put time by
// at most 20%) puts the file 4+2 with a seventh supplier as the spare, twice an iteration: all
// six fast, then one of them taking shards in at 1 MB/s (SupplierConfig.ReceiveRate), each put
// on fresh suppliers. The two alternate, so both stand on a process in the same state (run one
// after the other as sub-benchmarks, the second came out up to a fifth slower whichever it
// was: the worlds of a sub-benchmark live until it ends). It reports each one's seconds and the
// slow supplier's cost in percent.
func BenchmarkPutFileSlowSupplier(b *testing.B) {
	data := shardData(benchBytes(), 3)
	var took [2]time.Duration
	moved := 0
	for i := range b.N {
		for slow, rate := range []int64{0, 1_000_000} {
			w, key := benchWorldWith(b, 7, func(j int, c *SupplierConfig) {
				if j == 2 {
					c.ReceiveRate = rate
				}
			})
			spread := Spread{Contracts: w.contracts[:6], K: 4, M: 2, Spares: w.contracts[6:], Size: uint64(benchBytes())}
			start := time.Now()
			rec, err := w.customer.PutFile(context.Background(), key, ledger.ID{byte(i), byte(slow), 2}, bytes.NewReader(data), spread, nil)
			if err != nil {
				b.Fatal(err)
			}
			took[slow] += time.Since(start)
			for _, sr := range rec.Stripes {
				for _, cm := range sr.Shards {
					if cm.ContractID == w.contracts[6] {
						moved++ // on the spare: the slow supplier's shards, none when all are fast
					}
				}
			}
		}
	}
	fast, slow := took[0].Seconds()/float64(b.N), took[1].Seconds()/float64(b.N)
	b.ReportMetric(fast, "fast-s/op")
	b.ReportMetric(slow, "slow-s/op")
	b.ReportMetric(100*(slow-fast)/fast, "cost-%")
	b.ReportMetric(float64(moved)/float64(b.N), "shards-on-spare/op")
}

// BenchmarkGetFile reads the file back: four shards a stripe, each checked against its
// commitment, decoded, decrypted, the whole file's hash checked.
func BenchmarkGetFile(b *testing.B) {
	w, key := benchWorld(b)
	data := shardData(benchBytes(), 3)
	rec, err := w.customer.PutFile(context.Background(), key, ledger.ID{1}, bytes.NewReader(data), Spread{Contracts: w.contracts, K: 4, M: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(benchBytes()))
	b.ResetTimer()
	cpu := startCPU()
	defer cpu.report(b)
	for range b.N {
		if err := w.customer.GetFile(context.Background(), key, rec, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuMeter reports, at the end of a benchmark, how many cores the process kept busy while the
// timer ran (user and system time over wall time): what is left of the two cores is waiting.
type cpuMeter struct {
	wall time.Time
	cpu  time.Duration
}

func startCPU() cpuMeter { return cpuMeter{time.Now(), procstat.Self()} }

func (m cpuMeter) report(b *testing.B) {
	b.ReportMetric((procstat.Self()-m.cpu).Seconds()/time.Since(m.wall).Seconds(), "cores")
}

// benchWorld is six suppliers and alice's customer side, which countersigns their bandwidth
// receipts as the supplier service collects them (or reads would stop at MaxUnreceipted).
func benchWorld(b *testing.B) (supplierSet, [32]byte) { return benchWorldWith(b, 6, nil) }

// benchWorldWith is benchWorld with n suppliers, supplier i's config changed by edit.
func benchWorldWith(b *testing.B, n int, edit func(i int, c *SupplierConfig)) (supplierSet, [32]byte) {
	alice := testKey("alice")
	w := suppliersWith(b, alice, 4<<30, "bench", n, edit)
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
