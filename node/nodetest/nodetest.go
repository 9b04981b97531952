// Package nodetest starts real single-validator trustledger nodes inside a test's process: a
// fresh home in t.TempDir(), every address on a free loopback port, fast blocks, and the node
// closed when the test ends. Tests of package client, node and the services use it.
package nodetest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
)

// FreePort returns a loopback port that is free now and that no earlier call in this process
// returned. It draws from 20000–32767, below Linux's ephemeral range (32768–60999), so neither
// the kernel's answer to a second ":0" (it gave one port to a node's RPC and metrics alike) nor
// an outgoing connection of a running node takes the port between this call and the node's bind.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	const low, span = 20000, 12768
	start := rand.IntN(span)
	for i := range span {
		port := low + (start+i)%span
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatalf("no free loopback port in %d–%d", low, low+span-1)
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// Options adjust the test node.
type Options struct {
	Params ledger.Params // genesis parameters; zero: ledger.DefaultParams with proof of work 0
	// Edit changes the CometBFT config before the node opens (after the test's defaults).
	Edit func(*cfg.Config)
	// Logger: nil discards the node's log.
	Logger log.Logger
	// App changes app.toml's settings before the node opens (its [p2p] key, [supplier] space).
	App func(*node.AppConfig)
	// Trust changes trust.toml's policy and [manager] table before the node opens.
	Trust func(*node.TrustConfig)
	// P2PKey is the unlocked [p2p] key the node's host takes as its identity.
	P2PKey ed25519.PrivateKey
}

// Init writes a home for a test node and returns it; the node is not opened.
func Init(t testing.TB, o Options) node.Home {
	t.Helper()
	home := node.Home(t.TempDir())
	io := node.DefaultInitOptions()
	io.ChainID = "nodetest"
	io.RPCAddr = fmt.Sprintf("tcp://127.0.0.1:%d", FreePort(t))
	io.P2PAddr = fmt.Sprintf("tcp://127.0.0.1:%d", FreePort(t))
	io.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	io.ExplorerAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	io.Params = o.Params
	if io.Params == (ledger.Params{}) {
		io.Params = ledger.DefaultParams()
		io.Params.PowDifficulty = 0
	}
	if _, err := node.Init(home, io); err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	c.Consensus.TimeoutPropose = 500 * time.Millisecond
	c.Consensus.TimeoutCommit = 100 * time.Millisecond
	if o.Edit != nil {
		o.Edit(c)
	}
	cfg.WriteConfigFile(home.ConfigFile(), c)
	if o.App != nil {
		ac, err := node.LoadAppConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		o.App(&ac)
		if err := node.WriteAppConfigFrom(home, ac); err != nil {
			t.Fatal(err)
		}
	}
	if o.Trust != nil {
		tc, err := node.LoadTrustConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		o.Trust(&tc)
		if err := node.WriteTrustConfigFrom(home, tc); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// Start opens and starts the node of home and waits for its first block; the test's cleanup
// closes it.
func Start(t testing.TB, home node.Home, o Options) *node.Node {
	t.Helper()
	logger := o.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	n, err := node.Open(home, node.Options{Logger: logger, P2PKey: o.P2PKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	WaitHeight(t, n.Client(), 1, 30*time.Second)
	return n
}

// New is Init then Start.
func New(t testing.TB, o Options) *node.Node {
	t.Helper()
	return Start(t, Init(t, o), o)
}

// WaitHeight waits until the node behind c has committed height h: CometBFT has stored the block
// and the app has committed its state (the status's height counts a block as soon as it is
// stored, before the app has applied it, so queries right after can still find nothing).
func WaitHeight(t testing.TB, c *client.Client, h int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := appHeightAtLeast(c, h)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("height %d not reached within %s (last error: %v)", h, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Key derives a test signing key from a name.
func Key(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("nodetest key " + name))
	return ed25519.NewKeyFromSeed(s[:])
}

// Submitter is a submitter of priv's transactions through c, closed when the test ends.
func Submitter(t testing.TB, c *client.Client, priv ed25519.PrivateKey) *client.Submitter {
	t.Helper()
	chain, err := c.ChainID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.NewSubmitter(client.SubmitterConfig{ChainID: chain, Key: priv, Endpoints: []*client.Client{c}, CommitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Register registers priv's key as a node (solving the chain's proof of work) and returns its
// submitter.
func Register(t testing.TB, c *client.Client, priv ed25519.PrivateKey) *client.Submitter {
	t.Helper()
	ctx := context.Background()
	p, err := c.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := Submitter(t, c, priv)
	k := keystore.PubKey(priv)
	if _, _, err := s.SubmitAndWait(ctx, &ledger.RegisterNode{PeerID: ledger.PeerIDOf(k), Capacity: 1 << 30,
		PowNonce: ledger.SolvePoW(p.ChainID, k, int(p.Params.PowDifficulty))}); err != nil {
		t.Fatal(err)
	}
	return s
}

// OpenContract opens a contract from customer (who submits through s) to supplier,
// countersigned, and returns its id.
func OpenContract(t testing.TB, c *client.Client, s *client.Submitter, customer, supplier ed25519.PrivateKey) ledger.ID {
	t.Helper()
	ctx := context.Background()
	chain, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256([]byte("contract " + keystore.PubKey(customer).String() + keystore.PubKey(supplier).String()))
	open := &ledger.ContractOpen{ContractID: id, Customer: keystore.PubKey(customer), Supplier: keystore.PubKey(supplier),
		Bytes: 1 << 20, DurationSeconds: 86400, PricePerGiBMonth: 1}
	open.Countersig = ledger.Countersign(supplier, chain, open)
	if _, _, err := s.SubmitAndWait(ctx, open); err != nil {
		t.Fatal(err)
	}
	return id
}

// appHeightAtLeast is nil once the app behind c has committed height h (CometBFT has stored
// the block by then).
func appHeightAtLeast(c *client.Client, h int64) error {
	rpc, err := c.RPC()
	if err != nil {
		return err
	}
	info, err := rpc.ABCIInfo(context.Background())
	if err != nil {
		return err
	}
	if info.Response.LastBlockHeight < h {
		return fmt.Errorf("app committed height %d", info.Response.LastBlockHeight)
	}
	return nil
}

// ZeroShards overwrites every shard file under a supplier's shard directory with zeros of the
// same length, their commitments left as they are: a supplier that lost its data but still
// answers. It fails the test if there is no shard to overwrite.
func ZeroShards(t testing.TB, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".commitment") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n++
		return os.WriteFile(path, make([]byte, info.Size()), 0o600)
	})
	if err != nil || n == 0 {
		t.Fatalf("zeroing the shards under %s: %d files, %v", dir, n, err)
	}
}
