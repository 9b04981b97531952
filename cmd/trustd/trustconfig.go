package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// trustFile is <home>/config/trust.toml: the node's trust policy and default observer.
type trustFile struct {
	// Observer is the key (local name or hex) whose viewpoint `trustd trust` uses by default.
	Observer string `toml:"observer"`
	// Anchors are nodes (local names or hex) this node trusts by choice (specs/trust.md §3).
	Anchors           []string `toml:"anchors"`
	reputation.Policy `toml:",squash"`
}

func trustConfigPath(home string) string { return filepath.Join(home, "config", "trust.toml") }

// writeTrustConfig writes the documented defaults.
func writeTrustConfig(home string) error {
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
	return os.WriteFile(trustConfigPath(home), []byte(text), 0o600)
}

// readTOML decodes the TOML file at path (if it exists) and v's environment bindings into out,
// by `toml` tags; a key out does not have is an error that names it.
func readTOML(v *viper.Viper, path string, out any) error {
	if _, err := os.Stat(path); err == nil {
		v.SetConfigFile(path)
		v.SetConfigType("toml")
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	if err := v.Unmarshal(out, func(dc *mapstructure.DecoderConfig) {
		dc.TagName = "toml"
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = true // environment values arrive as strings
	}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// loadTrustConfig reads trust.toml over the defaults (a missing file means defaults) and
// resolves the anchors.
func loadTrustConfig(home string) (trustFile, error) {
	tf := trustFile{Policy: reputation.DefaultPolicy()}
	path := trustConfigPath(home)
	if err := readTOML(viper.New(), path, &tf); err != nil {
		return tf, err
	}
	for _, a := range tf.Anchors {
		k, err := resolveNode(home, a)
		if err != nil {
			return tf, fmt.Errorf("%s: anchor: %w", path, err)
		}
		tf.Policy.Anchors = append(tf.Policy.Anchors, k)
	}
	if err := tf.Policy.Validate(); err != nil {
		return tf, fmt.Errorf("%s: %w", path, err)
	}
	return tf, nil
}

// observerKey picks the observer: the flag, else trust.toml's observer, else the only local key.
func observerKey(home, flag string) (ledger.PubKey, error) {
	if flag != "" {
		return resolveNode(home, flag)
	}
	tf, err := loadTrustConfig(home)
	if err != nil {
		return ledger.PubKey{}, err
	}
	if tf.Observer != "" {
		return resolveNode(home, tf.Observer)
	}
	kfs, err := newKeystore(home).list()
	if err != nil {
		return ledger.PubKey{}, err
	}
	if len(kfs) == 1 {
		return ledger.ParsePubKey(kfs[0].PublicKey)
	}
	names := make([]string, len(kfs))
	for i, kf := range kfs {
		names[i] = kf.Name
	}
	return ledger.PubKey{}, fmt.Errorf("name the observer with --observer or `observer` in %s (local keys: %s)",
		trustConfigPath(home), strings.Join(names, ", "))
}
