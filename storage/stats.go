package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	corestore "cosmossdk.io/core/store"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// The explorer's indexes (specs/state.md §4), beside the browsing indexes and like them derived
// from committed blocks, outside the app hash:
//
//	x/b/<height 8>                        → blockStats: the block's time, its events by kind, and
//	                                        the network's totals after it (blocks with events only)
//	x/r/<node number 4><counterpart 32>   → (empty) the node has events with the counterpart
//	x/m/<folded moniker><0><node 32>      → (empty) a registration named the node so
//	x/v                                   → the version of the explorer's indexes (u32)
//
// A block's entries are written with its other index entries, so a block indexed twice (after
// a crash between indexing and the commit marker) writes the same values again: a block's totals
// are those after the latest block with events below it, plus its own.
var (
	prefixBlockStats  = []byte("x/b/")
	prefixCounterpart = []byte("x/r/")
	prefixMoniker     = []byte("x/m/")
	keyIndexVersion   = []byte("x/v")
)

// indexVersion is the version of the explorer's indexes; a database with events and an older
// one has them built when it opens (migrateIndex).
const indexVersion = 2

// blockStats is one x/b entry.
type blockStats struct {
	height int64
	time   int64
	kinds  []uint64 // by ledger.AllKinds
	totals api.NetworkTotals
}

func totalsFields(t *api.NetworkTotals) []*uint64 {
	return []*uint64{&t.Events, &t.Nodes, &t.SpaceOffered, &t.ContractsOpen, &t.SpaceContracted,
		&t.AuditsPassed, &t.AuditsFailed, &t.BytesServed, &t.Payments, &t.AmountPaid, &t.Reports}
}

func blockStatsKey(height int64) []byte {
	return binary.BigEndian.AppendUint64(key(prefixBlockStats), uint64(height))
}

// encode: time (8), the number of kinds (1) and their counts (8 each), the number of totals (1)
// and the totals (8 each). Counts are prefixed so a version with more kinds reads older entries.
func (b *blockStats) encode() []byte {
	out := binary.BigEndian.AppendUint64(nil, uint64(b.time))
	out = append(out, byte(len(b.kinds)))
	for _, c := range b.kinds {
		out = binary.BigEndian.AppendUint64(out, c)
	}
	fields := totalsFields(&b.totals)
	out = append(out, byte(len(fields)))
	for _, f := range fields {
		out = binary.BigEndian.AppendUint64(out, *f)
	}
	return out
}

func decodeBlockStats(k, v []byte) (*blockStats, error) {
	bad := fmt.Errorf("block stats %x: %d bytes do not parse", k, len(v))
	if len(k) != len(prefixBlockStats)+8 || len(v) < 9 {
		return nil, bad
	}
	b := &blockStats{height: int64(binary.BigEndian.Uint64(k[len(prefixBlockStats):])), time: int64(binary.BigEndian.Uint64(v))}
	v = v[8:]
	n := int(v[0])
	if len(v) < 1+8*n+1 {
		return nil, bad
	}
	for i := 0; i < n; i++ {
		b.kinds = append(b.kinds, binary.BigEndian.Uint64(v[1+8*i:]))
	}
	v = v[1+8*n:]
	fields := totalsFields(&b.totals)
	m := int(v[0])
	if len(v) != 1+8*m {
		return nil, bad
	}
	for i := 0; i < m && i < len(fields); i++ {
		*fields[i] = binary.BigEndian.Uint64(v[1+8*i:])
	}
	return b, nil
}

// lastStatsBelow is the latest x/b entry below height, or nil if there is none.
func (s *AppStore) lastStatsBelow(height int64) (*blockStats, error) {
	it, err := s.db.ReverseIterator(prefixBlockStats, blockStatsKey(height))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Valid() {
		return nil, nil
	}
	return decodeBlockStats(it.Key(), it.Value())
}

