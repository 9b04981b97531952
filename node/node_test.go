package node_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
)

// dialable reports whether something accepts TCP connections at addr (host:port or tcp://…).
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "tcp://"), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func appHashAt(t *testing.T, n *node.Node, h int64) string {
	t.Helper()
	nodetest.WaitHeight(t, n.Client(), h+1, 30*time.Second)
	rpc, err := n.Client().RPC()
	if err != nil {
		t.Fatal(err)
	}
	h1 := h + 1
	c, err := rpc.Commit(context.Background(), &h1)
	if err != nil {
		t.Fatal(err)
	}
	return c.Header.AppHash.String()
}

// TestConsensusRestartInProcess: consensus stops (with snapshots, which need it: refused without
// cascade) and starts again in the same process, from the same height and app hash; while it is
// stopped its ports are closed and the in-process client says the service is stopped.
func TestConsensusRestartInProcess(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	m := n.Services()
	for _, s := range m.Statuses() {
		off := (s.Name == node.ServiceP2P || s.Name == node.ServiceSupplier || s.Name == node.ServiceCustomer || s.Name == node.ServiceManager) && s.State == node.StateStopped // no [p2p] key
		if s.State != node.StateRunning && !off {
			t.Fatalf("%s is %s after start", s.Name, s.State)
		}
	}
	h := int64(3)
	before := appHashAt(t, n, h)
	if _, err := m.Stop(node.ServiceConsensus, false); !errors.Is(err, node.ErrNeedsCascade) {
		t.Fatalf("stop consensus without cascade: %v, want ErrNeedsCascade (snapshots needs it)", err)
	}
	stopped, err := m.Stop(node.ServiceConsensus, true)
	if err != nil || strings.Join(stopped, ",") != "snapshots,consensus" {
		t.Fatalf("stop consensus: %v %v", stopped, err)
	}
	c := n.Config()
	if dialable(c.RPC.ListenAddress) || dialable(c.P2P.ListenAddress) {
		t.Fatal("RPC or p2p port still open with consensus stopped")
	}
	if _, err := n.Client().Status(context.Background()); !errors.Is(err, api.ErrServiceStopped) {
		t.Fatalf("in-process client with consensus stopped: %v, want ErrServiceStopped", err)
	}
	if _, err := m.Start(context.Background(), node.ServiceSnapshots, true); err != nil {
		t.Fatal(err)
	}
	if !m.Running(node.ServiceConsensus) || !dialable(c.RPC.ListenAddress) {
		t.Fatal("consensus not running again")
	}
	if after := appHashAt(t, n, h); after != before {
		t.Fatalf("app hash at %d: %s before the restart, %s after", h, before, after)
	}
	got, err := n.Client().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nodetest.WaitHeight(t, n.Client(), got.SyncInfo.LatestBlockHeight+2, 30*time.Second)
	// And once more: a second restart of the same process works too.
	if _, err := m.Restart(context.Background(), node.ServiceConsensus, true); err != nil {
		t.Fatal(err)
	}
	nodetest.WaitHeight(t, n.Client(), got.SyncInfo.LatestBlockHeight+4, 30*time.Second)
}

// TestOneNodePerHome: a second Open of a running home is ErrRunning, naming the process; after
// Close the home opens again.
func TestOneNodePerHome(t *testing.T) {
	home := nodetest.Init(t, nodetest.Options{})
	n := nodetest.Start(t, home, nodetest.Options{})
	if _, err := node.Open(home, node.Options{}); !errors.Is(err, node.ErrRunning) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second open: %v, want ErrRunning with the pid", err)
	}
	if err := node.EnsureStopped(home); !errors.Is(err, node.ErrRunning) {
		t.Fatalf("EnsureStopped on a running home: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := node.EnsureStopped(home); err != nil {
		t.Fatalf("after close: %v", err)
	}
	nodetest.Start(t, home, nodetest.Options{})
}

