package storage

import (
	"bytes"
	"errors"
	"fmt"

	corestore "cosmossdk.io/core/store"
	iavldb "github.com/cosmos/iavl/db"
	"github.com/dgraph-io/badger/v4"
)

// BadgerDB adapts a badger database to iavl's db.DB contract (iavl db/types.go, v1.3.5): safe for
// concurrent use; keys non-empty, values non-nil; returned slices are copies the caller may keep.
type BadgerDB struct {
	db *badger.DB
}

var (
	_ iavldb.DB                  = (*BadgerDB)(nil)
	_ corestore.KVStoreWithBatch = (*BadgerDB)(nil)
	_ corestore.Batch            = (*badgerBatch)(nil)
	_ corestore.Iterator         = (*badgerIterator)(nil)
)

var (
	errKeyEmpty       = errors.New("key cannot be empty")
	errValueNil       = errors.New("value cannot be nil")
	errBatchDone      = errors.New("batch has been written or closed")
	errRangeBackwards = errors.New("iterator start must be before end")
)

// Memory bounds of each badger database: small enough that a node with several stores stays
// well under 1 GiB of RSS, large enough for the write rates in BENCHMARKS.md.
const (
	defaultMemTableBytes   = 16 << 20
	defaultBlockCacheBytes = 64 << 20
	defaultIndexCacheBytes = 32 << 20
)

// OpenBadger opens (creating if needed) a badger database in dir. Writes are not synced one by
// one; a batch's WriteSync, or Sync, makes everything written before it durable.
func OpenBadger(dir string) (*BadgerDB, error) {
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(false).
		WithMemTableSize(defaultMemTableBytes).
		WithBlockCacheSize(defaultBlockCacheBytes).
		WithIndexCacheSize(defaultIndexCacheBytes).
		WithNumMemtables(3).
		WithNumCompactors(2)
	opts.TableSizeMultiplier = 1 // every table 2 MiB: compaction builds small tables, in less memory
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open badger database in %s: %w", dir, err)
	}
	return &BadgerDB{db: db}, nil
}

// Badger exposes the underlying database for stores that write outside the IAVL tree.
func (b *BadgerDB) Badger() *badger.DB { return b.db }

func (b *BadgerDB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errKeyEmpty
	}
	var val []byte
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = txnGet(txn, key)
		return err
	})
	return val, err
}

// txnGet reads key in txn: nil when it is absent, a copy of its value (never nil) when not.
func txnGet(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	val, err := item.ValueCopy(nil)
	if err == nil && val == nil {
		val = []byte{}
	}
	return val, err
}

// Reader reads keys in the transaction of a set of scans (Iterators): what they see, while
// they are open. Cheaper than one transaction per Get when a caller reads many (a page of
// events).
type Reader struct{ txn *badger.Txn }

// Get is BadgerDB.Get within the scans' transaction.
func (r Reader) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errKeyEmpty
	}
	return txnGet(r.txn, key)
}

func (b *BadgerDB) Has(key []byte) (bool, error) {
	v, err := b.Get(key)
	return v != nil, err
}

func (b *BadgerDB) Set(key, value []byte) error {
	if len(key) == 0 {
		return errKeyEmpty
	}
	if value == nil {
		return errValueNil
	}
	return b.db.Update(func(txn *badger.Txn) error { return txn.Set(copyBytes(key), copyBytes(value)) })
}

func (b *BadgerDB) Delete(key []byte) error {
	if len(key) == 0 {
		return errKeyEmpty
	}
	return b.db.Update(func(txn *badger.Txn) error { return txn.Delete(copyBytes(key)) })
}

// Sync makes every write so far durable.
func (b *BadgerDB) Sync() error { return b.db.Sync() }

func (b *BadgerDB) Close() error { return b.db.Close() }

func (b *BadgerDB) NewBatch() corestore.Batch { return &badgerBatch{db: b.db} }

