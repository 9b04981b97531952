package p2p

import (
	"bufio"
	"io"
	"os"
	"sync"
	"unsafe"
)

// A supplier's shards are written once, read back rarely (a customer's get, an audit's few
// leaves) and are cold long before then: they go to disk around the page cache where the file
// system allows it (O_DIRECT, shardfile_linux.go). On this project's VMs buffered writes of
// 4 MiB shards and their fsyncs cost about ten times the system CPU of direct ones
// (BENCHMARKS.md), and
// the backups a supplier keeps for strangers no longer evict its own cached files.
//
// Direct I/O moves whole blocks from aligned memory: a file is written through one aligned
// buffer of shardIOSize bytes, and a shard's last, partial block is written after direct I/O
// is turned off for the file. Where direct I/O is refused (other systems, file systems without
// it) the same code writes through the page cache. Reads always go through it (copyShard).

// shardIOSize is the buffer a shard file is written and read through: 1 MiB, a multiple of
// any block size direct I/O asks for.
const shardIOSize = 1 << 20

// directAlign is the alignment direct I/O wants of memory, offsets and lengths (4096 covers
// the logical block size of every disk we meet).
const directAlign = 4096

// alignedBuffer returns n bytes whose address is a multiple of directAlign.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % directAlign); r != 0 {
		off = directAlign - r
	}
	return b[off : off+n : off+n]
}

// Shard transfers read and write through buffers of shardIOSize taken from pools and given
// back when the transfer ends: a get of a 1 GiB file reads 320 shards, and a new MiB for each
// was most of the garbage a customer made (its RSS grew with it between collections).
var (
	ioBuffers   = sync.Pool{New: func() any { b := alignedBuffer(shardIOSize); return &b }}
	readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, shardIOSize) }}
)

// pooledReader is a buffered reader of r from the pool; give it back with releaseReader once
// nothing reads it.
func pooledReader(r io.Reader) *bufio.Reader {
	br := readBuffers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// releaseReader gives a pooled reader back, holding nothing of the stream it read.
func releaseReader(br *bufio.Reader) {
	br.Reset(nil)
	readBuffers.Put(br)
}

// shardWriter writes a shard file through an aligned buffer, directly to disk when it can.
type shardWriter struct {
	f      *os.File
	buf    []byte
	n      int
	direct bool
}

// newShardWriter writes f (empty, just created) from its start; Release gives its buffer back.
func newShardWriter(f *os.File) *shardWriter {
	return &shardWriter{f: f, buf: *ioBuffers.Get().(*[]byte), direct: setDirect(f, true) == nil}
}

// Release gives the writer's buffer back to the pool; the writer is not used after it.
func (w *shardWriter) Release() {
	if buf := w.buf; buf != nil {
		w.buf = nil
		ioBuffers.Put(&buf)
	}
}

func (w *shardWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		c := copy(w.buf[w.n:], p)
		w.n += c
		p = p[c:]
		written += c
		if w.n == len(w.buf) {
			if _, err := w.f.Write(w.buf); err != nil {
				return written, err
			}
			w.n = 0
		}
	}
	return written, nil
}

// Flush writes what the buffer holds: its whole blocks directly, the partial block at the end
// of the file through the page cache. Call it once, after the last Write; then Sync the file.
func (w *shardWriter) Flush() error {
	whole := w.n
	if w.direct {
		whole -= w.n % directAlign
	}
	if whole > 0 {
		if _, err := w.f.Write(w.buf[:whole]); err != nil {
			return err
		}
	}
	if whole < w.n {
		if err := setDirect(w.f, false); err != nil {
			return err
		}
		if _, err := w.f.Write(w.buf[whole:w.n]); err != nil {
			return err
		}
	}
	w.n = 0
	return nil
}

// copyShard writes n bytes of the shard file f, from its start, to w, a MiB at a time. Reads
// go through the page cache: its read-ahead keeps the disk busy while the network carries the
// bytes read, which direct reads of a MiB at a time did not (a get of 256 MiB took a quarter
// longer reading the shards directly, with a buffer read ahead; BENCHMARKS.md).
func copyShard(w io.Writer, f *os.File, n int64) error {
	bp := ioBuffers.Get().(*[]byte)
	defer ioBuffers.Put(bp)
	buf := *bp
	for n > 0 {
		got, err := f.Read(buf[:min(n, int64(len(buf)))])
		if got > 0 {
			if _, werr := w.Write(buf[:got]); werr != nil {
				return werr
			}
			n -= int64(got)
		}
		switch {
		case n == 0:
			return nil
		case err == io.EOF:
			return io.ErrUnexpectedEOF // the file is shorter than its commitment
		case err != nil:
			return err
		}
	}
	return nil
}
