package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/trustledger/trustledger/storage/memtree"
)

// State-sync snapshots of the state tree (specs/state.md §6). A snapshot of height H is the IAVL
// tree of version H as a stream of nodes in the exporter's depth-first post-order, each encoded
//
//	height (1 byte, 0 for a leaf) · version (uvarint) · key length (uvarint) · key
//	· for a leaf only: value length (uvarint) · value
//
// Every node of the same tree exports the same bytes, so snapshots taken by different validators
// at the same height are identical and a joiner can fetch its chunks from any of them.

// SnapshotFormat is the format number of the stream above, offered to CometBFT.
const SnapshotFormat uint32 = 1

// Bounds on a decoded node, so that a hostile snapshot cannot make a joiner allocate without
// limit before the app hash check rejects it.
const (
	maxSnapshotKey   = 1 << 16
	maxSnapshotValue = 16 << 20
	maxTreeHeight    = 64
)

var keyHistoryFrom = []byte("m/history_from")

// ErrSnapshotHash is returned when a restored tree does not hash to the app hash it was offered with.
var ErrSnapshotHash = errors.New("restored state does not match the trusted app hash")

// TreeExport is a committed tree version held open for export; obtain it inside the ABCI
// serialisation (Commit), write it from any goroutine, then Close it. Until then Prune keeps
// its version.
type TreeExport struct {
	tree    treeView
	Height  int64
	release sync.Once
	s       *AppStore
}

// ExportAt opens the tree committed at height for a snapshot.
func (s *AppStore) ExportAt(height int64) (*TreeExport, error) {
	t, h, err := s.committedTree(height)
	if err != nil {
		return nil, err
	}
	s.exportMu.Lock()
	if s.exporting == nil {
		s.exporting = map[int64]int{}
	}
	s.exporting[h]++
	s.exportMu.Unlock()
	return &TreeExport{tree: t, Height: h, s: s}, nil
}

// Close releases the version for pruning; it may be called more than once.
func (e *TreeExport) Close() {
	e.release.Do(func() {
		e.s.exportMu.Lock()
		if e.s.exporting[e.Height]--; e.s.exporting[e.Height] <= 0 {
			delete(e.s.exporting, e.Height)
		}
		e.s.exportMu.Unlock()
	})
}

// oldestExport is the lowest version held open for export, or 0 if none.
func (s *AppStore) oldestExport() int64 {
	s.exportMu.Lock()
	defer s.exportMu.Unlock()
	var low int64
	for h := range s.exporting {
		if low == 0 || h < low {
			low = h
		}
	}
	return low
}

// WriteTo streams the tree's nodes to w in the snapshot format.
func (e *TreeExport) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var n int64
	var buf []byte
	err := e.tree.Export(func(node memtree.ExportNode) error {
		buf = appendExportNode(buf[:0], node)
		n += int64(len(buf))
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("export state at height %d: %w", e.Height, err)
	}
	return n, bw.Flush()
}

// appendExportNode appends a node in the snapshot format to b.
func appendExportNode(b []byte, node memtree.ExportNode) []byte {
	b = append(b, byte(node.Height))
	b = binary.AppendUvarint(b, uint64(node.Version))
	b = binary.AppendUvarint(b, uint64(len(node.Key)))
	b = append(b, node.Key...)
	if node.Height == 0 {
		b = binary.AppendUvarint(b, uint64(len(node.Value)))
		b = append(b, node.Value...)
	}
	return b
}