func (b *BadgerDB) NewBatchWithSize(int) corestore.Batch { return b.NewBatch() }

func (b *BadgerDB) Iterator(start, end []byte) (corestore.Iterator, error) {
	return b.newIterator(start, end, false)
}

func (b *BadgerDB) ReverseIterator(start, end []byte) (corestore.Iterator, error) {
	return b.newIterator(start, end, true)
}

func copyBytes(b []byte) []byte { return append([]byte(nil), b...) }

// badgerBatch buffers writes and applies them with one badger WriteBatch. Badger splits a very
// large batch into several transactions; the app store's commit marker, written last and synced,
// is what makes a commit count (see AppStore.Commit), so a torn batch is never taken as committed.
type badgerBatch struct {
	db   *badger.DB
	ops  []batchOp
	size int
	done bool
}

type batchOp struct {
	key, value []byte
	del        bool
}

func (bb *badgerBatch) Set(key, value []byte) error {
	switch {
	case bb.done:
		return errBatchDone
	case len(key) == 0:
		return errKeyEmpty
	case value == nil:
		return errValueNil
	}
	bb.ops = append(bb.ops, batchOp{key: copyBytes(key), value: copyBytes(value)})
	bb.size += len(key) + len(value)
	return nil
}

func (bb *badgerBatch) Delete(key []byte) error {
	switch {
	case bb.done:
		return errBatchDone
	case len(key) == 0:
		return errKeyEmpty
	}
	bb.ops = append(bb.ops, batchOp{key: copyBytes(key), del: true})
	bb.size += len(key)
	return nil
}

func (bb *badgerBatch) write(sync bool) error {
	if bb.done {
		return errBatchDone
	}
	bb.done = true
	wb := bb.db.NewWriteBatch()
	defer wb.Cancel()
	for _, op := range bb.ops {
		var err error
		if op.del {
			err = wb.Delete(op.key)
		} else {
			err = wb.Set(op.key, op.value)
		}
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("batch flush: %w", err)
	}
	bb.ops = nil
	if sync {
		return bb.db.Sync()
	}
	return nil
}

func (bb *badgerBatch) Write() error     { return bb.write(false) }
func (bb *badgerBatch) WriteSync() error { return bb.write(true) }
func (bb *badgerBatch) Close() error {
	bb.done, bb.ops = true, nil
	return nil
}
func (bb *badgerBatch) GetByteSize() (int, error) {
	if bb.done {
		return 0, errBatchDone
	}
	return bb.size, nil
}

// badgerIterator walks [start, end) in a read-only transaction held open until Close.
type badgerIterator struct {
	txn        *badger.Txn
	ownsTxn    bool
	it         *badger.Iterator
	start, end []byte
	reverse    bool
	closed     bool
}

func (b *BadgerDB) newIterator(start, end []byte, reverse bool) (*badgerIterator, error) {
	return b.newIteratorIn(b.db.NewTransaction(false), true, start, end, reverse)
}

// Iterators opens iterators over several ranges in one read transaction (one snapshot), for a
// merge of index scans, forward or in reverse, and a Reader of keys in the same transaction
// (valid until the iterators are closed); close each iterator.
func (b *BadgerDB) Iterators(ranges [][2][]byte, reverse bool) ([]corestore.Iterator, Reader, error) {
	txn := b.db.NewTransaction(false)
	out := make([]corestore.Iterator, 0, len(ranges))
	for i, r := range ranges {
		it, err := b.newIteratorIn(txn, i == 0, r[0], r[1], reverse)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			if i == 0 {
				txn.Discard()
			}
			return nil, Reader{}, err
		}
		out = append(out, it)
	}
	return out, Reader{txn: txn}, nil
}

