package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustledger/trustledger/test/load"
)

// freeRange finds a base port with n*10 loopback ports above it free for TCP and UDP (the
// libp2p transport listens with QUIC).
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		// Below the ephemeral range (32768-60999), where client connections could hold a port.
		base := 20000 + 10*(int(time.Now().UnixNano()/1000+int64(try*7919))%1200)
		ok := true
		for p := base; p < base+10*n && ok; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
			u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			u.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// testnet writes an n-validator network with `trustd testnet` (plus extra flags) and returns its
// (stopped) nodes.
func testnet(t *testing.T, n int, extra ...string) []*node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "net")
	bin := trustdBin(t)
	probe := &node{t: t, bin: bin, home: t.TempDir()}
	probe.mustCLI(append([]string{"testnet", "--validators", strconv.Itoa(n), "--output", dir, "--base-port", strconv.Itoa(freeRange(t, n)),
		"--chain-id", "e2e-testnet", "--pow-difficulty", "4"}, extra...)...)
	b, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var desc []struct {
		Home, RPC, Metrics, Explorer string
	}
	if err := json.Unmarshal(b, &desc); err != nil {
		t.Fatal(err)
	}
	var nodes []*node
	for _, d := range desc {
		nd := &node{t: t, bin: bin, home: d.Home, rpcAddr: d.RPC, metrics: d.Metrics, explorer: d.Explorer}
		t.Cleanup(nd.kill)
		nodes = append(nodes, nd)
	}
	return nodes
}

// startAll launches every node, then waits until each has committed a block.
func startAll(nodes []*node) {
	for _, n := range nodes {
		n.launch()
	}
	for _, n := range nodes {
		n.waitHeight(1, 90*time.Second)
	}
}

// maxHeight is the highest committed height among the nodes that answer.
func maxHeight(nodes []*node) int64 {
	m := int64(-1)
	for _, n := range nodes {
		if h := n.height(); h > m {
			m = h
		}
	}
	return m
}

// checkAppHashes compares the app hash every node reports at each height all of them have, and
// returns the highest.
func checkAppHashes(t *testing.T, nodes []*node) int64 {
	t.Helper()
	common, from := int64(1<<62), int64(2)
	for _, n := range nodes {
		st, err := n.rpc().Status(context.Background())
		if err != nil {
			t.Fatalf("status of %s: %v", n.home, err)
		}
		common = min(common, st.SyncInfo.LatestBlockHeight)
		// A state-synced node has no blocks below its snapshot: compare from where all have them.
		from = max(from, st.SyncInfo.EarliestBlockHeight+1)
	}
	for h := from; h <= common; h++ {
		want := ""
		for i, n := range nodes {
			hh := h
			c, err := n.rpc().Commit(context.Background(), &hh)
			if err != nil {
				t.Fatalf("node %d commit %d: %v", i, h, err)
			}
			got := c.Header.AppHash.String()
			if i == 0 {
				want = got
			} else if got != want {
				t.Fatalf("app hash at height %d: node %d has %s, node 0 has %s", h-1, i, got, want)
			}
		}
	}
	return common
}

