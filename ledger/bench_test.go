package ledger

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/trustledger/trustledger/ledger/shard"
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
	// The block comes after the receipts' period (R-RCPT-3: a period may not end after the block).
	blk := NewBlock(w.store, testChain, p, BlockInfo{Height: 100, Time: 1700000200}, true)
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

// BenchmarkCheckAuditEvidence: the ledger's check of a failed audit's evidence from a 64 MiB
// shard of 1 KiB leaves (16-hash paths, 16 leaf digests): two signatures, the digests and one
// inclusion path (target ≤ 1 ms).
func BenchmarkCheckAuditEvidence(b *testing.B) {
	alice, bob := key("alice"), key("bob")
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 13)
	}
	tree, err := shard.Build(bytes.NewReader(data), uint64(len(data)), shard.DefaultLeafSize)
	if err != nil {
		b.Fatal(err)
	}
	c := StorageCommitment{ContractID: id("c"), ShardID: id("s"), Customer: pub(alice), Supplier: pub(bob), Size: uint64(len(data)), LeafSize: shard.DefaultLeafSize}
	copy(c.Root[:], tree.Root())
	SignCommitment(bob, testChain, &c)
	for i := range data {
		data[i] ^= 0xff
	}
	ch := AuditChallenge{Commitment: c.Digest(testChain), Number: 1, Nonce: id("n"), Count: MaxChallengeLeaves}
	a := &AuditAnswer{Challenge: ch}
	for _, i := range ch.Indices(tree.Leaves()) {
		leaf, path, err := tree.Prove(bytes.NewReader(data), i)
		if err != nil {
			b.Fatal(err)
		}
		p := LeafProof{Index: i, Leaf: leaf}
		for _, h := range path {
			p.Path = append(p.Path, ID(h))
		}
		a.Proofs = append(a.Proofs, p)
	}
	SignAnswer(bob, testChain, a)
	r := &AuditResult{ContractID: c.ContractID, Number: 1, Customer: c.Customer, Supplier: c.Supplier, ChallengeDigest: ch.Digest(), Evidence: NewAuditEvidence(&c, a, 0)}
	e := &encoder{}
	r.Evidence.encode(e)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if err := CheckAuditEvidence(testChain, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(e.buf)), "evidence-bytes")
}
