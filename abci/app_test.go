package abci

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cryptoenc "github.com/cometbft/cometbft/crypto/encoding"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

const chain = "abci-test"

var ctx = context.Background()

type fixture struct {
	t      *testing.T
	dir    string
	store  *storage.AppStore
	app    *App
	height int64
	seq    map[ledger.PubKey]uint64
	val    cmted25519.PrivKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), seq: map[ledger.PubKey]uint64{}, val: cmted25519.GenPrivKeyFromSecret([]byte("validator"))}
	f.open()
	pk, err := cryptoenc.PubKeyToProto(f.val.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	params := ledger.DefaultParams()
	params.PowDifficulty = 4
	params.MaxTxsPerSignerPerBlock = 2
	state, _ := json.Marshal(GenesisState{Params: params})
	if _, err := f.app.InitChain(ctx, &abcitypes.RequestInitChain{ChainId: chain, AppStateBytes: state,
		Validators: []abcitypes.ValidatorUpdate{{PubKey: pk, Power: 10}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	s, err := storage.OpenAppStore(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	app, err := NewApp(s, testLogger(), NewMetrics(nil))
	if err != nil {
		f.t.Fatal(err)
	}
	f.store, f.app = s, app
	f.t.Cleanup(func() { s.Close() })
}

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(p ed25519.PrivateKey) ledger.PubKey {
	var k ledger.PubKey
	copy(k[:], p.Public().(ed25519.PublicKey))
	return k
}

// tx signs events at the signer's next unused sequence and reserves it.
func (f *fixture) tx(signer ed25519.PrivateKey, evs ...ledger.Event) []byte {
	f.seq[pub(signer)]++
	t := &ledger.Tx{ChainID: chain, Sequence: f.seq[pub(signer)], Events: evs}
	t.Sign(signer)
	return t.Encode()
}

func (f *fixture) register(p ed25519.PrivateKey) []byte {
	return f.tx(p, &ledger.RegisterNode{PeerID: ledger.PeerIDOf(pub(p)), PowNonce: ledger.SolvePoW(chain, pub(p), 4)})
}

// block finalizes and commits txs, returning the FinalizeBlock response.
func (f *fixture) block(txs [][]byte, misbehavior ...abcitypes.Misbehavior) *abcitypes.ResponseFinalizeBlock {
	f.t.Helper()
	f.height++
	res, err := f.app.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: f.height, Time: time.Unix(1_700_000_000+f.height, 0),
		Txs: txs, Misbehavior: misbehavior})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.app.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) check(tx []byte, typ abcitypes.CheckTxType) uint32 {
	res, err := f.app.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: tx, Type: typ})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Code
}

func TestCommitAndInfoAgreeAcrossRestart(t *testing.T) {
	f := newFixture(t)
	alice := key("alice")
	res := f.block([][]byte{f.register(alice)})
	if res.TxResults[0].Code != 0 || len(res.TxResults[0].Events) != 1 {
		t.Fatalf("tx result: %+v", res.TxResults[0])
	}
	info, _ := f.app.Info(ctx, &abcitypes.RequestInfo{})
	if info.LastBlockHeight != 1 || string(info.LastBlockAppHash) != string(res.AppHash) {
		t.Fatalf("info %d %X, finalize said %X", info.LastBlockHeight, info.LastBlockAppHash, res.AppHash)
	}
	f.store.Close()
	f.open()
	again, _ := f.app.Info(ctx, &abcitypes.RequestInfo{})
	if again.LastBlockHeight != 1 || string(again.LastBlockAppHash) != string(res.AppHash) {
		t.Fatalf("after reopen: %d %X", again.LastBlockHeight, again.LastBlockAppHash)
	}
	// The reopened app still knows the chain's rules.
	if code := f.check(f.tx(alice, &ledger.MisbehaviorReport{Accused: pub(alice), Misconduct: 1}), abcitypes.CheckTxType_New); code != uint32(ledger.CodeInvalidField) {
		t.Fatalf("self-report after reopen: code %d", code)
	}
}

