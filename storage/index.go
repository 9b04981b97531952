package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"

	corestore "cosmossdk.io/core/store"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// The browsing indexes (specs/state.md §4) live beside the tree, outside the app hash. They are
// derived from committed blocks and written idempotently, keyed by an event's position:
// position = height (8) || tx index (4) || event index (4), big-endian, so keys sort by history.
//
//	x/e/<position>                    → the event record's brief form (ledger.EventRecord.EncodeBrief)
//	x/n/<node number 4><kind 1><position>  → (empty) every event whose signer, subject or counterparty
//	                                         is node, by kind (a node's events of one kind are one scan;
//	                                         all of its events, a merge of one scan per kind)
//	x/p/<low 4><high 4><kind 1><position>  → (empty) every event between two nodes, either direction, by
//	                                         kind (low: the number of the node whose key sorts first)
//	x/k/<kind 1><position>            → (empty) every event of a kind
//	x/t/<tx hash 32>                  → position of the tx's first event || event count (4)
//	x/i/<node 32>                     → the node's number (u32): its 4-byte name in the keys above
//	x/c                               → how many nodes are numbered (u32)
//
// Node numbers are local to this database, given in the order nodes first appear in indexed
// events; they shorten every by-node and by-pair key by 28 and 56 bytes.
var (
	prefixEvent      = []byte("x/e/")
	prefixByNode     = []byte("x/n/")
	prefixByPair     = []byte("x/p/")
	prefixByKind     = []byte("x/k/")
	prefixByTx       = []byte("x/t/")
	prefixNodeNumber = []byte("x/i/")
	keyNodeCount     = []byte("x/c")
)

const positionLen = 16

func position(r *ledger.EventRecord) []byte { return api.Position(r) }

func key(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// nodeNumbers caches the numbers of nodes (x/i/…) and their count (x/c).
type nodeNumbers struct {
	mu     sync.Mutex
	known  map[ledger.PubKey]uint32
	count  uint32
	loaded bool // count read from the database
}

// numberOf returns node's number. A node without one gets the next number when batch is not nil
// (written to the batch, so it lands with the entries that use it), or else reports ok false.
func (s *AppStore) numberOf(node ledger.PubKey, batch corestore.Batch) (num uint32, ok bool, err error) {
	nn := &s.numbers
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if num, ok := nn.known[node]; ok {
		return num, true, nil
	}
	if nn.known == nil {
		nn.known = make(map[ledger.PubKey]uint32)
	}
	raw, err := s.db.Get(key(prefixNodeNumber, node[:]))
	if err != nil {
		return 0, false, err
	}
	if raw != nil {
		if len(raw) != 4 {
			return 0, false, fmt.Errorf("node number of %s is %d bytes, want 4", node, len(raw))
		}
		nn.known[node] = binary.BigEndian.Uint32(raw)
		return nn.known[node], true, nil
	}
	if batch == nil {
		return 0, false, nil
	}
	if !nn.loaded {
		c, err := s.db.Get(keyNodeCount)
		if err != nil {
			return 0, false, err
		}
		if c != nil && len(c) != 4 {
			return 0, false, fmt.Errorf("node count is %d bytes, want 4", len(c))
		}
		if c != nil {
			nn.count = binary.BigEndian.Uint32(c)
		}
		nn.loaded = true
	}
	num = nn.count
	nn.count++
	if err := batch.Set(key(prefixNodeNumber, node[:]), binary.BigEndian.AppendUint32(nil, num)); err != nil {
		return 0, false, err
	}
	if err := batch.Set(keyNodeCount, binary.BigEndian.AppendUint32(nil, nn.count)); err != nil {
		return 0, false, err
	}
	nn.known[node] = num
	return num, true, nil
}

// forgetNumbers drops the cache, after a batch that may have assigned numbers was not written.
func (s *AppStore) forgetNumbers() {
	s.stats = nil
	s.numbers.mu.Lock()
	s.numbers.known, s.numbers.count, s.numbers.loaded = nil, 0, false
	s.numbers.mu.Unlock()
}

// nodePrefix is the by-node key prefix of node; ok is false for a node in no indexed event.
func (s *AppStore) nodePrefix(node ledger.PubKey) (prefix []byte, ok bool, err error) {
	num, ok, err := s.numberOf(node, nil)
	if !ok || err != nil {
		return nil, false, err
	}
	return byNodePrefix(num), true, nil
}

func byNodePrefix(num uint32) []byte { return binary.BigEndian.AppendUint32(key(prefixByNode), num) }

// pairPrefix is the by-pair key prefix of two nodes, the same in either order.
func (s *AppStore) pairPrefix(a, b ledger.PubKey, batch corestore.Batch) (prefix []byte, ok bool, err error) {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	na, ok, err := s.numberOf(a, batch)
	if !ok || err != nil {
		return nil, false, err
	}
	nb, ok, err := s.numberOf(b, batch)
	if !ok || err != nil {
		return nil, false, err
	}
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(key(prefixByPair), na), nb), true, nil
}

