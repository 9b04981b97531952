package abci

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/trustledger/trustledger/ledger"
)

// EventType is the CometBFT event type a committed tx carries: one event per tx, with an
// indexed `kind` attribute for each distinct kind of ledger event in it and a `node` attribute for
// each distinct node involved (signer, subjects, counterparties), in order of first appearance.
// `tx_search` finds transactions with queries such as "tl.node='<hex key>'" or
// "tl.kind='audit_result'". It is a coarse filter kept small on purpose (CometBFT stores and
// indexes every attribute of every block); the ledger's own /events query answers exactly
// (by node, pair and kind) and with proofs.
const EventType = "tl"

func txEvents(recs []ledger.EventRecord) []abcitypes.Event {
	var attrs []abcitypes.EventAttribute
	seen := map[string]bool{}
	add := func(key, value string) {
		if k := key + "=" + value; !seen[k] {
			seen[k] = true
			attrs = append(attrs, abcitypes.EventAttribute{Key: key, Value: value, Index: true})
		}
	}
	for _, r := range recs {
		add("kind", r.Kind.String())
	}
	for _, r := range recs {
		add("node", r.Signer.String())
		add("node", r.Subject.String())
		if !r.Counterparty.IsZero() {
			add("node", r.Counterparty.String())
		}
	}
	return []abcitypes.Event{{Type: EventType, Attributes: attrs}}
}

// misbehaviorDigest commits to CometBFT's evidence fields: type, validator, height, time.
func misbehaviorDigest(m abcitypes.Misbehavior) ledger.ID {
	b := binary.BigEndian.AppendUint32(nil, uint32(m.Type))
	b = append(b, m.Validator.Address...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Height))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Time.UnixNano()))
	return sha256.Sum256(b)
}

// verifiedCache remembers transactions whose signatures CheckTx verified, by hash, so the
// proposal and block stages do not verify them again (R-SIG-3). It is bounded: past its size the
// oldest entries are forgotten and simply verified again if they arrive.
type verifiedCache struct {
	mu    sync.Mutex
	max   int
	byKey map[ledger.ID]*ledger.Tx
	order []ledger.ID
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, byKey: map[ledger.ID]*ledger.Tx{}}
}

func (c *verifiedCache) get(h ledger.ID) *ledger.Tx {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[h]
}

func (c *verifiedCache) put(h ledger.ID, tx *ledger.Tx) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[h]; ok {
		return
	}
	for len(c.order) >= c.max {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.byKey[h] = tx
	c.order = append(c.order, h)
}

func (c *verifiedCache) remove(h ledger.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byKey, h) // its slot in order is reclaimed when it reaches the front
}
