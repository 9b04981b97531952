package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/trustledger/trustledger/node/atomicfile"
	"github.com/trustledger/trustledger/storage/memtree"
)

// The memory kind of state tree (specs/state.md §4.2). The tree lives in memory (memtree); what
// makes it durable is
//
//	<dir>.tree/<version>.log   the write log (treelog.go): each block's tree writes in the order
//	                they were made, appended and fsynced before the block's commit marker
//	<dir>.tree/<version>.tree  checkpoints: a whole version in the snapshot stream format behind a
//	                header, written from a saved version while blocks go on, fsynced, then renamed
//
// A store opens by importing the newest checkpoint at or below its committed height and replaying
// the logged writes above it, version by version, which rebuilds the same tree (the same shape and
// node versions, so the same hashes). Once a checkpoint is on disk, the log up to it and older
// checkpoints are deleted. A checkpoint is written when the writes logged since the last one
// outnumber the tree's keys (the replay at a restart then costs about as much as the checkpoint's
// import), of the oldest version kept, so that a restart still has keep_recent versions to read.
const checkpointMagic = "TLTREE01"

// minCheckpointWrites keeps a small tree from writing a checkpoint every few blocks (a variable
// for the tests).
var minCheckpointWrites int64 = 50_000

// Write log operations.
const (
	opSet    byte = 's'
	opRemove byte = 'd'
)

type memTree struct {
	t          *memtree.Tree
	db         *BadgerDB
	dir        string // checkpoints
	keepRecent int64
	working    []byte // the working tree's writes, in the write log's encoding
	workingOps int64  // how many writes working holds
	saved      []byte // the writes of the version SaveVersion saved last, for persist
	savedOps   int64
	savedAt    int64
	logged     int64 // writes logged since the newest checkpoint's version (about)
	log        *treeLog
	truncate   int64 // a rollback's height whose later records are still to be cut (0: none)

	mu         sync.Mutex // guards checkpoint, writing and writerErr against the writer goroutine
	checkpoint int64      // newest checkpoint on disk (0: none)
	writerErr  error      // the last checkpoint writer's failure, reported by the next Commit
	writer     sync.WaitGroup
	writing    bool
	stop       chan struct{} // closed by close: an unfinished checkpoint is abandoned
}

var _ stateTree = (*memTree)(nil)

func checkpointDir(dir string) string { return dir + ".tree" }

func openMemTree(db *BadgerDB, dir string, keepRecent int64) (*memTree, error) {
	if err := os.MkdirAll(checkpointDir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("create the state tree's checkpoint directory: %w", err)
	}
	return &memTree{t: memtree.New(), db: db, dir: checkpointDir(dir), keepRecent: keepRecent, stop: make(chan struct{})}, nil
}

func (m *memTree) Get(key []byte) ([]byte, error) { return m.t.Get(key), nil }

func (m *memTree) Set(key, value []byte) error {
	if _, err := m.t.Set(key, value); err != nil {
		return err
	}
	m.working = append(m.working, opSet)
	m.working = binary.AppendUvarint(m.working, uint64(len(key)))
	m.working = append(m.working, key...)
	m.working = binary.AppendUvarint(m.working, uint64(len(value)))
	m.working = append(m.working, value...)
	m.workingOps++
	return nil
}

func (m *memTree) Remove(key []byte) error {
	if _, removed := m.t.Remove(key); removed {
		m.working = append(m.working, opRemove)
		m.working = binary.AppendUvarint(m.working, uint64(len(key)))
		m.working = append(m.working, key...)
		m.workingOps++
	}
	return nil
}

func (m *memTree) WorkingHash() []byte { return m.t.WorkingHash() }

func (m *memTree) Rollback() {
	m.t.Rollback()
	m.working, m.workingOps = m.working[:0], 0
}

func (m *memTree) Size() int64               { return m.t.Size() }
func (m *memTree) Version() int64            { return m.t.Version() }
func (m *memTree) SetInitialVersion(v int64) { m.t.SetInitialVersion(v) }

