package ledger

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// BenchmarkEd25519Verify is the libraries alone, the reference for signature checking cost: Go's
// crypto/ed25519, and curve25519-voi (what the ledger uses) one signature at a time and in a
// batch of 17 (a 16-event tx and its envelope).
func BenchmarkEd25519Verify(b *testing.B) {
	priv := key("bench")
	msg := make([]byte, 200)
	sig := ed25519.Sign(priv, msg)
	pk := priv.Public().(ed25519.PublicKey)
	b.Run("lib=crypto-ed25519", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			if !ed25519.Verify(pk, msg, sig) {
				b.Fatal("verify")
			}
		}
	})
	b.Run("lib=voi", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			if !voi.VerifyWithOptions(voi.PublicKey(pk), msg, sig, verifyOptions) {
				b.Fatal("verify")
			}
		}
	})
	b.Run("lib=voi/batch=17", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			bv := voi.NewBatchVerifierWithCapacity(17)
			for i := 0; i < 17; i++ {
				bv.AddWithOptions(voi.PublicKey(pk), msg, sig, verifyOptions)
			}
			if !bv.VerifyBatchOnly(nil) {
				b.Fatal("verify")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(17*b.N), "ns/sig")
	})
}

// BenchmarkCheckStateless decodes a tx and verifies its signature and countersignature.
func BenchmarkCheckStateless(b *testing.B) {
	alice, bob := key("alice"), key("bob")
	for _, events := range []int{1, 16} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			var evs []Event
			for i := 0; i < events; i++ {
				evs = append(evs, countersigned(&StorageReceipt{ContractID: id("c"), Number: uint64(i + 1),
					Customer: pub(alice), Supplier: pub(bob), PeriodStart: 1, PeriodEnd: 2, ByteSeconds: 3}, alice))
			}
			tx := &Tx{ChainID: testChain, Sequence: 1, Events: evs}
			tx.Sign(bob)
			raw := tx.Encode()
			p := testParams()
			p.MaxEventsPerTx, p.MaxTxBytes = 64, 1<<20
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				if _, err := CheckStateless(raw, testChain, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkApplyEvent applies receipts (signatures pre-verified) to a block over a map store:
// the state machine's own cost per event.
func BenchmarkApplyEvent(b *testing.B) {
	t := &testing.T{}
	w := newWorld(t)
	p := w.params
	p.MaxTxsPerSignerPerBlock = 1 << 30
	seq := w.seq[pub(w.bob)]
	txs := make([]*Tx, b.N)
	raws := make([][]byte, b.N)
	for n := 0; n < b.N; n++ {
		seq++
		txs[n] = &Tx{ChainID: testChain, Sequence: seq, Events: []Event{countersigned(w.receipt(uint64(n+1), 1), w.alice)}}
		txs[n].Sign(w.bob)
		raws[n] = txs[n].Encode()
	}
	blk := NewBlock(w.store, testChain, p, BlockInfo{Height: 100, Time: 1}, true)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if r := blk.ApplyTx(raws[n], txs[n]); r.Code != CodeOK {
			b.Fatal(r.Log)
		}
	}
	if _, err := blk.Finish(); err != nil {
		b.Fatal(err)
	}
}
