package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// snapshotSource commits heights 1..n of random writes (and deletes) and returns the store.
func snapshotSource(t *testing.T, n int64, opts ...Option) *AppStore {
	t.Helper()
	s := openStore(t, t.TempDir(), opts...)
	t.Cleanup(func() { s.Close() })
	rng := rand.New(rand.NewSource(11))
	for h := int64(1); h <= n; h++ {
		for i := 0; i < 60; i++ {
			k := []byte(fmt.Sprintf("k%04d", rng.Intn(400)))
			if rng.Intn(8) == 0 {
				if err := s.tree.Remove(k); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := s.Set(k, bytes.Repeat([]byte{byte(h)}, 1+rng.Intn(90))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Commit(h, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func takeSnapshot(t *testing.T, s *AppStore, height int64, chunkSize int) (*SnapshotStore, SnapshotInfo) {
	t.Helper()
	ss, err := OpenSnapshotStore(filepath.Join(t.TempDir(), "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExportAt(height)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ss.Create(height, chunkSize, func(w io.Writer) error { _, err := exp.WriteTo(w); return err })
	if err != nil {
		t.Fatal(err)
	}
	return ss, info
}

// restoreChunks feeds every chunk to a new restore into dst and finishes against appHash.
func restoreChunks(t *testing.T, dst *AppStore, ss *SnapshotStore, info SnapshotInfo, appHash []byte, tamper func(i uint32, b []byte) []byte) error {
	t.Helper()
	hashes, err := ChunkHashes(info.Metadata, info.Hash, info.Chunks)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dst.Restore(info.Height)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint32(0); i < info.Chunks; i++ {
		b, err := ss.Chunk(info.Height, info.Format, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(hashes[i]) != 32 {
			t.Fatal("bad hash")
		}
		if tamper != nil {
			b = tamper(i, b)
		}
		if _, err := r.Write(b); err != nil {
			r.Abort()
			return err
		}
	}
	return r.Finish(appHash)
}

// treeKinds are the two kinds of state tree (tree.go), as a store is opened for each.
var treeKinds = []struct {
	name string
	opts []Option
}{
	{"iavl", nil},
	{"memory", []Option{KeepRecent(20)}},
}

// TestSnapshotRoundTrip: a snapshot cut into chunks smaller than a node restores into an empty
// store with the same app hash and contents, and both stores then commit identical next blocks,
// and the restored one reopens at the next block. Snapshots go from either kind of state tree
// to either (the format is iavl's export, which the memory tree writes and reads too).
func TestSnapshotRoundTrip(t *testing.T) {
	for _, from := range treeKinds {
		for _, to := range treeKinds {
			t.Run(from.name+" to "+to.name, func(t *testing.T) { snapshotRoundTrip(t, from.opts, to.opts) })
		}
	}
}

func snapshotRoundTrip(t *testing.T, from, to []Option) {
	src := snapshotSource(t, 12, from...)
	_, appHash := src.LastCommit()
	for _, chunk := range []int{7, 1000, 1 << 20} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			ss, info := takeSnapshot(t, src, 12, chunk)
			if _, again := takeSnapshot(t, src, 12, chunk); !bytes.Equal(again.Hash, info.Hash) {
				t.Fatal("two snapshots of the same height differ")
			}
			dir := t.TempDir()
			dst := openStore(t, dir, to...)
			defer func() { dst.Close() }()
			if err := restoreChunks(t, dst, ss, info, appHash, nil); err != nil {
				t.Fatal(err)
			}
			if h, hash := dst.LastCommit(); h != 12 || !bytes.Equal(hash, appHash) || dst.HistoryFrom() != 12 {
				t.Fatalf("restored at %d %X (history from %d), want 12 %X", h, hash, dst.HistoryFrom(), appHash)
			}
			for i := 0; i < 400; i++ {
				k := []byte(fmt.Sprintf("k%04d", i))
				want, _, _ := src.GetCommitted(12, k)
				got, _, err := dst.GetCommitted(12, k)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("key %s: %q %v, want %q", k, got, err, want)
				}
			}
			// The restored store goes on like the source, and survives a reopen.
			src2 := snapshotSource(t, 12, from...)
			for _, s := range []*AppStore{src2, dst} {
				if err := s.Set([]byte("next"), []byte("block")); err != nil {
					t.Fatal(err)
				}
			}
			h1, err := src2.Commit(13, nil)
			if err != nil {
				t.Fatal(err)
			}
			h2, err := dst.Commit(13, nil)
			if err != nil || !bytes.Equal(h1, h2) {
				t.Fatalf("height 13 after restore: %X %v, source %X", h2, err, h1)
			}
			dst.Close()
			dst = openStore(t, dir, to...)
			if h, hash := dst.LastCommit(); h != 13 || !bytes.Equal(hash, h1) {
				t.Fatalf("reopened at %d %X, want 13 %X", h, hash, h1)
			}
			if v, _, err := dst.GetCommitted(12, []byte("k0001")); err != nil || !bytes.Equal(v, func() []byte { v, _, _ := src.GetCommitted(12, []byte("k0001")); return v }()) {
				t.Fatalf("height 12 after the reopen: %q %v", v, err)
			}
		})
	}
}

// TestSnapshotRejects: a tampered chunk, a truncated stream and a wrong trusted hash each fail
// with a clear error and leave the store empty, so the next snapshot can still be restored.
func TestSnapshotRejects(t *testing.T) {
	src := snapshotSource(t, 6)
	_, appHash := src.LastCommit()
	ss, info := takeSnapshot(t, src, 6, 512)
	if info.Chunks < 3 {
		t.Fatalf("want several chunks, got %d", info.Chunks)
	}
	dst := openStore(t, t.TempDir())
	defer dst.Close()
	cases := []struct {
		name    string
		hash    []byte
		tamper  func(i uint32, b []byte) []byte
		wantErr string
	}{
		{"flipped value byte", appHash, func(i uint32, b []byte) []byte {
			if i == 1 {
				b = append([]byte(nil), b...)
				b[len(b)/2] ^= 0x40
			}
			return b
		}, ""},
		{"last chunk cut short", appHash, func(i uint32, b []byte) []byte {
			if i == info.Chunks-1 {
				return b[:len(b)-3]
			}
			return b
		}, "ends inside a node"},
		{"garbage chunk", appHash, func(i uint32, b []byte) []byte {
			if i == 0 {
				return bytes.Repeat([]byte{0xff}, len(b))
			}
			return b
		}, "out of range"},
		{"wrong trusted hash", bytes.Repeat([]byte{1}, 32), nil, "does not match the trusted app hash"},
	}
	for _, c := range cases {
		err := restoreChunks(t, dst, ss, info, c.hash, c.tamper)
		if err == nil {
			t.Fatalf("%s: restore succeeded", c.name)
		}
		if c.wantErr != "" && !bytes.Contains([]byte(err.Error()), []byte(c.wantErr)) {
			t.Fatalf("%s: error %q, want %q", c.name, err, c.wantErr)
		}
		if h, _ := dst.LastCommit(); h != 0 || dst.Size() != 0 {
			t.Fatalf("%s: store left at height %d with %d keys", c.name, h, dst.Size())
		}
	}
	if err := restoreChunks(t, dst, ss, info, appHash, nil); err != nil {
		t.Fatalf("a good snapshot after the failures: %v", err)
	}
	if _, err := dst.Restore(6); err == nil {
		t.Fatal("restore over committed state was allowed")
	}
	// Reopened, the restored store is still at the snapshot height.
	dir := dst.dir
	dst.Close()
	re := openStore(t, dir)
	defer re.Close()
	if h, hash := re.LastCommit(); h != 6 || !bytes.Equal(hash, appHash) || re.HistoryFrom() != 6 {
		t.Fatalf("reopened at %d %X", h, hash)
	}
}

func TestSnapshotStore(t *testing.T) {
	src := snapshotSource(t, 5)
	ss, err := OpenSnapshotStore(filepath.Join(t.TempDir(), "snaps"))
	if err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= 5; h++ {
		exp, err := src.ExportAt(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Create(h, 256, func(w io.Writer) error { _, err := exp.WriteTo(w); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Prune(2); err != nil {
		t.Fatal(err)
	}
	list, err := ss.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Height != 5 || list[1].Height != 4 {
		t.Fatalf("after pruning to 2: %+v", list)
	}
	if _, err := ss.Chunk(3, SnapshotFormat, 0); !errors.Is(err, ErrNoSnapshotChunk) {
		t.Fatalf("pruned chunk: %v", err)
	}
	if _, err := ss.Chunk(5, 2, 0); !errors.Is(err, ErrNoSnapshotChunk) {
		t.Fatalf("unknown format: %v", err)
	}
	if _, err := ChunkHashes(list[0].Metadata, list[1].Hash, list[0].Chunks); err == nil {
		t.Fatal("metadata accepted under another snapshot's hash")
	}
	// A failed snapshot leaves nothing listed.
	if _, err := ss.Create(9, 256, func(w io.Writer) error { w.Write([]byte("partial")); return errors.New("disk full") }); err == nil {
		t.Fatal("failed write accepted")
	}
	if list, _ := ss.List(); len(list) != 2 {
		t.Fatalf("a failed snapshot is listed: %+v", list)
	}
	// A reader (`trustd snapshots` beside a running node) leaves a snapshot being written alone;
	// a starting node removes it.
	tmp := filepath.Join(ss.dir, "tmp-123")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if list, err := ReadSnapshotStore(ss.dir).List(); err != nil || len(list) != 2 {
		t.Fatalf("reader lists %+v, %v", list, err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the reader removed a snapshot in progress: %v", err)
	}
	if _, err := OpenSnapshotStore(ss.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a starting node left an unfinished snapshot: %v", err)
	}
	if list, err := ReadSnapshotStore(filepath.Join(t.TempDir(), "none")).List(); err != nil || len(list) != 0 {
		t.Fatalf("no directory: %+v, %v", list, err)
	}
}