// LastKeys returns, for each prefix, the greatest key under it (nil: none), from one reverse
// iterator over the prefixes' common prefix: one seek a prefix instead of an iterator each.
func (b *BadgerDB) LastKeys(prefixes [][]byte) ([][]byte, error) {
	if len(prefixes) == 0 {
		return nil, nil
	}
	common := prefixes[0]
	for _, p := range prefixes[1:] {
		common = commonPrefix(common, p)
	}
	out := make([][]byte, len(prefixes))
	err := b.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse, opts.PrefetchValues, opts.Prefix = true, false, common
		it := txn.NewIterator(opts)
		defer it.Close()
		for i, p := range prefixes {
			end := prefixEnd(p)
			it.Seek(end) // the greatest key at or below end
			if it.Valid() && bytes.Equal(it.Item().Key(), end) {
				it.Next()
			}
			if it.ValidForPrefix(p) {
				out[i] = it.Item().KeyCopy(nil)
			}
		}
		return nil
	})
	return out, err
}

// newIteratorIn opens an iterator in txn; ownsTxn: its Close discards txn (close it last).
func (b *BadgerDB) newIteratorIn(txn *badger.Txn, ownsTxn bool, start, end []byte, reverse bool) (*badgerIterator, error) {
	if (start != nil && len(start) == 0) || (end != nil && len(end) == 0) {
		return nil, errKeyEmpty
	}
	if start != nil && end != nil && bytes.Compare(start, end) > 0 {
		return nil, errRangeBackwards
	}
	opts := badger.DefaultIteratorOptions
	opts.Reverse = reverse
	opts.PrefetchValues = false
	// The bytes start and end share: badger then skips the tables that hold no such key.
	opts.Prefix = commonPrefix(start, end)
	it := txn.NewIterator(opts)
	bi := &badgerIterator{txn: txn, ownsTxn: ownsTxn, it: it, start: copyBytes(start), end: copyBytes(end), reverse: reverse}
	if start == nil {
		bi.start = nil
	}
	if end == nil {
		bi.end = nil
	}
	switch {
	case !reverse && start != nil:
		it.Seek(start)
	case !reverse:
		it.Rewind()
	case end != nil:
		// In reverse, Seek finds the largest key <= end; end itself is excluded.
		it.Seek(end)
		if it.Valid() && bytes.Equal(it.Item().Key(), end) {
			it.Next()
		}
	default:
		it.Rewind()
	}
	return bi, nil
}

// commonPrefix is the longest prefix of both a and b (nil if either is nil).
func commonPrefix(a, b []byte) []byte {
	if a == nil || b == nil {
		return nil
	}
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return append([]byte(nil), a[:n]...)
}

func (bi *badgerIterator) Domain() ([]byte, []byte) { return bi.start, bi.end }

func (bi *badgerIterator) Valid() bool {
	if bi.closed || !bi.it.Valid() {
		return false
	}
	k := bi.it.Item().Key()
	if !bi.reverse && bi.end != nil && bytes.Compare(k, bi.end) >= 0 {
		return false
	}
	if bi.reverse && bi.start != nil && bytes.Compare(k, bi.start) < 0 {
		return false
	}
	return true
}

func (bi *badgerIterator) mustValid() {
	if !bi.Valid() {
		panic("iterator is not valid")
	}
}

func (bi *badgerIterator) Next() {
	bi.mustValid()
	bi.it.Next()
}

func (bi *badgerIterator) Key() []byte {
	bi.mustValid()
	return bi.it.Item().KeyCopy(nil)
}

func (bi *badgerIterator) Value() []byte {
	bi.mustValid()
	v, err := bi.it.Item().ValueCopy(nil)
	if err != nil {
		panic(fmt.Sprintf("read value under iterator: %v", err))
	}
	if v == nil {
		v = []byte{}
	}
	return v
}

func (bi *badgerIterator) Error() error { return nil }

func (bi *badgerIterator) Close() error {
	if !bi.closed {
		bi.closed = true
		bi.it.Close()
		if bi.ownsTxn {
			bi.txn.Discard()
		}
	}
	return nil
}
