package storage

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	iavldb "github.com/cosmos/iavl/db"
)

// kvdb is what the contract suite needs: iavl's DB plus direct writes.
type kvdb interface {
	iavldb.DB
	Set(key, value []byte) error
	Delete(key []byte) error
}

// implementations runs the same contract against iavl's reference memdb and our adapter.
func implementations(t *testing.T) map[string]kvdb {
	b, err := OpenBadger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return map[string]kvdb{"memdb": iavldb.NewMemDB(), "badger": b}
}

func collect(t *testing.T, db kvdb, start, end []byte, reverse bool) []string {
	t.Helper()
	var it interface {
		Valid() bool
		Next()
		Key() []byte
		Value() []byte
		Close() error
	}
	var err error
	if reverse {
		it, err = db.ReverseIterator(start, end)
	} else {
		it, err = db.Iterator(start, end)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for ; it.Valid(); it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	return out
}

func TestDBContract(t *testing.T) {
	for name, db := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := db.Get(nil); err == nil {
				t.Error("Get(nil): got no error, want one")
			}
			if err := db.Set([]byte("k"), nil); err == nil {
				t.Error("Set with nil value: got no error")
			}
			if v, err := db.Get([]byte("missing")); v != nil || err != nil {
				t.Errorf("Get(missing): got %q, %v; want nil, nil", v, err)
			}
			for _, k := range []string{"a", "b", "c", "d"} {
				if err := db.Set([]byte(k), []byte("v"+k)); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Set([]byte("empty"), []byte{}); err != nil {
				t.Fatal(err)
			}
			if v, _ := db.Get([]byte("empty")); v == nil || len(v) != 0 {
				t.Errorf("empty value: got %v, want non-nil empty", v)
			}
			if ok, _ := db.Has([]byte("b")); !ok {
				t.Error("Has(b) = false")
			}
			cases := []struct {
				start, end string
				reverse    bool
				want       string
			}{
				{"", "", false, "a=va b=vb c=vc d=vd empty="},
				{"b", "d", false, "b=vb c=vc"},
				{"b", "", false, "b=vb c=vc d=vd empty="},
				{"", "c", false, "a=va b=vb"},
				{"", "", true, "empty= d=vd c=vc b=vb a=va"},
				{"b", "d", true, "c=vc b=vb"},
				{"bb", "cc", true, "c=vc"},
				{"", "b", true, "a=va"},
				{"x", "", false, ""},
			}
			for _, c := range cases {
				var s, e []byte
				if c.start != "" {
					s = []byte(c.start)
				}
				if c.end != "" {
					e = []byte(c.end)
				}
				got := fmt.Sprint(collect(t, db, s, e, c.reverse))
				if want := fmt.Sprint(splitOrNil(c.want)); got != want {
					t.Errorf("range [%q,%q) reverse=%v: got %s, want %s", c.start, c.end, c.reverse, got, want)
				}
			}
			b := db.NewBatch()
			_ = b.Set([]byte("e"), []byte("ve"))
			_ = b.Delete([]byte("a"))
			if v, _ := db.Get([]byte("e")); v != nil {
				t.Error("batch visible before Write")
			}
			if err := b.WriteSync(); err != nil {
				t.Fatal(err)
			}
			if err := b.Set([]byte("f"), []byte("x")); err == nil {
				t.Error("Set after Write: got no error")
			}
			_ = b.Close()
			if v, _ := db.Get([]byte("a")); v != nil {
				t.Error("batched delete not applied")
			}
			if v, _ := db.Get([]byte("e")); !bytes.Equal(v, []byte("ve")) {
				t.Errorf("batched set: got %q", v)
			}
		})
	}
}

func splitOrNil(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, f := range bytes.Fields([]byte(s)) {
		out = append(out, string(f))
	}
	return out
}

// TestBadgerAgainstMap runs random operations from fixed seeds against the adapter and a map and
// compares full scans after every round, then again after reopening the files.
func TestBadgerAgainstMap(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		dir := t.TempDir()
		db, err := OpenBadger(dir)
		if err != nil {
			t.Fatal(err)
		}
		model := map[string]string{}
		rng := rand.New(rand.NewSource(seed))
		for round := 0; round < 20; round++ {
			batch := db.NewBatch()
			for i := 0; i < 50; i++ {
				k := fmt.Sprintf("k%03d", rng.Intn(200))
				if rng.Intn(4) == 0 {
					_ = batch.Delete([]byte(k))
					delete(model, k)
				} else {
					v := fmt.Sprintf("v%d", rng.Int())
					_ = batch.Set([]byte(k), []byte(v))
					model[k] = v
				}
			}
			if err := batch.Write(); err != nil {
				t.Fatal(err)
			}
			compareToModel(t, db, model, seed, round)
		}
		if err := db.Sync(); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if db, err = OpenBadger(dir); err != nil {
			t.Fatal(err)
		}
		compareToModel(t, db, model, seed, -1)
		db.Close()
	}
}

func compareToModel(t *testing.T, db *BadgerDB, model map[string]string, seed int64, round int) {
	t.Helper()
	var want []string
	for k, v := range model {
		want = append(want, k+"="+v)
	}
	sort.Strings(want)
	got := collect(t, db, nil, nil, false)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("seed %d round %d: scan differs from model (%d vs %d keys)", seed, round, len(got), len(want))
	}
}
