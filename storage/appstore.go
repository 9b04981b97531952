package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	ics23 "github.com/cosmos/ics23/go"
	"github.com/dgraph-io/badger/v4"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage/memtree"
)

// Key layout of the application database (specs/state.md §4). One badger database holds (a
// memory tree's write log and checkpoints are files beside it, tree_mem.go):
//
//	i…          the IAVL tree (merkleized state; its root is the app hash)
//	m/commit    the commit marker: height (8 bytes) and app hash, written last and synced
//	m/layout    the layout version of this database (u32), written when it is created
//	m/tree      the kind of state tree ("memory" or "iavl", tree.go), written when it is created
//	x/…         the browsing indexes, derived from committed blocks (see index.go)
var (
	prefixTree  = []byte("i")
	keyCommit   = []byte("m/commit")
	keyLayout   = []byte("m/layout")
	keyTree     = []byte("m/tree")
	treeCacheSz = 300_000
)

// Layout is the version of the database's layout: 2 since receipts carry numbers instead of ids
// (their events and the indexes' brief records changed); 3 since failed audits carry objective
// evidence (a storage commitment and a signed answer) instead of two digests; 4 since audits are
// numbered in their contract (the contract record grew a window), peer ids are the keys' and the
// by-node index is keyed by kind. A database of another layout is refused.
const Layout = 4

// ErrCorrupt is returned by OpenAppStore when the stored tree does not match its commit marker.
var ErrCorrupt = errors.New("application state does not match its commit marker")

// AppStore is the application's persistent state: a state tree (tree.go) whose version is the
// block height, plus the event indexes. Writes go to the working tree and stay in memory until
// Commit, so a block that is finalized but never committed leaves no trace on disk.
//
// It is not safe for concurrent use; the ABCI adapter serialises calls. The exceptions are the
// readers of committed history, which may run beside block execution and a Commit (the trust
// service catches up with them while blocks commit; the explorer's queries read with them):
// LastCommit, Events, TxEvents, Stats, Counterparts and SearchMonikers read only index entries
// of heights up to LastCommit, which a Commit never changes (it writes them before its marker),
// and GetCommitted, Prove and the tree reads of the last three read committed tree versions
// under treeMu, which Commit holds only while it saves the new version and Prune while it
// deletes old ones.
type AppStore struct {
	dir        string
	db         *BadgerDB
	tree       stateTree
	commitMu   sync.RWMutex // guards lastHeight and lastHash for LastCommit's concurrent callers
	lastHeight int64
	lastHash   []byte
	keepRecent int64 // state versions kept; 0 keeps all (an archive node)
	numbers    nodeNumbers
	stats      *blockStats // the last block's stats, written by index (nil: read them again)
	// treeMu lets reads of committed versions run beside block execution, outside the app's
	// lock, and never beside the tree saving or pruning a version: iavl's read of the latest
	// version (its fast index) is not safe against SaveVersion (the race detector found it).
	treeMu    sync.RWMutex
	exportMu  sync.Mutex
	exporting map[int64]int // versions held open by TreeExports: Prune keeps them
	// commitTimes is the last Commit's phases (LastCommitTimes).
	commitTimes CommitTimes
	newest      newestMemo // Newest's answers for nodes and pairs
}

// Prune deletes the versions that fell out of the kept window after the last commit; call it
// after Commit (a failure leaves the commit intact). A version held open by a snapshot being
// written (ExportAt) and the ones after it are not deleted; a later call deletes them. (iavl
// refuses to delete a version with readers, with an error that has no type to test; holding
// back keeps us from asking.)
func (s *AppStore) Prune() error {
	to := s.lastHeight - s.keepRecent
	if held := s.oldestExport(); held > 0 {
		to = min(to, held-1)
	}
	if s.keepRecent == 0 || to < 1 {
		return nil
	}
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	if err := s.tree.deleteVersionsTo(to); err != nil {
		return fmt.Errorf("prune state versions up to %d: %w", to, err)
	}
	return nil
}

var _ ledger.Store = (*AppStore)(nil)

// Option is a setting of OpenAppStore.
type Option func(*openOptions)

type openOptions struct {
	keepRecent int64
	keepSet    bool
	onDisk     bool
}

