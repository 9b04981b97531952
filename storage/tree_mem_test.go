package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/storage/memtree"
)

// TestMemoryTreeCheckpoints (specs/state.md §4.2): a store whose tree is in memory writes a
// checkpoint once its logged writes outnumber its keys, of the oldest version it keeps; the log
// up to it and older checkpoints go; a reopen loads the newest checkpoint and replays the log
// above it, with the same hashes and keep_recent versions readable; a rollback below the
// checkpoint is refused, one above it works and survives a reopen; a checkpoint cut short, or one
// above the committed height (a restore cut short), is deleted at the open; a damaged one is
// ErrCorrupt, not a silently different state.
func TestMemoryTreeCheckpoints(t *testing.T) {
	defer func(n int64) { minCheckpointWrites = n }(minCheckpointWrites)
	minCheckpointWrites = 100
	const keep = 4
	dir := t.TempDir()
	s := openStore(t, dir, KeepRecent(keep))
	hashes := map[int64][]byte{}
	commit := func(s *AppStore, h int64) {
		t.Helper()
		for i := 0; i < 30; i++ {
			if err := s.Set(fmt.Appendf(nil, "k%03d", (int(h)*13+i*7)%150), fmt.Appendf(nil, "v%d.%d", h, i)); err != nil {
				t.Fatal(err)
			}
		}
		hash, err := s.Commit(h, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Prune(); err != nil {
			t.Fatal(err)
		}
		hashes[h] = hash
	}
	for h := int64(1); h <= 40; h++ {
		commit(s, h)
		s.tree.(*memTree).writer.Wait()
	}
	m := s.tree.(*memTree)
	cps, err := m.checkpoints()
	if err != nil || len(cps) != 1 {
		t.Fatalf("checkpoints %v (%v), want one", cps, err)
	}
	cp := cps[0]
	if cp <= 30 || cp > 40-keep+1 {
		t.Fatalf("checkpoint of version %d after 40 heights, keeping %d", cp, keep)
	}
	if segs := m.log.segs; len(segs) != 1 || segs[0] > cp+1 || m.log.last != 40 {
		t.Fatalf("write log segments %v up to %d, want one from at most %d to 40", segs, m.log.last, cp+1)
	}
	s.Close()

	s = openStore(t, dir, KeepRecent(keep))
	if h, hash := s.LastCommit(); h != 40 || !bytes.Equal(hash, hashes[40]) {
		t.Fatalf("reopened at %d %X, want 40 %X", h, hash, hashes[40])
	}
	for h := int64(40 - keep + 1); h <= 40; h++ {
		if _, _, _, err := s.Prove(h, []byte("k001")); err != nil {
			t.Fatalf("height %d after the reopen: %v", h, err)
		}
	}
	if _, err := s.Rollback(cp - 1); !errors.Is(err, memtree.ErrVersionNotFound) {
		t.Fatalf("rollback below the checkpoint at %d: %v", cp, err)
	}
	if hash, err := s.Rollback(39); err != nil || !bytes.Equal(hash, hashes[39]) {
		t.Fatalf("rollback to 39: %X %v, want %X", hash, err, hashes[39])
	}
	commit(s, 40) // the same writes again: the same hash
	s.tree.(*memTree).writer.Wait()
	if cps, _ := s.tree.(*memTree).checkpoints(); len(cps) != 1 || cps[0] < cp {
		t.Fatalf("checkpoints %v after the recommit", cps)
	} else {
		cp = cps[0] // the replay's writes count towards the next checkpoint
	}
	s.Close()

	// A checkpoint cut short and one above the committed height are deleted at the open.
	cpDir := checkpointDir(dir)
	if err := os.WriteFile(filepath.Join(cpDir, checkpointName(41)+".tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cpDir, checkpointName(45)), []byte("later"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, KeepRecent(keep))
	if h, hash := s.LastCommit(); h != 40 || !bytes.Equal(hash, hashes[40]) {
		t.Fatalf("reopened at %d %X, want 40 %X", h, hash, hashes[40])
	}
	entries, _ := os.ReadDir(cpDir)
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	if len(names) != 1 || names[0] != checkpointName(cp) {
		t.Fatalf("checkpoint directory holds %v besides the log", names)
	}
	s.Close()

	// A damaged checkpoint stops the open.
	path := filepath.Join(cpDir, checkpointName(cp))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenAppStore(dir, KeepRecent(keep)); !errors.Is(err, ErrCorrupt) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open with a damaged checkpoint: %v", err)
	}
}

// TestTreeKindIsTheDatabases: a database created pruning keeps its tree in memory and refuses to
// open as an archive; an archive stays iavl when opened without KeepRecent, and opened pruning
// its tree moves into memory (the same hash and values, iavl's nodes gone), and stays there.
func TestTreeKindIsTheDatabases(t *testing.T) {
	mem, archive := t.TempDir(), t.TempDir()
	hashes := map[string][]byte{}
	for _, c := range []struct {
		dir  string
		opts []Option
	}{{mem, []Option{KeepRecent(5)}}, {archive, nil}} {
		s := openStore(t, c.dir, c.opts...)
		for h := int64(1); h <= 3; h++ {
			_ = s.Set(fmt.Appendf(nil, "k%d", h), []byte("1"))
			if _, err := s.Commit(h, nil); err != nil {
				t.Fatal(err)
			}
		}
		_, hashes[c.dir] = s.LastCommit()
		s.Close()
	}
	if s, err := OpenAppStore(mem, KeepRecent(0)); err == nil {
		s.Close()
		t.Fatal("a memory tree opened as an archive")
	}
	for _, c := range []struct {
		dir  string
		opts []Option
		want string
	}{
		{mem, nil, "*storage.memTree"},
		{archive, nil, "*storage.iavlTree"},
		{archive, []Option{KeepRecent(5)}, "*storage.memTree"},
		{archive, nil, "*storage.memTree"},
	} {
		s := openStore(t, c.dir, c.opts...)
		if got := fmt.Sprintf("%T", s.tree); got != c.want {
			t.Fatalf("%s opened with %d options: %s, want %s", c.dir, len(c.opts), got, c.want)
		}
		if _, hash := s.LastCommit(); !bytes.Equal(hash, hashes[c.dir]) {
			t.Fatalf("%s: app hash %X, want %X", c.dir, hash, hashes[c.dir])
		}
		if v, _, err := s.GetCommitted(3, []byte("k2")); err != nil || string(v) != "1" {
			t.Fatalf("k2 = %q %v", v, err)
		}
		if c.want == "*storage.memTree" && s.hasIAVLNodes() {
			t.Fatal("iavl's nodes left after the move into memory")
		}
		s.Close()
	}
}
