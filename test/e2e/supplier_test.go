package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
	"github.com/trustledger/trustledger/p2p"
)

var hostLine = regexp.MustCompile(`libp2p host \S+ at \[(/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+?)\]`)

// TestSupplierProcess (issue 13, specs/p2p.md): a `trustd start` process whose app.toml names a
// [p2p] key and [supplier] space unlocks the key, prints its libp2p host, and supplies space: a
// customer's host on loopback gets a contract countersigned that the ledger accepts, puts a
// shard, reads it back and audits it; `trustd services stop supplier` ends the protocols and
// `start` brings them back with the contract and the shard.
func TestSupplierProcess(t *testing.T) {
	n := newNode(t)
	n.mustCLI("keys", "add", "bob")
	n.mustCLI("keys", "add", "alice")
	appToml := filepath.Join(n.home, "config", "app.toml")
	raw, err := os.ReadFile(appToml)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(strings.Replace(string(raw), "key = \"\"\n", "key = \"bob\"\n", 1), "space = \"0\"\n", "space = \"16MiB\"\n", 1)
	if err := os.WriteFile(appToml, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start("TRUSTD_PASSPHRASE=e2e passphrase")
	n.mustCLI("tx", "register", "--from", "alice")
	n.mustCLI("tx", "register", "--from", "bob")
	if out := n.mustCLI("services"); !strings.Contains(out, "supplier") || strings.Count(out, "running") < 6 {
		t.Fatalf("services:\n%s", out)
	}
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(n.home, "node-1.log"))
		if m := hostLine.FindSubmatch(b); m != nil {
			addr = string(m[1])
		}
	}
	if addr == "" {
		t.Fatalf("no libp2p host line in the log\n%s", n.tailLog())
	}
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		t.Fatal(err)
	}
	ppFile := filepath.Join(t.TempDir(), "pp")
	if err := os.WriteFile(ppFile, []byte("e2e passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ks := keystore.New(filepath.Join(n.home, "keys"))
	alice, err := ks.Unlock("alice", keystore.Passphrase{File: ppFile})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := ks.Resolve("bob")
	if err != nil {
		t.Fatal(err)
	}
	if ai.ID.String() != ledger.PeerIDOf(bob) {
		t.Fatalf("the node's host is %s, bob's peer id is %s", ai.ID, ledger.PeerIDOf(bob))
	}
	c, err := client.Dial(n.rpcAddr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	customer, err := p2p.New(alice, p2p.NewLedgerRegistry(c), p2p.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer customer.Close()
	if err := customer.Connect(ctx, *ai); err != nil {
		t.Fatal(err)
	}
	open, err := customer.OfferContract(ctx, ai.ID, chainID, ledger.ContractOpen{ContractID: sha256.Sum256([]byte("e2e contract")),
		Customer: keystore.PubKey(alice), Supplier: bob, Bytes: 8 << 20, DurationSeconds: 86400})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nodetest.Submitter(t, c, alice).SubmitAndWait(ctx, &open); err != nil {
		t.Fatalf("the ledger refused the countersigned contract: %v", err)
	}
	if out := n.mustCLI("query", "relation", "alice", "bob"); !strings.Contains(out, "contract") {
		t.Fatalf("query relation shows no contract:\n%s", out)
	}
	data := bytes.Repeat([]byte{1, 2, 3, 5, 8, 13, 21}, 300_000) // 2.1 MB
	commitment, err := customer.PutShard(ctx, ai.ID, chainID, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if err := customer.GetShard(ctx, ai.ID, commitment, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("get: %v", err)
	}
	ch := ledger.AuditChallenge{Commitment: commitment.Digest(chainID), Number: 1, Nonce: ledger.ID{42}, Count: 16}
	if _, failing, err := customer.Audit(ctx, ai.ID, chainID, commitment, ch); err != nil || failing != -1 {
		t.Fatalf("audit: failing leaf %d, %v", failing, err)
	}

	n.mustCLI("services", "stop", "supplier")
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := customer.ListShards(short, ai.ID, open.ContractID); err == nil || errors.Is(err, p2p.ErrRefused) {
		t.Fatalf("list with the supplier stopped: %v, want the protocol gone", err)
	}
	n.mustCLI("services", "start", "supplier")
	list, err := customer.ListShards(ctx, ai.ID, open.ContractID)
	if err != nil || len(list) != 1 || list[0].Commitment != commitment {
		t.Fatalf("list after the supplier started again: %+v, %v", list, err)
	}
}
