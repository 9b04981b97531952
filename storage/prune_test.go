package storage

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// treeNodes counts the stored IAVL nodes (keys under the tree's "is" prefix).
func treeNodes(t *testing.T, s *AppStore) int {
	t.Helper()
	n := 0
	err := s.db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("is")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruning: with keep_recent 5, versions older than the window are deleted after each
// commit (reads there say so), the latest state and proofs are intact, fewer tree nodes are
// stored than without pruning, a one-block rollback still works, and the store reopens.
func TestPruning(t *testing.T) {
	build := func(keep int64) *AppStore {
		s := openStore(t, t.TempDir(), KeepRecent(keep), OnDiskTree())
		t.Cleanup(func() { s.Close() })
		for h := int64(1); h <= 30; h++ {
			for i := 0; i < 50; i++ {
				if err := s.Set([]byte(fmt.Sprintf("k%03d", (int(h)*7+i)%200)), []byte(fmt.Sprintf("v%d", h))); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Commit(h, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Prune(); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	archive, pruned := build(0), build(5)
	if _, h1 := archive.LastCommit(); !bytes.Equal(h1, func() []byte { _, h := pruned.LastCommit(); return h }()) {
		t.Fatal("pruning changed the app hash")
	}
	if a, p := treeNodes(t, archive), treeNodes(t, pruned); p >= a*2/3 {
		t.Fatalf("pruned store keeps %d tree nodes, the archive %d", p, a)
	}
	if _, _, err := pruned.GetCommitted(27, []byte("k000")); err != nil || archive.keepRecent != 0 {
		t.Fatalf("height 27 is inside the window: %v", err)
	}
	if _, _, err := pruned.GetCommitted(10, []byte("k000")); err == nil || !strings.Contains(err.Error(), "pruned") {
		t.Fatalf("height 10 should be pruned: %v", err)
	}
	if _, _, _, err := pruned.Prove(0, []byte("k001")); err != nil {
		t.Fatalf("proof at the latest height: %v", err)
	}
	if _, err := pruned.Rollback(29); err != nil {
		t.Fatalf("one-block rollback with pruning: %v", err)
	}
	dir := pruned.dir
	pruned.Close()
	re := openStore(t, dir)
	defer re.Close()
	if h, _ := re.LastCommit(); h != 29 {
		t.Fatalf("reopened at %d", h)
	}
	for _, bad := range []int64{-1, 1} {
		if s, err := OpenAppStore(t.TempDir(), KeepRecent(bad)); err == nil {
			s.Close()
			t.Fatalf("keep_recent %d accepted", bad)
		}
	}
}

// TestPruneKeepsExportedVersion: a version held open for a snapshot (ExportAt) survives the
// commits and prunes that would delete it, without an error; once the export is closed, the next
// prune deletes it and the versions held back behind it.
func TestPruneKeepsExportedVersion(t *testing.T) {
	s := openStore(t, t.TempDir(), KeepRecent(3), OnDiskTree())
	defer s.Close()
	tree := s.tree.(*iavlTree).t
	commit := func(h int64) {
		t.Helper()
		if err := s.Set([]byte(fmt.Sprintf("k%02d", h%7)), []byte(fmt.Sprint(h))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(h, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Prune(); err != nil {
			t.Fatalf("prune after %d with an export open: %v", h, err)
		}
	}
	for h := int64(1); h <= 5; h++ {
		commit(h)
	}
	exp, err := s.ExportAt(5)
	if err != nil {
		t.Fatal(err)
	}
	for h := int64(6); h <= 15; h++ {
		commit(h)
	}
	if !tree.VersionExists(5) || !tree.VersionExists(6) {
		t.Fatal("the exported version (or one after it) was deleted while held")
	}
	if tree.VersionExists(4) {
		t.Fatal("a version before the export was kept")
	}
	var buf bytes.Buffer
	if _, err := exp.WriteTo(&buf); err != nil || buf.Len() == 0 {
		t.Fatalf("export after the prunes: %d bytes, %v", buf.Len(), err)
	}
	exp.Close()
	exp.Close() // twice is harmless
	commit(16)
	if tree.VersionExists(5) || tree.VersionExists(12) || !tree.VersionExists(14) {
		t.Fatal("after the export closed, the next prune did not catch up")
	}
}