// index writes the index entries of one block's records.
func (s *AppStore) index(records []ledger.EventRecord) (err error) {
	if len(records) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	defer func() {
		if err != nil {
			s.forgetNumbers()
		}
	}()
	empty := []byte{}
	for i := range records {
		r := &records[i]
		keys, err := s.indexKeys(r, b)
		if err != nil {
			return err
		}
		if err := b.Set(keys[0], r.EncodeBrief()); err != nil {
			return err
		}
		for _, k := range keys[1:] {
			val := empty
			if bytes.HasPrefix(k, prefixByTx) {
				// A tx's records are contiguous, event index 0 first: count them from here.
				n := uint32(0)
				for j := i; j < len(records) && records[j].Height == r.Height && records[j].TxIndex == r.TxIndex; j++ {
					n++
				}
				val = binary.BigEndian.AppendUint32(position(r), n)
			}
			if err := b.Set(k, val); err != nil {
				return err
			}
		}
	}
	st, err := s.indexStats(records, b)
	if err != nil {
		return err
	}
	if err := b.Write(); err != nil {
		return err
	}
	s.newest.touched(records)
	s.stats = st
	return nil
}

// indexKeys lists every key the record occupies: its event key first, then its index entries.
// Nodes without a number get one in batch; with a nil batch (deleting entries) a node without a
// number has no entries to list.
func (s *AppStore) indexKeys(r *ledger.EventRecord, batch corestore.Batch) ([][]byte, error) {
	pos := position(r)
	keys := [][]byte{key(prefixEvent, pos)}
	nodes := []ledger.PubKey{r.Signer, r.Subject, r.Counterparty}
	for j, n := range nodes {
		if n.IsZero() || (j > 0 && n == nodes[0]) || (j == 2 && n == nodes[1]) {
			continue
		}
		num, ok, err := s.numberOf(n, batch)
		if err != nil {
			return nil, err
		}
		if ok {
			keys = append(keys, key(byNodePrefix(num), []byte{byte(r.Kind)}, pos))
		}
	}
	if !r.Subject.IsZero() && !r.Counterparty.IsZero() {
		p, ok, err := s.pairPrefix(r.Subject, r.Counterparty, batch)
		if err != nil {
			return nil, err
		}
		if ok {
			keys = append(keys, key(p, []byte{byte(r.Kind)}, pos))
		}
	}
	keys = append(keys, key(prefixByKind, []byte{byte(r.Kind)}, pos))
	if r.TxIndex != ledger.ConsensusTxIndex && r.EventIndex == 0 {
		keys = append(keys, key(prefixByTx, r.TxHash[:]))
	}
	return keys, nil
}

// Filter selects events for a listing; the zero Filter selects every event.
type Filter struct {
	Node *ledger.PubKey    // events where the node signed, or is subject or counterparty
	Pair *[2]ledger.PubKey // events between the two nodes, either direction
	Kind *ledger.Kind      // events of one kind (combined with Node or Pair, filters that list)
	// Newest lists the newest first; the cursor then continues with older events.
	Newest bool
}

// CursorAfter is the cursor of the listing that continues after rec (as a Page.Next value).
func CursorAfter(rec *ledger.EventRecord) string { return api.CursorAfter(rec) }

// scanPrefixes are the index ranges whose merge by position lists f's events: the by-node and
// by-pair indexes are keyed by kind, so a kind filter there is one scan, and no filter one per
// kind. None (nil) when the nodes named are in no indexed event.
func (s *AppStore) scanPrefixes(f Filter) ([][]byte, error) {
	var base []byte
	switch {
	case f.Pair != nil:
		p, ok, err := s.pairPrefix(f.Pair[0], f.Pair[1], nil)
		if !ok || err != nil {
			return nil, err
		}
		base = p
	case f.Node != nil:
		p, ok, err := s.nodePrefix(*f.Node)
		if !ok || err != nil {
			return nil, err
		}
		base = p
	}
	switch {
	case base != nil && f.Kind != nil:
		return [][]byte{key(base, []byte{byte(*f.Kind)})}, nil
	case base != nil:
		var prefixes [][]byte
		for _, k := range ledger.AllKinds {
			prefixes = append(prefixes, key(base, []byte{byte(k)}))
		}
		return prefixes, nil
	case f.Kind != nil:
		return [][]byte{key(prefixByKind, []byte{byte(*f.Kind)})}, nil
	}
	return [][]byte{prefixEvent}, nil
}

