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