func (m *memTree) SaveVersion() ([]byte, int64, error) {
	hash, v := m.t.SaveVersion()
	m.saved, m.savedOps, m.savedAt = m.working, m.workingOps, v
	m.working, m.workingOps = nil, 0
	return hash, v, nil
}

// persist appends the saved version's writes to the log (fsynced: the marker follows), and
// reports a checkpoint that failed since the last commit (the log is kept, so nothing is lost).
func (m *memTree) persist(version int64) error {
	if m.savedAt != version {
		return fmt.Errorf("state tree saved version %d, the commit is of %d", m.savedAt, version)
	}
	if err := m.cutRolledBack(); err != nil {
		return err
	}
	if err := m.log.append(version, m.saved); err != nil {
		return err
	}
	m.logged += m.savedOps
	m.saved, m.savedOps = nil, 0
	m.mu.Lock()
	err := m.writerErr
	m.writerErr = nil
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write a checkpoint of the state tree: %w", err)
	}
	return nil
}

// applyLog calls fn with each write of a log entry, in order.
func applyLog(b []byte, fn func(op byte, key, value []byte) error) error {
	for len(b) > 0 {
		op := b[0]
		b = b[1:]
		kl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < kl {
			return errors.New("truncated key")
		}
		key := b[n : n+int(kl)]
		b = b[n+int(kl):]
		var value []byte
		switch op {
		case opSet:
			vl, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < vl {
				return errors.New("truncated value")
			}
			value = b[n : n+int(vl)]
			b = b[n+int(vl):]
		case opRemove:
		default:
			return fmt.Errorf("unknown operation %q", op)
		}
		if err := fn(op, key, value); err != nil {
			return err
		}
	}
	return nil
}

// afterCommit starts a checkpoint when one is due (see the top of the file).
func (m *memTree) afterCommit() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writing || m.logged < max(m.t.Size(), minCheckpointWrites) {
		return
	}
	oldest, newest := m.t.Versions()
	v := max(oldest, newest-m.keepRecent+1, m.checkpoint+1)
	if v > newest {
		return
	}
	view, err := m.t.View(v)
	if err != nil {
		return
	}
	m.writing, m.logged = true, 0
	m.writer.Add(1)
	go func() {
		defer m.writer.Done()
		err := m.writeCheckpoint(view)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.writing = false
		if err != nil && !errors.Is(err, errStopped) {
			m.writerErr = err
		}
	}()
}

var errStopped = errors.New("store closing")

// writeCheckpoint writes view to a checkpoint file, then drops the log up to it and older
// checkpoints.
func (m *memTree) writeCheckpoint(view *memtree.View) error {
	v := view.Version()
	err := atomicfile.WriteFrom(filepath.Join(m.dir, checkpointName(v)), 0o600, func(w io.Writer) error {
		hdr := append([]byte(checkpointMagic), binary.BigEndian.AppendUint64(nil, uint64(v))...)
		if _, err := w.Write(append(hdr, view.Hash()...)); err != nil {
			return err
		}
		var buf []byte
		count := 0
		return view.Export(func(n memtree.ExportNode) error {
			if count++; count%4096 == 0 {
				select {
				case <-m.stop:
					return errStopped
				default:
				}
			}
			buf = appendExportNode(buf[:0], n)
			_, err := w.Write(buf)
			return err
		})
	})
	if err != nil {
		return err
	}
	if err := syncDir(m.dir); err != nil {
		return err
	}
	m.mu.Lock()
	m.checkpoint = v
	m.mu.Unlock()
	return m.dropBefore(v)
}

