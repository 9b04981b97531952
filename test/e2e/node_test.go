package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustledger/trustledger/test/load"
)

// nodeView mirrors the JSON of `trustd query node -o json`.
type nodeView struct {
	Node   string `json:"node"`
	Record struct {
		Moniker  string `json:"moniker"`
		Sequence uint64 `json:"sequence"`
	} `json:"record"`
	Aggregate    map[string]int64 `json:"aggregate"`
	Verification *struct {
		Verified bool  `json:"verified"`
		Height   int64 `json:"height"`
	} `json:"verification"`
}

// TestNodeLifecycle is the spine's acceptance scenario: a real single-validator node, events
// submitted through the CLI (with countersignatures from `trustd sign`), rejections with their
// codes, verified queries, then SIGKILL and restart with the same history and answers.
func TestNodeLifecycle(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "8")
	n.start()

	for _, k := range []string{"alice", "bob", "carol"} {
		n.mustCLI("keys", "add", k)
	}
	n.mustCLI("tx", "register", "--from", "alice", "--capacity", "1000000", "--moniker", "alice\x1b[31m<b>")
	n.mustCLI("tx", "register", "--from", "bob", "--capacity", "9000000")
	n.mustCLI("tx", "register", "--from", "carol")

	open := []string{"--customer", "alice", "--supplier", "bob", "--contract-id", "contract-1", "--bytes", "1048576", "--duration", "86400", "--price", "7"}
	sig := strings.TrimSpace(n.mustCLI(append([]string{"sign", "contract-open", "--from", "bob"}, open...)...))
	n.mustCLI(append([]string{"tx", "contract-open", "--from", "alice", "--countersig", sig}, open...)...)

	now := time.Now().Unix()
	receipt := []string{"--customer", "alice", "--supplier", "bob", "--contract-id", "contract-1", "--number", "1",
		"--period-start", strconv.FormatInt(now-3600, 10), "--period-end", time.Unix(now, 0).UTC().Format(time.RFC3339), "--byte-seconds", "3774873600"}
	rsig := strings.TrimSpace(n.mustCLI(append([]string{"sign", "receipt", "--from", "alice"}, receipt...)...))
	n.mustCLI(append([]string{"tx", "receipt", "--from", "bob", "--countersig", rsig}, receipt...)...)
	n.mustCLI("tx", "audit", "--from", "alice", "--customer", "alice", "--supplier", "bob", "--contract-id", "contract-1", "--challenge", "c-1", "--result", "pass")
	n.mustCLI("tx", "report", "--from", "carol", "--accused", "bob", "--misconduct", "unavailable")

	// Rejections: each a clear line, exit code 2, and nothing committed.
	rejections := []struct {
		name string
		args []string
		want string
	}{
		{"replayed receipt", append([]string{"tx", "receipt", "--from", "bob", "--countersig", rsig}, receipt...), "replayed_receipt"},
		{"forged countersignature", append([]string{"tx", "receipt", "--from", "bob", "--countersig", rsig}, append(receipt[:len(receipt)-1:len(receipt)-1], "999")...), "bad_countersignature"},
		{"supplier reports an audit", []string{"tx", "audit", "--from", "bob", "--customer", "alice", "--supplier", "bob", "--contract-id", "contract-1", "--challenge", "x", "--result", "pass"}, "not_a_party"},
		{"replayed sequence", []string{"tx", "report", "--from", "carol", "--accused", "bob", "--misconduct", "data_lost", "--sequence", "1"}, "replayed_tx"},
		{"unknown contract", []string{"tx", "audit", "--from", "alice", "--customer", "alice", "--supplier", "bob", "--contract-id", "nope", "--challenge", "x", "--result", "fail"}, "unknown_contract"},
	}
	for _, r := range rejections {
		_, errOut, code := n.cli(r.args...)
		if code != 2 || !strings.Contains(errOut, r.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: got exit %d, stderr %q; want exit 2 and one line naming %s", r.name, code, errOut, r.want)
		}
	}
	if _, errOut, code := n.cli("query", "node", "dave"); code == 0 || !strings.Contains(errOut, "neither a local key name") {
		t.Errorf("unknown node: exit %d, %q", code, errOut)
	}

	var bob nodeView
	n.jsonCLI(&bob, "query", "node", "bob")
	if bob.Aggregate["storage_receipts"] != 1 || bob.Aggregate["audits_passed"] != 1 || bob.Aggregate["reports_received"] != 1 {
		t.Fatalf("bob's aggregate: %v", bob.Aggregate)
	}
	var alice nodeView
	n.jsonCLI(&alice, "query", "node", "alice", "--prove")
	if alice.Verification == nil || !alice.Verification.Verified || alice.Record.Moniker != "alice\x1b[31m<b>" {
		t.Fatalf("proved alice: %+v", alice)
	}
	if text := n.mustCLI("query", "node", "alice"); strings.Contains(text, "\x1b") || !strings.Contains(text, `alice\x1b[31m<b>`) {
		t.Errorf("moniker not escaped in text output:\n%s", text)
	}
	var rel map[string]any
	n.jsonCLI(&rel, "query", "relation", "alice", "bob", "--prove")
	// The contract tells the parties which receipt numbers are used (R-RCPT-1), proved.
	var contract struct {
		Receipts     map[string]struct{ Highest, Next uint64 } `json:"receipts"`
		Verification *struct{ Verified bool }                  `json:"verification"`
	}
	n.jsonCLI(&contract, "query", "contract", "contract-1", "--prove")
	if s := contract.Receipts["storage"]; s.Highest != 1 || s.Next != 2 || contract.Receipts["bandwidth"].Next != 1 ||
		contract.Verification == nil || !contract.Verification.Verified {
		t.Fatalf("contract-1: %+v", contract)
	}
	if text := n.mustCLI("query", "contract", "contract-1"); !strings.Contains(text, "storage receipts:  highest 1, next 2") || !strings.Contains(text, "audits:            highest 1, next 2") {
		t.Errorf("contract text output:\n%s", text)
	}
	if _, errOut, code := n.cli("query", "contract", "no-such-contract"); code == 0 || !strings.Contains(errOut, "was never opened") {
		t.Errorf("unknown contract: exit %d, %q", code, errOut)
	}
	var page struct {
		Records []map[string]any `json:"records"`
	}
	n.jsonCLI(&page, "query", "events", "--involving", "bob", "--limit", "100")
	if len(page.Records) != 5 { // registration, contract, receipt, audit, report
		t.Fatalf("bob has %d events, want 5", len(page.Records))
	}
	checkMetrics(t, n)

	// CometBFT's tx_search finds transactions by our indexed event attributes: bob is in 5 txs
	// (his registration, the contract, the receipt, the audit and the report), one an audit.
	found, err := n.rpc().TxSearch(context.Background(), "tl.node='"+bob.Node+"' AND tl.kind='audit_result'", false, nil, nil, "asc")
	if err != nil || found.TotalCount != 1 {
		t.Fatalf("tx_search by node and kind: %v, %+v", err, found)
	}
	if all, err := n.rpc().TxSearch(context.Background(), "tl.node='"+bob.Node+"'", false, nil, nil, "asc"); err != nil || all.TotalCount != 5 {
		t.Fatalf("tx_search by node: %v, %+v", err, all)
	}

	// Errors a user meets are one line and a non-zero exit.
	userErrors := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"bad passphrase", "TRUSTD_PASSPHRASE=wrong", []string{"tx", "report", "--from", "alice", "--accused", "bob", "--misconduct", "unavailable"}, "wrong passphrase for key \"alice\""},
		{"unknown key", "", []string{"tx", "report", "--from", "zed", "--accused", "bob", "--misconduct", "unavailable"}, "no key named \"zed\""},
		{"node not running", "", []string{"--node", "tcp://127.0.0.1:1", "status"}, "node not reachable at tcp://127.0.0.1:1"},
		{"bad misconduct", "", []string{"tx", "report", "--from", "alice", "--accused", "bob", "--misconduct", "rude"}, "unknown misbehaviour kind \"rude\""},
		{"bad output format", "", []string{"keys", "list", "-o", "yaml"}, "--output \"yaml\""},
		{"receipt without a number", "", []string{"sign", "receipt", "--from", "alice", "--customer", "alice", "--supplier", "bob", "--contract-id", "contract-1", "--bytes", "5", "--kind", "bandwidth"}, "--number is required"},
	}
	for _, u := range userErrors {
		_, errOut, code := n.cliEnv(u.env, u.args...)
		if code == 0 || !strings.Contains(errOut, u.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want one line containing %q", u.name, code, errOut, u.want)
		}
	}

	// SIGKILL, restart: same history, same answers.
	before := n.height()
	hashBefore := n.appHashAt(before)
	n.kill()
	n.start()
	n.waitHeight(before+2, 30*time.Second)
	if got := n.appHashAt(before); got != hashBefore {
		t.Fatalf("app hash at %d: %s after restart, %s before", before, got, hashBefore)
	}
	var bobAfter nodeView
	n.jsonCLI(&bobAfter, "query", "node", "bob")
	if !reflect.DeepEqual(bob, bobAfter) {
		t.Fatalf("bob changed across the restart:\n before %+v\n after  %+v", bob, bobAfter)
	}
	var pageAfter struct {
		Records []map[string]any `json:"records"`
	}
	n.jsonCLI(&pageAfter, "query", "events", "--involving", "bob", "--limit", "100")
	if !reflect.DeepEqual(page, pageAfter) {
		t.Fatal("bob's events changed across the restart")
	}
	// The chain goes on accepting events after the restart.
	n.mustCLI("tx", "report", "--from", "alice", "--accused", "bob", "--misconduct", "data_lost")
	n.jsonCLI(&alice, "query", "node", "alice", "--prove")
	if alice.Record.Sequence != 4 || !alice.Verification.Verified {
		t.Fatalf("alice after restart: %+v", alice)
	}
}

