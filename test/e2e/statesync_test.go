package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStateSyncJoin: validators that take a snapshot every 5 blocks serve one to a new node
// started with `trustd init --genesis --peers --state-sync`; it restores the state at the
// snapshot height without the blocks below it, catches up, agrees on app hashes, answers for
// a node registered before the snapshot, and says where its event history starts.
func TestStateSyncJoin(t *testing.T) {
	nodes := testnet(t, 4)
	env := []string{"TRUSTD_SNAPSHOTS_INTERVAL=5"}
	for _, n := range nodes {
		n.launch(env...)
	}
	for _, n := range nodes {
		n.waitHeight(1, 90*time.Second)
	}
	nodes[0].mustCLI("keys", "add", "alice")
	nodes[0].mustCLI("tx", "register", "--from", "alice", "--moniker", "alice")
	g, stop := loadAgainst(t, nodes, 2)
	nodes[0].waitHeight(maxHeight(nodes)+11, 60*time.Second) // at least two snapshots
	var snaps []struct {
		Height int64  `json:"height"`
		Chunks uint32 `json:"chunks"`
	}
	nodes[0].jsonCLI(&snaps, "snapshots") // listed while the node runs
	if len(snaps) == 0 {                  // (a new one is renamed into place before the oldest is pruned)
		t.Fatalf("node0 lists no snapshot by height %d", nodes[0].height())
	}
	for _, s := range snaps {
		if s.Height%5 != 0 || s.Chunks == 0 {
			t.Fatalf("snapshot %+v: not at a multiple of the interval 5", s)
		}
	}

	peers := peerList(nodes)
	joiner := newJoiner(t)
	genesis := filepath.Join(nodes[0].home, "config", "genesis.json")
	if _, errOut, code := joiner.cli("init", "--genesis", genesis, "--peers", peers[0], "--state-sync", nodes[0].rpcAddr); code == 0 || !strings.Contains(errOut, "at least two RPC servers") {
		t.Fatalf("--state-sync with one server: exit %d %q", code, errOut)
	}
	out := joiner.mustCLI("init", "--genesis", genesis, "--peers", strings.Join(peers, ","),
		"--state-sync", nodes[0].rpcAddr+","+nodes[1].rpcAddr,
		"--rpc.laddr", joiner.rpcAddr, "--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--instrumentation.prometheus_listen_addr", joiner.metrics, "--explorer.laddr", joiner.explorer, "--moniker", "joiner")
	if !strings.Contains(out, "state sync will trust height") {
		t.Fatalf("init did not say what it trusts: %q", out)
	}
	joiner.launch("TRUSTD_STATESYNC_DISCOVERY_TIME=5s")
	waitCatchUp(t, joiner, nodes)
	stop()
	st, err := joiner.rpc().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.SyncInfo.EarliestBlockHeight <= 1 {
		t.Fatalf("the joiner has blocks from %d: it replayed instead of restoring a snapshot\n%s", st.SyncInfo.EarliestBlockHeight, joiner.tailLog())
	}
	if log, _ := os.ReadFile(filepath.Join(joiner.home, "node-1.log")); !strings.Contains(string(log), "state restored from snapshot") {
		t.Fatalf("no restore in the joiner's log:\n%s", joiner.tailLog())
	}
	common := checkAppHashes(t, append(nodes, joiner))
	if m := monikerOf(joiner, nodes[0], "alice"); m != "alice" {
		t.Fatalf("the joiner does not see alice, registered before the snapshot: moniker %q", m)
	}
	var status struct {
		HistoryFrom int64 `json:"history_from"`
	}
	joiner.jsonCLI(&status, "status")
	if status.HistoryFrom != st.SyncInfo.EarliestBlockHeight-1 {
		t.Fatalf("status says history from %d; the snapshot was at %d", status.HistoryFrom, st.SyncInfo.EarliestBlockHeight-1)
	}
	if _, errOut, code := joiner.cli("export"); code == 0 || !strings.Contains(errOut, "--partial") {
		t.Fatalf("export of a restored node's partial history: exit %d %q", code, errOut)
	}
	t.Logf("joiner restored height %d, caught up; app hashes agree to %d; %d txs acknowledged during the test",
		status.HistoryFrom, common, len(g.Acks()))
}
