package node

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

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
	// Manager is the [manager] table: the supplier manager's audit schedule and grace period
	// (specs/p2p.md P-12). TRUSTD_MANAGER_<KEY> environment variables override it.
	Manager ManagerPolicy `toml:"manager"`
}

// ManagerPolicy is trust.toml's [manager] table, the supplier manager's part of the policy
// (specs/p2p.md P-12): how often each shard is audited and how long a silent supplier is kept.
// The hire threshold and the hysteresis of the drop rule are the trust policy's hire_threshold
// and drop_odds.
type ManagerPolicy struct {
	// AuditLoss, AuditWindow and AuditConfidence fix the audit schedule: a supplier that
	// silently lost AuditLoss of a shard is caught within AuditWindow with probability at least
	// AuditConfidence (0.01, 24h, 0.95: about 300 leaves of every shard a day).
	AuditLoss       float64       `json:"audit_loss" toml:"audit_loss"`
	AuditWindow     time.Duration `json:"audit_window" toml:"audit_window"`
	AuditConfidence float64       `json:"audit_confidence" toml:"audit_confidence"`
	// Grace is how long a supplier holding shards may go without answering before it is
	// fired (1h).
	Grace time.Duration `json:"grace" toml:"grace"`
}

// DefaultManagerPolicy returns the documented defaults.
func DefaultManagerPolicy() ManagerPolicy {
	return ManagerPolicy{AuditLoss: 0.01, AuditWindow: 24 * time.Hour, AuditConfidence: 0.95, Grace: time.Hour}
}

// ErrManagerPolicy wraps every validation error of trust.toml's [manager] table.
var ErrManagerPolicy = errors.New("invalid [manager] policy")

// Validate rejects values that give no schedule.
func (p ManagerPolicy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrManagerPolicy, fmt.Sprintf(format, args...))
	}
	switch {
	case !(p.AuditLoss > 0 && p.AuditLoss < 1):
		return bad("audit_loss %v must be in (0, 1)", p.AuditLoss)
	case !(p.AuditConfidence > 0 && p.AuditConfidence < 1):
		return bad("audit_confidence %v must be in (0, 1)", p.AuditConfidence)
	case p.AuditWindow < time.Second:
		return bad("audit_window %s must be a second or more", p.AuditWindow)
	case p.Grace < 0:
		return bad("grace %s must not be negative", p.Grace)
	case p.AuditInterval(auditLeaves) < time.Millisecond:
		return bad("audit_window %s is too short for %d leaves a shard", p.AuditWindow, p.AuditLeaves())
	}
	return nil
}

// AuditLeaves is how many challenged leaves of a shard the schedule asks within the window
// (reputation.AuditLeaves: 299 for the defaults).
func (p ManagerPolicy) AuditLeaves() int {
	return reputation.AuditLeaves(p.AuditLoss, p.AuditConfidence)
}

// AuditInterval is how long apart two audits of one shard are, each of perAudit leaves
// (75 min 47 s for the defaults and 16 leaves).
func (p ManagerPolicy) AuditInterval(perAudit int) time.Duration {
	return time.Duration(reputation.AuditInterval(int64(p.AuditWindow), p.AuditLeaves(), perAudit))
}

// trustManagerKeys are the [manager] keys environment variables may override.
var trustManagerKeys = []string{"manager.audit_loss", "manager.audit_window", "manager.audit_confidence", "manager.grace"}

// durationText writes a duration the way one would type it: "24h", "90m", "1h30m", "2.5s".
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// WriteTrustConfig writes trust.toml with the documented defaults.
func WriteTrustConfig(home Home) error {
	return WriteTrustConfigFrom(home, TrustConfig{Policy: reputation.DefaultPolicy(), Manager: DefaultManagerPolicy()})
}