func TestCheckTxTracksPendingSequences(t *testing.T) {
	f := newFixture(t)
	alice := key("alice")
	f.block([][]byte{f.register(alice)})
	r1 := f.tx(alice, &ledger.MisbehaviorReport{Accused: pub(alice), Misconduct: 1}) // invalid: self report
	f.seq[pub(alice)]--                                                              // r1 never applies, so its sequence is free again
	bob := key("bob")
	f.block([][]byte{f.register(bob)})
	ok1 := f.tx(alice, &ledger.MisbehaviorReport{Accused: pub(bob), Misconduct: 1})
	ok2 := f.tx(alice, &ledger.MisbehaviorReport{Accused: pub(bob), Misconduct: 2})
	cases := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"invalid event", r1, ledger.CodeInvalidField},
		{"first pending", ok1, ledger.CodeOK},
		{"same tx again", ok1, ledger.CodeReplayedTx},
		{"second pending builds on the first", ok2, ledger.CodeOK},
		{"garbage", []byte("garbage"), ledger.CodeMalformed},
	}
	for _, c := range cases {
		if got := f.check(c.tx, abcitypes.CheckTxType_New); got != uint32(c.want) {
			t.Errorf("%s: got code %d (%s), want %s", c.name, got, ledger.Code(got), c.want)
		}
	}
	if f.app.decodeVerified(ok1) == nil {
		t.Error("a tx accepted by CheckTx was not remembered as verified")
	}
	// After ok1 commits, a recheck of ok2 passes, without verifying its signature again, and a
	// recheck of ok1 fails.
	verified := testutil.ToFloat64(f.app.metrics.TxsVerified)
	f.block([][]byte{ok1})
	if f.app.decodeVerified(ok1) != nil {
		t.Error("a committed tx stayed in the verified cache")
	}
	if got := f.check(ok2, abcitypes.CheckTxType_Recheck); got != 0 {
		t.Errorf("recheck ok2: code %d", got)
	}
	if again := testutil.ToFloat64(f.app.metrics.TxsVerified); again != verified {
		t.Errorf("recheck verified signatures again: %v txs verified, %v before", again, verified)
	}
	if got := f.check(ok1, abcitypes.CheckTxType_Recheck); got != uint32(ledger.CodeReplayedTx) {
		t.Errorf("recheck of committed ok1: code %d", got)
	}
}