// OnDiskTree makes a new database keep its state tree in iavl on disk even when it prunes (the
// scale tool's comparison; an existing database keeps its kind).
func OnDiskTree() Option { return func(o *openOptions) { o.onDisk = true } }

// DefaultKeepRecent is how many state versions a store keeps when opened without KeepRecent over
// a database whose tree is in memory (app.toml's default too).
const DefaultKeepRecent = 10

// KeepRecent keeps only the last n state versions (heights); 0 keeps every version (an archive
// node). Older versions are deleted after each commit (Prune): their state can no longer be read
// or proven at those heights, while the latest state, the event history and the indexes are
// untouched. n must be 0 or at least 2 (a rollback needs the previous version). With n > 0 the
// tree is kept in memory (tree_mem.go; a database whose tree is iavl on disk, an archive's or
// one created before, is moved into memory at the open); an archive's is iavl on disk.
func KeepRecent(n int64) Option {
	return func(o *openOptions) { o.keepRecent, o.keepSet = n, true }
}

// OpenAppStore opens the store in dir, loading the tree at the height of the commit marker. A
// tree version saved after the marker (a crash inside Commit) is discarded, so the store always
// reopens at a state it reported committed, and CometBFT replays from there. Without KeepRecent,
// a new database is an archive.
func OpenAppStore(dir string, opts ...Option) (*AppStore, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.keepRecent < 0 || o.keepRecent == 1 {
		return nil, fmt.Errorf("pruning keep_recent %d: use 0 (keep every version) or at least 2", o.keepRecent)
	}
	db, err := OpenBadger(filepath.Clean(dir))
	if err != nil {
		return nil, err
	}
	s := &AppStore{dir: filepath.Clean(dir), db: db, keepRecent: o.keepRecent}
	if err := s.load(o); err != nil {
		if s.tree != nil {
			s.tree.close()
		}
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *AppStore) load(o openOptions) error {
	raw, err := s.db.Get(keyCommit)
	if err != nil {
		return fmt.Errorf("read commit marker: %w", err)
	}
	var height int64
	var hash []byte
	if raw != nil {
		if len(raw) < 8 {
			return fmt.Errorf("%w: marker is %d bytes", ErrCorrupt, len(raw))
		}
		height, hash = int64(binary.BigEndian.Uint64(raw)), raw[8:]
	}
	if err := s.checkLayout(height); err != nil {
		return err
	}
	kind, err := s.treeKind(height, o)
	if err != nil {
		return err
	}
	if err := s.openTree(kind); err != nil {
		return err
	}
	switch t := s.tree.(type) {
	case *memTree:
		err = t.load(height)
	case *iavlTree:
		err = t.load(height, s.keepRecent)
	}
	if err != nil {
		return err
	}
	if height > 0 {
		if got := s.tree.WorkingHash(); !bytes.Equal(got, hash) {
			return fmt.Errorf("%w: tree hash %X at height %d, marker %X", ErrCorrupt, got, height, hash)
		}
	}
	if kind == treeKindIAVL && o.keepRecent > 0 && !o.onDisk {
		if err := s.moveTreeToMemory(height); err != nil {
			return fmt.Errorf("move the state tree of height %d into memory: %w", height, err)
		}
	} else if kind == treeKindMemory && s.hasIAVLNodes() { // a move cut short after its switch
		if err := s.db.Badger().DropPrefix(prefixTree); err != nil {
			return fmt.Errorf("delete the iavl nodes of a tree moved into memory: %w", err)
		}
	}
	s.setLastCommit(height, hash)
	if err := s.migrateIndex(); err != nil {
		return fmt.Errorf("build the explorer's indexes: %w", err)
	}
	return nil
}

// moveTreeToMemory turns a database whose tree is iavl into one whose tree is in memory, for a
// node that prunes: the committed version is exported into a memory tree (the same nodes, so
// the same hash) and written as its checkpoint, the kind switched, then iavl's nodes deleted.
// Older versions are not carried over: until keep_recent more heights commit, fewer are
// readable. A crash before the switch leaves the iavl tree (the move starts again); after it,
// the open finds the checkpoint and deletes what is left of iavl's nodes.
func (s *AppStore) moveTreeToMemory(height int64) error {
	m, err := openMemTree(s.db, s.dir, s.keepRecent)
	if err != nil {
		return err
	}
	if err := m.openLog(height, height); err != nil {
		return err
	}
	if height > 0 {
		view, err := s.tree.view(height)
		if err != nil {
			return err
		}
		im, err := memtree.NewImporter(height)
		if err != nil {
			return err
		}
		if err := view.Export(im.Add); err != nil {
			return err
		}
		t, err := im.Tree()
		if err != nil {
			return err
		}
		mv, err := t.View(height)
		if err != nil {
			return err
		}
		if err := m.writeCheckpoint(mv); err != nil {
			return err
		}
		m.t = t
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(keyTree, []byte(treeKindMemory)); err != nil {
		return err
	}
	if err := b.WriteSync(); err != nil {
		return err
	}
	s.tree = m
	return s.db.Badger().DropPrefix(prefixTree)
}

// treeKind reads which kind of state tree the database holds (keyTree), deciding it for a new
// one: memory when it prunes, iavl for an archive. A database from before the marker is iavl.
func (s *AppStore) treeKind(height int64, o openOptions) (string, error) {
	raw, err := s.db.Get(keyTree)
	if err != nil {
		return "", fmt.Errorf("read the state tree's kind: %w", err)
	}
	kind := string(raw)
	switch {
	case raw == nil && (height > 0 || s.hasIAVLNodes()):
		kind = treeKindIAVL
	case raw == nil && o.keepRecent > 0 && !o.onDisk:
		kind = treeKindMemory
	case raw == nil:
		kind = treeKindIAVL
	case kind != treeKindIAVL && kind != treeKindMemory:
		return "", fmt.Errorf("%w: unknown state tree kind %q", ErrCorrupt, raw)
	}
	if kind == treeKindMemory {
		if o.keepSet && o.keepRecent == 0 {
			return "", fmt.Errorf("application database %s keeps its state tree in memory, with the last heights only; "+
				"an archive node ([pruning] keep_recent = 0) needs a database created as one: start a new home, or keep keep_recent above 1", s.dir)
		}
		if !o.keepSet {
			s.keepRecent = DefaultKeepRecent
		}
	}
	if raw == nil {
		if err := s.db.Set(keyTree, []byte(kind)); err != nil {
			return "", fmt.Errorf("record the state tree's kind: %w", err)
		}
	}
	return kind, nil
}

func (s *AppStore) hasIAVLNodes() bool {
	found := false
	_ = s.db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixTree, PrefetchValues: false})
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	return found
}

