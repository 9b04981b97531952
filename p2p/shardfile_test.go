package p2p

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestShardFiles (P-6: a supplier keeps exactly the bytes it committed to): a shard file
// written through shardWriter, in writes of any size, and read back through copyShard is the
// same bytes, for sizes around the direct-I/O block and buffer, both on the test's file system
// (directly to disk where it allows, on Linux) and on tmpfs where there is one (through the
// page cache), and with direct I/O never tried (the path of a file system that refuses it). A
// file shorter than asked is an error, not short data.
func TestShardFiles(t *testing.T) {
	dirs := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "shardfiles")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(shm) })
			dirs = append(dirs, shm)
		}
	}
	sizes := []int{1, 1000, directAlign - 1, directAlign, directAlign + 1, shardIOSize - 1, shardIOSize, shardIOSize + 1, 3*shardIOSize + 12345}
	for _, dir := range dirs {
		for _, tryDirect := range []bool{true, false} {
			for _, n := range sizes {
				data := shardData(n, uint64(n))
				path := filepath.Join(dir, "shard")
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				w := &shardWriter{f: f, buf: alignedBuffer(shardIOSize)}
				if tryDirect {
					w = newShardWriter(f)
				}
				for off, step := 0, 1; off < n; off, step = off+step, step*3+7 { // writes of growing, odd sizes
					end := min(n, off+step)
					if k, err := w.Write(data[off:end]); err != nil || k != end-off {
						t.Fatalf("%s, %d bytes: write %d: %d, %v", dir, n, end-off, k, err)
					}
				}
				if err := w.Flush(); err != nil {
					t.Fatalf("%s, %d bytes: flush: %v", dir, n, err)
				}
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				f.Close()
				if n == shardIOSize+1 {
					t.Logf("%s: direct I/O %v", dir, w.direct)
				}
				f, err = os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := copyShard(&got, f, int64(n)); err != nil || !bytes.Equal(got.Bytes(), data) {
					t.Fatalf("%s, %d bytes: read back %d bytes (%v), equal %v", dir, n, got.Len(), err, bytes.Equal(got.Bytes(), data))
				}
				f.Close()
				f, _ = os.Open(path)
				if err := copyShard(io.Discard, f, int64(n)+1); err != io.ErrUnexpectedEOF {
					t.Fatalf("%s, %d bytes: one byte more asked: %v, want io.ErrUnexpectedEOF", dir, n, err)
				}
				f.Close()
			}
		}
	}
}