// loadAgainst starts a load generator on every node's RPC and returns it with a stop function.
func loadAgainst(t *testing.T, nodes []*node, signers int) (*load.Generator, func()) {
	t.Helper()
	var eps []string
	for _, n := range nodes {
		eps = append(eps, n.rpcAddr)
	}
	g, err := load.New("e2e-testnet", eps, signers, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	if err := g.Setup(ctx, 4); err != nil {
		cancel()
		t.Fatalf("load setup: %v", err)
	}
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	return g, func() {
		cancel()
		<-done
		t.Logf("load: %s", g.Stats())
	}
}

// checkAcked verifies that every acknowledged tx is in node n's ledger at its height, once.
func checkAcked(t *testing.T, n *node, acks []load.Ack) {
	t.Helper()
	if len(acks) == 0 {
		t.Fatal("the load generator got no transaction acknowledged")
	}
	top := int64(0)
	for _, a := range acks {
		top = max(top, a.Height)
	}
	n.waitHeight(top, 60*time.Second) // acknowledged elsewhere; this node may be a block behind
	seen := map[string]bool{}
	for _, a := range acks {
		h := a.Hash.String()
		if seen[h] {
			t.Fatalf("tx %s acknowledged twice", h)
		}
		seen[h] = true
		// The ledger's own tx index (written inside Commit, rebuilt by replay) is the truth;
		// CometBFT's kv tx indexer runs asynchronously and can lose its last blocks on SIGKILL.
		res, err := n.rpc().ABCIQuery(context.Background(), "/tx", a.Hash[:])
		var recs []struct {
			Height int64 `json:"height"`
		}
		if err == nil && res.Response.Code == 0 {
			err = json.Unmarshal(res.Response.Value, &recs)
		}
		if err != nil || res.Response.Code != 0 || len(recs) != a.Events || recs[0].Height != a.Height {
			t.Fatalf("acknowledged tx %s (height %d) not found in the ledger of %s: %v %s", h, a.Height, n.home, err, res.Response.Log)
		}
	}
	// Nothing appears twice: every event position of the ledger belongs to one tx hash.
	var page struct {
		Records []struct {
			Height  int64  `json:"height"`
			TxIndex uint32 `json:"tx_index"`
			TxHash  string `json:"tx_hash"`
		} `json:"records"`
		Next string `json:"next"`
	}
	txAt := map[string]string{}
	cursor := ""
	for i := 0; i < 1000; i++ {
		args := []string{"query", "events", "--limit", "1000"}
		if cursor != "" {
			args = append(args, "--cursor", cursor)
		}
		n.jsonCLI(&page, args...)
		for _, r := range page.Records {
			at := fmt.Sprintf("%d/%d", r.Height, r.TxIndex)
			if prev, ok := txAt[r.TxHash]; ok && prev != at {
				t.Fatalf("tx %s appears at %s and at %s", r.TxHash, prev, at)
			}
			txAt[r.TxHash] = at
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
}

func (n *node) signal(s syscall.Signal) {
	n.t.Helper()
	if n.cmd == nil || n.cmd.Process == nil {
		n.t.Fatal("node not running")
	}
	if err := n.cmd.Process.Signal(s); err != nil {
		n.t.Fatal(err)
	}
}

// waitCatchUp waits until n reaches the height the others had when it was called.
func waitCatchUp(t *testing.T, n *node, others []*node) {
	t.Helper()
	target := maxHeight(others)
	n.waitHeight(target, 90*time.Second)
}

func describe(nodes []*node) string {
	var parts []string
	for i, n := range nodes {
		parts = append(parts, fmt.Sprintf("node%d=%d", i, n.height()))
	}
	return strings.Join(parts, " ")
}

// verifyAll stops every node and runs `trustd verify` on its data: the chain re-executes from
// genesis with the same commit signatures, tx results and app hashes.
func verifyAll(t *testing.T, nodes []*node) {
	t.Helper()
	for _, n := range nodes {
		n.kill()
	}
	for i, n := range nodes {
		out, errOut, code := n.cliEnv("", "verify")
		if code != 0 || !strings.Contains(out, "verified") {
			t.Fatalf("verify node%d: exit %d\n%s%s", i, code, out, errOut)
		}
		t.Logf("node%d: %s", i, strings.TrimSpace(out))
	}
}

// peerList is every node's id@host:port, as --peers takes it.
func peerList(nodes []*node) []string {
	var peers []string
	for _, n := range nodes {
		st, err := n.rpc().Status(context.Background())
		if err != nil {
			n.t.Fatalf("status of %s: %v", n.home, err)
		}
		peers = append(peers, string(st.NodeInfo.DefaultNodeID)+"@"+strings.TrimPrefix(st.NodeInfo.ListenAddr, "tcp://"))
	}
	return peers
}

// newJoiner is a node with a fresh home and its own loopback RPC and metrics ports, not yet
// initialised.
func newJoiner(t *testing.T) *node {
	t.Helper()
	joiner := &node{t: t, bin: trustdBin(t), home: t.TempDir()}
	joiner.rpcAddr = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	joiner.metrics = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	joiner.explorer = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	t.Cleanup(joiner.kill)
	return joiner
}

// TestJoinNetwork: a new node joins a running 4-validator network with `trustd init --genesis
// --peers`, catches up by block sync, and answers queries with the same app hash.
func TestJoinNetwork(t *testing.T) {
	nodes := testnet(t, 4)
	startAll(nodes)
	nodes[0].mustCLI("keys", "add", "alice")
	nodes[0].mustCLI("tx", "register", "--from", "alice", "--moniker", "alice")
	var peers []string
	for _, n := range nodes {
		id := strings.TrimSpace(n.mustCLI("show-node-id"))
		c, _ := n.rpc().Status(context.Background())
		peers = append(peers, id+"@"+strings.TrimPrefix(string(c.NodeInfo.ListenAddr), "tcp://"))
	}
	joiner := newJoiner(t)
	if _, errOut, code := joiner.cli("init", "--peers", peers[0]); code == 0 || !strings.Contains(errOut, "need --genesis") {
		t.Fatalf("--peers without --genesis: exit %d %q", code, errOut)
	}
	joiner.mustCLI("init", "--genesis", filepath.Join(nodes[0].home, "config", "genesis.json"), "--peers", strings.Join(peers, ","),
		"--rpc.laddr", joiner.rpcAddr, "--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--instrumentation.prometheus_listen_addr", joiner.metrics, "--explorer.laddr", joiner.explorer, "--moniker", "joiner")
	joiner.launch()
	waitCatchUp(t, joiner, nodes)
	checkAppHashes(t, append(nodes, joiner))
	if m := monikerOf(joiner, nodes[0], "alice"); m != "alice" {
		t.Fatalf("the joiner does not see alice: moniker %q", m)
	}
}

// monikerOf is the moniker that n's ledger holds for the key named name in keyHome's keystore.
func monikerOf(n, keyHome *node, name string) string {
	var view struct {
		Record struct {
			Moniker string `json:"moniker"`
		} `json:"record"`
	}
	key := strings.TrimSpace(keyHome.mustCLI("keys", "show", name))
	n.jsonCLI(&view, "query", "node", key)
	return view.Record.Moniker
}

// TestValidatorUpdateByQuorum: a node that joined the network becomes a validator once validators
// holding more than 2/3 of the power approve; two of four approvals are refused.
func TestValidatorUpdateByQuorum(t *testing.T) {
	nodes := testnet(t, 4)
	startAll(nodes)
	peers := peerList(nodes)
	joiner := newJoiner(t)
	joiner.mustCLI("init", "--genesis", filepath.Join(nodes[0].home, "config", "genesis.json"), "--peers", strings.Join(peers, ","),
		"--rpc.laddr", joiner.rpcAddr, "--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--instrumentation.prometheus_listen_addr", joiner.metrics, "--explorer.laddr", joiner.explorer, "--moniker", "joiner")
	joiner.launch()
	waitCatchUp(t, joiner, nodes)

	var shown struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(joiner.mustCLI("show-validator")), &shown); err != nil {
		t.Fatal(err)
	}
	nodes[0].mustCLI("keys", "add", "operator")
	nodes[0].mustCLI("tx", "register", "--from", "operator")
	proposal := []string{"--proposal-id", "add-joiner", "--validator", shown.Value, "--power", "10"}
	var approvals []string
	for _, n := range nodes[:3] {
		approvals = append(approvals, strings.TrimSpace(n.mustCLI(append([]string{"sign", "validator-update"}, proposal...)...)))
	}
	tx := append([]string{"tx", "validator-update", "--from", "operator"}, proposal...)
	two := append(append([]string{}, tx...), "--approval", approvals[0], "--approval", approvals[1])
	if _, errOut, code := nodes[0].cli(two...); code != 2 || !strings.Contains(errOut, "no_quorum") {
		t.Fatalf("2 of 4 approvals: exit %d %q, want a no_quorum rejection", code, errOut)
	}
	three := append(append([]string{}, tx...), "--approval", approvals[0], "--approval", approvals[1], "--approval", approvals[2])
	nodes[0].mustCLI(three...)

	all := append(nodes, joiner)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		h := maxHeight(nodes)
		vals, err := nodes[0].rpc().Validators(context.Background(), &h, nil, nil)
		if err == nil && vals.Total == 5 {
			// The joiner now signs blocks: wait until one of its precommits is in a commit.
			n0 := nodes[0].height()
			nodes[0].waitHeight(n0+2, 20*time.Second)
			hh := n0 + 1
			c, err := nodes[0].rpc().Commit(context.Background(), &hh)
			if err == nil {
				for _, sig := range c.Commit.Signatures {
					if fmt.Sprintf("%X", sig.ValidatorAddress) == joinerAddress(t, joiner) {
						checkAppHashes(t, all)
						return
					}
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the joiner never became a signing validator (%s)", describe(all))
}

func joinerAddress(t *testing.T, n *node) string {
	t.Helper()
	st, err := n.rpc().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.ValidatorInfo.Address.String()
}
