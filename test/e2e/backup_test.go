package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	trustd "github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/p2p"
)

// storageNode is a full node of the validator's network, with its own key as its p2p identity.
type storageNode struct {
	*node
	key  string // the key's name in its home
	pub  string // its public key, hex
	addr string // its libp2p host, /ip4/127.0.0.1/tcp/PORT/p2p/PEERID
}

// joinNetwork initialises a home that joins the validator's network, with a key named name as
// its [p2p] identity, and edits app.toml (edit gets its text).
func joinNetwork(t *testing.T, v *node, n *node, name string, edit func(string) string) {
	t.Helper()
	genesis := filepath.Join(v.home, "config", "genesis.json")
	n.mustCLI("init", "--genesis", genesis, "--peers", peerList([]*node{v})[0], "--rpc.laddr", n.rpcAddr,
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "--instrumentation.prometheus_listen_addr", n.metrics, "--explorer.laddr", n.explorer, "--moniker", name)
	if _, err := os.Stat(filepath.Join(n.home, "keys", name+".json")); err != nil {
		n.mustCLI("keys", "add", name)
	}
	appToml := filepath.Join(n.home, "config", "app.toml")
	raw, err := os.ReadFile(appToml)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(raw), "key = \"\"\n", fmt.Sprintf("key = %q\n", name), 1)
	if edit != nil {
		text = edit(text)
	}
	if err := os.WriteFile(appToml, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hostAddr waits for the node's log to print its libp2p host and returns the address.
func hostAddr(t *testing.T, n *node) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(n.home, fmt.Sprintf("node-%d.log", n.logs)))
		if m := hostLine.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	t.Fatalf("no libp2p host line in the log of %s\n%s", n.home, n.tailLog())
	return ""
}

// waitReceipts waits, a minute at most, until want of the contracts have a receipt of kind
// ("storage", "bandwidth") in the ledger; on failure it shows the log of n.
func waitReceipts(t *testing.T, c *client.Client, contracts map[ledger.ID]ledger.PubKey, kind string, want int, n *node) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		have := 0
		for id := range contracts {
			cv, err := c.Contract(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if cv.Receipts[kind].Highest > 0 {
				have++
			}
		}
		if have == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d contracts have a %s receipt after a minute, want %d\n%s", have, kind, want, n.tailLog())
		}
	}
}

// waitSynced waits until the node has caught up with its network (its RPC takes transactions).
func waitSynced(t *testing.T, n *node) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st, err := n.rpc().Status(context.Background()); err == nil && !st.SyncInfo.CatchingUp && st.SyncInfo.LatestBlockHeight > 0 {
			return
		}
	}
	t.Fatalf("%s did not catch up within 90 s\n%s", n.home, n.tailLog())
}

// storageNetwork is a validator, six storage nodes offering space each, and a customer,
// carol, all registered: the storage nodes know s0 as their one bootstrap peer, and find the
// others through the DHT (P-5), by the peer ids of the nodes the ledger lists as registered.
type storageNetwork struct {
	v            *node
	suppliers    []*storageNode
	cust         *node
	carol        string // carol's key, hex
	customerEdit func(string) string
}

func newStorageNetwork(t *testing.T, space string, customerEnv ...string) storageNetwork {
	t.Helper()
	return newStorageNetworkOf(t, 6, space, customerEnv...)
}

// newStorageNetworkOf is newStorageNetwork with n storage nodes.
func newStorageNetworkOf(t *testing.T, n int, space string, customerEnv ...string) storageNetwork {
	t.Helper()
	var w storageNetwork
	w.v = newNode(t)
	w.v.start()
	boot := ""
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		s := &storageNode{node: newJoiner(t), key: name}
		joinNetwork(t, w.v, s.node, name, func(text string) string {
			text = strings.Replace(text, "bootstrap = []\n", "bootstrap = ["+boot+"]\n", 1)
			return strings.Replace(strings.Replace(text, "space = \"0\"\n", fmt.Sprintf("space = %q\n", space), 1), "receipt_period = \"1h\"\n", "receipt_period = \"3s\"\n", 1)
		})
		s.launch("TRUSTD_PASSPHRASE=e2e passphrase")
		if i == 0 {
			s.addr = hostAddr(t, s.node)
			boot = fmt.Sprintf("%q", s.addr)
		}
		w.suppliers = append(w.suppliers, s)
	}
	for _, s := range w.suppliers {
		s.addr = hostAddr(t, s.node)
		s.pub = strings.TrimSpace(s.mustCLI("keys", "show", s.key))
	}
	w.customerEdit = func(text string) string {
		text = strings.Replace(text, "bootstrap = []\n", "bootstrap = ["+boot+"]\n", 1)
		text = strings.Replace(text, "contract_space = \"1GiB\"\n", "contract_space = \"32MiB\"\n", 1)
		// A price at which seconds of a few MiB cost something: payments follow the receipts.
		text = strings.Replace(text, "contract_days = 30\nprice_per_gib_month = 0\n", "contract_days = 30\nprice_per_gib_month = 1000000000000\n", 1)
		return strings.Replace(text, "audit_every = \"10m\"\n", "audit_every = \"0\"\n", 1)
	}
	w.cust = newJoiner(t)
	joinNetwork(t, w.v, w.cust, "carol", w.customerEdit)
	w.cust.launch(append([]string{"TRUSTD_PASSPHRASE=e2e passphrase"}, customerEnv...)...)
	for _, s := range w.suppliers {
		waitSynced(t, s.node)
		s.mustCLI("tx", "register", "--from", s.key)
	}
	waitSynced(t, w.cust)
	w.cust.mustCLI("tx", "register", "--from", "carol")
	w.carol = strings.TrimSpace(w.cust.mustCLI("keys", "show", "carol"))
	waitCatchUp(t, w.cust, []*node{w.v})
	w.waitSuppliersSee()
	return w
}

