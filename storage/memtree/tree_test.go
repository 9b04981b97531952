package memtree

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/cosmos/gogoproto/proto"
	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
)

// TestSameAsIAVL: the same writes through this tree and iavl v1.3.5 (the state tree it stands
// in for) give, after every version, the same working hash, saved hash, values, proofs (byte for
// byte) of present and absent keys at every kept version, the same export, and an import that
// hashes the same. The writes are random sets, updates and removals over a small key space (so
// that rotations of every kind happen, and removals empty whole subtrees), versions that change
// nothing, a version that empties the tree, abandoned working changes, pruning, and a rollback
// whose heights are written again with other values.
func TestSameAsIAVL(t *testing.T) {
	for _, initial := range []int64{0, 1000} {
		t.Run(fmt.Sprintf("initial version %d", initial), func(t *testing.T) {
			sameAsIAVL(t, initial)
		})
	}
}

func sameAsIAVL(t *testing.T, initial int64) {
	const versions, keep = 120, 5
	ref := iavl.NewMutableTree(iavldb.NewMemDB(), 0, false, iavl.NewNopLogger())
	mem := New()
	if initial > 0 {
		ref.SetInitialVersion(uint64(initial))
		mem.SetInitialVersion(initial)
	}
	rng := rand.New(rand.NewSource(initial + 3))
	key := func() []byte { return fmt.Appendf(nil, "k%03d", rng.Intn(400)) }
	rolledBack := false
	oldest := firstVersion(initial) // the oldest version kept
	for i := 0; i < versions; i++ {
		switch {
		case i == 60: // empty the tree
			for _, k := range liveKeys(t, ref) {
				removeBoth(t, ref, mem, k)
			}
		case i%17 == 5: // a version that changes nothing
		default:
			n := 1 + rng.Intn(60)
			for j := 0; j < n; j++ {
				k := key()
				if rng.Intn(4) == 0 {
					removeBoth(t, ref, mem, k)
					continue
				}
				v := fmt.Appendf(nil, "v%d-%d", i, rng.Intn(1000))
				a, err := ref.Set(k, v)
				if err != nil {
					t.Fatal(err)
				}
				b, err := mem.Set(k, v)
				if err != nil || a != b {
					t.Fatalf("version %d: Set(%s): updated %t, iavl %t (%v)", i, k, b, a, err)
				}
			}
		}
		if i%7 == 3 { // a working hash mid-block, then more writes, then abandon a few
			if !bytes.Equal(ref.WorkingHash(), mem.WorkingHash()) {
				t.Fatalf("version %d: working hash differs", i)
			}
			k := key()
			if _, err := ref.Set(k, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := mem.Set(k, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if i%11 == 4 {
			ref.Rollback()
			mem.Rollback()
		}
		if !bytes.Equal(ref.WorkingHash(), mem.WorkingHash()) {
			t.Fatalf("version %d: working hash differs", i)
		}
		rh, rv, err := ref.SaveVersion()
		if err != nil {
			t.Fatal(err)
		}
		mh, mv := mem.SaveVersion()
		if rv != mv || !bytes.Equal(rh, mh) {
			t.Fatalf("version %d: saved %d %X, iavl %d %X", i, mv, mh, rv, rh)
		}
		if rv-keep >= oldest {
			if err := ref.DeleteVersionsTo(rv - keep); err != nil {
				t.Fatal(err)
			}
			if err := mem.DeleteVersionsTo(rv - keep); err != nil {
				t.Fatal(err)
			}
			oldest = rv - keep + 1
		}
		if first, newest := mem.Versions(); newest != rv || first != oldest {
			t.Fatalf("version %d: kept %d to %d, want %d to %d", rv, first, newest, oldest, rv)
		}
		for v := oldest; v <= rv; v++ {
			compareVersion(t, ref, mem, v, rng)
		}
		if i == 90 && !rolledBack { // roll back three versions and write them again differently
			rolledBack = true
			to := rv - 3
			if err := ref.LoadVersionForOverwriting(to); err != nil {
				t.Fatal(err)
			}
			if err := mem.LoadVersionForOverwriting(to); err != nil {
				t.Fatal(err)
			}
			if _, err := mem.View(to + 1); !errors.Is(err, ErrVersionNotFound) {
				t.Fatalf("version %d after the rollback to %d: %v", to+1, to, err)
			}
			i -= 3
		}
	}
	if _, err := mem.View(firstVersion(initial)); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("a pruned version: %v", err)
	}
}

func firstVersion(initial int64) int64 { return max(initial, 1) }

func removeBoth(t *testing.T, ref *iavl.MutableTree, mem *Tree, k []byte) {
	t.Helper()
	rv, rok, err := ref.Remove(k)
	if err != nil {
		t.Fatal(err)
	}
	mv, mok := mem.Remove(k)
	if rok != mok || !bytes.Equal(rv, mv) {
		t.Fatalf("Remove(%s): %q %t, iavl %q %t", k, mv, mok, rv, rok)
	}
}

func liveKeys(t *testing.T, ref *iavl.MutableTree) [][]byte {
	var keys [][]byte
	if _, err := ref.Iterate(func(k, _ []byte) bool { keys = append(keys, bytes.Clone(k)); return false }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// compareVersion checks one kept version of both trees: hash, size, every key's value in order,
// proofs of present and absent keys (which must also verify), the export and a re-import.
func compareVersion(t *testing.T, ref *iavl.MutableTree, mem *Tree, v int64, rng *rand.Rand) {
	t.Helper()
	it, err := ref.GetImmutable(v)
	if err != nil {
		t.Fatal(err)
	}
	mv, err := mem.View(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(it.Hash(), mv.Hash()) || it.Size() != mv.Size() {
		t.Fatalf("version %d: hash %X size %d, iavl %X size %d", v, mv.Hash(), mv.Size(), it.Hash(), it.Size())
	}
	var refKV, memKV []string
	if _, err := it.Iterate(func(k, val []byte) bool { refKV = append(refKV, string(k)+"="+string(val)); return false }); err != nil {
		t.Fatal(err)
	}
	mv.Iterate(nil, nil, func(k, val []byte) bool { memKV = append(memKV, string(k)+"="+string(val)); return true })
	if fmt.Sprint(refKV) != fmt.Sprint(memKV) {
		t.Fatalf("version %d: keys differ:\n mem %v\niavl %v", v, memKV, refKV)
	}
	if it.Size() == 0 {
		if _, err := mv.Proof([]byte("k1")); err == nil {
			t.Fatalf("version %d: a proof in an empty tree", v)
		}
		return
	}
	for range 8 {
		k := fmt.Appendf(nil, "k%03d", rng.Intn(420))
		if rng.Intn(8) == 0 {
			k = []byte{0} // below every key
		}
		rp, err := it.GetProof(k)
		if err != nil {
			t.Fatal(err)
		}
		mp, err := mv.Proof(k)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := proto.Marshal(rp)
		mb, _ := proto.Marshal(mp)
		if !bytes.Equal(rb, mb) {
			t.Fatalf("version %d: proof of %s differs from iavl's", v, k)
		}
		val := mv.Get(k)
		ok := val == nil && ics23.VerifyNonMembership(ics23.IavlSpec, mv.Hash(), mp, k) ||
			val != nil && ics23.VerifyMembership(ics23.IavlSpec, mv.Hash(), mp, k, val)
		if !ok {
			t.Fatalf("version %d: proof of %s does not verify", v, k)
		}
	}
	exp, err := it.Export()
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	im, err := NewImporter(v)
	if err != nil {
		t.Fatal(err)
	}
	var want []ExportNode
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ExportNode{Key: n.Key, Value: n.Value, Version: n.Version, Height: n.Height})
		if err := im.Add(want[len(want)-1]); err != nil {
			t.Fatalf("version %d: import of iavl's export: %v", v, err)
		}
	}
	var got []ExportNode
	if err := mv.Export(func(n ExportNode) error { got = append(got, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("version %d: export differs from iavl's", v)
	}
	imported, err := im.Tree()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(imported.WorkingHash(), it.Hash()) || imported.Version() != v {
		t.Fatalf("version %d: imported tree %d hashes %X", v, imported.Version(), imported.WorkingHash())
	}
}