// Newest is the position (as a cursor, api.Position) of the newest event matching f, "" when
// there is none: what changed last, found with one seek a scan instead of a listing.
func (s *AppStore) Newest(f Filter) (string, error) {
	kept, found, gen := s.newest.get(f)
	if found {
		return kept, nil
	}
	newest, err := s.readNewest(f)
	if err == nil {
		s.newest.put(f, gen, newest)
	}
	return newest, err
}

// readNewest is Newest read from the indexes.
func (s *AppStore) readNewest(f Filter) (string, error) {
	prefixes, err := s.scanPrefixes(f)
	if prefixes == nil || err != nil {
		return "", err
	}
	lasts, err := s.db.LastKeys(prefixes)
	if err != nil {
		return "", err
	}
	var newest []byte
	for _, k := range lasts {
		if len(k) >= positionLen {
			if pos := k[len(k)-positionLen:]; bytes.Compare(pos, newest) > 0 {
				newest = pos
			}
		}
	}
	return hex.EncodeToString(newest), nil
}

// Events lists committed events matching f in history order, starting after cursor (a Page.Next
// value, or "" for the start), at most limit (≤ api.MaxPageSize) of them. It reads committed
// index entries only, so it may run while a block commits (see AppStore).
func (s *AppStore) Events(f Filter, cursor string, limit int) (api.Page, error) {
	if limit <= 0 || limit > api.MaxPageSize {
		return api.Page{}, fmt.Errorf("page size %d must be between 1 and %d", limit, api.MaxPageSize)
	}
	var after []byte
	if cursor != "" {
		c, err := hex.DecodeString(cursor)
		if err != nil || len(c) != positionLen {
			return api.Page{}, fmt.Errorf("cursor %q is not a position from a previous page", cursor)
		}
		after = c
	}
	prefixes, err := s.scanPrefixes(f)
	if prefixes == nil || err != nil {
		return api.Page{}, err // nodes in no indexed event have no events
	}
	m, err := s.openMerge(prefixes, after, f.Newest)
	if err != nil {
		return api.Page{}, err
	}
	defer m.close()
	var page api.Page
	var prev *ledger.EventRecord
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if len(page.Records) == limit {
			page.Next = hex.EncodeToString(position(&page.Records[len(page.Records)-1]))
			break
		}
		pos := k[len(k)-positionLen:]
		raw := v
		if !bytes.HasPrefix(k, prefixEvent) {
			if raw, err = m.events.Get(key(prefixEvent, pos)); err != nil { // in the scans' transaction: one for the page
				return api.Page{}, err
			}
			if raw == nil {
				return api.Page{}, fmt.Errorf("index entry %x points at a missing event", k)
			}
		}
		rec, err := s.decodeRecord(pos, raw, prev)
		if err != nil {
			return api.Page{}, err
		}
		prev = rec
		page.Records = append(page.Records, *rec)
	}
	return page, m.err
}

// merge walks several index scans in the order of the positions that end their keys, lowest
// first (or, reverse, highest first).
type merge struct {
	its     []corestore.Iterator
	events  Reader
	reverse bool
	err     error
}

// openMerge opens the scans of prefixes past position cursor (nil: from the start, or the end).
func (s *AppStore) openMerge(prefixes [][]byte, cursor []byte, reverse bool) (*merge, error) {
	ranges := make([][2][]byte, len(prefixes))
	for i, p := range prefixes {
		ranges[i] = [2][]byte{p, prefixEnd(p)}
		switch {
		case cursor != nil && reverse:
			ranges[i][1] = key(p, cursor)
		case cursor != nil:
			ranges[i][0] = key(p, cursor, []byte{0})
		}
	}
	its, events, err := s.db.Iterators(ranges, reverse)
	if err != nil {
		return nil, err
	}
	return &merge{its: its, events: events, reverse: reverse}, nil
}

// next returns the entry with the first position, in the merge's order, among the scans'
// current ones, and advances that scan.
func (m *merge) next() (k, v []byte, ok bool) {
	best := -1
	for i, it := range m.its {
		if !it.Valid() {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		c := bytes.Compare(tail(it.Key()), tail(m.its[best].Key()))
		if (c < 0 && !m.reverse) || (c > 0 && m.reverse) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil, false
	}
	it := m.its[best]
	k, v = append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)
	it.Next()
	if err := it.Error(); err != nil {
		m.err = err
		return nil, nil, false
	}
	return k, v, true
}

func tail(k []byte) []byte { return k[len(k)-positionLen:] }

