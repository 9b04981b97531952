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
	// Alpha0 is a pair's initial α, a prior of good behaviour that decays like evidence (50: a
	// probation prior, so a fresh supplier is dropped at its third failure while a long-trusted
	// one, whose α has grown towards 1/(1-λ), is judged as Storj would judge it).
	Alpha0 float64 `json:"alpha0" toml:"alpha0"`
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
	// Baseline is a newcomer's score (0.5); BaselineStrength its weight in observations (5).
	Baseline         float64 `json:"baseline" toml:"baseline"`
	BaselineStrength float64 `json:"baseline_strength" toml:"baseline_strength"`
	// VettingEvidence is the evidence (direct plus weighted recommendations) a node needs before
	// it is ranked with vetted suppliers instead of explored as a newcomer (20).
	VettingEvidence float64 `json:"vetting_evidence" toml:"vetting_evidence"`
	// DropThreshold: a supplier whose reputation falls below it is dropped (0.96).
	DropThreshold float64 `json:"drop_threshold" toml:"drop_threshold"`
	// HireThreshold: a vetted candidate needs at least this score to be hired (0.97). The gap to
	// DropThreshold is the hysteresis that stops a supplier near the line from flapping.
	HireThreshold float64 `json:"hire_threshold" toml:"hire_threshold"`
	// ExplorationShare is the share of placements given to newcomers (0.05, at most 0.5).
	ExplorationShare float64 `json:"exploration_share" toml:"exploration_share"`
	// Anchors are nodes the observer trusts by its own choice, added to its restart vector.
	Anchors []ledger.PubKey `json:"anchors,omitempty" toml:"-"`
}

// DefaultPolicy returns the documented defaults (specs/trust.md §6).
func DefaultPolicy() Policy {
	return Policy{Lambda: 0.999, Alpha0: 50, ReceiptWeight: 0.2, PaymentWeight: 0.5, FiredWeight: 0.5,
		EdgeCap: 20, Restart: 0.15, MaxIterations: 50, Baseline: 0.5, BaselineStrength: 5,
		VettingEvidence: 20, DropThreshold: 0.96, HireThreshold: 0.97, ExplorationShare: 0.05}
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
	case p.Alpha0 < 0:
		return bad("alpha0 %v must not be negative", p.Alpha0)
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
	case p.DropThreshold < 0 || p.DropThreshold > 1 || p.HireThreshold > 1:
		return bad("thresholds must be in [0, 1]")
	case p.HireThreshold < p.DropThreshold:
		return bad("hire_threshold %v is below drop_threshold %v: a hired supplier could be dropped at once", p.HireThreshold, p.DropThreshold)
	case p.ExplorationShare < 0 || p.ExplorationShare > 0.5:
		return bad("exploration_share %v must be in [0, 0.5]", p.ExplorationShare)
	}
	return nil
}
