package storage

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
	"github.com/dgraph-io/badger/v4"
)

func openBadgerT(t *testing.T) *BadgerDB {
	t.Helper()
	db, err := OpenBadger(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStateTreeVariants: the state tree as the app store runs it (orphans recorded when a
// version is saved, third_party/iavl's patch) against upstream iavl's way (no records: pruning
// walks the trees), with iavl's cache nearly off so that nodes are read from the database. The
// same writes go to both trees,
// with removals, versions that change nothing, abandoned blocks, pruning after each version, a
// restart (records are in memory only: the first prunes after it walk the trees) and a rollback
// with the rolled-back heights written again. After every version each tree has the same hash,
// the same values and proofs at every kept version, and the same stored keys (the database
// holds exactly the nodes upstream pruning leaves: a recorded orphan missed or one deleted too
// many would show here).
func TestStateTreeVariants(t *testing.T) {
	const keep, versions, keys = 4, 70, 300
	variants := map[string]*treeVariant{
		"upstream": {},
		"records":  {records: true},
	}
	names := slices.Sorted(maps.Keys(variants))
	open := func(v *treeVariant) {
		v.tree = iavl.NewMutableTree(iavldb.NewPrefixDB(v.db, prefixTree), 10, false, iavl.NewNopLogger())
		if v.records {
			v.tree.RecordOrphans(keep + 2)
		}
		if _, err := v.tree.Load(); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range variants {
		v.db = openBadgerT(t)
		open(v)
	}
	rng := rand.New(rand.NewSource(7))
	model := map[int64]map[string]string{} // version → every key's value
	live := map[string]string{}
	pruned := int64(0) // versions up to it are deleted
	save := func(v int64) {
		t.Helper()
		var first []byte
		for _, name := range names {
			tree := variants[name].tree
			hash, got, err := tree.SaveVersion()
			if err != nil || got != v {
				t.Fatalf("%s: save version %d: got %d, %v", name, v, got, err)
			}
			if v-keep > pruned {
				if err := tree.DeleteVersionsTo(v - keep); err != nil {
					t.Fatalf("%s: prune to %d: %v", name, v-keep, err)
				}
			}
			if first == nil {
				first = hash
			} else if !bytes.Equal(hash, first) {
				t.Fatalf("version %d: %s's hash %X differs from %s's %X", v, name, hash, names[0], first)
			}
		}
		pruned = max(pruned, v-keep)
		model[v] = maps.Clone(live)
		for old := pruned + 1; old <= v; old++ {
			checkVersion(t, variants, names, old, model[old])
		}
		sameStoredKeys(t, variants, names, v)
	}
	for v := int64(1); v <= versions; v++ {
		if v == 35 { // a restart: the trees are opened again and their records are gone
			for _, name := range names {
				open(variants[name])
			}
		}
		// Every tenth version is written twice: first abandoned (rolled back, as a block
		// finalized but never committed), then for real. Every seventh changes nothing.
		rounds := 1
		if v%10 == 0 {
			rounds = 2
		}
		for round := 0; round < rounds && v%7 != 0; round++ {
			writes := map[string]string{}
			for i := 0; i < 40; i++ {
				k := fmt.Sprintf("key%04d", rng.Intn(keys))
				writes[k] = fmt.Sprintf("%s@%d.%d.%d", k, v, round, rng.Intn(1000))
				if rng.Intn(8) == 0 {
					writes[k] = "" // removed
				}
			}
			order := slices.Sorted(maps.Keys(writes)) // the tree's shape follows the order of writes
			for _, name := range names {
				tree := variants[name].tree
				for _, k := range order {
					var err error
					if writes[k] == "" {
						_, _, err = tree.Remove([]byte(k))
					} else {
						_, err = tree.Set([]byte(k), []byte(writes[k]))
					}
					if err != nil {
						t.Fatalf("%s: write %s: %v", name, k, err)
					}
				}
				if round+1 < rounds {
					tree.Rollback()
				}
			}
			if round+1 == rounds {
				for _, k := range order {
					if writes[k] == "" {
						delete(live, k)
					} else {
						live[k] = writes[k]
					}
				}
			}
		}
		save(v)
	}
	// A rollback of the last two versions (as OpenAppStore does after a crash inside Commit),
	// then those heights written again with other values.
	for _, name := range names {
		if err := variants[name].tree.LoadVersionForOverwriting(versions - 2); err != nil {
			t.Fatalf("%s: roll back: %v", name, err)
		}
	}
	live = maps.Clone(model[versions-2])
	for v := int64(versions - 1); v <= versions; v++ {
		k := fmt.Sprintf("key%04d", v)
		for _, name := range names {
			if _, err := variants[name].tree.Set([]byte(k), []byte("again")); err != nil {
				t.Fatal(name, err)
			}
		}
		live[k] = "again"
		save(v)
	}
}

// treeVariant is one way of running the state tree, on its own database.
type treeVariant struct {
	records bool
	db      *BadgerDB
	tree    *iavl.MutableTree
}

// sameStoredKeys checks that every variant's database holds the same tree keys.
func sameStoredKeys(t *testing.T, variants map[string]*treeVariant, names []string, version int64) {
	t.Helper()
	var want []string
	for _, name := range names {
		var got []string
		err := variants[name].db.Badger().View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixTree})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				got = append(got, string(it.Item().KeyCopy(nil)))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			extra, missing := difference(got, want), difference(want, got)
			t.Fatalf("version %d: %s stores %d tree keys, %s %d: %d more (%q…), %d fewer (%q…)", version, name, len(got), names[0], len(want),
				len(extra), first(extra), len(missing), first(missing))
		}
	}
}

func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, k := range b {
		in[k] = true
	}
	var out []string
	for _, k := range a {
		if !in[k] {
			out = append(out, k)
		}
	}
	return out
}

func first(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// checkVersion reads every key of version v in each tree and compares it with the model, and
// checks that a proof of one key verifies against the version's hash.
func checkVersion(t *testing.T, variants map[string]*treeVariant, names []string, v int64, want map[string]string) {
	t.Helper()
	for _, name := range names {
		imm, err := variants[name].tree.GetImmutable(v)
		if err != nil {
			t.Fatalf("%s: version %d: %v", name, v, err)
		}
		if n := imm.Size(); n != int64(len(want)) {
			t.Fatalf("%s: version %d holds %d keys, want %d", name, v, n, len(want))
		}
		proved := false
		for k, val := range want {
			got, err := imm.Get([]byte(k))
			if err != nil || string(got) != val {
				t.Fatalf("%s: version %d: %s = %q, %v; want %q", name, v, k, got, err, val)
			}
			if !proved {
				proved = true
				proof, err := imm.GetProof([]byte(k))
				if err != nil {
					t.Fatalf("%s: version %d: proof of %s: %v", name, v, k, err)
				}
				if ok, err := imm.VerifyProof(proof, []byte(k)); err != nil || !ok {
					t.Fatalf("%s: version %d: proof of %s does not verify: %v", name, v, k, err)
				}
			}
		}
	}
}
