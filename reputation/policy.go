package reputation

import (
	"errors"
	"fmt"

	"github.com/trustledger/trustledger/ledger"
)

// Policy holds every knob of the trust computation and the supplier policy (specs/trust.md §6).
// Each field says its meaning and default; Validate rejects contradictions.
type Policy struct {
	// Lambda is the forgetting factor applied to a pair's evidence at each new observation
	// (0.999: an observation 1,000 observations ago weighs about 37% of a new one).
	Lambda float64 `json:"lambda" toml:"lambda"`
	// ReliableFailure and UnreliableFailure are the two failure rates the drop rule tells apart
	// (0.02 and 0.10): it is a sequential test of "fails ReliableFailure of its audits" against
	// "fails UnreliableFailure" on the observer's own observations (§2.1).
	ReliableFailure   float64 `json:"reliable_failure" toml:"reliable_failure"`
	UnreliableFailure float64 `json:"unreliable_failure" toml:"unreliable_failure"`
	// DropOdds is the likelihood ratio, unreliable to reliable, at which the observer drops a
	// supplier (10,000: a supplier failing ReliableFailure of its audits is dropped by mistake
	// with a probability of about 1/DropOdds over a long run of audits).
	DropOdds float64 `json:"drop_odds" toml:"drop_odds"`
	// ReceiptWeight is the success weight of one countersigned storage or bandwidth receipt (0.2).
	ReceiptWeight float64 `json:"receipt_weight" toml:"receipt_weight"`
	// PaymentWeight is the success weight of one acknowledged payment (0.5).
	PaymentWeight float64 `json:"payment_weight" toml:"payment_weight"`
	// FiredWeight is the failure weight of being fired by a customer (0.5).
	FiredWeight float64 `json:"fired_weight" toml:"fired_weight"`
	// EdgeCap caps how many observations of one pair count for propagation and recommendation
	// (20): volume between colluders cannot buy trust.
	EdgeCap float64 `json:"edge_cap" toml:"edge_cap"`
	// Restart is the personalised PageRank's restart probability at the observer (0.15).
	Restart float64 `json:"restart" toml:"restart"`
	// MaxIterations caps the PageRank iterations (50).
	MaxIterations int `json:"max_iterations" toml:"max_iterations"`
	// Baseline is the score of a node without evidence (0: a stranger is not half-trusted);
	// BaselineStrength its weight in observations (5), so a score also says how much evidence
	// stands behind it.
	Baseline         float64 `json:"baseline" toml:"baseline"`
	BaselineStrength float64 `json:"baseline_strength" toml:"baseline_strength"`
	// VettingEvidence is the observer's own evidence of a node that vets it (20): it is then
	// ranked with vetted suppliers instead of explored as a newcomer.
	VettingEvidence float64 `json:"vetting_evidence" toml:"vetting_evidence"`
	// VettingTrust vets a node on others' experience: when its trust mass in the observer's view
	// is at least this share of a typical trusted node's (0.1) (§4.5).
	VettingTrust float64 `json:"vetting_trust" toml:"vetting_trust"`
	// HireThreshold: a vetted candidate is preferred when its success rate is at least this
	// (0.97); candidates below it come after the newcomers (§5).
	HireThreshold float64 `json:"hire_threshold" toml:"hire_threshold"`
	// ExplorationShare is the newcomer budget: the share of placement slots that may go to
	// unvetted suppliers (0.1, at most 0.5), and never two shards of one placement (§5).
	ExplorationShare float64 `json:"exploration_share" toml:"exploration_share"`
	// StrangerShare is the part of that budget open to strangers (nodes without evidence from
	// anyone the observer trusts) and to newcomers known only as payers (0.02; at most
	// ExplorationShare). The rest goes to newcomers whose service nodes the observer trusts
	// have already found good.
	StrangerShare float64 `json:"stranger_share" toml:"stranger_share"`
	// ConflictPenalty discounts a recommender by how far its records contradict the observer's
	// own verdicts, in pairs' worth of evidence (it vouches for a supplier the observer dropped,
	// or distrusts one the observer vouches for; §4.3): its weight is multiplied by
	// 1/(1 + ConflictPenalty·conflicts) (30: one full pair's contradiction leaves 1/31). 0 turns
	// the discount off.
	ConflictPenalty float64 `json:"conflict_penalty" toml:"conflict_penalty"`
	// Anchors are nodes the observer trusts by its own choice, added to its restart vector.
	Anchors []ledger.PubKey `json:"anchors,omitempty" toml:"-"`
}

