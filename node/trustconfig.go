package node

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/reputation"
)

// TrustConfig is trust.toml: the node's trust policy and default observer (specs/trust.md §6).
type TrustConfig struct {
	// Observer is the key (local name or hex) whose viewpoint `trustd trust` uses by default.
	Observer string `toml:"observer"`
	// Anchors are nodes (local names or hex) this node trusts by choice (specs/trust.md §3);
	// LoadTrustConfig resolves them into Policy.Anchors.
	Anchors           []string `toml:"anchors"`
	reputation.Policy `toml:",squash"`
}

// WriteTrustConfig writes trust.toml with the documented defaults.
func WriteTrustConfig(home Home) error {
	p := reputation.DefaultPolicy()
	text := fmt.Sprintf(`# trustledger trust policy (specs/trust.md §6). Every node decides alone: these are yours.

# Key (local name or hex) whose viewpoint `+"`trustd trust`"+` uses when --observer is not given.
observer = ""
# Nodes you trust by your own choice, added to your PageRank restart vector.
anchors = []

# Forgetting factor per observation (1,000 observations ago weigh about 37%%).
lambda = %v
# Initial alpha of a pair: a prior of good behaviour that decays like evidence.
alpha0 = %v
# Success weight of a countersigned receipt, and of an acknowledged payment.
receipt_weight = %v
payment_weight = %v
# Failure weight of being fired by a customer (the customer's word).
fired_weight = %v
# Most observations of one pair that count for propagation and recommendations.
edge_cap = %v
# PageRank restart probability at you (and your anchors), and its iteration cap.
restart = %v
max_iterations = %v
# A newcomer's score, and its weight in observations.
baseline = %v
baseline_strength = %v
# Evidence needed before a node is ranked with vetted suppliers.
vetting_evidence = %v
# Drop a supplier below drop_threshold; hire only at hire_threshold or above (hysteresis).
drop_threshold = %v
hire_threshold = %v
# Share of placements given to newcomers (at most 0.5).
exploration_share = %v
`, p.Lambda, p.Alpha0, p.ReceiptWeight, p.PaymentWeight, p.FiredWeight, p.EdgeCap, p.Restart, p.MaxIterations,
		p.Baseline, p.BaselineStrength, p.VettingEvidence, p.DropThreshold, p.HireThreshold, p.ExplorationShare)
	return os.WriteFile(home.TrustConfigFile(), []byte(text), 0o600)
}

// LoadTrustConfig reads trust.toml over the defaults (a missing file means the defaults),
// resolves the anchors through the home's keys, and validates the policy.
func LoadTrustConfig(home Home) (TrustConfig, error) {
	tc := TrustConfig{Policy: reputation.DefaultPolicy()}
	path := home.TrustConfigFile()
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return tc, err
	}
	if err := readTOML(viper.New(), path, raw, &tc); err != nil {
		return tc, err
	}
	ks := keystore.New(home.KeysDir())
	for _, a := range tc.Anchors {
		k, err := ks.Resolve(a)
		if err != nil {
			return tc, fmt.Errorf("%s: anchor: %w", path, err)
		}
		tc.Policy.Anchors = append(tc.Policy.Anchors, k)
	}
	if err := tc.Policy.Validate(); err != nil {
		return tc, fmt.Errorf("%s: %w", path, err)
	}
	return tc, nil
}

// ObserverKey picks the observer: flag if given, else trust.toml's observer, else the home's
// only local key.
func ObserverKey(home Home, flag string) (ledger.PubKey, error) {
	ks := keystore.New(home.KeysDir())
	if flag != "" {
		return ks.Resolve(flag)
	}
	tc, err := LoadTrustConfig(home)
	if err != nil {
		return ledger.PubKey{}, err
	}
	if tc.Observer != "" {
		return ks.Resolve(tc.Observer)
	}
	kfs, err := ks.List()
	if err != nil {
		return ledger.PubKey{}, err
	}
	if len(kfs) == 1 {
		return kfs[0].Key()
	}
	names := make([]string, len(kfs))
	for i, kf := range kfs {
		names[i] = kf.Name
	}
	return ledger.PubKey{}, fmt.Errorf("name the observer with --observer or `observer` in %s (local keys: %s)",
		home.TrustConfigFile(), strings.Join(names, ", "))
}