// openTree opens an empty tree of the kind (load fills it).
func (s *AppStore) openTree(kind string) error {
	if kind == treeKindMemory {
		t, err := openMemTree(s.db, s.dir, s.keepRecent)
		if err != nil {
			return err
		}
		s.tree = t
		return nil
	}
	s.tree = openIAVLTree(s.db, s.keepRecent)
	return nil
}

// checkLayout refuses a database written in another layout, and marks a new one with this one.
func (s *AppStore) checkLayout(height int64) error {
	raw, err := s.db.Get(keyLayout)
	if err != nil {
		return fmt.Errorf("read layout marker: %w", err)
	}
	switch {
	case raw == nil && height > 0:
		return fmt.Errorf("application database %s has committed state (height %d) in layout 1, from a trustledger before receipt numbers; this version reads layout %d and cannot continue that chain: start a new home with trustd init", s.dir, height, Layout)
	case raw == nil:
		b := s.db.NewBatch()
		defer b.Close()
		if err := b.Set(keyLayout, binary.BigEndian.AppendUint32(nil, Layout)); err != nil {
			return err
		}
		return b.WriteSync()
	case len(raw) == 4 && binary.BigEndian.Uint32(raw) < Layout:
		return fmt.Errorf("application database %s is in layout %d, from an older trustledger whose chains follow other rules "+
			"(layout 2: audit evidence was the customer's word; 3: audits were not numbered; specs/events.md R-AUDIT-5, R-AUD-2); "+
			"this version reads layout %d and cannot continue that chain: start a new chain (trustd reset --yes, or a new home "+
			"with trustd init), or keep the older trustd for it", s.dir, binary.BigEndian.Uint32(raw), Layout)
	case len(raw) != 4 || binary.BigEndian.Uint32(raw) != Layout:
		return fmt.Errorf("application database %s is in layout %x, this version reads layout %d", s.dir, raw, Layout)
	}
	return nil
}

