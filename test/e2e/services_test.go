package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// servicesView is `trustd services -o json`.
type servicesView struct {
	Changed  []string `json:"changed"`
	Services []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Error   string `json:"error"`
		Enabled bool   `json:"enabled"`
		Off     string `json:"off"`
	} `json:"services"`
}

func (n *node) services() map[string]string {
	n.t.Helper()
	var v servicesView
	n.jsonCLI(&v, "services")
	out := map[string]string{}
	for _, s := range v.Services {
		out[s.Name] = s.State
		switch {
		case s.Off != "":
			out[s.Name] += " (off)"
		case !s.Enabled:
			out[s.Name] += " (disabled)"
		}
	}
	return out
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "tcp://"), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// topScores is `trustd trust top -o json`, subject → score.
func topScores(t *testing.T, n *node, observer string) map[string]float64 {
	t.Helper()
	var top struct {
		Scores []struct {
			Subject string  `json:"subject"`
			Score   float64 `json:"score"`
		} `json:"scores"`
	}
	n.jsonCLI(&top, "trust", "top", "--observer", observer, "--limit", "100")
	out := map[string]float64{}
	for _, s := range top.Scores {
		out[s.Subject] = s.Score
	}
	return out
}

// TestServicesAtRuntime drives a real node's services through `trustd services` only: a second
// start on the home is refused; trust stops (its queries say so, blocks go on) and starts with
// scores equal to an offline replay of the whole history; metrics stops (its port closes) and
// starts, its gauge saying each service's state; consensus stops only with --cascade (snapshots
// needs it), its ports close, and it starts again in the same process at the same height and
// app hash; disable persists across a restart of the node and enable --now starts it again.
func TestServicesAtRuntime(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "4")
	n.start()
	for name, state := range n.services() {
		if state != "running" && !((name == "p2p" || name == "supplier" || name == "customer" || name == "supplier-manager") && state == "stopped (off)") { // no [p2p] key
			t.Fatalf("%s is %s after start", name, state)
		}
	}
	if st, err := os.Stat(n.home + "/trustd.sock"); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket: %v %v, want a socket of mode 0600", st.Mode(), err)
	}

	// A second node on the same home refuses to start, and the first one is unharmed.
	second := exec.Command(n.bin, "start", "--home", n.home)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") || !strings.Contains(string(out), fmt.Sprint(n.cmd.Process.Pid)) {
		t.Fatalf("second start on the home: %v\n%s", err, out)
	}

	// Some history: a contract and audits from alice of bob.
	for _, k := range []string{"alice", "bob"} {
		n.mustCLI("keys", "add", k)
		n.mustCLI("tx", "register", "--from", k)
	}
	open := []string{"--customer", "alice", "--supplier", "bob", "--contract-id", "c-1", "--bytes", "100", "--duration", "100"}
	sig := strings.TrimSpace(n.mustCLI(append([]string{"sign", "contract-open", "--from", "bob"}, open...)...))
	n.mustCLI(append([]string{"tx", "contract-open", "--from", "alice", "--countersig", sig}, open...)...)
	audit := func(i int, result string) {
		n.mustCLI("tx", "audit", "--from", "alice", "--customer", "alice", "--supplier", "bob", "--contract-id", "c-1",
			"--challenge", fmt.Sprint("ch-", i), "--result", result)
	}
	for i := 0; i < 3; i++ {
		audit(i, "pass")
	}
	before := topScores(t, n, "alice")

	// Trust stopped: its queries say so, blocks still commit, events still land.
	var v servicesView
	n.jsonCLI(&v, "services", "stop", "trust")
	if strings.Join(v.Changed, ",") != "trust" {
		t.Fatalf("stop trust changed %v", v.Changed)
	}
	if _, errOut, code := n.cli("trust", "score", "bob", "--observer", "alice"); code == 0 || !strings.Contains(errOut, "service trust is stopped") {
		t.Fatalf("trust score with trust stopped: exit %d %q", code, errOut)
	}
	if m := scrape(t, n); !strings.Contains(m, `trustledger_service_state{service="trust",state="stopped"} 1`) {
		t.Error("the metrics do not say trust is stopped")
	}
	h := n.height()
	for i := 3; i < 6; i++ {
		audit(i, "fail")
	}
	n.waitHeight(h+3, 30*time.Second)

	// Trust started again catches up: equal to a replay of the whole history from an export.
	n.mustCLI("services", "start", "trust")
	after := topScores(t, n, "alice")
	export := n.home + "/ledger.jsonl"
	n.mustCLI("export", "--output-file", export)
	var off offlineScores
	if err := json.Unmarshal([]byte(n.mustCLI("trust", "scores", "--export", export, "--observer", "alice", "-o", "json")), &off); err != nil {
		t.Fatal(err)
	}
	if len(off.Views) != 1 || len(off.Views[0].Scores) != len(after) {
		t.Fatalf("offline replay: %+v, node: %v", off, after)
	}
	for _, s := range off.Views[0].Scores {
		if got, ok := after[s.Subject]; !ok || math.Abs(got-s.Score) > 1e-12 {
			t.Errorf("score of %s after the trust restart %v, a fresh replay gives %v", s.Subject, got, s.Score)
		}
	}
	for subject, s := range before {
		if after[subject] >= s {
			t.Errorf("the failed audits made while trust was stopped did not count: %s %v → %v", subject, s, after[subject])
		}
	}

	// Metrics: the port closes and opens again; the gauge says what runs.
	n.mustCLI("services", "stop", "metrics")
	if listening(n.metrics) {
		t.Fatal("metrics port still open with the metrics service stopped")
	}
	if got := n.services()["metrics"]; got != "stopped" {
		t.Fatalf("metrics is %s", got)
	}
	n.mustCLI("services", "start", "metrics")
	m := scrape(t, n)
	for _, want := range []string{`trustledger_service_state{service="metrics",state="running"} 1`,
		`trustledger_service_state{service="trust",state="running"} 1`, `cometbft_consensus_height`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Consensus: refused without --cascade (snapshots needs it); with it, both stop and the
	// RPC and p2p ports close; started again, the chain goes on from the same height and hash.
	h = n.height()
	hash := n.appHashAt(h - 1)
	if _, errOut, code := n.cli("services", "stop", "consensus"); code == 0 || !strings.Contains(errOut, "snapshots") || !strings.Contains(errOut, "cascade") {
		t.Fatalf("stop consensus without --cascade: exit %d %q", code, errOut)
	}
	n.jsonCLI(&v, "services", "stop", "consensus", "--cascade")
	if strings.Join(v.Changed, ",") != "snapshots,consensus" {
		t.Fatalf("stop consensus --cascade changed %v", v.Changed)
	}
	if listening(n.rpcAddr) || n.height() != -1 {
		t.Fatal("RPC still answers with consensus stopped")
	}
	if st := n.services(); st["consensus"] != "stopped" || st["snapshots"] != "stopped" || st["trust"] != "running" {
		t.Fatalf("services with consensus stopped: %v", st)
	}
	if _, errOut, code := n.cli("status"); code == 0 || !strings.Contains(errOut, "consensus service (and RPC) is stopped") {
		t.Errorf("status with consensus stopped: exit %d %q", code, errOut)
	}
	n.mustCLI("services", "start", "snapshots", "--cascade")
	n.waitHeight(h+2, 60*time.Second)
	if got := n.appHashAt(h - 1); got != hash {
		t.Fatalf("app hash at %d: %s before the consensus restart, %s after", h-1, hash, got)
	}
	audit(6, "pass") // the restarted consensus takes transactions
	// The trust engine went on through the consensus restart: replayed at boot and at its own
	// start after the stop above, not again.
	if log, _ := os.ReadFile(n.home + "/node-1.log"); strings.Count(string(log), "trust engine ready") != 2 {
		t.Errorf("trust engine ready %d times in the log, want 2 (boot, trust restart)", strings.Count(string(log), "trust engine ready"))
	}
	if st := n.services(); st["consensus"] != "running" || st["snapshots"] != "running" {
		t.Fatalf("services after the restart: %v", st)
	}

	// disable persists across a restart of the node; enable --now starts it at once.
	n.mustCLI("services", "disable", "snapshots")
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.waitExit(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, n.tailLog())
	}
	if out := n.mustCLI("services"); !strings.Contains(out, "no node is running") || !strings.Contains(out, "disabled") {
		t.Errorf("services of a stopped node:\n%s", out)
	}
	n.start()
	if st := n.services(); st["snapshots"] != "stopped (disabled)" || st["consensus"] != "running" {
		t.Fatalf("after a restart with snapshots disabled: %v", st)
	}
	n.mustCLI("services", "enable", "snapshots", "--now")
	if st := n.services(); st["snapshots"] != "running" {
		t.Fatalf("after enable --now: %v", st)
	}
	// The status since the restart: trust replayed the history it had not seen.
	var score trustScore
	n.jsonCLI(&score, "trust", "score", "bob", "--observer", "alice")
	if score.Score.Direct == nil || score.Score.Direct.Counts.AuditsPassed != 4 || score.Score.Direct.Counts.AuditsFailed != 3 {
		t.Errorf("trust after the node restart: %+v", score.Score.Direct)
	}
}