func TestProposals(t *testing.T) {
	f := newFixture(t)
	alice, bob := key("alice"), key("bob")
	f.block([][]byte{f.register(alice), f.register(bob)})
	var txs [][]byte
	for i := 0; i < 3; i++ { // the third exceeds max_txs_per_signer_per_block = 2
		txs = append(txs, f.tx(alice, &ledger.MisbehaviorReport{Accused: pub(bob), Misconduct: 1}))
	}
	bad := []byte("not a tx")
	prep, err := f.app.PrepareProposal(ctx, &abcitypes.RequestPrepareProposal{Height: 2, Time: time.Unix(1, 0), MaxTxBytes: 1 << 20,
		Txs: [][]byte{txs[0], bad, txs[1], txs[2]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(prep.Txs) != 2 || string(prep.Txs[0]) != string(txs[0]) || string(prep.Txs[1]) != string(txs[1]) {
		t.Fatalf("prepared %d txs, want the first two valid ones", len(prep.Txs))
	}
	for _, c := range []struct {
		name string
		txs  [][]byte
		want abcitypes.ResponseProcessProposal_ProposalStatus
	}{
		{"valid", prep.Txs, abcitypes.ResponseProcessProposal_ACCEPT},
		{"malformed tx", [][]byte{txs[0], bad}, abcitypes.ResponseProcessProposal_REJECT},
		{"over the signer cap", txs, abcitypes.ResponseProcessProposal_REJECT},
		{"out of order", [][]byte{txs[1], txs[0]}, abcitypes.ResponseProcessProposal_REJECT},
	} {
		res, err := f.app.ProcessProposal(ctx, &abcitypes.RequestProcessProposal{Height: 2, Time: time.Unix(1, 0), Txs: c.txs})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != c.want {
			t.Errorf("%s: got %s, want %s", c.name, res.Status, c.want)
		}
	}
	// Proposal checks leave the state untouched.
	before, _ := f.app.Info(ctx, &abcitypes.RequestInfo{})
	if string(f.store.WorkingHash()) != string(before.LastBlockAppHash) {
		t.Fatal("a proposal check changed the working state")
	}
}

func TestValidatorMisbehaviorIsRecorded(t *testing.T) {
	f := newFixture(t)
	addr := f.val.PubKey().Address()
	res := f.block(nil, abcitypes.Misbehavior{Type: abcitypes.MisbehaviorType_DUPLICATE_VOTE,
		Validator: abcitypes.Validator{Address: addr, Power: 10}, Height: 1, Time: time.Unix(5, 0)})
	if len(res.AppHash) == 0 {
		t.Fatal("no app hash")
	}
	var valKey ledger.PubKey
	copy(valKey[:], f.val.PubKey().Bytes())
	page, err := f.store.Events(storage.Filter{Node: &valKey}, "", 10)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("validator events: %v %d", err, len(page.Records))
	}
	r := page.Records[0].Event.(*ledger.MisbehaviorReport)
	if r.Misconduct != ledger.MisconductDuplicateVote || page.Records[0].TxIndex != ledger.ConsensusTxIndex {
		t.Fatalf("recorded %+v", page.Records[0])
	}
}

func TestQueries(t *testing.T) {
	f := newFixture(t)
	alice, bob := key("alice"), key("bob")
	f.block([][]byte{f.register(alice), f.register(bob)})
	rep := f.tx(alice, &ledger.MisbehaviorReport{Accused: pub(bob), Misconduct: 1})
	f.block([][]byte{rep})
	a, b := pub(alice), pub(bob)
	q := func(path string, data []byte, prove bool) *abcitypes.ResponseQuery {
		r, err := f.app.Query(ctx, &abcitypes.RequestQuery{Path: path, Data: data, Prove: prove})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name     string
		path     string
		data     []byte
		wantCode uint32
		want     string // a substring of the answer or log
	}{
		{"node", api.PathNode, b[:], 0, `"reports_received":1`},
		{"unregistered node", api.PathNode, make([]byte, 32), api.CodeNotFound, "not registered"},
		{"short node key", api.PathNode, []byte{1}, api.CodeBadRequest, "32-byte"},
		{"relation", api.PathRelation, append(b[:], a[:]...), 0, `"about_a_from_b":{"events":1`},
		{"events by kind", api.PathEvents, []byte(`{"kind":"misbehavior_report"}`), 0, `"kind":"misbehavior_report"`},
		{"events bad kind", api.PathEvents, []byte(`{"kind":"nope"}`), api.CodeBadRequest, "unknown event kind"},
		{"events not json", api.PathEvents, []byte(`{`), api.CodeBadRequest, "not JSON"},
		{"events hostile cursor", api.PathEvents, []byte(`{"cursor":"<script>"}`), api.CodeBadRequest, "cursor"},
		{"newest by kind", api.PathNewest, []byte(`{"kind":"misbehavior_report"}`), 0, `"position":"0000`},
		{"newest of nothing", api.PathNewest, []byte(`{"kind":"payment"}`), 0, `"position":""`},
		{"newest bad node", api.PathNewest, []byte(`{"node":"zz"}`), api.CodeBadRequest, "node"},
		{"newest not json", api.PathNewest, []byte(`{`), api.CodeBadRequest, "not JSON"},
		{"tx", api.PathTx, hashOf(rep), 0, `"tx_index":0`},
		{"unknown tx", api.PathTx, make([]byte, 32), api.CodeNotFound, "no committed transaction"},
		{"params", api.PathParams, nil, 0, `"pow_difficulty":4`},
		{"unknown path", "/nope", nil, api.CodeBadRequest, "unknown query path"},
	}
	for _, c := range cases {
		r := q(c.path, c.data, false)
		text := string(r.Value) + r.Log
		if r.Code != c.wantCode || !strings.Contains(text, c.want) {
			t.Errorf("%s: got code %d %q, want code %d containing %q", c.name, r.Code, text, c.wantCode, c.want)
		}
	}
	// /store with a proof verifies against the committed app hash; a tampered value does not.
	r := q(api.PathStore, ledger.NodeKey(b), true)
	info, _ := f.app.Info(ctx, &abcitypes.RequestInfo{})
	if err := api.VerifyProof(info.LastBlockAppHash, ledger.NodeKey(b), r.Value, r.ProofOps); err != nil {
		t.Fatalf("proof: %v", err)
	}
	tampered := append([]byte(nil), r.Value...)
	tampered[len(tampered)-1] ^= 1
	if api.VerifyProof(info.LastBlockAppHash, ledger.NodeKey(b), tampered, r.ProofOps) == nil {
		t.Fatal("a tampered value verified")
	}
}

func hashOf(tx []byte) []byte { h := ledger.TxHash(tx); return h[:] }

func testLogger() log.Logger {
	if testing.Verbose() {
		return log.NewTMLogger(log.NewSyncWriter(os.Stderr))
	}
	return log.NewNopLogger()
}

// TestConcurrentCheckTxDuringBlocks: CometBFT calls CheckTx (mempool connection), queries and
// block execution (consensus connection) from different goroutines. Run under -race (make test
// does), this checks the app's own locking; the txs checked meanwhile are all accepted once.
func TestConcurrentCheckTxDuringBlocks(t *testing.T) {
	f := newFixture(t)
	var txs [][]byte
	for i := 0; i < 40; i++ {
		txs = append(txs, f.register(key(fmt.Sprintf("concurrent-%d", i))))
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]uint32, len(txs))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(txs); i += 4 {
				res, err := f.app.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: txs[i], Type: abcitypes.CheckTxType_New})
				if err != nil {
					t.Error(err)
					return
				}
				codes[i] = res.Code
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := f.app.Query(ctx, &abcitypes.RequestQuery{Path: api.PathParams}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for h := 0; h < 5; h++ {
		f.block(nil)
	}
	close(done)
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("tx %d: code %d", i, c)
		}
	}
	if got := testutil.ToFloat64(f.app.metrics.TxsVerified); got != float64(len(txs)) {
		t.Errorf("%v txs verified, want %d (each once)", got, len(txs))
	}
}
