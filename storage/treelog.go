package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// treeLog is the memory tree's write log (specs/state.md §4.2): one record per committed
// version, appended and fsynced before the version's commit marker is written, in segment files
// <dir>/<first version, 20 digits>.log:
//
//	version u64 ‖ payload length u32 ‖ CRC-32C of (version ‖ length ‖ payload) u32 ‖ payload
//
// Versions are consecutive. At the open, records above the committed height (a crash between the
// append and the marker, or a rollback) and a torn last record are cut off; anything else that
// does not read back (a bad checksum, a gap) is ErrCorrupt.
type treeLog struct {
	mu   sync.Mutex // the checkpoint writer drops segments while blocks append
	dir  string
	segs []int64 // first versions of the segments, ascending
	f    *os.File
	size int64 // of the last segment
	last int64 // the last version in the log (0: empty)
}

const (
	logHeaderBytes = 16
	maxLogRecord   = 1 << 30
)

// logSegmentBytes is the size past which a new segment is started, so that the log up to a
// checkpoint can be deleted file by file (a variable for the tests).
var logSegmentBytes int64 = 64 << 20

var crc32c = crc32.MakeTable(crc32.Castagnoli)

func logSegmentName(first int64) string { return fmt.Sprintf("%020d.log", first) }

// openTreeLog opens the log in dir, cuts it after version committed, and calls replay with every
// record above version from, in order.
func openTreeLog(dir string, committed, from int64, replay func(version int64, payload []byte) error) (*treeLog, error) {
	l := &treeLog{dir: dir}
	segs, err := numberedFiles(dir, ".log")
	if err != nil {
		return nil, err
	}
	l.segs = segs
	for i := 0; i < len(l.segs); i++ {
		cut, end, err := l.scan(i, committed, from, replay)
		if err != nil {
			return nil, err
		}
		if cut >= 0 { // everything from here on goes
			if err := l.cutAt(i, cut); err != nil {
				return nil, err
			}
			break
		}
		if i == len(l.segs)-1 {
			l.size = end
		}
	}
	if len(l.segs) > 0 {
		if l.f, err = os.OpenFile(filepath.Join(dir, logSegmentName(l.segs[len(l.segs)-1])), os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// scan reads segment i. It returns the offset to cut it at (-1: keep it whole) and its length.
func (l *treeLog) scan(i int, committed, from int64, replay func(int64, []byte) error) (cut, end int64, err error) {
	path := filepath.Join(l.dir, logSegmentName(l.segs[i]))
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	lastSeg := i == len(l.segs)-1
	var off int64
	hdr := make([]byte, logHeaderBytes)
	var payload []byte
	for {
		n, err := io.ReadFull(r, hdr)
		if errors.Is(err, io.EOF) {
			return -1, off, nil
		}
		torn := func(what string) (int64, int64, error) {
			if lastSeg {
				return off, off, nil // a torn append: its marker was never written
			}
			return 0, 0, fmt.Errorf("%w: state tree write log %s at %d: %s", ErrCorrupt, path, off, what)
		}
		if err != nil || n < logHeaderBytes {
			return torn("truncated record header")
		}
		v := int64(binary.BigEndian.Uint64(hdr))
		length := binary.BigEndian.Uint32(hdr[8:])
		if length > maxLogRecord {
			return torn("record length out of range")
		}
		payload = slices.Grow(payload[:0], int(length))[:length]
		if _, err := io.ReadFull(r, payload); err != nil {
			return torn("truncated record")
		}
		sum := crc32.Update(crc32.Checksum(hdr[:12], crc32c), crc32c, payload)
		if sum != binary.BigEndian.Uint32(hdr[12:]) {
			return torn("checksum mismatch")
		}
		switch {
		case off == 0 && v != l.segs[i]:
			return 0, 0, fmt.Errorf("%w: state tree write log %s starts with version %d", ErrCorrupt, path, v)
		case l.last != 0 && v != l.last+1:
			return 0, 0, fmt.Errorf("%w: state tree write log jumps from version %d to %d", ErrCorrupt, l.last, v)
		case v > committed:
			return off, off, nil
		}
		if v > from {
			if err := replay(v, payload); err != nil {
				return 0, 0, err
			}
		}
		l.last = v
		off += logHeaderBytes + int64(length)
	}
}

// cutAt truncates segment i at off and deletes the segments after it (and segment i itself when
// nothing is left in it).
func (l *treeLog) cutAt(i int, off int64) error {
	for _, first := range l.segs[i+1:] {
		if err := os.Remove(filepath.Join(l.dir, logSegmentName(first))); err != nil {
			return err
		}
	}
	path := filepath.Join(l.dir, logSegmentName(l.segs[i]))
	l.segs = l.segs[:i+1]
	if off == 0 {
		l.segs = l.segs[:i]
		if err := os.Remove(path); err != nil {
			return err
		}
	} else if err := os.Truncate(path, off); err != nil {
		return err
	}
	l.size = off
	return syncDir(l.dir)
}

// append writes version's record and fsyncs it; version must follow the last one.
func (l *treeLog) append(version int64, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != 0 && version != l.last+1 {
		return fmt.Errorf("state tree write log: version %d after %d", version, l.last)
	}
	if l.f == nil || l.size >= logSegmentBytes {
		if err := l.startSegment(version); err != nil {
			return err
		}
	}
	rec := make([]byte, logHeaderBytes, logHeaderBytes+len(payload))
	binary.BigEndian.PutUint64(rec, uint64(version))
	binary.BigEndian.PutUint32(rec[8:], uint32(len(payload)))
	rec = append(rec, payload...)
	binary.BigEndian.PutUint32(rec[12:], crc32.Update(crc32.Checksum(rec[:12], crc32c), crc32c, payload))
	if _, err := l.f.Write(rec); err != nil {
		return fmt.Errorf("append to the state tree write log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync the state tree write log: %w", err)
	}
	l.size += int64(len(rec))
	l.last = version
	return nil
}

func (l *treeLog) startSegment(first int64) error {
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return err
		}
		l.f = nil
	}
	f, err := os.OpenFile(filepath.Join(l.dir, logSegmentName(first)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start a state tree write log segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, 0
	l.segs = append(l.segs, first)
	return nil
}

// truncateAfter drops the records of versions above v (a rollback, once its marker is written).
func (l *treeLog) truncateAfter(v int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last <= v {
		return nil
	}
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return err
		}
		l.f = nil
	}
	i := len(l.segs) - 1
	for i >= 0 && l.segs[i] > v {
		i--
	}
	if i < 0 { // every record is above v
		if err := l.cutAt(0, 0); err != nil {
			return err
		}
		l.last = 0
		return nil
	}
	l.last = 0
	cut, end, err := l.scan(i, v, 1<<62, nil)
	if err != nil {
		return err
	}
	if cut < 0 { // segment i ends at v: only the later ones go
		cut = end
	}
	if err := l.cutAt(i, cut); err != nil {
		return err
	}
	l.last = v
	f, err := os.OpenFile(filepath.Join(l.dir, logSegmentName(l.segs[len(l.segs)-1])), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	l.f = f
	return nil
}

// dropThrough deletes the segments whose records are all at or below v (the last segment stays).
func (l *treeLog) dropThrough(v int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1]-1 <= v {
		if err := os.Remove(filepath.Join(l.dir, logSegmentName(l.segs[n]))); err != nil {
			return err
		}
		n++
	}
	l.segs = l.segs[n:]
	return nil
}

// removeAll deletes the whole log.
func (l *treeLog) removeAll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.closeFile(); err != nil {
		return err
	}
	for _, first := range l.segs {
		if err := os.Remove(filepath.Join(l.dir, logSegmentName(first))); err != nil {
			return err
		}
	}
	l.segs, l.size, l.last = nil, 0, 0
	return nil
}

func (l *treeLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeFile()
}

func (l *treeLog) closeFile() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