// dropBefore deletes the log entries up to v and the checkpoints older than v.
func (m *memTree) dropBefore(v int64) error {
	if err := m.log.dropThrough(v); err != nil {
		return err
	}
	versions, err := m.checkpoints()
	if err != nil {
		return err
	}
	for _, c := range versions {
		if c < v {
			if err := os.Remove(filepath.Join(m.dir, checkpointName(c))); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkpointName(v int64) string { return fmt.Sprintf("%020d.tree", v) }

// checkpoints lists the versions of the checkpoint files, ascending.
func (m *memTree) checkpoints() ([]int64, error) { return numberedFiles(m.dir, ".tree") }

// numberedFiles lists the numbers of the files in dir named <number><suffix>, ascending, and
// deletes what is neither a checkpoint nor a log segment (a checkpoint cut short).
func numberedFiles(dir, suffix string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tree") && !strings.HasSuffix(e.Name(), ".log") {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		if name, ok := strings.CutSuffix(e.Name(), suffix); ok {
			if v, err := strconv.ParseInt(name, 10, 64); err == nil && v > 0 {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// load rebuilds the tree committed at height: the newest checkpoint at or below it, then the
// logged writes above it. Checkpoints and log entries above height (a restore or a rollback cut
// short) are deleted.
func (m *memTree) load(height int64) error {
	versions, err := m.checkpoints()
	if err != nil {
		return fmt.Errorf("list state tree checkpoints: %w", err)
	}
	base := int64(0)
	for _, c := range versions {
		switch {
		case c > height:
			if err := os.Remove(filepath.Join(m.dir, checkpointName(c))); err != nil {
				return err
			}
		case c > base:
			base = c
		}
	}
	if height == 0 {
		return m.openLog(0, 0)
	}
	if base > 0 {
		t, err := readCheckpoint(filepath.Join(m.dir, checkpointName(base)), base)
		if err != nil {
			return fmt.Errorf("%w: checkpoint %d: %v", ErrCorrupt, base, err)
		}
		m.t, m.checkpoint = t, base
	}
	if err := m.openLog(height, base); err != nil {
		return err
	}
	if got := m.t.Version(); got != height {
		return fmt.Errorf("%w: marker says height %d but the state tree's checkpoint and log end at %d", ErrCorrupt, height, got)
	}
	return nil
}

// openLog opens the write log cut after height, replaying its records above base.
func (m *memTree) openLog(height, base int64) error {
	first := true
	log, err := openTreeLog(m.dir, height, base, func(v int64, entry []byte) error {
		if first && base == 0 { // no checkpoint: the log starts at the chain's first height
			m.t.SetInitialVersion(v)
		}
		first = false
		return m.replay(v, entry)
	})
	if err != nil {
		return fmt.Errorf("open the state tree's write log: %w", err)
	}
	m.log = log
	return nil
}

// cutRolledBack cuts the log after a rollback's height, once its marker is written.
func (m *memTree) cutRolledBack() error {
	if m.truncate == 0 {
		return nil
	}
	if err := m.log.truncateAfter(m.truncate); err != nil {
		return fmt.Errorf("cut the state tree's write log after rolled-back height %d: %w", m.truncate, err)
	}
	m.truncate = 0
	return nil
}

// replay applies one logged version and saves it, keeping only the versions a store keeps.
func (m *memTree) replay(v int64, entry []byte) error {
	err := applyLog(entry, func(op byte, key, value []byte) error {
		m.logged++
		if op == opRemove {
			m.t.Remove(key)
			return nil
		}
		_, err := m.t.Set(key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: write log of version %d: %v", ErrCorrupt, v, err)
	}
	if _, got := m.t.SaveVersion(); got != v {
		return fmt.Errorf("%w: write log of version %d replayed as version %d", ErrCorrupt, v, got)
	}
	if oldest, _ := m.t.Versions(); v-m.keepRecent >= oldest {
		return m.t.DeleteVersionsTo(v - m.keepRecent)
	}
	return nil
}

// readCheckpoint imports a checkpoint file of version v and checks it hashes as its header says.
func readCheckpoint(path string, v int64) (*memtree.Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	hdr := make([]byte, len(checkpointMagic)+8+32)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if string(hdr[:len(checkpointMagic)]) != checkpointMagic || int64(binary.BigEndian.Uint64(hdr[len(checkpointMagic):])) != v {
		return nil, errors.New("not a checkpoint of this version")
	}
	want := hdr[len(checkpointMagic)+8:]
	im, err := memtree.NewImporter(v)
	if err != nil {
		return nil, err
	}
	if err := readExportNodes(r, v, im.Add); err != nil {
		return nil, err
	}
	t, err := im.Tree()
	if err != nil {
		return nil, err
	}
	if got := t.WorkingHash(); !bytes.Equal(got, want) {
		return nil, fmt.Errorf("hashes to %X, its header says %X", got, want)
	}
	return t, nil
}

func (m *memTree) view(v int64) (treeView, error) {
	view, err := m.t.View(v)
	if err != nil {
		return nil, err
	}
	return memView{view}, nil
}

type memView struct{ v *memtree.View }

func (v memView) Get(key []byte) ([]byte, error)                   { return v.v.Get(key), nil }
func (v memView) Proof(key []byte) (*ics23.CommitmentProof, error) { return v.v.Proof(key) }
func (v memView) Export(fn func(memtree.ExportNode) error) error   { return v.v.Export(fn) }

func (v memView) Iterate(start, end []byte, fn func(key, value []byte) error) error {
	var err error
	v.v.Iterate(start, end, func(key, value []byte) bool {
		err = fn(key, value)
		return err == nil
	})
	return err
}

func (m *memTree) deleteVersionsTo(v int64) error { return m.t.DeleteVersionsTo(v) }

// rollbackTo keeps version v and drops the later ones from memory, and from the log once the
// marker is written (at the next commit or the close; an open cuts what is above the marker
// anyway). It cannot go below the newest checkpoint (the log under it is gone).
func (m *memTree) rollbackTo(v int64) error {
	m.writer.Wait()
	m.mu.Lock()
	cp := m.checkpoint
	m.mu.Unlock()
	if v < cp {
		return fmt.Errorf("%w: roll back to %d: the state tree is checkpointed at %d, and its writes before that are no longer kept", memtree.ErrVersionNotFound, v, cp)
	}
	if err := m.t.LoadVersionForOverwriting(v); err != nil {
		return err
	}
	m.working, m.workingOps, m.saved, m.savedOps, m.truncate = nil, 0, nil, 0, v
	return nil
}

// importer rebuilds a version (a state-sync snapshot) in memory; commit writes it as a
// checkpoint, so that the store can reopen at it once its marker is written.
func (m *memTree) importer(v int64) (treeImporter, error) {
	im, err := memtree.NewImporter(v)
	if err != nil {
		return nil, err
	}
	return &memImporter{im: im, m: m, version: v}, nil
}

type memImporter struct {
	im      *memtree.Importer
	m       *memTree
	version int64
}

func (i *memImporter) Add(n memtree.ExportNode) error { return i.im.Add(n) }

func (i *memImporter) commit() error {
	t, err := i.im.Tree()
	if err != nil {
		return err
	}
	view, err := t.View(i.version)
	if err != nil {
		return err
	}
	if err := i.m.writeCheckpoint(view); err != nil {
		return err
	}
	i.m.t, i.m.logged = t, 0
	return nil
}

func (i *memImporter) Close() {}

// close waits for a checkpoint being written, abandoning it.
func (m *memTree) close() error {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.writer.Wait()
	if m.log == nil {
		return nil
	}
	err := m.cutRolledBack()
	return errors.Join(err, m.log.close())
}

// wipe deletes every checkpoint and the log.
func (m *memTree) wipe() error {
	m.writer.Wait()
	if m.log != nil {
		if err := m.log.removeAll(); err != nil {
			return err
		}
	}
	versions, err := m.checkpoints()
	if err != nil {
		return err
	}
	for _, c := range versions {
		if err := os.Remove(filepath.Join(m.dir, checkpointName(c))); err != nil {
			return err
		}
	}
	m.t, m.checkpoint, m.logged, m.working, m.workingOps, m.saved, m.savedOps = memtree.New(), 0, 0, nil, 0, nil, 0
	return nil
}