// TestCrashBetweenFinalizeAndCommit kills the node inside Commit, before the app persists the
// block, and checks the restart replays it to the same app hash and carries on.
func TestCrashBetweenFinalizeAndCommit(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "4")
	n.start()
	n.mustCLI("keys", "add", "alice")
	n.mustCLI("tx", "register", "--from", "alice")
	h := n.height()
	hashH := n.appHashAt(h)
	n.kill()

	crashAt := h + 3
	n.start("TRUSTD_TEST_CRASH_BEFORE_COMMIT=" + itoa(crashAt))
	if code := n.waitExit(60 * time.Second); code != 3 {
		t.Fatalf("node exited with %d, want 3 from the crash hook\n%s", code, n.tailLog())
	}
	n.start()
	n.waitHeight(crashAt+2, 30*time.Second)
	if got := n.appHashAt(h); got != hashH {
		t.Fatalf("app hash at %d changed: %s, was %s", h, got, hashH)
	}
	var alice nodeView
	n.jsonCLI(&alice, "query", "node", "alice", "--prove")
	if alice.Record.Sequence != 1 || !alice.Verification.Verified {
		t.Fatalf("alice after crash recovery: %+v", alice)
	}
}

// TestVerifyFindsFirstInconsistency: `trustd verify` passes on a stopped node's data, and names
// the first height that no longer replays when the history is judged by other rules (here a
// genesis edited to demand more proof of work).
func TestVerifyFindsFirstInconsistency(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "2")
	n.start()
	n.mustCLI("keys", "add", "alice")
	n.mustCLI("tx", "register", "--from", "alice")
	var regHeight int64
	var recs []struct {
		Height int64 `json:"height"`
	}
	n.jsonCLI(&struct {
		Records *[]struct {
			Height int64 `json:"height"`
		} `json:"records"`
	}{&recs}, "query", "events", "--kind", "register_node")
	if len(recs) != 1 {
		t.Fatalf("registrations: %v", recs)
	}
	regHeight = recs[0].Height
	n.waitHeight(regHeight+2, 20*time.Second)
	n.kill()
	out := n.mustCLI("verify")
	if !strings.Contains(out, "verified") || !strings.Contains(out, "1 txs") {
		t.Fatalf("verify: %s", out)
	}
	if out := n.mustCLI("reindex"); !strings.Contains(out, "reindexed 1 events") {
		t.Fatalf("reindex: %s", out)
	}
	gen := filepath.Join(n.home, "config", "genesis.json")
	b, _ := os.ReadFile(gen)
	tampered := strings.Replace(string(b), `"pow_difficulty": 2,`, `"pow_difficulty": 30,`, 1)
	if tampered == string(b) {
		t.Fatal("could not find pow_difficulty in genesis")
	}
	if err := os.WriteFile(gen, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := n.cli("verify")
	// The parameters are merkleized at InitChain, so the edit shows at the first block's app hash.
	want := "first inconsistency: height 1: stored app hash"
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("verify of a tampered history: exit %d %q, want %q", code, errOut, want)
	}
}