// readExportNodes decodes a stream of nodes in the snapshot format and passes each to add.
func readExportNodes(r io.Reader, maxVersion int64, add func(memtree.ExportNode) error) error {
	var buf []byte
	chunk := make([]byte, 1<<20)
	for nodes := 0; ; {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			node, used, derr := decodeExportNode(buf, maxVersion)
			if derr != nil {
				return fmt.Errorf("node %d: %w", nodes, derr)
			}
			if used == 0 {
				break
			}
			if aerr := add(*node); aerr != nil {
				return fmt.Errorf("node %d: %w", nodes, aerr)
			}
			nodes++
			buf = buf[used:]
		}
		buf = append(chunk[len(chunk):], buf...) // keep the partial node, not the chunk
		if errors.Is(err, io.EOF) {
			if len(buf) != 0 {
				return fmt.Errorf("stream ends inside a node (%d bytes left)", len(buf))
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Restorer rebuilds the state tree of an empty store from a snapshot stream written to it in
// pieces (the chunks, in order). Nothing is visible until Finish checks the app hash.
type Restorer struct {
	s      *AppStore
	imp    treeImporter
	height int64
	buf    []byte // bytes of a node split across chunks
	nodes  int64
	err    error
}

// Restore starts restoring the tree of version height into s, which must hold no committed state.
func (s *AppStore) Restore(height int64) (*Restorer, error) {
	if s.lastHeight != 0 {
		return nil, fmt.Errorf("cannot restore a snapshot over committed state at height %d", s.lastHeight)
	}
	if height < 1 {
		return nil, fmt.Errorf("snapshot height %d is not a committed height", height)
	}
	if err := s.wipe(); err != nil {
		return nil, err
	}
	imp, err := s.tree.importer(height)
	if err != nil {
		return nil, fmt.Errorf("start import of height %d: %w", height, err)
	}
	return &Restorer{s: s, imp: imp, height: height}, nil
}

// wipe deletes the tree, the indexes and the markers, and opens an empty tree: what a restore
// starts from and what an aborted restore leaves.
func (s *AppStore) wipe() error {
	kind := treeKindIAVL
	if m, ok := s.tree.(*memTree); ok {
		kind = treeKindMemory
		if err := m.wipe(); err != nil {
			return fmt.Errorf("clear the state tree's checkpoints: %w", err)
		}
	}
	for _, p := range [][]byte{prefixTree, []byte("x/"), []byte("m/")} {
		if err := s.db.Badger().DropPrefix(p); err != nil {
			return fmt.Errorf("clear application database: %w", err)
		}
	}
	s.stats = nil
	if err := s.openTree(kind); err != nil {
		return err
	}
	var err error
	switch t := s.tree.(type) {
	case *iavlTree:
		err = t.load(0, s.keepRecent)
	case *memTree:
		err = t.load(0)
	}
	if err != nil {
		return fmt.Errorf("open empty state tree: %w", err)
	}
	s.setLastCommit(0, nil)
	if err := s.db.Set(keyTree, []byte(kind)); err != nil {
		return err
	}
	return s.checkLayout(0) // marks the emptied database with this layout again
}

// Write decodes the complete nodes in p (plus any bytes held from the previous call) and adds
// them to the import. A malformed stream is an error, and the Restorer is then unusable.
func (r *Restorer) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.buf = append(r.buf, p...)
	for {
		node, used, err := decodeExportNode(r.buf, r.height)
		if err != nil {
			r.err = fmt.Errorf("snapshot node %d: %w", r.nodes, err)
			return 0, r.err
		}
		if used == 0 {
			break // incomplete: wait for the next chunk
		}
		if err := r.add(node); err != nil {
			r.err = fmt.Errorf("snapshot node %d: %w", r.nodes, err)
			return 0, r.err
		}
		r.nodes++
		r.buf = r.buf[used:]
	}
	r.buf = append([]byte(nil), r.buf...) // don't pin the caller's chunk
	return len(p), nil
}

func (r *Restorer) add(n *memtree.ExportNode) error { return r.imp.Add(*n) }

// decodeExportNode reads one node from b; used is 0 if b holds only part of one.
func decodeExportNode(b []byte, maxVersion int64) (*memtree.ExportNode, int, error) {
	if len(b) == 0 {
		return nil, 0, nil
	}
	height := int8(b[0])
	if height < 0 || height > maxTreeHeight {
		return nil, 0, fmt.Errorf("subtree height %d out of range", height)
	}
	off := 1
	uv := func(limit uint64, what string) (uint64, bool, error) {
		v, n := binary.Uvarint(b[off:])
		if n == 0 {
			return 0, false, nil
		}
		if n < 0 || v > limit {
			return 0, false, fmt.Errorf("%s out of range", what)
		}
		off += n
		return v, true, nil
	}
	version, ok, err := uv(uint64(maxVersion), "version")
	if err != nil || !ok {
		return nil, 0, err
	}
	if version < 1 {
		return nil, 0, errors.New("version 0")
	}
	klen, ok, err := uv(maxSnapshotKey, "key length")
	if err != nil || !ok {
		return nil, 0, err
	}
	if len(b)-off < int(klen) {
		return nil, 0, nil
	}
	node := &memtree.ExportNode{Height: height, Version: int64(version), Key: append([]byte(nil), b[off:off+int(klen)]...)}
	off += int(klen)
	if height == 0 {
		vlen, ok, err := uv(maxSnapshotValue, "value length")
		if err != nil || !ok {
			return nil, 0, err
		}
		if len(b)-off < int(vlen) {
			return nil, 0, nil
		}
		node.Value = append([]byte{}, b[off:off+int(vlen)]...)
		off += int(vlen)
	}
	return node, off, nil
}

// Finish commits the imported tree if it hashes to appHash, and makes it the store's committed
// state at the snapshot height, with the event history starting above it. On any error the store
// is left empty, ready for another snapshot.
func (r *Restorer) Finish(appHash []byte) error {
	if err := r.finish(appHash); err != nil {
		r.Abort()
		return err
	}
	return nil
}

func (r *Restorer) finish(appHash []byte) error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) != 0 {
		return fmt.Errorf("snapshot ends inside a node (%d bytes left)", len(r.buf))
	}
	imp := r.imp
	r.imp = nil
	if err := imp.commit(); err != nil {
		return fmt.Errorf("commit restored state: %w", err)
	}
	s := r.s
	if got := s.tree.WorkingHash(); string(got) != string(appHash) {
		return fmt.Errorf("%w: height %d hashes to %X, trusted app hash %X", ErrSnapshotHash, r.height, got, appHash)
	}
	b := s.db.NewBatch()
	defer b.Close()
	h := binary.BigEndian.AppendUint64(nil, uint64(r.height))
	if err := b.Set(keyHistoryFrom, h); err != nil {
		return err
	}
	if err := b.Set(keyCommit, append(h, appHash...)); err != nil {
		return err
	}
	if err := b.WriteSync(); err != nil {
		return fmt.Errorf("write commit marker for restored height %d: %w", r.height, err)
	}
	s.setLastCommit(r.height, append([]byte(nil), appHash...))
	if err := s.db.Delete(keyIndexVersion); err != nil {
		return err
	}
	if err := s.migrateIndex(); err != nil {
		return fmt.Errorf("build the explorer's indexes of restored height %d: %w", r.height, err)
	}
	return nil
}

// Abort discards a restore in progress and leaves the store empty.
func (r *Restorer) Abort() {
	if r.imp != nil {
		r.imp.Close()
		r.imp = nil
	}
	if r.s.lastHeight == 0 {
		_ = r.s.wipe()
	}
}

// HistoryFrom is the height of the snapshot this store was restored from (its event indexes and
// the reputation engine's history start above it), or 0 for a store that replayed from genesis.
func (s *AppStore) HistoryFrom() int64 {
	v, err := s.db.Get(keyHistoryFrom)
	if err != nil || len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
