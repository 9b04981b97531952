package storage

import (
	"bytes"
	"sync"

	"github.com/trustledger/trustledger/ledger"
)

// newestMemo remembers Newest's answers for filters on a node or a pair (a node page's version
// in the explorer, asked by every visitor), so that asking again costs a map lookup instead of
// one reverse seek per kind. An answer is kept until a block indexes an event of one of its
// nodes (touched), which is exact: only such an event can change it. A lookup that raced with a
// block is not kept (gen). At most newestMemoNodes nodes' answers are kept; past that, all are
// forgotten at once.
type newestMemo struct {
	mu     sync.Mutex
	gen    uint64 // moves each time answers are forgotten
	byNode map[ledger.PubKey]map[memoKey]string
}

// memoKey is a filter Newest can remember: a node's (peer zero) or a pair's, of one kind or all.
type memoKey struct {
	peer ledger.PubKey
	kind int // -1: every kind
}

const newestMemoNodes = 100_000

// memoFor is where f's answer is kept: under the pair's first node in key order (an event
// between the two touches both) or the node; ok false for a filter not kept.
func memoFor(f Filter) (ledger.PubKey, memoKey, bool) {
	mk := memoKey{kind: -1}
	if f.Kind != nil {
		mk.kind = int(*f.Kind)
	}
	switch {
	case f.Pair != nil:
		a, b := f.Pair[0], f.Pair[1]
		if bytes.Compare(a[:], b[:]) > 0 {
			a, b = b, a
		}
		mk.peer = b
		return a, mk, true
	case f.Node != nil:
		return *f.Node, mk, true
	}
	return ledger.PubKey{}, mk, false
}

// get returns f's kept answer, or the generation to pass to put.
func (m *newestMemo) get(f Filter) (answer string, found bool, gen uint64) {
	n, mk, ok := memoFor(f)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok {
		return "", false, m.gen
	}
	answer, found = m.byNode[n][mk]
	return answer, found, m.gen
}

// put keeps f's answer, read from the indexes at generation gen, unless a block was indexed
// since then.
func (m *newestMemo) put(f Filter, gen uint64, answer string) {
	n, mk, ok := memoFor(f)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return
	}
	if m.byNode == nil || len(m.byNode) >= newestMemoNodes {
		m.byNode = map[ledger.PubKey]map[memoKey]string{}
	}
	kept := m.byNode[n]
	if kept == nil {
		kept = map[memoKey]string{}
		m.byNode[n] = kept
	}
	kept[mk] = answer
}

// touched forgets the answers of every node in records; called once their index entries are
// written.
func (m *newestMemo) touched(records []ledger.EventRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	if len(m.byNode) == 0 {
		return
	}
	for i := range records {
		r := &records[i]
		delete(m.byNode, r.Signer)
		delete(m.byNode, r.Subject)
		delete(m.byNode, r.Counterparty)
	}
}

// forget drops every answer (index entries were deleted or replaced).
func (m *newestMemo) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.byNode = nil
}