// TestStopsCleanlyOnSIGTERM checks that a node asked to stop in the middle of a load does so by
// itself, promptly, and restarts with its data.
func TestStopsCleanlyOnSIGTERM(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "4")
	n.start()
	g, err := load.New("e2e-chain", []string{n.rpcAddr}, 50, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.Setup(ctx, 4); err != nil {
		t.Fatal(err)
	}
	go g.Run(ctx)
	time.Sleep(3 * time.Second)
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := n.waitExit(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, n.tailLog())
	}
	t.Logf("stopped %v after SIGTERM under load (%s)", time.Since(start).Round(time.Millisecond), g.Stats())
	cancel()
	n.start()
	checkAcked(t, n, g.Acks())
}

// scrape reads the node's Prometheus endpoint.
func scrape(t *testing.T, n *node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.metrics + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func checkMetrics(t *testing.T, n *node) {
	t.Helper()
	b := scrape(t, n)
	for _, want := range []string{
		`trustledger_events_applied_total{kind="storage_receipt"} 1`,
		`trustledger_txs_rejected_total{reason="replayed_receipt",stage="check"}`,
		`trustledger_block_apply_seconds_count`,
		`trustledger_state_keys`,
		`trustledger_app_db_bytes`,
		`cometbft_consensus_height`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestQuietStart (issue 16): a new home's node logs its own progress, not CometBFT's every step;
// the last start-up lines say where it listens and what to try; Ctrl-C stops it with no error line.
func TestQuietStart(t *testing.T) {
	n := newNode(t)
	n.start("TRUSTD_LOG_LEVEL=") // the home's own level, not the harness's
	time.Sleep(3 * time.Second)  // about six blocks
	if err := n.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := n.waitExit(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after Ctrl-C\n%s", code, n.tailLog())
	}
	b, _ := os.ReadFile(filepath.Join(n.home, "node-1.log"))
	log := string(b)
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) > 25 {
		t.Errorf("%d log lines for a few seconds of a quiet node:\n%s", len(lines), log)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "E[") {
			t.Errorf("an error line on a clean Ctrl-C: %s", l)
		}
	}
	for _, want := range []string{"trustd: rpc " + n.rpcAddr, "trustd: try: trustd status", "consensus stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if out := n.mustCLI("version"); !strings.Contains(out, "CometBFT v0.40.0") || !strings.Contains(out, "reports itself as") {
		t.Errorf("version: %s", out)
	}
	if out, _, code := n.cli("--version"); code != 0 || !strings.HasPrefix(out, "trustd ") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}
