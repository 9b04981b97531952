package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
)

func mustCommit(t *testing.T, s *client.Submitter, evs ...ledger.Event) client.Commit {
	t.Helper()
	_, c, err := s.SubmitAndWait(context.Background(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClient runs one scenario through the in-process local client and through HTTP to the same
// real node: registrations, a countersigned contract, several txs in flight from one signer, a
// rejection in the middle of them and the resync after it, then every read (typed answers and
// typed errors), paging, the trust answers and proved reads.
func TestClient(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	remote, err := client.Dial(n.Config().RPC.ListenAddress, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cl   *client.Client
	}{{"local", n.Client()}, {"http", remote}} {
		t.Run(c.name, func(t *testing.T) { scenario(t, c.cl) })
	}
}

func scenario(t *testing.T, c *client.Client) {
	ctx := context.Background()
	p, err := c.Params(ctx)
	if err != nil || p.ChainID != "nodetest" {
		t.Fatalf("params: %+v %v", p, err)
	}
	// Keys distinct per run, so that both runs on the same chain start from scratch.
	alice, bob := nodetest.Key(t.Name()+" alice"), nodetest.Key(t.Name()+" bob")
	a, b := keystore.PubKey(alice), keystore.PubKey(bob)
	sa, sb := nodetest.Submitter(t, c, alice), nodetest.Submitter(t, c, bob)
	if seq, err := c.NextSequence(ctx, a); err != nil || seq != 1 {
		t.Fatalf("next sequence of a new key: %d %v", seq, err)
	}
	if _, err := c.Node(ctx, a); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unregistered node: %v, want api.ErrNotFound", err)
	}
	for _, reg := range []struct {
		s *client.Submitter
		k ledger.PubKey
	}{{sa, a}, {sb, b}} {
		mustCommit(t, reg.s, &ledger.RegisterNode{PeerID: ledger.PeerIDOf(reg.k), Capacity: 1 << 20,
			PowNonce: ledger.SolvePoW(p.ChainID, reg.k, int(p.Params.PowDifficulty))})
	}
	contract := sha256.Sum256([]byte(t.Name() + " contract"))
	open := &ledger.ContractOpen{ContractID: contract, Customer: a, Supplier: b, Bytes: 1 << 20, DurationSeconds: 3600, PricePerGiBMonth: 1}
	open.Countersig = ledger.Countersign(bob, p.ChainID, open)
	mustCommit(t, sa, open)

	// Eight audits in flight from one signer, the fifth refused at CheckTx (an unknown contract):
	// the four before it commit, the submitter resyncs, the three after it commit too.
	audit := func(i int, cid ledger.ID) *ledger.AuditResult {
		return &ledger.AuditResult{ContractID: cid, Number: uint64(i + 1), Customer: a, Supplier: b, Passed: true,
			ChallengeDigest: sha256.Sum256([]byte(fmt.Sprint(t.Name(), " challenge ", i)))}
	}
	var pending []*client.Pending
	for i := 0; i < 8; i++ {
		cid := contract
		if i == 4 {
			cid = ledger.ID{1}
		}
		pd, err := sa.Submit(ctx, audit(i, cid))
		if i == 4 {
			var rej *client.RejectedError
			if !errors.As(err, &rej) || ledger.Code(rej.Code) != ledger.CodeUnknownContract || rej.Stage != "check" {
				t.Fatalf("audit of an unknown contract: %v, want a rejection at check with unknown_contract", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("audit %d: %v", i, err)
		}
		pending = append(pending, pd)
	}
	seqs := map[uint64]bool{}
	var last client.Commit
	for i, pd := range pending {
		cm, err := pd.Wait(ctx)
		if err != nil {
			t.Fatalf("audit %d: %v", i, err)
		}
		seqs[pd.Sequence] = true
		last = cm
	}
	if len(seqs) != 7 {
		t.Fatalf("%d distinct sequences for 7 committed audits", len(seqs))
	}
	view, err := c.Node(ctx, a)
	if err != nil || view.Record.Sequence != 9 { // register, open, 7 audits
		t.Fatalf("alice after the audits: sequence %d, %v; want 9", view.Record.Sequence, err)
	}
	rel, err := c.Relation(ctx, b, a)
	if err != nil || rel.AbB == nil || rel.AbB.AuditsPassed != 7 {
		t.Fatalf("relation: %+v %v", rel.AbB, err)
	}
	cv, err := c.Contract(ctx, contract)
	if err != nil || cv.Record.Customer != a || cv.Receipts["storage"].Next != 1 {
		t.Fatalf("contract: %+v %v", cv, err)
	}
	if _, err := c.Contract(ctx, ledger.ID{2}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown contract: %v, want api.ErrNotFound", err)
	}
	if of, err := c.ContractOf(ctx, open); err != nil || !reflect.DeepEqual(of, cv) {
		t.Fatalf("contract of its contract_open: %+v %v, want %+v", of, err, cv)
	}
	if _, err := c.ContractOf(ctx, &ledger.ContractOpen{ContractID: contract, Customer: b, Supplier: a}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("contract between other parties: %v, want api.ErrNotFound", err)
	}
	if _, err := c.Tx(ctx, ledger.ID{3}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown tx: %v, want api.ErrNotFound", err)
	}
	recs, err := c.Tx(ctx, pending[0].Hash)
	if err != nil || len(recs) != 1 || recs[0].Kind != ledger.KindAuditResult {
		t.Fatalf("tx: %+v %v", recs, err)
	}
	// Paging: every event involving alice, two a page.
	var kinds []ledger.Kind
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: a.String(), Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, rec.Kind)
	}
	if len(kinds) != 9 || kinds[0] != ledger.KindRegisterNode || kinds[1] != ledger.KindContractOpen {
		t.Fatalf("alice's events through the iterator: %v", kinds)
	}
	if _, err := c.Events(ctx, api.EventsRequest{Kind: "nope"}); !errors.Is(err, api.ErrBadRequest) {
		t.Fatalf("bad kind: %v, want api.ErrBadRequest", err)
	}
	// Trust: the engine has seen the audits by the block they committed in.
	nodetest.WaitHeight(t, c, last.Height+1, 10*time.Second)
	sc, err := c.TrustScore(ctx, a, b)
	if err != nil || sc.Score.Direct == nil || sc.Score.Direct.Counts.AuditsPassed != 7 {
		t.Fatalf("trust score: %+v %v", sc, err)
	}
	top, err := c.TrustTop(ctx, a, 5)
	if err != nil || top.Total < 1 || top.Scores[0].Subject != b {
		t.Fatalf("trust top: %+v %v", top, err)
	}
	if _, err := c.TrustTop(ctx, a, 0); !errors.Is(err, api.ErrBadRequest) {
		t.Fatalf("top with limit 0: %v, want api.ErrBadRequest", err)
	}
	// The trust page's view is the JSON answer, field for field.
	tv, err := c.TrustView(ctx, a, 5)
	if err != nil || tv.Total < 1 || tv.Most[0].Subject != b || tv.Graph.Center != a || tv.Policy.Lambda == 0 {
		t.Fatalf("trust view: %+v %v", tv, err)
	}
	// In process the view comes from the trust service directly; through the RPC, as remote
	// clients ask it, in binary: the same view.
	rpc, err := c.RPC()
	if err != nil {
		t.Fatal(err)
	}
	viaBinary, err := client.New(rpc, "the in-process RPC").TrustView(ctx, a, 5)
	if err != nil || !reflect.DeepEqual(viaBinary, tv) {
		t.Fatalf("trust view in binary %+v (%v)\nin process %+v", viaBinary, err, tv)
	}
	data, _ := json.Marshal(api.TrustViewRequest{Observer: a.String(), Limit: 5})
	res, err := c.Query(ctx, api.PathTrustView, data, 0, false)
	var viaJSON api.TrustViewAnswer
	if err != nil || json.Unmarshal(res.Value, &viaJSON) != nil || !reflect.DeepEqual(viaJSON, tv) {
		t.Fatalf("trust view in JSON %+v (%v)\nin process %+v", viaJSON, err, tv)
	}
	data, _ = json.Marshal(api.TrustViewRequest{Observer: a.String(), Encoding: "xml"})
	if _, err := c.Query(ctx, api.PathTrustView, data, 0, false); !errors.Is(err, api.ErrBadRequest) {
		t.Fatalf("trust view in xml: %v, want api.ErrBadRequest", err)
	}
	if pol, err := c.TrustPolicy(ctx); err != nil || pol.Lambda == 0 {
		t.Fatalf("policy: %+v %v", pol, err)
	}
	// Proved reads.
	v, err := client.NewVerifier(ctx, c, client.VerifyOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	pv, ver, err := v.Node(ctx, a)
	if err != nil || !ver.Verified || pv.Record.Sequence != 9 || ver.Note == "" {
		t.Fatalf("proved node: %+v %+v %v", pv.Record, ver, err)
	}
	if _, _, err := v.Node(ctx, keystore.PubKey(nodetest.Key("nobody"))); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("proved absence: %v, want api.ErrNotFound", err)
	}
	if cv, ver, err := v.Contract(ctx, contract); err != nil || !ver.Verified || ver.Note != "" || cv.Record == nil || cv.Record.Customer != a {
		t.Fatalf("proved contract: %+v %+v %v", cv, ver, err)
	}
	if _, ver, err := v.Contract(ctx, ledger.ID{2}); !errors.Is(err, api.ErrNotFound) || !ver.Verified {
		t.Fatalf("proved absence of a contract: %+v %v, want verified and api.ErrNotFound", ver, err)
	}
}

// TestUnreachable: a node that does not listen is ErrUnreachable, naming the address.
func TestUnreachable(t *testing.T) {
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", nodetest.FreePort(t))
	c, err := client.Dial(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("status of a closed port: %v, want ErrUnreachable", err)
	}
	if _, err := c.Node(context.Background(), ledger.PubKey{}); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("query of a closed port: %v, want ErrUnreachable", err)
	}
}

// TestContextEndIsNotUnreachable: a call whose context ends is context.DeadlineExceeded, not
// ErrUnreachable, even when the transport reports it.
func TestContextEndIsNotUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accepts and never answers
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, err := client.Dial("tcp://"+l.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Status(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("status with an ended context: %v, want context.DeadlineExceeded and not ErrUnreachable", err)
	}
}

// TestFollowerReadsBlocksPlainly checks the follower's plain-HTTP reading of blocks (only the
// transactions and their codes and logs, issue 18) against CometBFT's RPC client on the same
// real node: the same transactions and outcomes at every height, and the node's error for a
// height it does not have.
func TestFollowerReadsBlocksPlainly(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	c, err := client.Dial(n.Config().RPC.ListenAddress, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alice := nodetest.Key(t.Name() + " alice")
	a := keystore.PubKey(alice)
	s := nodetest.Submitter(t, c, alice)
	p, err := c.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Blocks with transactions: registrations of new keys and a contract between two of them.
	var last int64
	for i := range 3 {
		k := nodetest.Key(fmt.Sprint(t.Name(), " signer ", i))
		pk := keystore.PubKey(k)
		cm := mustCommit(t, nodetest.Submitter(t, c, k), &ledger.RegisterNode{PeerID: ledger.PeerIDOf(pk), Capacity: 1 << 20,
			PowNonce: ledger.SolvePoW(p.ChainID, pk, int(p.Params.PowDifficulty))})
		last = cm.Height
	}
	first := mustCommit(t, s, &ledger.RegisterNode{PeerID: ledger.PeerIDOf(a), Capacity: 1 << 20,
		PowNonce: ledger.SolvePoW(p.ChainID, a, int(p.Params.PowDifficulty))})
	last = max(last, first.Height)
	sawTx := false
	for h := int64(1); h <= last; h++ {
		txs, res, err := c.BlockOutcomes(ctx, h, true)
		if err != nil {
			t.Fatalf("height %d, plain: %v", h, err)
		}
		wantTxs, wantRes, err := c.BlockOutcomes(ctx, h, false)
		if err != nil {
			t.Fatalf("height %d, CometBFT's client: %v", h, err)
		}
		if fmt.Sprint(txs) != fmt.Sprint(wantTxs) || fmt.Sprint(res) != fmt.Sprint(wantRes) {
			t.Fatalf("height %d: plainly %d txs %+v, CometBFT's client %d txs %+v", h, len(txs), res, len(wantTxs), wantRes)
		}
		sawTx = sawTx || len(txs) > 0
	}
	if !sawTx {
		t.Fatal("no block with a transaction was compared")
	}
	if _, _, err := c.BlockOutcomes(ctx, last+1000, true); err == nil {
		t.Fatal("a height the node does not have read without error")
	}
}
