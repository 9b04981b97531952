package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	trustd "github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/nodetest"
)

// TestSupplierManagerEndToEnd (issue 14): one validator and eight storage nodes as real
// processes; carol's node runs the supplier-manager (checks every second, grace 6 s, and an
// audit window of 38 s, so every shard is audited every 2 s). She stores a file 4+2. One supplier starts returning zeros for what it stores: its
// audits fail with evidence, the manager fires it and re-places its shards. A second supplier
// goes offline: after the grace period it is fired and replaced the same way. The file still
// reads back byte-exact, nobody else is fired, and dave's node, which never dealt with the bad
// supplier, sees it proven in its own scores and leaves it out of its own backup. Every fact
// is asserted through `trustd suppliers`, `trustd trust score` and the ledger.
func TestSupplierManagerEndToEnd(t *testing.T) {
	w := newStorageNetworkOf(t, 8, "64MiB", "TRUSTD_MANAGER_CHECK_EVERY=1s", "TRUSTD_MANAGER_GRACE=6s", "TRUSTD_CUSTOMER_AUDIT_EVERY=1s", "TRUSTD_MANAGER_AUDIT_WINDOW=38s")
	cust := w.cust
	data := bytes.Repeat([]byte("trustledger manager "), 1_000_000) // 20 MB
	path := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var put trustd.BackupPutResult
	cust.jsonCLI(&put, "backup", "put", path)
	if len(put.Suppliers) != 6 {
		t.Fatalf("put: %+v", put)
	}
	byKey := map[string]*storageNode{}
	for _, s := range w.suppliers {
		byKey[s.pub] = s
	}
	firedOf := func() []trustd.SupplierDecision {
		var hist []trustd.SupplierDecision
		cust.jsonCLI(&hist, "suppliers", "history")
		var fires []trustd.SupplierDecision
		for _, d := range hist {
			if d.Action == "fire" {
				fires = append(fires, d)
			}
		}
		return fires
	}
	waitFired := func(n int, what string) []trustd.SupplierDecision {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if f := firedOf(); len(f) >= n {
				return f
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not fired within a minute\n%s", what, cust.tailLog())
			}
		}
	}

	// 1. A supplier loses its data (its files are zeros now) but keeps answering.
	bad := byKey[put.Suppliers[0]]
	nodetest.ZeroShards(t, filepath.Join(bad.home, "data", "shards"))
	fires := waitFired(1, "the supplier that lost its data")
	if fires[0].Supplier != bad.pub || !strings.Contains(fires[0].Reason, "trust view drops it") || len(fires[0].Repaired) != 1 {
		t.Fatalf("the first fire: %+v", fires[0])
	}

	// 2. Another supplier goes offline: fired once the grace period is over. Not s0: it is
	// everyone's one bootstrap peer, and dave, who joins later, would find no one without it.
	var gone *storageNode
	for _, k := range put.Suppliers[1:] {
		if k != fires[0].Replacement && k != w.suppliers[0].pub {
			gone = byKey[k]
			break
		}
	}
	gone.kill()
	fires = waitFired(2, "the supplier that went offline")
	if fires[1].Supplier != gone.pub || !strings.Contains(fires[1].Reason, "has not answered") {
		t.Fatalf("the second fire: %+v", fires[1])
	}
	// 3. The others are kept, and the file reads back.
	time.Sleep(3 * time.Second)
	if f := firedOf(); len(f) != 2 {
		t.Fatalf("%d fires, want the two: %+v", len(f), f)
	}
	var sups []trustd.HiredSupplier
	cust.jsonCLI(&sups, "suppliers")
	for _, s := range sups {
		if s.Supplier == bad.pub || s.Supplier == gone.pub {
			t.Fatalf("a fired supplier is still listed: %+v", s)
		}
	}
	out := filepath.Join(t.TempDir(), "back.bin")
	cust.mustCLI("backup", "get", put.Files[0].ID, out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file after two fires is not the file put (%v)", err)
	}

	// 4. Dave never dealt with the bad supplier: the ledger's proof shows in his own view, and
	// his own backup leaves it out.
	dave := newJoiner(t)
	joinNetwork(t, w.v, dave, "dave", w.customerEdit)
	dave.launch("TRUSTD_PASSPHRASE=e2e passphrase")
	waitSynced(t, dave)
	dave.mustCLI("tx", "register", "--from", "dave")
	waitCatchUp(t, dave, []*node{w.v})
	var score struct {
		Score struct {
			Status string `json:"status"`
		} `json:"score"`
	}
	dave.jsonCLI(&score, "trust", "score", bad.pub, "--observer", "dave")
	if score.Score.Status != "proven" {
		t.Fatalf("dave's view of the supplier proven wrong: %+v", score)
	}
	var his trustd.BackupPutResult
	dave.jsonCLI(&his, "backup", "put", path)
	if slices.Contains(his.Suppliers, bad.pub) || slices.Contains(his.Suppliers, gone.pub) || len(his.Suppliers) != 6 {
		t.Fatalf("dave's backup went to %v (bad %s, gone %s)", his.Suppliers, bad.pub, gone.pub)
	}
}