// WriteTrustConfigFrom writes trust.toml with tc's policy and [manager] values (not its
// observer or anchors), documented as the defaults are; they must validate.
func WriteTrustConfigFrom(home Home, tc TrustConfig) error {
	p, m := tc.Policy, tc.Manager
	if err := errors.Join(p.Validate(), m.Validate()); err != nil {
		return err
	}
	text := fmt.Sprintf(`# trustledger trust policy (specs/trust.md §6). Every node decides alone: these are yours.

# Key (local name or hex) whose viewpoint `+"`trustd trust`"+` uses when --observer is not given.
observer = ""
# Nodes you trust by your own choice, added to your PageRank restart vector.
anchors = []

# Forgetting factor per observation (1,000 observations ago weigh about 37%%).
lambda = %v
# The drop rule (specs/trust.md §2.1): a sequential test of "fails reliable_failure of its
# audits" against "fails unreliable_failure", on your own observations. A supplier is dropped
# when the likelihood ratio reaches drop_odds (a reliable one by mistake about 1 time in drop_odds).
reliable_failure = %v
unreliable_failure = %v
drop_odds = %v
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
# The score of a node without evidence (0: a stranger is not half-trusted), and its weight in
# observations.
baseline = %v
baseline_strength = %v
# A node is vetted by this much evidence of your own, or by a trust mass of at least
# vetting_trust times that of a typical node you trust.
vetting_evidence = %v
vetting_trust = %v
# Vetted candidates at or above hire_threshold are preferred.
hire_threshold = %v
# The newcomer budget: the share of supplier slots that may go to unvetted nodes (at most 0.5,
# never two in one placement), and the part of it open to strangers.
exploration_share = %v
stranger_share = %v
# A recommender's weight is multiplied by 1 / (1 + conflict_penalty × conflicts), where conflicts
# measures, in pairs' worth of evidence, how far its records contradict your own verdicts (it
# vouches for a supplier you dropped, or distrusts one you vouch for); 0 turns this off.
conflict_penalty = %v

# The supplier manager (the customer and supplier-manager services, specs/p2p.md P-12). Its
# hire threshold is hire_threshold above, and its hysteresis the drop rule's drop_odds: one
# failed audit of a long-trusted supplier is far from a drop. TRUSTD_MANAGER_<KEY> environment
# variables override these keys.
[manager]
# The audit schedule: a supplier that silently lost audit_loss of a shard is caught within
# audit_window with probability at least audit_confidence (the defaults: 299 leaves of every
# shard a day, an audit of 16 leaves every 75 min 47 s). app.toml's [customer] audit_every is
# how often the customer looks for audits due, and must not be longer than that.
audit_loss = %v
audit_window = %q
audit_confidence = %v
# How long a supplier holding shards may go without answering before it is fired.
grace = %q
`, p.Lambda, p.ReliableFailure, p.UnreliableFailure, p.DropOdds, p.ReceiptWeight, p.PaymentWeight, p.FiredWeight,
		p.EdgeCap, p.Restart, p.MaxIterations, p.Baseline, p.BaselineStrength, p.VettingEvidence, p.VettingTrust,
		p.HireThreshold, p.ExplorationShare, p.StrangerShare, p.ConflictPenalty,
		m.AuditLoss, durationText(m.AuditWindow), m.AuditConfidence, durationText(m.Grace))
	return os.WriteFile(home.TrustConfigFile(), []byte(text), 0o600)
}

// LoadTrustConfig reads trust.toml over the defaults (a missing file means the defaults),
// resolves the anchors through the home's keys, and validates the policy.
func LoadTrustConfig(home Home) (TrustConfig, error) {
	tc := TrustConfig{Policy: reputation.DefaultPolicy(), Manager: DefaultManagerPolicy()}
	path := home.TrustConfigFile()
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return tc, err
	}
	raw, err = migrateTrustConfig(path, raw)
	if err != nil {
		return tc, err
	}
	v := viper.New()
	v.SetEnvPrefix("TRUSTD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, k := range trustManagerKeys {
		if err := v.BindEnv(k); err != nil {
			return tc, err
		}
	}
	if err := readTOML(v, path, raw, &tc); err != nil {
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
	if err := errors.Join(tc.Policy.Validate(), tc.Manager.Validate()); err != nil {
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

// ErrRetiredTrustSetting is returned for a trust.toml that sets a retired key to a value of its
// own: the setting no longer exists, and ignoring it would change what the node does.
var ErrRetiredTrustSetting = errors.New("trust.toml sets a retired key")

// Before issue 17, trust.toml had alpha0 and drop_threshold (a beta reputation's probation
// prior and threshold) and a newcomer baseline of 0.5. A file that still has alpha0 was written
// then: its keys that hold that version's defaults meant "the default", so they give way to the
// current defaults; a retired key set to anything else is an error that names it.
var retiredTrustDefaults = map[string]string{"alpha0": "50", "drop_threshold": "0.96"}

// changedTrustDefaults are live keys whose default issue 17 changed: in an older file, the old
// default gives way to the new one (baseline 0: a stranger is not half-trusted; a newcomer
// budget of 10%, which vets honest newcomers in about 8 placements, specs/trust.md §5).
var changedTrustDefaults = map[string]string{"baseline": "0.5", "exploration_share": "0.05"}

var tomlKeyRE = regexp.MustCompile(`^\s*([a-z_0-9]+)\s*=\s*([^#]*?)\s*(#.*)?$`)

// migrateTrustConfig returns raw without the retired keys of an older trust.toml (see above).
func migrateTrustConfig(path string, raw []byte) ([]byte, error) {
	lines := strings.Split(string(raw), "\n")
	keys := make([][]string, len(lines)) // each line's key and value, nil for other lines
	old := false
	for i, l := range lines {
		keys[i] = tomlKeyRE.FindStringSubmatch(l)
		old = old || (keys[i] != nil && keys[i][1] == "alpha0")
	}
	if !old {
		return raw, nil
	}
	var out []string
	for i, l := range lines {
		m := keys[i]
		if m == nil {
			out = append(out, l)
			continue
		}
		key, value := m[1], m[2]
		if def, retired := retiredTrustDefaults[key]; retired {
			if value != def {
				return nil, fmt.Errorf("%s:%d: %w: %s = %s (the drop rule is now a sequential test, specs/trust.md §2.1: "+
					"remove the line and set reliable_failure, unreliable_failure and drop_odds instead)", path, i+1, ErrRetiredTrustSetting, key, value)
			}
			continue
		}
		if def, changed := changedTrustDefaults[key]; changed && value == def {
			continue // the old default gives way to the new one
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n")), nil
}
