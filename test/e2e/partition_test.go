package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// link is a TCP proxy for one direction of one p2p link (node i dialing node j). Cutting it
// closes its connections and refuses new ones: a network partition without touching the nodes.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newLink(t *testing.T, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); l.setCut(true) })
	go l.serve()
	return l
}

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		cut := l.cut
		l.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", l.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, up)
		l.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (l *link) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for _, c := range l.conns {
			c.Close()
		}
		l.conns = nil
	}
}

// proxiedTestnet writes a testnet whose persistent peers all point at per-link proxies; links[i][j]
// carries node i's connection to node j.
func proxiedTestnet(t *testing.T, n int) ([]*node, [][]*link) {
	t.Helper()
	nodes := testnet(t, n)
	peerRE := regexp.MustCompile(`(?m)^persistent_peers = ".*"$`)
	ids := make([]string, n)
	p2p := make([]string, n)
	for i, nd := range nodes {
		ids[i] = strings.TrimSpace(nd.mustCLI("show-node-id"))
		b, _ := os.ReadFile(filepath.Join(nd.home, "config", "config.toml"))
		m := regexp.MustCompile(`(?m)^laddr = "tcp://(127\.0\.0\.1:\d+)"$`).FindAllStringSubmatch(string(b), -1)
		for _, x := range m { // the p2p section's laddr is the one that is not the RPC address
			if "tcp://"+x[1] != nd.rpcAddr {
				p2p[i] = x[1]
			}
		}
	}
	links := make([][]*link, n)
	for i := range nodes {
		links[i] = make([]*link, n)
		var peers []string
		for j := range nodes {
			if i == j {
				continue
			}
			links[i][j] = newLink(t, p2p[j])
			peers = append(peers, ids[j]+"@"+links[i][j].ln.Addr().String())
		}
		path := filepath.Join(nodes[i].home, "config", "config.toml")
		b, _ := os.ReadFile(path)
		out := peerRE.ReplaceAllString(string(b), fmt.Sprintf(`persistent_peers = "%s"`, strings.Join(peers, ",")))
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return nodes, links
}

// TestFaultPartition (fault 6): cut every link of one validator; the other three go on, it
// stalls; heal the links: it reconnects and catches up, with the same app hashes.
func TestFaultPartition(t *testing.T) {
	nodes, links := proxiedTestnet(t, 4)
	startAll(nodes)
	g, stop := loadAgainst(t, nodes, 3)
	const p = 3
	cut := func(c bool) {
		for j := range nodes {
			if j != p {
				links[p][j].setCut(c)
				links[j][p].setCut(c)
			}
		}
	}
	live := nodes[:3]
	cut(true)
	time.Sleep(2 * time.Second)
	hLive, hCut := maxHeight(live), nodes[p].height()
	time.Sleep(8 * time.Second)
	if got := maxHeight(live); got < hLive+3 {
		t.Errorf("the majority side did not progress: %d → %d", hLive, got)
	}
	if got := nodes[p].height(); got > hCut+1 {
		t.Errorf("the partitioned validator kept committing alone: %d → %d", hCut, got)
	}
	cut(false)
	waitCatchUp(t, nodes[p], live)
	stop()
	checkAppHashes(t, nodes)
	checkAcked(t, nodes[p], g.Acks())
	t.Logf("partitioned at %d, healed and caught up: %s", hCut, describe(nodes))
}