// totalsBefore are the network's totals before the block at height is applied: from the
// latest x/b entry below it, or, when there is none (a new database, one restored from a
// snapshot, or one from before these indexes), from a scan of the committed state.
func (s *AppStore) totalsBefore(height int64) (api.NetworkTotals, error) {
	if s.stats != nil && s.stats.height < height {
		return s.stats.totals, nil
	}
	prev, err := s.lastStatsBelow(height)
	if err != nil || prev != nil {
		if prev == nil {
			return api.NetworkTotals{}, err
		}
		return prev.totals, err
	}
	if s.lastHeight == 0 || s.lastHeight >= height {
		return api.NetworkTotals{}, nil
	}
	return s.totalsFromState(s.lastHeight)
}

// totalsFromState adds up the network's totals from the committed state at height: its node
// records, contracts and node aggregates (one scan of each).
func (s *AppStore) totalsFromState(height int64) (api.NetworkTotals, error) {
	var t api.NetworkTotals
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	tree, _, err := s.committedTree(height)
	if err != nil {
		return t, err
	}
	// Everything summed lives under the nodes' keys: one scan, each value read by its key's part.
	err = tree.Iterate(ledger.NodeKeyPrefix(), prefixEnd(ledger.NodeKeyPrefix()), func(key, value []byte) (err error) {
		part, _ := ledger.ParseNodeKey(key)
		switch part {
		case ledger.PartRecord:
			var r *ledger.NodeRecord
			if r, err = ledger.DecodeNodeRecord(value); err == nil {
				t.Nodes++
				t.SpaceOffered += r.Capacity
			}
		case ledger.PartContract:
			var r *ledger.ContractRecord
			if r, err = ledger.DecodeContractRecord(value); err == nil && !r.Closed {
				t.ContractsOpen++
				t.SpaceContracted += r.Bytes
			}
		case ledger.PartAggregate:
			var a *ledger.Aggregate
			if a, err = ledger.DecodeAggregate(value); err == nil {
				t.AuditsPassed += a.AuditsPassed
				t.AuditsFailed += a.AuditsFailed
				t.BytesServed += a.BandwidthBytes
				t.Payments += a.PaymentsMade
				t.AmountPaid += a.AmountPaid
				t.Reports += a.ReportsReceived
			}
		case ledger.PartUnknown:
			err = errors.New("not a key of the state's layout")
		}
		if err != nil {
			return fmt.Errorf("state key %x: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	raw, err := tree.Get(ledger.LogTotalKey())
	if err == nil && len(raw) == 8 {
		t.Events = binary.BigEndian.Uint64(raw)
	}
	return t, err
}

// indexStats writes a block's explorer entries into batch: its stats, its counterparts and
// its monikers. It runs before the block's tree version is saved, so the working tree holds
// the block's state and the committed tree the state before it.
func (s *AppStore) indexStats(records []ledger.EventRecord, b corestore.Batch) (*blockStats, error) {
	height := records[0].Height
	totals, err := s.totalsBefore(height)
	if err != nil {
		return nil, fmt.Errorf("totals before height %d: %w", height, err)
	}
	st := &blockStats{height: height, time: records[0].Time, kinds: make([]uint64, len(ledger.AllKinds))}
	registered := map[ledger.PubKey]uint64{} // capacity registered earlier in this block
	empty := []byte{}
	for i := range records {
		r := &records[i]
		if k := int(r.Kind) - 1; k >= 0 && k < len(st.kinds) {
			st.kinds[k]++
		}
		totals.Events++
		switch ev := r.Event.(type) {
		case *ledger.RegisterNode:
			before, seen := registered[r.Signer]
			if !seen && s.lastHeight > 0 {
				view, err := s.tree.view(s.lastHeight)
				if err != nil {
					return nil, err
				}
				raw, err := view.Get(ledger.NodeKey(r.Signer))
				if err != nil {
					return nil, err
				}
				if raw != nil {
					rec, err := ledger.DecodeNodeRecord(raw)
					if err != nil {
						return nil, err
					}
					before, seen = rec.Capacity, true
				}
			}
			if !seen {
				totals.Nodes++
			}
			totals.SpaceOffered = totals.SpaceOffered - min(before, totals.SpaceOffered) + ev.Capacity
			registered[r.Signer] = ev.Capacity
			if m := foldMoniker(ev.Moniker); m != "" {
				if err := b.Set(key(prefixMoniker, []byte(m), []byte{0}, r.Signer[:]), empty); err != nil {
					return nil, err
				}
			}
		case *ledger.ContractOpen:
			totals.ContractsOpen++
			totals.SpaceContracted += ev.Bytes
		case *ledger.ContractClose:
			raw, err := s.tree.Get(ledger.ContractKey(ev.ContractID, ev.Customer, ev.Supplier))
			if err != nil {
				return nil, err
			}
			if raw != nil {
				c, err := ledger.DecodeContractRecord(raw)
				if err != nil {
					return nil, err
				}
				totals.SpaceContracted -= min(c.Bytes, totals.SpaceContracted)
			}
			totals.ContractsOpen -= min(1, totals.ContractsOpen)
		case *ledger.AuditResult:
			if ev.Passed {
				totals.AuditsPassed++
			} else {
				totals.AuditsFailed++
			}
		case *ledger.BandwidthReceipt:
			totals.BytesServed += ev.Bytes
		case *ledger.Payment:
			totals.Payments++
			totals.AmountPaid += ev.Amount
		case *ledger.MisbehaviorReport:
			totals.Reports++
		}
		if !r.Subject.IsZero() && !r.Counterparty.IsZero() && r.Subject != r.Counterparty {
			for _, p := range [][2]ledger.PubKey{{r.Subject, r.Counterparty}, {r.Counterparty, r.Subject}} {
				num, ok, err := s.numberOf(p[0], b)
				if err != nil {
					return nil, err
				}
				if ok {
					if err := b.Set(key(binary.BigEndian.AppendUint32(key(prefixCounterpart), num), p[1][:]), empty); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	st.totals = totals
	if err := b.Set(blockStatsKey(height), st.encode()); err != nil {
		return nil, err
	}
	return st, nil
}

// foldMoniker is the moniker as searched: trimmed and lower-cased, without NUL bytes.
func foldMoniker(m string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(m)), "\x00", "")
}

// Stats answers /stats: the totals after the latest block with events and the activity of the
// minutes that end with it. It reads at most maxBlocks entries (then Incomplete is set).
func (s *AppStore) Stats(minutes, maxBlocks int) (api.StatsAnswer, error) {
	if minutes <= 0 || minutes > api.MaxStatsMinutes {
		return api.StatsAnswer{}, fmt.Errorf("minutes %d must be between 1 and %d", minutes, api.MaxStatsMinutes)
	}
	height, _ := s.LastCommit()
	ans := api.StatsAnswer{Height: height}
	it, err := s.db.ReverseIterator(prefixBlockStats, prefixEnd(prefixBlockStats))
	if err != nil {
		return ans, err
	}
	defer it.Close()
	var from int64
	var counts map[int64][]uint64
	for n := 0; it.Valid(); it.Next() {
		st, err := decodeBlockStats(it.Key(), it.Value())
		if err != nil {
			return ans, err
		}
		if st.height > height {
			continue // indexed, not yet committed
		}
		if counts == nil {
			ans.StatsAt, ans.StatsTime, ans.Totals = st.height, st.time, st.totals
			last := st.time - st.time%60
			from = last - int64(minutes-1)*60
			counts = map[int64][]uint64{}
		}
		if st.time < from {
			break
		}
		if n == maxBlocks {
			ans.Incomplete = true
			break
		}
		n++
		m := st.time - st.time%60
		c := counts[m]
		if c == nil {
			c = make([]uint64, len(ledger.AllKinds))
			counts[m] = c
		}
		for i := range st.kinds {
			if i < len(c) {
				c[i] += st.kinds[i]
			}
		}
	}
	if counts == nil {
		if height > 0 && s.HistoryFrom() > 0 {
			t, err := s.totalsFromState(height)
			ans.Totals = t
			return ans, err
		}
		return ans, nil
	}
	for m := from; m <= ans.StatsTime-ans.StatsTime%60; m += 60 {
		ms := api.MinuteStats{Start: m, Events: map[string]uint64{}}
		for i, c := range counts[m] {
			if c > 0 {
				ms.Events[ledger.AllKinds[i].String()] = c
			}
		}
		ans.Minutes = append(ans.Minutes, ms)
	}
	return ans, nil
}

// Counterparts lists the nodes node has events with, in key order after cursor (a previous
// page's Next, the hex key of its last row), with each direction of the relation from the
// committed state.
func (s *AppStore) Counterparts(node ledger.PubKey, cursor string, limit int) (api.CounterpartsPage, error) {
	var page api.CounterpartsPage
	if limit <= 0 || limit > api.MaxPageSize {
		return page, fmt.Errorf("page size %d must be between 1 and %d", limit, api.MaxPageSize)
	}
	var after ledger.PubKey
	if cursor != "" {
		k, err := ledger.ParsePubKey(cursor)
		if err != nil {
			return page, fmt.Errorf("cursor %q is not a node key from a previous page", cursor)
		}
		after = k
	}
	num, ok, err := s.numberOf(node, nil)
	if !ok || err != nil {
		return page, err
	}
	prefix := binary.BigEndian.AppendUint32(key(prefixCounterpart), num)
	start := prefix
	if cursor != "" {
		start = key(prefix, after[:], []byte{0})
	}
	it, err := s.db.Iterator(start, prefixEnd(prefix))
	if err != nil {
		return page, err
	}
	defer it.Close()
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	tree, _, err := s.committedTree(0)
	if err != nil {
		return page, err
	}
	for ; it.Valid(); it.Next() {
		if len(page.Counterparts) == limit {
			page.Next = page.Counterparts[limit-1].Node.String()
			break
		}
		k := it.Key()
		if len(k) != len(prefix)+32 {
			return page, fmt.Errorf("counterpart entry %x is %d bytes", k, len(k))
		}
		var cp api.Counterpart
		copy(cp.Node[:], k[len(prefix):])
		for _, side := range []struct {
			out         **ledger.Aggregate
			about, from ledger.PubKey
		}{{&cp.AboutNode, node, cp.Node}, {&cp.AboutPartner, cp.Node, node}} {
			raw, err := tree.Get(ledger.PairAggKey(side.about, side.from))
			if err != nil {
				return page, err
			}
			if raw != nil {
				if *side.out, err = ledger.DecodeAggregate(raw); err != nil {
					return page, err
				}
			}
		}
		if raw, err := tree.Get(ledger.NodeKey(cp.Node)); err == nil && raw != nil {
			if r, err := ledger.DecodeNodeRecord(raw); err == nil {
				cp.Moniker = r.Moniker
			}
		}
		if cp.AboutNode == nil && cp.AboutPartner == nil {
			continue // indexed in a block that was then rolled back
		}
		page.Counterparts = append(page.Counterparts, cp)
	}
	return page, nil
}

// SearchMonikers lists registered nodes whose current moniker starts with query (case folded),
// in moniker order, at most limit.
func (s *AppStore) SearchMonikers(query string, limit int) ([]api.SearchHit, error) {
	q := foldMoniker(query)
	if q == "" {
		return nil, nil
	}
	prefix := key(prefixMoniker, []byte(q))
	it, err := s.db.Iterator(prefix, prefixEnd(prefix))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	tree, _, err := s.committedTree(0)
	if err != nil {
		return nil, nil // nothing committed: no node is registered
	}
	var hits []api.SearchHit
	seen := map[ledger.PubKey]bool{}
	for ; it.Valid() && len(hits) < limit; it.Next() {
		k := it.Key()
		if len(k) < len(prefixMoniker)+33 || k[len(k)-33] != 0 {
			continue
		}
		var n ledger.PubKey
		copy(n[:], k[len(k)-32:])
		if seen[n] {
			continue
		}
		raw, err := tree.Get(ledger.NodeKey(n))
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		r, err := ledger.DecodeNodeRecord(raw)
		if err != nil || !bytes.HasPrefix([]byte(foldMoniker(r.Moniker)), []byte(q)) {
			continue // renamed since
		}
		seen[n] = true
		hits = append(hits, api.SearchHit{Node: n, Moniker: r.Moniker})
	}
	return hits, nil
}

// migrateIndex builds the explorer's indexes a database lacks, from what it has: the
// counterparts from the by-pair index, the monikers from the committed node records. It runs
// when a database opens with an older index version, and after a snapshot restore; the block
// stats need no migration (totalsBefore starts them from the state).
func (s *AppStore) migrateIndex() error {
	raw, err := s.db.Get(keyIndexVersion)
	if err != nil {
		return err
	}
	if len(raw) == 4 && binary.BigEndian.Uint32(raw) >= indexVersion {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	empty := []byte{}
	if s.lastHeight > 0 {
		keys := map[uint32]ledger.PubKey{}
		it, err := s.db.Iterator(prefixNodeNumber, prefixEnd(prefixNodeNumber))
		if err != nil {
			return err
		}
		for ; it.Valid(); it.Next() {
			var n ledger.PubKey
			if k, v := it.Key(), it.Value(); len(k) == len(prefixNodeNumber)+32 && len(v) == 4 {
				copy(n[:], k[len(prefixNodeNumber):])
				keys[binary.BigEndian.Uint32(v)] = n
			}
		}
		it.Close()
		// One seek per pair: past a pair's entries to the next pair.
		at := prefixByPair
		for {
			it, err := s.db.Iterator(at, prefixEnd(prefixByPair))
			if err != nil {
				return err
			}
			if !it.Valid() {
				it.Close()
				break
			}
			k := it.Key()
			it.Close()
			if len(k) < len(prefixByPair)+8 {
				return fmt.Errorf("pair index entry %x is too short", k)
			}
			pair := append([]byte(nil), k[:len(prefixByPair)+8]...)
			lo, hi := binary.BigEndian.Uint32(pair[len(prefixByPair):]), binary.BigEndian.Uint32(pair[len(prefixByPair)+4:])
			kl, okl := keys[lo]
			kh, okh := keys[hi]
			if okl && okh {
				if err := b.Set(key(binary.BigEndian.AppendUint32(key(prefixCounterpart), lo), kh[:]), empty); err != nil {
					return err
				}
				if err := b.Set(key(binary.BigEndian.AppendUint32(key(prefixCounterpart), hi), kl[:]), empty); err != nil {
					return err
				}
			}
			if at = prefixEnd(pair); at == nil {
				break
			}
		}
		tree, _, err := s.committedTree(0)
		if err != nil {
			return err
		}
		err = tree.Iterate(ledger.NodeKeyPrefix(), prefixEnd(ledger.NodeKeyPrefix()), func(k, value []byte) error {
			if part, _ := ledger.ParseNodeKey(k); part != ledger.PartRecord {
				return nil
			}
			r, err := ledger.DecodeNodeRecord(value)
			if err != nil {
				return fmt.Errorf("node record %x: %w", k, err)
			}
			if m := foldMoniker(r.Moniker); m != "" {
				node := k[len(ledger.NodeKeyPrefix()):]
				return b.Set(key(prefixMoniker, []byte(m), []byte{0}, node), empty)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := b.Set(keyIndexVersion, binary.BigEndian.AppendUint32(nil, indexVersion)); err != nil {
		return err
	}
	return b.WriteSync()
}

// deleteStatsAbove removes the block stats of heights above height.
func (s *AppStore) deleteStatsAbove(height int64) error {
	s.stats = nil
	it, err := s.db.Iterator(blockStatsKey(height+1), prefixEnd(prefixBlockStats))
	if err != nil {
		return err
	}
	var keys [][]byte
	for ; it.Valid(); it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return b.Write()
}