// TestTrustRestartReadsPolicy: a restart of the trust service reads trust.toml again; a changed
// policy rebuilds the engine from the whole history (same events, new policy), an unchanged one
// catches up from where it stopped.
func TestTrustRestartReadsPolicy(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	c := n.Client()
	alice, bob := nodetest.Key("alice"), nodetest.Key("bob")
	sa := nodetest.Register(t, c, alice)
	nodetest.Register(t, c, bob)
	contract := nodetest.OpenContract(t, c, sa, alice, bob)
	a, b := keystore.PubKey(alice), keystore.PubKey(bob)
	for i := 0; i < 3; i++ {
		if _, _, err := sa.SubmitAndWait(context.Background(), &ledger.AuditResult{ContractID: contract, Number: uint64(i + 1), Customer: a, Supplier: b,
			Passed: true, ChallengeDigest: ledger.ID{byte(i + 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	waitScore := func() api.ScoreAnswer {
		t.Helper()
		h, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		nodetest.WaitHeight(t, c, h.SyncInfo.LatestBlockHeight+1, 10*time.Second)
		ans, err := n.Trust().Score(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return ans
	}
	first := waitScore()
	if first.Score.Direct == nil || first.Score.Direct.Counts.AuditsPassed != 3 {
		t.Fatalf("before: %+v", first.Score.Direct)
	}
	raw, err := os.ReadFile(n.Home().TrustConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), "baseline = 0\n", "baseline = 0.25\n", 1)
	if edited == string(raw) {
		t.Fatal("trust.toml has no `baseline = 0` line to edit")
	}
	if err := os.WriteFile(n.Home().TrustConfigFile(), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Services().Restart(context.Background(), node.ServiceTrust, false); err != nil {
		t.Fatal(err)
	}
	p, err := n.Trust().Policy()
	if err != nil || p.Baseline != 0.25 {
		t.Fatalf("policy after the restart: baseline %v, %v", p.Baseline, err)
	}
	second := waitScore()
	if second.Score.Direct == nil || second.Score.Direct.Counts.AuditsPassed != 3 || second.Score.Score <= first.Score.Score {
		t.Fatalf("after the policy change: %+v (score %v, was %v): not rebuilt from the history with the new baseline",
			second.Score.Direct, second.Score.Score, first.Score.Score)
	}
	// A policy that does not validate: the start fails, the service says why, queries say stopped.
	if err := os.WriteFile(n.Home().TrustConfigFile(), []byte("lambda = 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Services().Restart(context.Background(), node.ServiceTrust, false); err == nil {
		t.Fatal("restart with a bad trust.toml succeeded")
	}
	for _, s := range n.Services().Statuses() {
		if s.Name == node.ServiceTrust && (s.State != node.StateFailed || !strings.Contains(s.Error, "lambda")) {
			t.Errorf("trust after a bad policy: %+v", s)
		}
	}
	if _, err := c.TrustScore(context.Background(), a, b); !errors.Is(err, api.ErrServiceStopped) {
		t.Errorf("trust query with the service failed: %v, want api.ErrServiceStopped", err)
	}
}

// TestConsensusFailure (issue 16): when the application fails inside Commit (as when the disk goes
// away), CometBFT's consensus stops for good; the node marks its consensus service failed with the
// reason, the other services run on, a restart of consensus recovers (the block is replayed), and
// the node closes within StopTimeout.
func TestConsensusFailure(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	c := n.Client()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var at atomic.Int64
	at.Store(st.SyncInfo.LatestBlockHeight + 2)
	var failing atomic.Bool
	failing.Store(true)
	n.FailCommitForTest(func(h int64) error {
		if h >= at.Load() && failing.Load() {
			return errors.New("disk gone")
		}
		return nil
	})
	state := func(name string) node.Status {
		for _, s := range n.Services().Statuses() {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no service %s", name)
		return node.Status{}
	}
	deadline := time.Now().Add(20 * time.Second)
	for state(node.ServiceConsensus).State != node.StateFailed {
		if time.Now().After(deadline) {
			t.Fatalf("consensus not marked failed: %+v", state(node.ServiceConsensus))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := state(node.ServiceConsensus); !strings.Contains(s.Error, "disk gone") {
		t.Errorf("consensus failed without the reason: %+v", s)
	}
	if s := state(node.ServiceTrust); s.State != node.StateRunning {
		t.Errorf("trust after the consensus failure: %+v", s)
	}
	// The disk is back: a restart replays the block that did not commit, and the chain goes on.
	failing.Store(false)
	if _, err := n.Services().Restart(context.Background(), node.ServiceConsensus, true); err != nil {
		t.Fatal(err)
	}
	nodetest.WaitHeight(t, c, at.Load()+2, 30*time.Second)
	// And a failure again, then Close: bounded, whatever CometBFT does.
	at.Add(4)
	failing.Store(true)
	deadline = time.Now().Add(20 * time.Second)
	for state(node.ServiceConsensus).State != node.StateFailed && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	err = n.Close()
	if took := time.Since(start); took > node.StopTimeout+2*time.Second {
		t.Fatalf("Close took %s", took)
	}
	if err != nil && !errors.Is(err, node.ErrStopTimeout) {
		t.Fatalf("close after a consensus failure: %v", err)
	}
}