// DefaultPolicy returns the documented defaults (specs/trust.md §6).
func DefaultPolicy() Policy {
	return Policy{Lambda: 0.999, ReliableFailure: 0.02, UnreliableFailure: 0.10, DropOdds: 10000,
		ReceiptWeight: 0.2, PaymentWeight: 0.5, FiredWeight: 0.5,
		EdgeCap: 20, Restart: 0.15, MaxIterations: 50, Baseline: 0, BaselineStrength: 5,
		VettingEvidence: 20, VettingTrust: 0.1, HireThreshold: 0.97, ExplorationShare: 0.1, StrangerShare: 0.02,
		ConflictPenalty: 30}
}

// ErrPolicy wraps every policy validation error.
var ErrPolicy = errors.New("invalid trust policy")

// Validate rejects values that make the computation meaningless.
func (p Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrPolicy, fmt.Sprintf(format, args...))
	}
	switch {
	case !(p.Lambda > 0 && p.Lambda <= 1):
		return bad("lambda %v must be in (0, 1]", p.Lambda)
	case !(p.ReliableFailure > 0 && p.ReliableFailure < p.UnreliableFailure && p.UnreliableFailure < 1):
		return bad("reliable_failure %v and unreliable_failure %v must satisfy 0 < reliable < unreliable < 1", p.ReliableFailure, p.UnreliableFailure)
	case !(p.DropOdds > 1):
		return bad("drop_odds %v must be above 1", p.DropOdds)
	case p.ReceiptWeight < 0 || p.PaymentWeight < 0 || p.FiredWeight < 0:
		return bad("event weights must not be negative")
	case p.EdgeCap <= 0:
		return bad("edge_cap %v must be positive", p.EdgeCap)
	case !(p.Restart > 0 && p.Restart < 1):
		return bad("restart %v must be in (0, 1)", p.Restart)
	case p.MaxIterations < 1:
		return bad("max_iterations %d must be at least 1", p.MaxIterations)
	case p.Baseline < 0 || p.Baseline > 1 || p.BaselineStrength <= 0:
		return bad("baseline must be in [0, 1] with a positive strength")
	case p.VettingEvidence <= 0:
		return bad("vetting_evidence %v must be positive", p.VettingEvidence)
	case p.VettingTrust <= 0:
		return bad("vetting_trust %v must be positive", p.VettingTrust)
	case p.HireThreshold < 0 || p.HireThreshold > 1:
		return bad("hire_threshold %v must be in [0, 1]", p.HireThreshold)
	case p.ExplorationShare < 0 || p.ExplorationShare > 0.5:
		return bad("exploration_share %v must be in [0, 0.5]", p.ExplorationShare)
	case p.StrangerShare < 0 || p.StrangerShare > p.ExplorationShare:
		return bad("stranger_share %v must be in [0, exploration_share %v]", p.StrangerShare, p.ExplorationShare)
	case p.ConflictPenalty < 0:
		return bad("conflict_penalty %v must not be negative", p.ConflictPenalty)
	}
	return nil
}

// dropSteps returns what one unit of success and one unit of failure add to a pair's drop
// statistic (§2.1): the log-likelihood ratios ln((1-p1)/(1-p0)) < 0 and ln(p1/p0) > 0, and
// the statistic's drop level ln(DropOdds). detLog keeps them identical on every platform.
func (p Policy) dropSteps() (success, failure, level float64) {
	return detLog((1 - p.UnreliableFailure) / (1 - p.ReliableFailure)), detLog(p.UnreliableFailure / p.ReliableFailure), detLog(p.DropOdds)
}