// Close releases the database.
func (s *AppStore) Close() error {
	s.tree.close()
	return s.db.Close()
}

// LastCommit returns the height and app hash of the last commit (0 and nil before the first).
func (s *AppStore) LastCommit() (int64, []byte) {
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	return s.lastHeight, s.lastHash
}

func (s *AppStore) setLastCommit(height int64, hash []byte) {
	s.commitMu.Lock()
	s.lastHeight, s.lastHash = height, hash
	s.commitMu.Unlock()
}

// Get reads the working state: the last commit plus this block's writes so far.
func (s *AppStore) Get(key []byte) ([]byte, error) { return s.tree.Get(key) }

// Set writes into the working state.
func (s *AppStore) Set(key, value []byte) error { return s.tree.Set(key, value) }

// DiscardWorking drops the working state's writes since the last commit (a block finalized but
// never committed, when consensus stops between the two and will replay the block).
func (s *AppStore) DiscardWorking() { s.tree.Rollback() }

// WorkingHash is the app hash the working state would commit to.
func (s *AppStore) WorkingHash() []byte { return s.tree.WorkingHash() }

// Commit indexes the block's event records, saves the tree as version height, and then writes
// the synced commit marker. Only once the marker is written is the height committed.
func (s *AppStore) Commit(height int64, records []ledger.EventRecord) ([]byte, error) {
	if height != s.lastHeight+1 && s.lastHeight != 0 {
		return nil, fmt.Errorf("commit height %d does not follow %d", height, s.lastHeight)
	}
	t0 := time.Now()
	if err := s.index(records); err != nil {
		return nil, fmt.Errorf("index height %d: %w", height, err)
	}
	if s.tree.Version() == 0 && height > 1 {
		s.tree.SetInitialVersion(height)
	}
	t1 := time.Now()
	s.treeMu.Lock()
	hash, version, err := s.tree.SaveVersion()
	s.treeMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("save state at height %d: %w", height, err)
	}
	if version != height {
		return nil, fmt.Errorf("state tree saved version %d for height %d", version, height)
	}
	t2 := time.Now()
	b := s.db.NewBatch()
	defer b.Close()
	marker := binary.BigEndian.AppendUint64(nil, uint64(height))
	if err := b.Set(keyCommit, append(marker, hash...)); err != nil {
		return nil, err
	}
	if err := s.tree.persist(height); err != nil {
		return nil, fmt.Errorf("commit height %d: %w", height, err)
	}
	if err := b.WriteSync(); err != nil {
		return nil, fmt.Errorf("write commit marker for height %d: %w", height, err)
	}
	s.setLastCommit(height, hash)
	if m, ok := s.tree.(*memTree); ok {
		m.afterCommit()
	}
	s.commitTimes = CommitTimes{Index: t1.Sub(t0), Save: t2.Sub(t1), Marker: time.Since(t2)}
	return hash, nil
}

// CommitTimes is how long a Commit spent in each of its phases: indexing the block's records,
// saving the state tree's version, writing the synced commit marker.
type CommitTimes struct{ Index, Save, Marker time.Duration }

// LastCommitTimes is the phases of the last Commit (the scale tool's per-phase figures). Like
// Commit, it is called from the block's goroutine.
func (s *AppStore) LastCommitTimes() CommitTimes { return s.commitTimes }

// committedTree returns the tree as committed at height (0 for the latest commit).
func (s *AppStore) committedTree(height int64) (treeView, int64, error) {
	last, _ := s.LastCommit()
	if height == 0 {
		height = last
	}
	if height <= 0 || height > last {
		return nil, 0, fmt.Errorf("height %d is not committed (last committed height is %d)", height, last)
	}
	if s.keepRecent > 0 && height <= last-s.keepRecent {
		return nil, 0, fmt.Errorf("the state at height %d is pruned: this node keeps the last %d heights (app.toml [pruning] keep_recent; 0 keeps all)",
			height, s.keepRecent)
	}
	t, err := s.tree.view(height)
	if err != nil {
		return nil, 0, fmt.Errorf("state at height %d: %w", height, err)
	}
	return t, height, nil
}

