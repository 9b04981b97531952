package node_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/node"
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
		if s.State != node.StateRunning {
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
