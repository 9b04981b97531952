package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/reputation"
)

// preIssue17 is trust.toml as `trustd init` wrote it before issue 17, comments cut short.
const preIssue17 = `observer = ""
anchors = []
lambda = 0.999
# Initial alpha of a pair.
alpha0 = 50
receipt_weight = 0.2
payment_weight = 0.5
fired_weight = 0.5
edge_cap = 20
restart = 0.15
max_iterations = 50
baseline = 0.5
baseline_strength = 5
vetting_evidence = 20
drop_threshold = 0.96
hire_threshold = 0.97
exploration_share = 0.05
`

// TestTrustConfigWrittenBeforeIssue17: an older trust.toml still loads. Its retired keys and
// its old baseline held that version's defaults, so they give way to today's; a retired key
// set to a value of the operator's own is refused with an error that names it and the line,
// since ignoring it would change what the node does.
func TestTrustConfigWrittenBeforeIssue17(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(string) string
		err    error
		policy func(*reputation.Policy)
	}{
		{"as written", func(s string) string { return s }, nil, func(*reputation.Policy) {}},
		{"a tuned setting is kept", func(s string) string { return strings.Replace(s, "edge_cap = 20", "edge_cap = 30", 1) }, nil,
			func(p *reputation.Policy) { p.EdgeCap = 30 }},
		{"a chosen baseline is kept", func(s string) string { return strings.Replace(s, "baseline = 0.5", "baseline = 0.2", 1) }, nil,
			func(p *reputation.Policy) { p.Baseline = 0.2 }},
		{"a chosen newcomer budget is kept", func(s string) string {
			return strings.Replace(s, "exploration_share = 0.05", "exploration_share = 0.02", 1)
		}, nil, func(p *reputation.Policy) { p.ExplorationShare = 0.02 }},
		{"a tuned drop threshold is refused", func(s string) string {
			return strings.Replace(s, "drop_threshold = 0.96", "drop_threshold = 0.9", 1)
		}, node.ErrRetiredTrustSetting, nil},
		{"a tuned probation prior is refused", func(s string) string { return strings.Replace(s, "alpha0 = 50", "alpha0 = 200", 1) },
			node.ErrRetiredTrustSetting, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := node.Home(t.TempDir())
			if err := os.MkdirAll(filepath.Dir(home.TrustConfigFile()), 0o700); err != nil {
				t.Fatal(err)
			}
			text := c.edit(preIssue17)
			if err := os.WriteFile(home.TrustConfigFile(), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			tc, err := node.LoadTrustConfig(home)
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(err.Error(), "trust.toml:") {
					t.Fatalf("got %v, want %v naming the file and line", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := reputation.DefaultPolicy()
			c.policy(&want)
			if got := tc.Policy; got.EdgeCap != want.EdgeCap || got.Baseline != want.Baseline || got.DropOdds != want.DropOdds ||
				got.VettingTrust != want.VettingTrust || got.ExplorationShare != want.ExplorationShare {
				t.Errorf("policy %+v, want %+v", got, want)
			}
			if raw, _ := os.ReadFile(home.TrustConfigFile()); string(raw) != text {
				t.Error("loading rewrote the operator's file")
			}
		})
	}
}

// TestTrustConfigTemplate: what init writes loads back as the defaults.
func TestTrustConfigTemplate(t *testing.T) {
	home := node.Home(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(home.TrustConfigFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := node.WriteTrustConfig(home); err != nil {
		t.Fatal(err)
	}
	tc, err := node.LoadTrustConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if d := reputation.DefaultPolicy(); tc.Policy.DropOdds != d.DropOdds || tc.Policy.StrangerShare != d.StrangerShare ||
		tc.Policy.Baseline != d.Baseline || tc.Policy.VettingTrust != d.VettingTrust || tc.Policy.ExplorationShare != d.ExplorationShare {
		t.Errorf("template loads as %+v, want the defaults %+v", tc.Policy, d)
	}
	if tc.Manager != node.DefaultManagerPolicy() {
		t.Errorf("template's [manager] loads as %+v, want the defaults %+v", tc.Manager, node.DefaultManagerPolicy())
	}
}

// TestTrustConfigManager: trust.toml's [manager] table (specs/p2p.md P-12) reads durations as
// typed, is overridden by TRUSTD_MANAGER_<KEY>, writes back what it read, and refuses a
// schedule that means nothing with an error that names the key.
func TestTrustConfigManager(t *testing.T) {
	home := node.Home(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(home.TrustConfigFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(home.TrustConfigFile(), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("lambda = 0.999\n[manager]\ngrace = \"90m\"\naudit_window = \"12h\"\n")
	tc, err := node.LoadTrustConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if tc.Manager.Grace != 90*time.Minute || tc.Manager.AuditWindow != 12*time.Hour || tc.Manager.AuditLoss != 0.01 {
		t.Fatalf("[manager]: %+v", tc.Manager)
	}
	t.Setenv("TRUSTD_MANAGER_GRACE", "6s")
	t.Setenv("TRUSTD_MANAGER_AUDIT_WINDOW", "38s")
	if tc, err = node.LoadTrustConfig(home); err != nil || tc.Manager.Grace != 6*time.Second || tc.Manager.AuditWindow != 38*time.Second {
		t.Fatalf("environment override: %+v %v", tc.Manager, err)
	}
	if err := node.WriteTrustConfigFrom(home, tc); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRUSTD_MANAGER_GRACE", "")
	t.Setenv("TRUSTD_MANAGER_AUDIT_WINDOW", "")
	if back, err := node.LoadTrustConfig(home); err != nil || back.Manager != tc.Manager {
		t.Fatalf("written and read back: %+v %v, want %+v", back.Manager, err, tc.Manager)
	}
	for _, c := range []struct{ text, want string }{
		{"[manager]\naudit_loss = 1.5\n", "audit_loss 1.5"},
		{"[manager]\ngrace = \"soon\"\n", "grace"},
		{"[manager]\naudit_windw = \"1h\"\n", "audit_windw"},
	} {
		write(c.text)
		if _, err := node.LoadTrustConfig(home); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.text, err, c.want)
		}
	}
	for _, edit := range []func(*node.ManagerPolicy){
		func(p *node.ManagerPolicy) { p.AuditLoss = 0 },
		func(p *node.ManagerPolicy) { p.AuditLoss = 1 },
		func(p *node.ManagerPolicy) { p.AuditConfidence = 1 },
		func(p *node.ManagerPolicy) { p.AuditWindow = time.Millisecond },
		func(p *node.ManagerPolicy) { p.Grace = -time.Second },
	} {
		p := node.DefaultManagerPolicy()
		edit(&p)
		if err := p.Validate(); !errors.Is(err, node.ErrManagerPolicy) {
			t.Errorf("%+v: %v, want ErrManagerPolicy", p, err)
		}
	}
}