// GetCommitted reads key as committed at height (0 for the latest). It returns the height read.
func (s *AppStore) GetCommitted(height int64, key []byte) ([]byte, int64, error) {
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	t, h, err := s.committedTree(height)
	if err != nil {
		return nil, 0, err
	}
	v, err := t.Get(key)
	return v, h, err
}

// Prove returns the value of key at height with an ICS23 proof (of existence, or of absence when
// the value is nil) against that height's app hash.
func (s *AppStore) Prove(height int64, key []byte) ([]byte, *ics23.CommitmentProof, int64, error) {
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	t, h, err := s.committedTree(height)
	if err != nil {
		return nil, nil, 0, err
	}
	v, err := t.Get(key)
	if err != nil {
		return nil, nil, 0, err
	}
	p, err := t.Proof(key)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("prove key %x at height %d: %w", key, h, err)
	}
	return v, p, h, nil
}

// Size reports the number of keys in the working state.
func (s *AppStore) Size() int64 { return s.tree.Size() }

// DiskBytes reports the blocks the application database occupies on disk (what du counts:
// badger's preallocated files only as far as they are written).
func (s *AppStore) DiskBytes() int64 {
	return diskBytes(s.dir) + diskBytes(checkpointDir(s.dir))
}

// diskBytes is what du counts under dir.
func diskBytes(dir string) int64 {
	total := int64(0)
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			} else {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// Flatten compacts every level of the database into one, dropping overwritten and deleted
// entries: the size the data settles at. Used by the scaling benchmark; a node never needs it.
func (s *AppStore) Flatten() error { return s.db.Badger().Flatten(2) }

// Rollback moves the committed state back to height (which must be below the last commit):
// later tree versions and index entries are deleted and the marker rewritten. CometBFT then
// replays the blocks above height on the next start.
func (s *AppStore) Rollback(height int64) ([]byte, error) {
	if height < 1 || height >= s.lastHeight {
		return nil, fmt.Errorf("cannot roll back to height %d: the last commit is %d", height, s.lastHeight)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.tree.rollbackTo(height); err != nil {
		return nil, fmt.Errorf("roll state tree back to %d: %w", height, err)
	}
	if err := s.deleteIndexAbove(height); err != nil {
		return nil, err
	}
	hash := s.tree.WorkingHash()
	if err := b.Set(keyCommit, append(binary.BigEndian.AppendUint64(nil, uint64(height)), hash...)); err != nil {
		return nil, err
	}
	if err := b.WriteSync(); err != nil {
		return nil, fmt.Errorf("write commit marker: %w", err)
	}
	s.setLastCommit(height, hash)
	return hash, nil
}

// Region names the parts of the application database that KeyBytes measures.
type Region string

const (
	RegionTree  Region = "i"  // IAVL nodes, roots and fast-index entries
	RegionIndex Region = "x/" // the browsing indexes
)

// KeyBytes sums the key and value lengths stored under a region (before badger's compression):
// what the scaling benchmark reports per event.
func (s *AppStore) KeyBytes(r Region) (int64, error) {
	total := int64(0)
	err := s.db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(r)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			total += int64(len(it.Item().Key())) + it.Item().ValueSize()
		}
		return nil
	})
	return total, err
}

// TableBytes attributes badger's on-disk tables (compressed, as stored) to regions: a table
// counts for a region when its smallest and largest keys both lie in it. What is not attributed
// (tables spanning regions, memtable logs, the manifest) is DiskBytes minus the two. A memory
// tree's checkpoints count as the tree's.
func (s *AppStore) TableBytes() (tree, index int64) {
	tree = diskBytes(checkpointDir(s.dir))
	for _, t := range s.db.Badger().Tables() {
		switch {
		case bytes.HasPrefix(t.Left, []byte(RegionTree)) && bytes.HasPrefix(t.Right, []byte(RegionTree)):
			tree += int64(t.OnDiskSize)
		case bytes.HasPrefix(t.Left, []byte(RegionIndex)) && bytes.HasPrefix(t.Right, []byte(RegionIndex)):
			index += int64(t.OnDiskSize)
		}
	}
	return tree, index
}