// close closes the scans, the first last (it owns their read transaction).
func (m *merge) close() {
	for i := len(m.its) - 1; i >= 0; i-- {
		m.its[i].Close()
	}
}

// TxEvents returns the events of a committed transaction, or nil if no such tx was committed.
func (s *AppStore) TxEvents(hash ledger.ID) ([]ledger.EventRecord, error) {
	v, err := s.db.Get(key(prefixByTx, hash[:]))
	if err != nil || v == nil {
		return nil, err
	}
	first, n := v[:positionLen], binary.BigEndian.Uint32(v[positionLen:])
	it, err := s.db.Iterator(key(prefixEvent, first), prefixEnd(prefixEvent))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []ledger.EventRecord
	var prev *ledger.EventRecord
	for ; it.Valid() && uint32(len(out)) < n; it.Next() {
		k := it.Key()
		rec, err := s.decodeRecord(k[len(prefixEvent):], it.Value(), prev)
		if err != nil {
			return nil, err
		}
		out = append(out, *rec)
		prev = rec
	}
	return out, nil
}

// decodeRecord parses the brief record stored at position pos. An event after its tx's first
// takes the tx hash from prev when prev is of the same tx, else from the tx's first record.
func (s *AppStore) decodeRecord(pos, raw []byte, prev *ledger.EventRecord) (*ledger.EventRecord, error) {
	if len(pos) != positionLen {
		return nil, fmt.Errorf("event key position %x is %d bytes, want %d", pos, len(pos), positionLen)
	}
	height, txIndex := int64(binary.BigEndian.Uint64(pos)), binary.BigEndian.Uint32(pos[8:])
	rec, needTxHash, err := ledger.DecodeBrief(height, txIndex, binary.BigEndian.Uint32(pos[12:]), raw)
	if err != nil {
		return nil, fmt.Errorf("event at %x: %w", pos, err)
	}
	if !needTxHash {
		return rec, nil
	}
	if prev != nil && prev.Height == height && prev.TxIndex == txIndex {
		rec.TxHash = prev.TxHash
		return rec, nil
	}
	first := binary.BigEndian.AppendUint32(append([]byte(nil), pos[:12]...), 0)
	v, err := s.db.Get(key(prefixEvent, first))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("event at %x: its tx's first event %x is missing", pos, first)
	}
	head, _, err := ledger.DecodeBrief(height, txIndex, 0, v)
	if err != nil {
		return nil, fmt.Errorf("event at %x: %w", first, err)
	}
	rec.TxHash = head.TxHash
	return rec, nil
}

// prefixEnd returns the smallest key greater than every key with the prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// deleteIndexAbove removes every index entry of events above height.
func (s *AppStore) deleteIndexAbove(height int64) error {
	start := key(prefixEvent, binary.BigEndian.AppendUint64(nil, uint64(height+1)))
	it, err := s.db.Iterator(start, prefixEnd(prefixEvent))
	if err != nil {
		return err
	}
	var recs []ledger.EventRecord
	var prev *ledger.EventRecord
	for ; it.Valid(); it.Next() {
		k := it.Key()
		rec, err := s.decodeRecord(k[len(prefixEvent):], it.Value(), prev)
		if err != nil {
			it.Close()
			return err
		}
		recs = append(recs, *rec)
		prev = rec
	}
	it.Close()
	if err := s.deleteStatsAbove(height); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := range recs {
		keys, err := s.indexKeys(&recs[i], nil)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	defer s.newest.forget()
	return b.WriteSync()
}

// ReplaceIndex deletes every index entry of s and copies src's in its place: the browsing
// indexes rebuilt from a replay of the chain (`trustd reindex`). Both must be at the same height.
func (s *AppStore) ReplaceIndex(src *AppStore) error {
	if h, _ := src.LastCommit(); h != s.lastHeight {
		return fmt.Errorf("replayed index is at height %d, the store at %d", h, s.lastHeight)
	}
	prefix := []byte("x/")
	del := s.db.NewBatch()
	defer del.Close()
	it, err := s.db.Iterator(prefix, prefixEnd(prefix))
	if err != nil {
		return err
	}
	for ; it.Valid(); it.Next() {
		if err := del.Delete(it.Key()); err != nil {
			it.Close()
			return err
		}
	}
	it.Close()
	defer s.newest.forget() // answers read meanwhile are dropped at the end too
	if err := del.Write(); err != nil {
		return err
	}
	s.forgetNumbers()
	put := s.db.NewBatch()
	defer put.Close()
	it, err = src.db.Iterator(prefix, prefixEnd(prefix))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if err := put.Set(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return put.WriteSync()
}
