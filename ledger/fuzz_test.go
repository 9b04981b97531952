package ledger

import (
	"testing"
)

// FuzzCheckTx feeds arbitrary bytes to the decoder and the full check of a block. It must never
// panic, never accept bytes whose re-encoding differs, and never change state on a rejection.
// The seed corpus (the golden vectors, plus the inputs the fuzzer found interesting, kept in
// testdata/fuzz/FuzzCheckTx) runs in every `go test`.
func FuzzCheckTx(f *testing.F) {
	for _, v := range vectorTxs() {
		f.Add(v.tx.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 10})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := DecodeTx(raw)
		if err == nil {
			if string(tx.Encode()) != string(raw) {
				t.Fatalf("accepted non-canonical bytes %x", raw)
			}
		} else if CodeOf(err) == CodeOK {
			t.Fatalf("decode error without a rejection code: %v", err)
		}
		w := newFuzzWorld(t)
		before := w.store.snapshot()
		r := w.block(raw)[0]
		if r.Code != CodeOK && len(w.store.snapshot()) != len(before) {
			t.Fatalf("rejected tx (%s) changed the state", r.Log)
		}
	})
}

var fuzzBase memStore

// newFuzzWorld is a world built once and copied, so each fuzz input starts from the same state.
func newFuzzWorld(t *testing.T) *world {
	if fuzzBase == nil {
		w := newWorld(t)
		fuzzBase = w.store
	}
	w := &world{harness: &harness{t: t, store: memStore{}, params: testParams(), seq: map[PubKey]uint64{}, height: 100}}
	for k, v := range fuzzBase {
		w.store[k] = v
	}
	return w
}

// FuzzAuditEvidence decodes arbitrary bytes as audit evidence (format 2): what decodes
// re-encodes to the same bytes, and its check never panics and never accepts a leaf that
// verifies (R-AUDIT-3).
func FuzzAuditEvidence(f *testing.F) {
	alice, bob := key("alice"), key("bob")
	good := provenAudit(id("contract-1"), pub(alice), bob)
	e := &encoder{}
	good.Evidence.encode(e)
	f.Add(e.buf)
	for _, cut := range []int{1, 100, len(e.buf) - 1} {
		f.Add(append([]byte(nil), e.buf[:cut]...))
	}
	flipped := append([]byte(nil), e.buf...)
	flipped[len(flipped)/2] ^= 1
	f.Add(flipped)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := &AuditEvidence{}
		d := &decoder{buf: raw}
		ev.decode(d)
		if d.finish("evidence") != nil {
			return
		}
		e := &encoder{}
		ev.encode(e)
		if string(e.buf) != string(raw) {
			t.Fatalf("evidence %x re-encodes as %x", raw, e.buf)
		}
		c := ev.Commitment
		a := &AuditResult{ContractID: c.ContractID, Number: 1, Customer: c.Customer, Supplier: c.Supplier, Evidence: ev,
			ChallengeDigest: ev.Challenge(testChain, 1).Digest()}
		if a.validate() != nil {
			return
		}
		if CheckAuditEvidence(testChain, a) == nil && ev.Proof.Verify(&ev.Commitment) == nil {
			t.Fatal("accepted evidence whose leaf verifies")
		}
	})
}
