package reputation

import (
	"fmt"

	"github.com/trustledger/trustledger/ledger"
)

// Hired is one of the observer's suppliers as its supplier manager sees it at one tick.
type Hired struct {
	Supplier ledger.PubKey `json:"supplier"`
	Shards   int           `json:"shards"`   // shards it holds for the observer; 0: a spare
	Answered bool          `json:"answered"` // it answered the manager at this tick
	// SilentSince is when (unix seconds) it was first seen not answering, carried from the last
	// tick's Decision; 0 while it answers.
	SilentSince int64 `json:"silent_since,omitempty"`
}

// Decision is what the supplier manager does about one supplier at a tick, and why.
type Decision struct {
	Supplier    ledger.PubKey `json:"supplier"`
	Fire        bool          `json:"fire"`
	Reason      string        `json:"reason"`
	SilentSince int64         `json:"silent_since,omitempty"` // to carry to the next tick
}

// Review is one tick of the supplier manager's decision loop (specs/p2p.md P-12), pure: for each
// hired supplier, in order, it fires the ones the observer's view drops (ShouldDrop: proven
// misbehaving, or dropped by the observer's own audits; others' claims never do) and the ones
// holding shards that have not answered for grace seconds or more; every other supplier is
// kept, with its silence carried over. A supplier that answers, or holds nothing, is never
// silent. The same view, suppliers, now and grace give the same decisions. A stale view returns
// ErrStaleView.
func (v *View) Review(hired []Hired, now, grace int64) ([]Decision, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	out := make([]Decision, 0, len(hired))
	for _, h := range hired {
		d := Decision{Supplier: h.Supplier, SilentSince: h.SilentSince}
		drop, err := v.ShouldDrop(h.Supplier)
		if err != nil {
			return nil, err
		}
		switch {
		case h.Answered || h.Shards == 0:
			d.SilentSince = 0
		case d.SilentSince == 0:
			d.SilentSince = now
		}
		switch {
		case drop.Drop:
			d.Fire, d.Reason = true, "this node's trust view drops it: "+drop.Reason
		case d.SilentSince != 0 && now-d.SilentSince >= grace:
			d.Fire, d.Reason = true, fmt.Sprintf("has not answered for %d s (since unix time %d), beyond the grace period of %d s",
				now-d.SilentSince, d.SilentSince, grace)
		default:
			d.Reason = drop.Reason
			if d.SilentSince != 0 {
				d.Reason += fmt.Sprintf("; silent for %d s of the %d s grace", now-d.SilentSince, grace)
			}
		}
		out = append(out, d)
	}
	return out, nil
}
