package explorer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/explorer"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
)

// xss is a moniker that must show as text everywhere (issue 15).
const xss = `<script>alert(1)</script>`

// world is a real single-validator node with a small history: alice (whose moniker is xss)
// hires bob and audits him; carol hires bob too; dave is registered and does nothing.
type world struct {
	n                       *node.Node
	c                       *client.Client
	alice, bob, carol, dave ledger.PubKey
	tx                      ledger.ID // alice's first audit's tx
	height                  int64     // a height with that tx
	srv                     *httptest.Server
}

var (
	worldOnce sync.Once
	shared    *world
)

func register(t testing.TB, c *client.Client, priv ed25519.PrivateKey, moniker string) *client.Submitter {
	t.Helper()
	s := nodetest.Submitter(t, c, priv)
	k := keystore.PubKey(priv)
	if _, _, err := s.SubmitAndWait(context.Background(), &ledger.RegisterNode{PeerID: ledger.PeerIDOf(k), Capacity: 1 << 30, Moniker: moniker}); err != nil {
		t.Fatal(err)
	}
	return s
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	n := nodetest.New(t, nodetest.Options{})
	c := n.Client()
	chain, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b, cr, d := nodetest.Key("alice"), nodetest.Key("bob"), nodetest.Key("carol"), nodetest.Key("dave")
	sa := register(t, c, a, xss)
	sb := register(t, c, b, "bob")
	sc := register(t, c, cr, "carol")
	register(t, c, d, "dave")
	w := &world{n: n, c: c, alice: keystore.PubKey(a), bob: keystore.PubKey(b), carol: keystore.PubKey(cr), dave: keystore.PubKey(d)}
	for _, cust := range []struct {
		priv ed25519.PrivateKey
		s    *client.Submitter
	}{{a, sa}, {cr, sc}} {
		contract := nodetest.OpenContract(t, c, cust.s, cust.priv, b)
		for i := 1; i <= 3; i++ {
			res, cm, err := cust.s.SubmitAndWait(ctx, &ledger.AuditResult{ContractID: contract, Number: uint64(i), Customer: keystore.PubKey(cust.priv),
				Supplier: w.bob, Passed: true, ChallengeDigest: sha256.Sum256([]byte(fmt.Sprint("challenge", i)))})
			if err != nil {
				t.Fatal(err)
			}
			if w.height == 0 {
				w.tx, w.height = res.Hash, cm.Height
			}
		}
		r := &ledger.BandwidthReceipt{ContractID: contract, Number: 1, Customer: keystore.PubKey(cust.priv), Supplier: w.bob, Bytes: 5 << 20}
		r.Countersig = ledger.Countersign(cust.priv, chain, r)
		if _, _, err := sb.SubmitAndWait(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := explorer.New(c, func(msg string, kv ...any) { t.Logf("explorer: %s %v", msg, kv) })
	if err != nil {
		t.Fatal(err)
	}
	w.srv = httptest.NewServer(ex.Handler())
	t.Cleanup(func() { ex.Close(); w.srv.Close() })
	return w
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRoutes asks every route of the explorer (issue 15) against a real node's state: what each
// page shows, its JSON twin, the XSS case, and the 404s and 400s of bad ids and parameters.
func TestRoutes(t *testing.T) {
	w := newWorld(t)
	u := w.srv.URL
	a, b, cr := w.alice.String(), w.bob.String(), w.carol.String()
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	cases := []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"Registered nodes", "Events per minute", "<svg", "k-audit_result", "Latest blocks"}},
		{"/api/home", 200, []string{`"nodes": 4`, `"audits_passed": 6`, `"contracts_open": 2`, `"bytes_served": 10485760`}},
		{"/blocks", 200, []string{"Blocks", fmt.Sprintf(`href="/block/%d"`, w.height)}},
		{"/blocks?before=3&limit=1", 200, []string{`href="/block/2"`}},
		{"/api/blocks?limit=2", 200, []string{`"before"`}},
		{fmt.Sprintf("/block/%d", w.height), 200, []string{"audit_result", "applied", w.tx.String()[:12]}},
		{fmt.Sprintf("/api/block/%d", w.height), 200, []string{`"code_name"`}},
		{"/tx/" + w.tx.String(), 200, []string{"audit #1 passed", "applied", a}},
		{"/api/tx/" + w.tx.String(), 200, []string{`"kind": "audit_result"`, `"sequence"`}},
		{"/node/" + a, 200, []string{escaped, "Counterparts", "Timeline", `href="/relation/` + a + "/" + b + `"`, "audit #3 passed"}},
		{"/node/" + ledger.PeerIDOf(w.bob), 200, []string{"bob", "Audits passed", cr[:12]}},
		{"/api/node/" + b, 200, []string{`"moniker": "bob"`, `"audits_passed": 6`, `"counterparts"`}},
		{"/api/node/" + b + "?limit=2", 200, []string{`"next"`}},
		{"/node/" + b + "?limit=1", 200, []string{"More counterparts", "Older events"}},
		{"/node/" + b + "?kind=bandwidth_receipt", 200, []string{"bandwidth receipt #1: 5.0 MiB served"}},
		{"/node/" + a + "/events.csv", 200, []string{"height,tx_index", "audit_result", "contract_open"}},
		{"/relation/" + a + "/" + b, 200, []string{escaped, "Totals over time", "No proof of misbehaviour", "<polyline"}},
		{"/api/relation/" + a + "/" + b, 200, []string{`"about_b_from_a"`, `"audits_passed": 3`}},
		{"/relation/" + a + "/" + b + "/events.csv", 200, []string{"bandwidth_receipt"}},
		{"/trust/" + a, 200, []string{"Trust seen from", escaped, "Most trusted", "Least trusted", "<svg class=\"graph\"", `href="/relation/` + a + "/" + b + `"`}},
		{"/api/trust/" + a, 200, []string{`"most_trusted"`, `"reasons"`, `"edges"`}},
		{"/search?q=carol", 303, nil},
		{"/api/search?q=" + fmt.Sprint(w.height), 200, []string{`"kind": "block"`}},
		{"/search?q=nothing-like-this", 200, []string{"Nothing matches"}},
		{"/api", 200, []string{"/api/node/{key or peer id}"}},
		{"/static/style.css", 200, []string{"--accent"}},
		// Bad ids and unknown heights: 404. Bad parameters: 400. Never 500.
		{"/block/999999", 404, []string{"no block at height 999999"}},
		{"/block/-1", 404, []string{"a height is a whole number"}},
		{"/block/abc", 404, nil},
		{"/api/block/0", 404, []string{`"status": 404`}},
		{"/tx/zz", 404, []string{"64 hex digits"}},
		{"/tx/" + strings.Repeat("ab", 32), 404, []string{"no committed transaction"}},
		{"/node/not-a-key", 404, []string{"no node"}},
		{"/node/" + strings.Repeat("cd", 32), 404, []string{"not registered"}},
		{"/relation/" + a + "/" + a, 404, nil},
		{"/relation/" + b + "/" + w.dave.String(), 404, []string{"no events together"}},
		{"/trust/xyz", 404, nil},
		{"/nowhere", 404, nil},
		{"/blocks?before=x", 400, []string{"not a height"}},
		{"/blocks?limit=101", 400, []string{"1 to 100 rows"}},
		{"/node/" + a + "?limit=0", 400, nil},
		{"/node/" + a + "?cursor=nothex", 400, []string{"cursor"}},
		{"/node/" + a + "?kind=gossip", 400, []string{"unknown event kind"}},
		{"/node/" + a + "?cp=zz", 400, nil},
		{"/api/relation/" + a + "/" + b + "?cursor=00", 400, []string{`"status": 400`}},
		{"/node/" + a + "/events.csv?cursor=00", 400, nil},
		{"/search?q=" + strings.Repeat("x", 201), 400, nil},
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range cases {
		resp, err := noRedirect.Get(u + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %.300s", tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(string(body), s) {
				t.Errorf("%s: body lacks %q", tc.path, s)
			}
		}
		if strings.Contains(string(body), xss) {
			t.Errorf("%s: the moniker %s is in the page unescaped", tc.path, xss)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", tc.path, csp)
		}
		if resp.StatusCode == 303 && !strings.HasPrefix(resp.Header.Get("Location"), "/node/"+cr) {
			t.Errorf("%s: redirected to %s, want carol's page", tc.path, resp.Header.Get("Location"))
		}
	}
	// The explorer only reads.
	resp, err := http.Post(u+"/node/"+a, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}

// TestPagingCursors walks a node's timeline and counterparts page by page through the JSON API
// (the same cursors as the pages) and finds every event once, newest first.
func TestPagingCursors(t *testing.T) {
	w := newWorld(t)
	var heights []int64
	seen := map[string]bool{}
	next := ""
	for pages := 0; pages < 20; pages++ {
		_, _, body := get(t, w.srv.URL+"/api/node/"+w.bob.String()+"?limit=2&cursor="+next)
		var v struct {
			Events []ledger.EventRecord `json:"events"`
			Next   string               `json:"next"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		for _, e := range v.Events {
			key := fmt.Sprint(e.Height, e.TxIndex, e.EventIndex)
			if seen[key] {
				t.Fatalf("event %s listed twice", key)
			}
			seen[key] = true
			heights = append(heights, e.Height)
		}
		if next = v.Next; next == "" {
			break
		}
	}
	// bob: registration, 2 contracts, 6 audits, 2 receipts.
	if len(heights) != 11 {
		t.Fatalf("%d events of bob, want 11", len(heights))
	}
	for i := 1; i < len(heights); i++ {
		if heights[i] > heights[i-1] {
			t.Fatalf("not newest first: %v", heights)
		}
	}
}

// TestKeptPagesAreNeverStale: node and relation pages are kept as drawn while nothing they show
// has changed (cache.go), and a new event of the node, or of the pair, is on the very next page
// asked after it is committed.
func TestKeptPagesAreNeverStale(t *testing.T) {
	w := newWorld(t) // its own: this test adds events
	ctx := context.Background()
	nodeURL := w.srv.URL + "/node/" + w.dave.String()
	relURL := w.srv.URL + "/relation/" + w.carol.String() + "/" + w.bob.String()
	_, _, before := get(t, nodeURL)
	if _, _, again := get(t, nodeURL); again != before {
		t.Fatal("the same node page, asked twice with nothing new, differs")
	}
	if strings.Contains(before, "contract_open") {
		t.Fatal("dave has no contract yet")
	}
	// Dave hires bob: his page shows it at once.
	dave := nodetest.Submitter(t, w.c, nodetest.Key("dave"))
	nodetest.OpenContract(t, w.c, dave, nodetest.Key("dave"), nodetest.Key("bob"))
	if _, _, after := get(t, nodeURL); !strings.Contains(after, "contract_open") {
		t.Fatal("dave's page after his contract_open was committed does not show it")
	}
	// Carol audits bob once more: their relation page shows the audit at once.
	_, _, rel := get(t, relURL)
	if strings.Contains(rel, "challenge-after") {
		t.Fatal("no such audit yet")
	}
	carol := nodetest.Submitter(t, w.c, nodetest.Key("carol"))
	var contract ledger.ID
	for rec, err := range w.c.AllEvents(ctx, api.EventsRequest{Node: w.carol.String(), Kind: ledger.KindContractOpen.String()}) {
		if err != nil {
			t.Fatal(err)
		}
		contract = rec.Event.(*ledger.ContractOpen).ContractID
	}
	res, _, err := carol.SubmitAndWait(ctx, &ledger.AuditResult{ContractID: contract, Number: 4, Customer: w.carol, Supplier: w.bob, Passed: true,
		ChallengeDigest: sha256.Sum256([]byte("challenge-after"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, after := get(t, relURL); !strings.Contains(after, res.Hash.String()[:16]) {
		t.Fatalf("the relation page after carol's fourth audit does not link its tx %s", res.Hash)
	}
	// Many visitors at once of a page that just changed (carol's, in HTML and JSON) wait for one
	// drawing of it and all get the new page.
	for _, u := range []string{w.srv.URL + "/node/" + w.carol.String(), w.srv.URL + "/api/node/" + w.carol.String()} {
		bodies := make([]string, 30)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _, body := get(t, u)
				if code != http.StatusOK {
					t.Errorf("%s: %d", u, code)
				}
				bodies[i] = body
			}()
		}
		wg.Wait()
		for i, b := range bodies {
			if b != bodies[0] || !strings.Contains(b, res.Hash.String()[:16]) {
				t.Fatalf("%s, visitor %d of 30: not the new page (%d bytes, first %d)", u, i, len(b), len(bodies[0]))
			}
		}
	}
}
