package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault tests of issue 4 run a 4-validator testnet of real trustd processes on 127.0.0.1
// under a steady load from three signers, with every acknowledged tx written down. Each ends
// with all nodes agreeing on the app hash at every common height and every acknowledged tx
// found, once.

// TestFaultKillOneValidator: SIGKILL one of 4; the chain keeps committing; the restarted node
// catches up.
func TestFaultKillOneValidator(t *testing.T) { killOneValidator(t, testnet(t, 4)) }

// TestFaultKillOneValidatorLibP2P: fault 1 again on CometBFT's experimental go-libp2p transport
// (`trustd testnet --libp2p`: QUIC on 127.0.0.1, libp2p bootstrap peers).
func TestFaultKillOneValidatorLibP2P(t *testing.T) {
	nodes := testnet(t, 4, "--libp2p")
	killOneValidator(t, nodes)
	for i, n := range nodes {
		if b, _ := os.ReadFile(filepath.Join(n.home, "node-1.log")); !strings.Contains(string(b), "Using libp2p transport") {
			t.Fatalf("node%d did not run on the libp2p transport", i)
		}
	}
}

func killOneValidator(t *testing.T, nodes []*node) {
	startAll(nodes)
	g, stop := loadAgainst(t, nodes, 3)
	time.Sleep(2 * time.Second)
	victim, live := nodes[3], nodes[:3]
	victim.kill()
	h := maxHeight(live)
	deadline := time.Now().Add(30 * time.Second)
	for maxHeight(live) < h+3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := maxHeight(live); got < h+3 {
		t.Fatalf("with 3 of 4 validators up, height went from %d to %d in 30 s", h, got)
	}
	victim.launch()
	waitCatchUp(t, victim, live)
	time.Sleep(time.Second)
	stop()
	common := checkAppHashes(t, nodes)
	checkAcked(t, victim, g.Acks())
	t.Logf("%d acknowledged txs, app hashes agree up to height %d (%s)", len(g.Acks()), common, describe(nodes))
	verifyAll(t, nodes)
}

// TestFaultKillTwoValidators: with 2 of 4 down (more than 1/3 of the power) nothing commits;
// when they return, commits resume.
func TestFaultKillTwoValidators(t *testing.T) {
	nodes := testnet(t, 4)
	startAll(nodes)
	g, stop := loadAgainst(t, nodes, 3)
	time.Sleep(2 * time.Second)
	live := nodes[:2]
	nodes[2].kill()
	nodes[3].kill()
	time.Sleep(2 * time.Second) // a block already past its precommits may still land
	h := maxHeight(live)
	time.Sleep(6 * time.Second)
	if got := maxHeight(live); got != h {
		t.Fatalf("safety: with 2 of 4 validators down, height moved from %d to %d", h, got)
	}
	nodes[2].launch()
	nodes[3].launch()
	deadline := time.Now().Add(60 * time.Second)
	for maxHeight(nodes) < h+3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := maxHeight(nodes); got < h+3 {
		t.Fatalf("after the restart, height went from %d only to %d", h, got)
	}
	waitCatchUp(t, nodes[2], live)
	waitCatchUp(t, nodes[3], live)
	stop()
	checkAppHashes(t, nodes)
	checkAcked(t, nodes[3], g.Acks())
}

// TestFaultPauseValidator: SIGSTOP one validator for 20 s, then SIGCONT: it catches up.
func TestFaultPauseValidator(t *testing.T) {
	nodes := testnet(t, 4)
	startAll(nodes)
	g, stop := loadAgainst(t, nodes, 3)
	paused, live := nodes[1], []*node{nodes[0], nodes[2], nodes[3]}
	h := maxHeight(live)
	paused.signal(syscall.SIGSTOP)
	time.Sleep(20 * time.Second)
	if got := maxHeight(live); got < h+3 {
		t.Errorf("the others did not progress while one was paused: %d → %d", h, got)
	}
	paused.signal(syscall.SIGCONT)
	waitCatchUp(t, paused, live)
	stop()
	checkAppHashes(t, nodes)
	checkAcked(t, paused, g.Acks())
}

// TestFaultKillAll: SIGKILL every validator in the middle of the load, restart all: every
// acknowledged tx is there, nothing appears twice, app hashes agree.
func TestFaultKillAll(t *testing.T) {
	nodes := testnet(t, 4)
	startAll(nodes)
	g, stop := loadAgainst(t, nodes, 3)
	time.Sleep(4 * time.Second)
	before := len(g.Acks())
	for _, n := range nodes {
		n.kill()
	}
	h := maxHeight(nodes)
	if h != -1 {
		t.Fatalf("a node still answers after SIGKILL")
	}
	startAll(nodes)
	deadline := time.Now().Add(60 * time.Second)
	for len(g.Acks()) <= before+3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	if len(g.Acks()) <= before {
		t.Errorf("no tx acknowledged within 60 s of the restart (%d before the kill, %d after)", before, len(g.Acks()))
	}
	checkAppHashes(t, nodes)
	for _, n := range nodes {
		checkAcked(t, n, g.Acks())
	}
	verifyAll(t, nodes)
}

// TestFaultCrashBeforeCommit: one validator crashes between FinalizeBlock and Commit (the
// test-only hook); on restart it replays the block and agrees with the others.
func TestFaultCrashBeforeCommit(t *testing.T) {
	nodes := testnet(t, 4)
	startAll(nodes)
	g, stop := loadAgainst(t, nodes, 3)
	victim, live := nodes[2], []*node{nodes[0], nodes[1], nodes[3]}
	victim.kill()
	crashAt := maxHeight(live) + 3
	victim.launch("TRUSTD_TEST_CRASH_BEFORE_COMMIT=" + itoa(crashAt))
	if code := victim.waitExit(60 * time.Second); code != 3 {
		t.Fatalf("victim exited with %d, want 3 from the crash hook\n%s", code, victim.tailLog())
	}
	// The block of the crash height is stored and its state not committed: reindex goes up to
	// the state's height (the block replays at the next start).
	if out := victim.mustCLI("reindex"); !strings.Contains(out, fmt.Sprintf("(height %d)", crashAt-1)) {
		t.Fatalf("reindex after a crash before commit at %d: %s", crashAt, out)
	}
	victim.launch()
	waitCatchUp(t, victim, live)
	stop()
	if common := checkAppHashes(t, nodes); common < crashAt {
		t.Fatalf("checked only up to %d, the crash was at %d", common, crashAt)
	}
	checkAcked(t, victim, g.Acks())
	verifyAll(t, nodes)
}
