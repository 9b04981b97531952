package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
	"github.com/trustledger/trustledger/p2p"
	"github.com/trustledger/trustledger/reputation"
)

// TestCustomerService (issue 13, specs/p2p.md P-9, P-10): a node's customer service hires six
// registered suppliers by its trust view, backs up a directory 4+2 (the contracts in the
// ledger), lists it and reads it back byte-exact through the control socket, with two suppliers
// gone; its status says which files are degraded and which suppliers unreachable; an audit round
// reaches the ledger; rm deletes a file's shards; and after the customer's local state is lost,
// restore finds the index with the key alone and writes every file back. Bad input is refused
// with errors that errors.Is can tell apart, across the socket too.
func TestCustomerService(t *testing.T) {
	alice := nodetest.Key("alice")
	n := nodetest.New(t, nodetest.Options{P2PKey: alice, App: func(c *node.AppConfig) {
		c.Customer.ContractSpace, c.Customer.AuditEvery = "8MiB", "0"
	}})
	if !n.Services().Running(node.ServiceCustomer) {
		t.Fatalf("services: %+v", n.Services().Statuses())
	}
	c := n.Client()
	ctx := context.Background()
	chainID := chainOf(t, c)
	nodetest.Register(t, c, alice)
	var suppliers []*p2p.Host
	var shardDirs []string
	for i := range 6 {
		key := nodetest.Key(fmt.Sprintf("supplier %d", i))
		nodetest.Register(t, c, key)
		h := hostFor(t, c, key, n.P2P())
		shardDirs = append(shardDirs, t.TempDir())
		if _, err := h.ServeSupplier(p2p.SupplierConfig{ChainID: chainID, Terms: p2p.Terms{Space: 32 << 20, MaxDurationSeconds: 365 * 86400},
			Dir: shardDirs[i], Journal: journal.Open(t.TempDir())}); err != nil {
			t.Fatal(err)
		}
		suppliers = append(suppliers, h)
	}
	dir := filepath.Join(t.TempDir(), "photos")
	big, small := randomBytes(20<<20, 1), []byte("a small file")
	writeFile(t, filepath.Join(dir, "big.raw"), big)
	writeFile(t, filepath.Join(dir, "sub", "small.txt"), small)

	b := n.Backups()
	if _, err := b.Put(ctx, []string{filepath.Join(dir, "missing")}, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing path: %v", err)
	}
	var told []node.BackupProgress
	res, err := b.Put(ctx, []string{dir}, func(p node.BackupProgress) { told = append(told, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || len(res.Hired) != 6 || len(res.Suppliers) != 6 || res.Files[0].Name != "photos/big.raw" || res.Files[0].Stripes != 2 {
		t.Fatalf("put: %+v", res)
	}
	if last := told[len(told)-1]; last.Done != last.Total || last.Total != uint64(len(big)+len(small)) {
		t.Fatalf("progress ended at %+v", last)
	}
	opens := 0
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: keystore.PubKey(alice).String(), Kind: ledger.KindContractOpen.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Event.(*ledger.ContractOpen).Customer == keystore.PubKey(alice) {
			opens++
		}
	}
	if opens != 6 {
		t.Fatalf("%d contracts in the ledger, want 6", opens)
	}

	ctl := node.DialControl(n.Home())
	// A second put goes to the same suppliers, hiring no one; rm takes it out of the index and
	// deletes its shards.
	extra := filepath.Join(t.TempDir(), "extra.txt")
	writeFile(t, extra, []byte("removed soon"))
	again, err := ctl.Put(ctx, []string{extra}, nil)
	if err != nil || len(again.Hired) != 0 || !slices.Equal(slices.Sorted(slices.Values(again.Suppliers)), slices.Sorted(slices.Values(res.Suppliers))) {
		t.Fatalf("a second put: %+v, %v", again, err)
	}
	before, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rm, err := ctl.Remove(ctx, again.Files[0].ID); err != nil || len(rm.Left) != 0 || rm.File.Name != "extra.txt" {
		t.Fatalf("rm: %+v, %v", rm, err)
	}
	after, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range after.Suppliers {
		if a, b := after.Suppliers[i], before.Suppliers[i]; a.Held != b.Held-1 || a.Shards != a.Held || !a.Reachable {
			t.Fatalf("supplier %d after rm: %+v, before %+v", i, a, b)
		}
	}
	files, err := ctl.List(ctx)
	if err != nil || len(files) != 2 {
		t.Fatalf("ls through the socket: %v, %v", files, err)
	}
	bigID, smallID := files[0].ID, files[1].ID
	for _, lost := range []int{1, 4} {
		if err := suppliers[lost].Close(); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "big.back")
	if path, err := ctl.Get(ctx, bigID[:10], out, nil); err != nil || path != out {
		t.Fatalf("get with two suppliers gone: %q, %v", path, err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatal("the file read back is not the file put")
	}
	for _, c := range []struct {
		name, id, out string
		want          error
	}{
		{"an output that exists", bigID, out, node.ErrExists},
		{"an unknown id", "abcdef", filepath.Join(t.TempDir(), "x"), node.ErrNoSuchBackup},
	} {
		if _, err := ctl.Get(ctx, c.id, c.out, nil); !errors.Is(err, c.want) {
			t.Fatalf("get, %s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := ctl.Get(ctx, "zz", filepath.Join(t.TempDir(), "x"), nil); err == nil {
		t.Fatal("get of id zz succeeded")
	}

	st, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unreachable := 0
	for _, s := range st.Suppliers {
		if !s.Reachable {
			unreachable++
		}
	}
	if unreachable != 2 || len(st.Suppliers) != 6 || st.Files[0].Health != node.HealthDegraded || st.Files[0].Weakest != 4 {
		t.Fatalf("status with two suppliers gone: %+v", st)
	}
	audit, err := ctl.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, a := range audit.Audits {
		if a.Passed {
			passed++
		}
	}
	if len(audit.Audits) != 6 || passed != 4 || audit.Height == 0 {
		t.Fatalf("audit round: %+v", audit)
	}
	results := 0
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: keystore.PubKey(alice).String(), Kind: ledger.KindAuditResult.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Event.(*ledger.AuditResult).Customer == keystore.PubKey(alice) {
			results++
		}
	}
	if results != 6 {
		t.Fatalf("%d audit results in the ledger, want 6", results)
	}

	// rm saves the index first: on the four suppliers left the put's contracts do not make
	// K+M, and no one else is reachable to hire, so nothing is removed and it says why.
	if _, err := ctl.Remove(ctx, smallID); !errors.Is(err, node.ErrTooFewSuppliers) {
		t.Fatalf("rm with two suppliers gone: %v, want ErrTooFewSuppliers", err)
	}
	if files, _ := ctl.List(ctx); len(files) != 2 {
		t.Fatalf("after a failed rm: %+v", files)
	}

	// The customer's local state is lost: its key and the ledger bring the index back from
	// the suppliers (the last index saved, which still lists both files).
	if _, err := n.Services().Stop(node.ServiceCustomer, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.List(ctx); !errors.Is(err, node.ErrCustomerOff) {
		t.Fatalf("ls with the customer stopped: %v, want ErrCustomerOff", err)
	}
	if err := os.RemoveAll(filepath.Join(n.Home().DataDir(), "customer")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Services().Start(ctx, node.ServiceCustomer, false); err != nil {
		t.Fatal(err)
	}
	if files, _ := ctl.List(ctx); len(files) != 0 {
		t.Fatalf("a fresh catalogue lists %d files", len(files))
	}
	to := t.TempDir()
	restored, err := ctl.Restore(ctx, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if restored.IndexVersion != 3 || len(restored.Files) != 2 || len(restored.Written) != 2 {
		t.Fatalf("restore: %+v", restored)
	}
	for name, want := range map[string][]byte{"photos/big.raw": big, "photos/sub/small.txt": small} {
		if got, err := os.ReadFile(filepath.Join(to, name)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after restore: %v", name, err)
		}
	}

	// Supplier 0 loses its data but keeps answering: its signed answer to the next audit is
	// evidence the ledger takes, and the node's trust view holds it proven.
	nodetest.ZeroShards(t, shardDirs[0])
	audit, err = ctl.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	liar := keystore.PubKey(nodetest.Key("supplier 0")).String()
	for _, a := range audit.Audits {
		if a.Supplier == liar && (a.Passed || !strings.Contains(a.Why, "does not match")) {
			t.Fatalf("the audit of the supplier that lost its data: %+v", a)
		}
	}
	evidence := 0
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: liar, Kind: ledger.KindAuditResult.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		if r := rec.Event.(*ledger.AuditResult); !r.Passed && r.Evidence != nil {
			evidence++
		}
	}
	if evidence != 1 {
		t.Fatalf("%d failed audits of supplier 0 with evidence in the ledger, want 1", evidence)
	}
	nodetest.WaitHeight(t, c, audit.Height, 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sc, err := n.Trust().Score(keystore.PubKey(alice), keystore.PubKey(nodetest.Key("supplier 0")))
		if err == nil && sc.Score.Status == reputation.StatusProven {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's view of the supplier proven wrong: %+v, %v", sc.Score, err)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomBytes are n bytes that do not compress, the same for a seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestFireASupplier (issue 14, by hand): `suppliers fire` rebuilds every file's shard on the
// fired supplier onto another (here the spare hired with the first put) before it closes the
// contract (fired) in the ledger; the history says why each was hired and why one was fired,
// and the file then survives losing two more of its first suppliers.
func TestFireASupplier(t *testing.T) {
	w := newCustomerWorld(t, 7, func(*node.AppConfig) {}, nil)
	ctl, hosts, c, ctx := w.ctl, w.hosts, w.n.Client(), context.Background()
	data := randomBytes(5<<20, 2)
	path := filepath.Join(t.TempDir(), "f.bin")
	writeFile(t, path, data)
	put, err := ctl.Put(ctx, []string{path}, nil)
	if err != nil || len(put.Hired) != 7 || len(put.Suppliers) != 6 {
		t.Fatalf("put: %+v, %v", put, err)
	}
	list, err := ctl.Suppliers(ctx)
	if err != nil || len(list) != 7 {
		t.Fatalf("suppliers: %+v, %v", list, err)
	}
	for _, s := range list {
		if !strings.Contains(s.Hired, "trust view") {
			t.Fatalf("supplier %s: no reason it was hired: %+v", s.Supplier, s)
		}
	}
	if _, err := ctl.Fire(ctx, "00000000", "no such"); !errors.Is(err, node.ErrNotASupplier) {
		t.Fatalf("fire a stranger: %v, want ErrNotASupplier", err)
	}
	if _, err := ctl.Fire(ctx, put.Suppliers[0], ""); err == nil {
		t.Fatal("a fire without a reason")
	}
	fired := put.Suppliers[0]
	res, err := ctl.Fire(ctx, fired[:12], "testing the repair")
	if err != nil {
		t.Fatal(err)
	}
	if res.Height == 0 || len(res.Decision.Repaired) != 1 || res.Decision.Replacement == "" || res.Decision.Supplier != fired {
		t.Fatalf("fire: %+v", res)
	}
	var id ledger.ID
	if err := id.UnmarshalJSON([]byte(`"` + res.Decision.Contract + `"`)); err != nil {
		t.Fatal(err)
	}
	if cv, err := c.Contract(ctx, id); err != nil || !cv.Record.Closed || cv.Record.CloseReason != ledger.CloseFired {
		t.Fatalf("the fired contract in the ledger: %+v, %v", cv.Record, err)
	}
	hist, err := ctl.History(ctx)
	if err != nil || len(hist) != 8 || hist[7].Action != "fire" || hist[7].Reason != "testing the repair" {
		t.Fatalf("history: %+v, %v", hist, err)
	}
	// The fired one and two more of the first six go: the file still reads back.
	for _, k := range []string{fired, put.Suppliers[1], put.Suppliers[2]} {
		if err := hosts[k].Close(); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "back.bin")
	if _, err := ctl.Get(ctx, put.Files[0].ID, out, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("the file read back after the repair is not the file put")
	}
}

// TestSupplierManagerFiresByPolicy (issue 14): the supplier-manager service fires, by itself and
// with the trust view's reason, a supplier whose data is gone once an audit has proven it so,
// after rebuilding its shards onto the spare; it keeps the others within the grace period, and
// fires one that stopped answering once the grace period is over.
func TestSupplierManagerFiresByPolicy(t *testing.T) {
	// Six, the spare hired with them, and one for the second fire.
	w := newCustomerWorld(t, 8, func(c *node.AppConfig) { c.Manager.CheckEvery = "200ms" }, func(tc *node.TrustConfig) { tc.Manager.Grace = 2 * time.Second })
	if !w.n.Services().Running(node.ServiceManager) {
		t.Fatalf("services: %+v", w.n.Services().Statuses())
	}
	ctl, hosts, dirs, ctx := w.ctl, w.hosts, w.dirs, context.Background()
	data := randomBytes(3<<20, 3)
	path := filepath.Join(t.TempDir(), "f.bin")
	writeFile(t, path, data)
	put, err := ctl.Put(ctx, []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := put.Suppliers[0]
	nodetest.ZeroShards(t, dirs[bad])
	if _, err := ctl.Audit(ctx); err != nil {
		t.Fatal(err)
	}
	var fire *node.SupplierDecision
	for deadline := time.Now().Add(20 * time.Second); fire == nil; time.Sleep(100 * time.Millisecond) {
		hist, err := ctl.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range hist {
			if hist[i].Action == "fire" {
				fire = &hist[i]
			}
		}
		if fire == nil && time.Now().After(deadline) {
			t.Fatalf("the supplier proven wrong was not fired within 20 s: %+v", hist)
		}
	}
	if fire.Supplier != bad || !strings.Contains(fire.Reason, "trust view drops it") || len(fire.Repaired) != 1 {
		t.Fatalf("the fire: %+v", fire)
	}
	// The facts support a report: an audit failed with the supplier's signed answer as evidence.
	if !strings.Contains(fire.Report, "data_corrupted, with audit") {
		t.Fatalf("the fire of a supplier proven wrong files no report: %+v", fire)
	}
	reports := func(accused string) []*ledger.MisbehaviorReport {
		var out []*ledger.MisbehaviorReport
		for rec, err := range w.n.Client().AllEvents(ctx, api.EventsRequest{Node: accused, Kind: ledger.KindMisbehaviorReport.String()}) {
			if errors.Is(err, api.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := rec.Event.(*ledger.MisbehaviorReport); r.Accused.String() == accused && rec.Signer == keystore.PubKey(nodetest.Key("alice")) {
				out = append(out, r)
			}
		}
		return out
	}
	if rs := reports(bad); len(rs) != 1 || rs[0].Misconduct != ledger.MisconductDataCorrupted || len(rs[0].Evidence) != 40 {
		t.Fatalf("reports against the supplier proven wrong: %+v", rs)
	}
	time.Sleep(time.Second) // five more rounds, within the grace period: nobody else is fired
	hist, err := ctl.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fires := 0
	for _, d := range hist {
		if d.Action == "fire" {
			fires++
		}
	}
	if fires != 1 {
		t.Fatalf("%d fires, want only the one proven wrong: %+v", fires, hist)
	}
	// A supplier that stops answering is fired once the grace period (2 s here) has passed.
	gone := put.Suppliers[1]
	if err := hosts[gone].Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		hist, err := ctl.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := hist[len(hist)-1]; d.Action == "fire" && d.Supplier == gone {
			if !strings.Contains(d.Reason, "has not answered") || len(d.Repaired) != 1 || d.Report != "" {
				t.Fatalf("the fire of a silent supplier: %+v", d)
			}
			if rs := reports(gone); len(rs) != 0 {
				t.Fatalf("a supplier fired for silence is reported: %+v", rs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the silent supplier was not fired within 20 s: %+v", hist)
		}
	}
	out := filepath.Join(t.TempDir(), "back.bin")
	if _, err := ctl.Get(ctx, put.Files[0].ID, out, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("the file after the repairs is not the file put")
	}
}

// TestManagerKeepsATrustedSupplier (issue 14, hysteresis): a supplier that passed ten audits
// and then misses one (it did not answer: a failure on the customer's word, not a proof) keeps
// its place through the manager's rounds.
func TestManagerKeepsATrustedSupplier(t *testing.T) {
	// Six and a spare: the manager could fire and repair if it wanted to.
	w := newCustomerWorld(t, 7, func(c *node.AppConfig) { c.Manager.CheckEvery = "200ms" }, nil)
	n, ctl, served, hosts, c, ctx := w.n, w.ctl, w.sups, w.hosts, w.n.Client(), context.Background()
	alice := nodetest.Key("alice")
	path := filepath.Join(t.TempDir(), "f.bin")
	writeFile(t, path, randomBytes(1<<20, 4))
	put, err := ctl.Put(ctx, []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if res, err := ctl.Audit(ctx); err != nil || len(res.Audits) != 6 { // the spare holds nothing to audit
			t.Fatalf("an audit round: %+v, %v", res, err)
		}
	}
	missed := put.Suppliers[0]
	served[missed].Stop() // it answers nothing for one round
	res, err := ctl.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Audits {
		if a.Supplier == missed && a.Passed {
			t.Fatal("a supplier that served nothing passed its audit")
		}
	}
	if err := served[missed].Serve(hosts[missed]); err != nil {
		t.Fatal(err)
	}
	nodetest.WaitHeight(t, c, res.Height, 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // seven rounds of the manager
	hist, err := ctl.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range hist {
		if d.Action == "fire" {
			t.Fatalf("fired after one missed audit of ten: %+v", d)
		}
	}
	drop, err := n.Trust().ShouldDrop(keystore.PubKey(alice), mustKey(t, missed))
	if err != nil || drop.Drop {
		t.Fatalf("the view would drop it: %+v, %v", drop, err)
	}
}

func mustKey(t *testing.T, hex string) ledger.PubKey {
	t.Helper()
	k, err := ledger.ParsePubKey(hex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// customerWorld is alice's node as a customer (its app.toml edited by app) and n registered
// suppliers on loopback, by key: their hosts, their suppliers and their shard directories.
type customerWorld struct {
	n     *node.Node
	ctl   *node.Control
	hosts map[string]*p2p.Host
	sups  map[string]*p2p.Supplier
	dirs  map[string]string
}

func newCustomerWorld(t *testing.T, suppliers int, app func(*node.AppConfig), trust func(*node.TrustConfig)) customerWorld {
	t.Helper()
	alice := nodetest.Key("alice")
	w := customerWorld{hosts: map[string]*p2p.Host{}, sups: map[string]*p2p.Supplier{}, dirs: map[string]string{}}
	w.n = nodetest.New(t, nodetest.Options{P2PKey: alice, App: func(c *node.AppConfig) {
		c.Customer.ContractSpace, c.Customer.AuditEvery = "8MiB", "0"
		app(c)
	}, Trust: trust})
	c := w.n.Client()
	chainID := chainOf(t, c)
	nodetest.Register(t, c, alice)
	for i := range suppliers {
		key := nodetest.Key(fmt.Sprintf("supplier %d", i))
		nodetest.Register(t, c, key)
		h := hostFor(t, c, key, w.n.P2P())
		dir := t.TempDir()
		sup, err := h.ServeSupplier(p2p.SupplierConfig{ChainID: chainID, Terms: p2p.Terms{Space: 32 << 20},
			Dir: dir, Journal: journal.Open(t.TempDir())})
		if err != nil {
			t.Fatal(err)
		}
		k := keystore.PubKey(key).String()
		w.hosts[k], w.sups[k], w.dirs[k] = h, sup, dir
	}
	w.ctl = node.DialControl(w.n.Home())
	return w
}

// TestAuditSchedule (issue 14, specs/p2p.md P-12): rounds run every second and trust.toml's
// audit window is 19 s, so the schedule audits every shard once a second (⌈299/16⌉ = 19 audits
// of 16 leaves a window). Within a few seconds of a put every shard on every supplier (two
// files' and the index's) has been audited after the put, and again within every three seconds
// after that, and the ledger has at least one audit result per shard: every shard is
// challenged, not one a supplier.
func TestAuditSchedule(t *testing.T) {
	w := newCustomerWorld(t, 6, func(c *node.AppConfig) { c.Customer.AuditEvery = "1s" },
		func(tc *node.TrustConfig) { tc.Manager.AuditWindow = 19 * time.Second })
	ctl, c, ctx := w.ctl, w.n.Client(), context.Background()
	var paths []string
	for i := range 2 {
		p := filepath.Join(t.TempDir(), fmt.Sprintf("f%d.bin", i))
		writeFile(t, p, randomBytes(1<<20, uint64(10+i)))
		paths = append(paths, p)
	}
	put, err := ctl.Put(ctx, paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	putAt := time.Now()
	var st node.BackupStatus
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if st, err = ctl.Status(ctx); err != nil {
			t.Fatal(err)
		}
		all := len(st.Suppliers) == len(put.Suppliers)
		for _, s := range st.Suppliers {
			all = all && s.Shards >= 2 && s.AllAuditedSince != nil && s.AllAuditedSince.After(putAt)
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every shard audited within 20 s of the put: %+v", st.Suppliers)
		}
	}
	// And again and again: a few seconds later, every shard has been audited within the last
	// three. One shard a supplier each round (what the rounds did before the schedule) would
	// leave one of three shards unaudited over three rounds for most suppliers.
	time.Sleep(4 * time.Second)
	since := time.Now().Add(-3 * time.Second)
	if st, err = ctl.Status(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Suppliers {
		if s.AllAuditedSince == nil || s.AllAuditedSince.Before(since) {
			t.Errorf("supplier %s: its %d shards last all audited at %v, before %v", s.Supplier, s.Shards, s.AllAuditedSince, since)
		}
	}
	alice := keystore.PubKey(nodetest.Key("alice"))
	results := map[string]int{}
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: alice.String(), Kind: ledger.KindAuditResult.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		r := rec.Event.(*ledger.AuditResult)
		if !r.Passed {
			t.Errorf("audit %d of %s failed", r.Number, r.ContractID)
		}
		results[r.ContractID.String()]++
	}
	for _, s := range st.Suppliers {
		if results[s.Contract] < s.Shards {
			t.Errorf("contract %s: %d audit results in the ledger for %d shards", s.Contract, results[s.Contract], s.Shards)
		}
	}
}

// TestCustomerPaysForStorage (P-13): once a supplier's storage receipt is countersigned, the
// customer service pays what the covered storage costs at the contract's price, acknowledged by
// the supplier and signed by the customer; the next receipt brings a payment of the difference,
// so that over the two the customer has paid exactly ⌊byte-seconds × price ÷ (GiB × 30 days)⌋.
func TestCustomerPaysForStorage(t *testing.T) {
	const price = 1_000_000_000_000 // per GiB-month: a few seconds of a MiB cost thousands
	w := newCustomerWorld(t, 6, func(c *node.AppConfig) { c.Customer.PricePerGiBMonth = price }, nil)
	ctl, c, ctx := w.ctl, w.n.Client(), context.Background()
	path := filepath.Join(t.TempDir(), "f.bin")
	writeFile(t, path, randomBytes(1<<20, 9))
	put, err := ctl.Put(ctx, []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := keystore.PubKey(nodetest.Key("alice"))
	payments := func() map[string][]*ledger.Payment {
		out := map[string][]*ledger.Payment{}
		for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: alice.String(), Kind: ledger.KindPayment.String()}) {
			if errors.Is(err, api.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p := rec.Event.(*ledger.Payment)
			if p.Payer != alice || rec.Signer != alice {
				t.Fatalf("a payment not made by the customer: %+v", rec)
			}
			out[p.Payee.String()] = append(out[p.Payee.String()], p)
		}
		return out
	}
	covered := map[string]uint64{} // byte-seconds countersigned, per supplier
	for round := 1; round <= 2; round++ {
		time.Sleep(2100 * time.Millisecond) // a shard counts from a second after its put, in whole seconds
		for _, k := range put.Suppliers {
			signed, errs := w.sups[k].CollectReceipts(ctx)
			if len(errs) > 0 || len(signed) != 1 {
				t.Fatalf("round %d, supplier %s: receipts %v, errors %v", round, k, signed, errs)
			}
			covered[k] += signed[0].ByteSeconds
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := payments()
			done := true
			for _, k := range put.Suppliers {
				var sum uint64
				for _, p := range got[k] {
					sum += p.Amount
					if p.Reference.String() == "" || p.Amount == 0 {
						t.Fatalf("payment %+v", p)
					}
				}
				want := p2p.Owed(covered[k], price)
				if sum > want {
					t.Fatalf("round %d: %d paid to %s for storage that costs %d", round, sum, k, want)
				}
				done = done && sum == want && len(got[k]) == round
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: payments %v, want per supplier what its %v byte-seconds cost", round, got, covered)
			}
		}
	}
}