// waitSuppliersSee waits until every running supplier's own copy of the ledger has committed
// what the validator has now (a registration just made: a supplier admits a customer only then):
// a block past it, since a block counts in CometBFT's status before the app commits it.
func (w storageNetwork) waitSuppliersSee() {
	h := w.v.height() + 1
	for _, s := range w.suppliers {
		if s.cmd != nil {
			s.waitHeight(h, 90*time.Second)
		}
	}
}

// TestBackupEndToEnd (issue 13): one validator and six storage nodes, each a `trustd start`
// process with its own home, that know one bootstrap peer and find the others through the
// DHT; a seventh node backs up a directory with a file of 40 MB 4+2 with `trustd backup put`.
// The contracts, the suppliers' storage receipts and an audit round are asserted through ledger
// queries. Two suppliers are killed and `backup get` returns the file byte-exact, and the four
// that served it get bandwidth receipts. Then the customer's home is deleted except its key
// file, and on a home made anew around it `backup restore` brings back every file. Last, a
// supplier quits its contract.
func TestBackupEndToEnd(t *testing.T) {
	w := newStorageNetwork(t, "64MiB")
	v, suppliers, cust, carol, customerEdit := w.v, w.suppliers, w.cust, w.carol, w.customerEdit

	dir := filepath.Join(t.TempDir(), "docs")
	big := make([]byte, 40<<20)
	r := rand.New(rand.NewPCG(13, 13))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	small := []byte("the small one\n")
	for name, data := range map[string][]byte{"big.bin": big, "notes/small.txt": small} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var put trustd.BackupPutResult
	cust.jsonCLI(&put, "backup", "put", dir)
	if len(put.Files) != 2 || len(put.Hired) != 6 || put.Files[0].Stripes != 3 || put.Files[0].K != 4 || put.Files[0].M != 2 {
		t.Fatalf("put: %+v", put)
	}
	bigID := put.Files[0].ID
	if put.Files[0].Name != "docs/big.bin" {
		bigID = put.Files[1].ID
	}

	// The ledger holds six contracts of carol's, each with one of the six suppliers, and each
	// supplier's storage receipts, countersigned by carol, come in.
	c, err := client.Dial(v.rpcAddr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var carolKey ledger.PubKey
	if carolKey, err = ledger.ParsePubKey(carol); err != nil {
		t.Fatal(err)
	}
	contracts := map[ledger.ID]ledger.PubKey{}
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: carol, Kind: ledger.KindContractOpen.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		if open := rec.Event.(*ledger.ContractOpen); open.Customer == carolKey {
			contracts[open.ContractID] = open.Supplier
		}
	}
	held := map[ledger.PubKey]bool{}
	for _, sup := range contracts {
		held[sup] = true
	}
	for _, s := range suppliers {
		k, _ := ledger.ParsePubKey(s.pub)
		if !held[k] {
			t.Fatalf("no contract of carol's with supplier %s; contracts: %v", s.key, contracts)
		}
	}
	if len(contracts) != 6 {
		t.Fatalf("%d contracts of carol's in the ledger, want 6", len(contracts))
	}
	waitReceipts(t, c, contracts, "storage", len(contracts), suppliers[0].node)
	if out := cust.mustCLI("query", "relation", carol, suppliers[0].pub); !strings.Contains(out, "storage_receipt") && !strings.Contains(out, "receipt") {
		t.Fatalf("query relation shows no receipt:\n%s", out)
	}
	// And carol pays each supplier for the storage its receipts cover (P-13): payments signed
	// by her and acknowledged by the supplier.
	for _, s := range suppliers {
		sup, _ := ledger.ParsePubKey(s.pub)
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			rel, err := c.Relation(ctx, carolKey, sup)
			if err == nil && rel.AbB != nil && rel.AbB.PaymentsMade > 0 && rel.AbB.AmountPaid > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no payment from carol to %s within a minute of its receipts: %+v %v\n%s", s.key, rel, err, cust.tailLog())
			}
		}
	}

	var audit trustd.BackupAuditResult
	cust.jsonCLI(&audit, "backup", "audit")
	if len(audit.Audits) != 6 || audit.Height == 0 {
		t.Fatalf("audit round: %+v", audit)
	}
	passed := 0
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: carol, Kind: ledger.KindAuditResult.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		if r := rec.Event.(*ledger.AuditResult); r.Customer == carolKey && r.Passed {
			passed++
		}
	}
	if passed != 6 {
		t.Fatalf("%d passed audits of carol's in the ledger, want 6", passed)
	}

	// Two suppliers die: the file comes back byte for byte, and status says it is degraded.
	suppliers[1].kill()
	suppliers[4].kill()
	out := filepath.Join(t.TempDir(), "big.back")
	cust.mustCLI("backup", "get", bigID[:12], out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the file read back with two suppliers dead is not the file put (%v)", err)
	}
	// The four suppliers that served the read get bandwidth receipts for it, countersigned by
	// carol, into the ledger.
	waitReceipts(t, c, contracts, "bandwidth", 4, suppliers[0].node)
	text := cust.mustCLI("backup", "status")
	if !strings.Contains(text, "degraded") || !strings.Contains(text, "docs/big.bin") || strings.Count(text, "passed at height") != 6 || !strings.Contains(text, "unreachable:") {
		t.Fatalf("backup status with two suppliers dead:\n%s", text)
	}
	var st trustd.BackupStatus
	cust.jsonCLI(&st, "backup", "status")
	for _, f := range st.Files {
		if f.Health != trustd.HealthDegraded || f.Weakest != 4 {
			t.Fatalf("status with two suppliers dead: %+v", st.Files)
		}
	}

	// The customer's disk is lost but for its key file: a home made anew around it finds the
	// index through the ledger's contracts and the four suppliers left, and every file.
	height := v.height()
	cust.kill()
	entries, err := os.ReadDir(cust.home)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "keys" {
			if err := os.RemoveAll(filepath.Join(cust.home, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	joinNetwork(t, v, cust, "carol", customerEdit)
	cust.launch("TRUSTD_PASSPHRASE=e2e passphrase")
	waitSynced(t, cust)
	cust.waitHeight(height, 90*time.Second)
	var files []trustd.BackupFile
	cust.jsonCLI(&files, "backup", "ls")
	if len(files) != 0 {
		t.Fatalf("a new home lists %d files before the restore", len(files))
	}
	to := t.TempDir()
	var restored trustd.BackupRestoreResult
	cust.jsonCLI(&restored, "backup", "restore", to)
	if len(restored.Files) != 2 || len(restored.Written) != 2 {
		t.Fatalf("restore: %+v", restored)
	}
	for name, want := range map[string][]byte{"docs/big.bin": big, "docs/notes/small.txt": small} {
		if got, err := os.ReadFile(filepath.Join(to, name)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after restore: %v", name, err)
		}
	}
	if text := cust.mustCLI("backup", "ls"); !strings.Contains(text, "docs/notes/small.txt") || !strings.Contains(text, bigID[:16]) {
		t.Fatalf("backup ls after restore:\n%s", text)
	}
	cust.jsonCLI(&files, "backup", "ls")
	if len(files) != 2 {
		t.Fatalf("after restore ls lists %d files", len(files))
	}

	// s0 leaves its contract with carol: the close (quit) is in the ledger, then its shards are
	// gone from its disk.
	var supplied []p2p.SupplierContract
	suppliers[0].jsonCLI(&supplied, "supplier", "contracts")
	if len(supplied) != 1 || supplied[0].Open.Customer != carolKey || supplied[0].Shards != 6 { // the files' five and the index header
		t.Fatalf("s0's contracts: %+v", supplied)
	}
	quit := supplied[0].Open.ContractID
	suppliers[0].mustCLI("supplier", "quit", quit.String())
	cv, err := c.Contract(ctx, quit)
	if err != nil || cv.Record == nil || !cv.Record.Closed || cv.Record.CloseReason != ledger.CloseQuit {
		t.Fatalf("the contract s0 quit, in the ledger: %+v, %v", cv.Record, err)
	}
	if _, err := os.Stat(filepath.Join(suppliers[0].home, "data", "shards", quit.String())); !os.IsNotExist(err) {
		t.Fatalf("s0 still has the contract's shards: %v", err)
	}
	suppliers[0].jsonCLI(&supplied, "supplier", "contracts")
	if len(supplied) != 0 {
		t.Fatalf("s0's contracts after quitting: %+v", supplied)
	}
}
