package storage

import (
	"errors"
	"fmt"

	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/trustledger/trustledger/storage/memtree"
)

// stateTree is the merkleized state as AppStore keeps it, in one of two kinds that hash, prove
// and export the same (storage/memtree's tests check it against iavl write for write):
//
//   - memTree (tree_mem.go): the tree in memory (storage/memtree), each block's writes logged
//     with its commit marker, and the whole tree written out now and then (a checkpoint), so a
//     restart loads the checkpoint and replays the log. Only the last keep_recent versions are
//     readable. Every pruning node's kind.
//   - iavlTree (below): iavl v1 on badger, every node of every kept version on disk. An archive
//     node's kind (keep_recent 0: every version readable and provable), and a database's that was
//     created before the memory kind existed.
//
// The working tree is what Get and Set change; SaveVersion saves it as the next version (the
// block height); a view is one saved version, which may be read beside block execution.
type stateTree interface {
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
	Remove(key []byte) error
	WorkingHash() []byte
	Rollback() // drops the working tree's writes
	Size() int64
	Version() int64
	SetInitialVersion(v int64)
	SaveVersion() ([]byte, int64, error)
	// persist writes what the saved version needs on disk beyond what SaveVersion wrote,
	// before the commit marker of version is written.
	persist(version int64) error
	view(version int64) (treeView, error)
	deleteVersionsTo(v int64) error
	// rollbackTo makes version v the newest (the caller then rewrites the marker).
	rollbackTo(v int64) error
	// importer starts an import of version v into this tree, which must be empty.
	importer(v int64) (treeImporter, error)
	close() error
}

// treeView is one saved version.
type treeView interface {
	Get(key []byte) ([]byte, error)
	Proof(key []byte) (*ics23.CommitmentProof, error)
	Export(fn func(memtree.ExportNode) error) error
	// Iterate calls fn with each key in [start, end) in ascending order until fn fails.
	Iterate(start, end []byte, fn func(key, value []byte) error) error
}

// treeImporter rebuilds a version from its nodes in export order; commit makes it the tree's
// only version, or fails and leaves the tree empty.
type treeImporter interface {
	Add(memtree.ExportNode) error
	commit() error
	Close()
}

// Tree kinds, as the database records them under keyTree.
const (
	treeKindIAVL   = "iavl"
	treeKindMemory = "memory"
)

// iavlTree is the state tree on iavl v1 (third_party/iavl, with orphans recorded when a version
// is saved).
type iavlTree struct {
	t  *iavl.MutableTree
	db *BadgerDB
}

var _ stateTree = (*iavlTree)(nil)

func openIAVLTree(db *BadgerDB, keepRecent int64) *iavlTree {
	t := iavl.NewMutableTree(iavldb.NewPrefixDB(db, prefixTree), treeCacheSz, false,
		iavl.NewNopLogger(), iavl.SyncOption(true))
	t.RecordOrphans(orphanRecords(keepRecent))
	return &iavlTree{t: t, db: db}
}

// orphanRecords is how many versions' orphan records the tree keeps (third_party/iavl's patch):
// the kept versions and the one being pruned, none for an archive node.
func orphanRecords(keepRecent int64) int {
	if keepRecent == 0 {
		return 0
	}
	return int(keepRecent) + 2
}

// load opens the tree at the committed height: a version saved after the marker (a crash
// inside Commit) is discarded.
func (it *iavlTree) load(height int64, keepRecent int64) error {
	latest, err := it.t.Load()
	if err != nil {
		return fmt.Errorf("load state tree: %w", err)
	}
	switch {
	case latest > height && height == 0:
		if err := it.t.DeleteVersionsFrom(1); err != nil {
			return fmt.Errorf("discard uncommitted tree versions: %w", err)
		}
		*it = *openIAVLTree(it.db, keepRecent)
		if _, err := it.t.Load(); err != nil {
			return fmt.Errorf("reload state tree: %w", err)
		}
	case latest > height:
		if err := it.t.LoadVersionForOverwriting(height); err != nil {
			return fmt.Errorf("roll state tree back to committed height %d: %w", height, err)
		}
	case latest < height:
		return fmt.Errorf("%w: marker says height %d but the tree ends at %d", ErrCorrupt, height, latest)
	}
	return nil
}

func (it *iavlTree) Get(key []byte) ([]byte, error) { return it.t.Get(key) }
func (it *iavlTree) Set(key, value []byte) error {
	_, err := it.t.Set(key, value)
	return err
}
func (it *iavlTree) Remove(key []byte) error {
	_, _, err := it.t.Remove(key)
	return err
}
func (it *iavlTree) WorkingHash() []byte                 { return it.t.WorkingHash() }
func (it *iavlTree) Rollback()                           { it.t.Rollback() }
func (it *iavlTree) Size() int64                         { return it.t.Size() }
func (it *iavlTree) Version() int64                      { return it.t.Version() }
func (it *iavlTree) SetInitialVersion(v int64)           { it.t.SetInitialVersion(uint64(v)) }
func (it *iavlTree) SaveVersion() ([]byte, int64, error) { return it.t.SaveVersion() }
func (it *iavlTree) persist(int64) error                 { return nil }
func (it *iavlTree) deleteVersionsTo(v int64) error      { return it.t.DeleteVersionsTo(v) }
func (it *iavlTree) rollbackTo(v int64) error            { return it.t.LoadVersionForOverwriting(v) }
func (it *iavlTree) close() error                        { return nil }

func (it *iavlTree) view(v int64) (treeView, error) {
	t, err := it.t.GetImmutable(v)
	if err != nil {
		return nil, err
	}
	return iavlView{t}, nil
}

type iavlView struct{ t *iavl.ImmutableTree }

func (v iavlView) Get(key []byte) ([]byte, error) { return v.t.Get(key) }

func (v iavlView) Proof(key []byte) (*ics23.CommitmentProof, error) { return v.t.GetProof(key) }

func (v iavlView) Iterate(start, end []byte, fn func(key, value []byte) error) error {
	it, err := v.t.Iterator(start, end, true)
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

func (v iavlView) Export(fn func(memtree.ExportNode) error) error {
	exp, err := v.t.Export()
	if err != nil {
		return err
	}
	defer exp.Close()
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(memtree.ExportNode{Key: n.Key, Value: n.Value, Version: n.Version, Height: n.Height}); err != nil {
			return err
		}
	}
}

func (it *iavlTree) importer(v int64) (treeImporter, error) {
	imp, err := it.t.Import(v)
	if err != nil {
		return nil, err
	}
	return &iavlImporter{imp: imp, tree: it}, nil
}

type iavlImporter struct {
	imp  *iavl.Importer
	tree *iavlTree
}

// Add passes a node to iavl's importer, which panics on some malformed structures.
func (im *iavlImporter) Add(n memtree.ExportNode) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed tree: %v", p)
		}
	}()
	return im.imp.Add(&iavl.ExportNode{Key: n.Key, Value: n.Value, Version: n.Version, Height: n.Height})
}

func (im *iavlImporter) commit() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed tree: %v", p)
		}
	}()
	return im.imp.Commit() // it loads the imported version
}

func (im *iavlImporter) Close() { im.imp.Close() }
