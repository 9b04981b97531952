package abci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cryptoenc "github.com/cometbft/cometbft/crypto/encoding"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

// AppVersion is the application protocol version reported in Info. It changes with the rules or
// the state's layout (2: the state keyed by node, specs/state.md §2), since the same blocks then
// give other app hashes.
const AppVersion = 2

// Version is the software version reported in Info.
var Version = "0.1.0"

// GenesisState is the app_state section of genesis.json.
type GenesisState struct {
	Params ledger.Params `json:"params"`
}

// App is trustledger's ABCI application: it decodes transactions, calls the ledger state machine
// and persists through the storage package. It follows stage-then-commit: FinalizeBlock applies
// the block to the working tree and returns its hash; only Commit writes to disk.
type App struct {
	abcitypes.BaseApplication

	// mu serialises the ABCI calls: CometBFT runs the app with one lock per connection
	// (mempool, consensus, query, snapshot), so that CheckTx can verify signatures, which needs
	// no state, while a block is being executed; everything that touches state holds mu.
	mu sync.Mutex

	store   *storage.AppStore
	logger  log.Logger
	metrics *Metrics

	chainID string
	params  ledger.Params

	staged       *stagedBlock  // set by FinalizeBlock, consumed by Commit
	check        *ledger.Block // the mempool's view: committed state plus pending txs
	checkHeight  int64
	verified     *verifiedCache
	lastBlockSec int64

	// CrashBeforeCommit, when set, is called at the start of Commit: a test hook for crashing
	// between FinalizeBlock and Commit. It is nil in production.
	CrashBeforeCommit func(height int64)
	// failCommit, when set (SetFailCommit), makes Commit fail with its error: a test hook for a
	// storage failure.
	failCommit func(height int64) error
	// OnFailure, when set, is told the error that FinalizeBlock or Commit returns to CometBFT: the
	// app cannot go on, and CometBFT's consensus stops (its "CONSENSUS FAILURE"). The node marks
	// its consensus service failed with it.
	OnFailure func(err error)

	listeners  []CommitListener
	handlersMu sync.RWMutex
	handlers   map[string]QueryHandler

	snapshots *snapshotter // nil: no snapshots taken or served
	restore   *restoring   // a state-sync restore in progress
}

// CommitListener is told each committed block's events, in order, after they are durable.
// It runs inside Commit, so it must be quick and must not call back into the App.
type CommitListener func(height int64, records []ledger.EventRecord)

// QueryHandler answers an extra query path registered with HandleQuery. It runs outside the
// app's lock, possibly from several goroutines at once, so it does its own locking.
type QueryHandler func(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery

// OnCommit registers a listener; register before the node starts.
func (a *App) OnCommit(l CommitListener) { a.listeners = append(a.listeners, l) }

// HandleQuery serves an extra query path (such as /trust/score), at any time.
func (a *App) HandleQuery(path string, h QueryHandler) {
	a.handlersMu.Lock()
	defer a.handlersMu.Unlock()
	if a.handlers == nil {
		a.handlers = map[string]QueryHandler{}
	}
	a.handlers[path] = h
}

func (a *App) handler(path string) (QueryHandler, bool) {
	a.handlersMu.RLock()
	defer a.handlersMu.RUnlock()
	h, ok := a.handlers[path]
	return h, ok
}

type stagedBlock struct {
	height  int64
	records []ledger.EventRecord
}

var _ abcitypes.Application = (*App)(nil)

// NewApp opens the application over an open store. metrics may come from NewMetrics(nil).
func NewApp(store *storage.AppStore, logger log.Logger, metrics *Metrics) (*App, error) {
	a := &App{store: store, logger: logger, metrics: metrics, verified: newVerifiedCache(50_000)}
	metrics.appDBSize.Store(store.DiskBytes)
	if h, _ := store.LastCommit(); h > 0 {
		chain, params, err := ledger.LoadParams(store)
		if err != nil {
			return nil, fmt.Errorf("load genesis parameters from state: %w", err)
		}
		a.chainID, a.params = chain, params
		a.metrics.Height.Set(float64(h))
		a.metrics.StateKeys.Set(float64(store.Size()))
	}
	a.handleExplorerQueries()
	return a, nil
}

// SetFailCommit installs a test hook that makes Commit fail with f's error (nil: none), at any
// time (it takes the app's lock).
func (a *App) SetFailCommit(f func(height int64) error) {
	a.mu.Lock()
	a.failCommit = f
	a.mu.Unlock()
}

// fail reports an error that stops consensus to OnFailure, and returns it.
func (a *App) fail(err error) error {
	a.logger.Error("the application cannot go on; consensus stops", "err", err)
	if a.OnFailure != nil {
		a.OnFailure(err)
	}
	return err
}

// ResetUncommitted forgets what consensus left unfinished: a block finalized but not committed
// (its writes are dropped from the working state) and the mempool's view. Call it after
// stopping the CometBFT node, before another one connects; that one replays what the app lacks.
func (a *App) ResetUncommitted() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.staged != nil {
		a.logger.Info("dropping a block finalized but not committed; consensus replays it", "height", a.staged.height)
		a.store.DiscardWorking()
		a.staged = nil
	}
	a.check = nil
}

// Store returns the application's store, for queries served outside ABCI.
func (a *App) Store() *storage.AppStore { return a.store }

func (a *App) Info(_ context.Context, _ *abcitypes.RequestInfo) (*abcitypes.ResponseInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, hash := a.store.LastCommit()
	return &abcitypes.ResponseInfo{Data: "trustledger", Version: Version, AppVersion: AppVersion,
		LastBlockHeight: h, LastBlockAppHash: hash}, nil
}

func (a *App) InitChain(_ context.Context, req *abcitypes.RequestInitChain) (*abcitypes.ResponseInitChain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	gs := GenesisState{Params: ledger.DefaultParams()}
	if len(req.AppStateBytes) > 0 {
		if err := json.Unmarshal(req.AppStateBytes, &gs); err != nil {
			return nil, fmt.Errorf("genesis app_state: %w", err)
		}
	}
	var vals []ledger.ValidatorPower
	for _, v := range req.Validators {
		pk, err := cryptoenc.PubKeyFromProto(v.PubKey)
		if err != nil {
			return nil, fmt.Errorf("genesis validator key: %w", err)
		}
		raw := pk.Bytes()
		if len(raw) != 32 || pk.Type() != "ed25519" {
			return nil, fmt.Errorf("genesis validator key of type %s: trustledger validators use ed25519", pk.Type())
		}
		var k ledger.PubKey
		copy(k[:], raw)
		vals = append(vals, ledger.ValidatorPower{PubKey: k, Power: uint64(v.Power)})
	}
	if err := ledger.InitGenesis(a.store, req.ChainId, gs.Params, vals); err != nil {
		return nil, err
	}
	a.chainID, a.params = req.ChainId, gs.Params
	a.logger.Info("initialised chain", "chain_id", req.ChainId, "pow_difficulty", gs.Params.PowDifficulty,
		"max_tx_bytes", gs.Params.MaxTxBytes, "validators", len(vals))
	return &abcitypes.ResponseInitChain{}, nil
}

// checkBlock returns the mempool's view, started afresh after each commit.
func (a *App) checkBlock() *ledger.Block {
	h, _ := a.store.LastCommit()
	if a.check == nil || a.checkHeight != h {
		a.check = ledger.NewBlock(a.store, a.chainID, a.params, ledger.BlockInfo{Height: h + 1, Time: a.lastBlockSec}, false)
		a.checkHeight = h
	}
	return a.check
}

// decodeVerified returns the decoded tx if CheckTx already verified exactly these bytes.
func (a *App) decodeVerified(tx []byte) *ledger.Tx {
	return a.verified.get(ledger.TxHash(tx))
}

// CheckTx verifies a tx's encoding and signatures without the app lock (they need no state),
// once per tx: a recheck after a commit, or a tx seen again, takes them from the verified cache.
// Then, under the lock, it applies the tx to the mempool's view of the state.
func (a *App) CheckTx(_ context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	tx := a.decodeVerified(req.Tx)
	if tx == nil {
		a.mu.Lock()
		chainID, params := a.chainID, a.params
		a.mu.Unlock()
		var err error
		if tx, err = ledger.CheckStateless(req.Tx, chainID, params); err != nil {
			return a.rejectCheck(err), nil
		}
		a.metrics.TxsVerified.Inc()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	res := a.checkBlock().ApplyTx(req.Tx, tx) // after a commit, the view starts from the new state
	if res.Code != ledger.CodeOK {
		return a.rejectCheck(&ledger.RejectError{Code: res.Code, Msg: res.Log}), nil
	}
	a.verified.put(res.Hash, tx)
	return &abcitypes.ResponseCheckTx{Code: 0}, nil
}

func (a *App) rejectCheck(err error) *abcitypes.ResponseCheckTx {
	code := ledger.CodeOf(err)
	a.metrics.TxsRejected.WithLabelValues("check", code.String()).Inc()
	msg := ledger.MessageOf(err)
	a.logger.Info("rejected tx", "stage", "check", "code", uint32(code), "reason", code.String(), "err", msg)
	return &abcitypes.ResponseCheckTx{Code: uint32(code), Log: msg, Codespace: "trustledger"}
}

// simulate applies txs to a throwaway block on the committed state, for proposals.
func (a *App) simulate(height int64, t time.Time) *ledger.Block {
	return ledger.NewBlock(a.store, a.chainID, a.params, ledger.BlockInfo{Height: height, Time: t.Unix()}, true)
}

func (a *App) PrepareProposal(_ context.Context, req *abcitypes.RequestPrepareProposal) (*abcitypes.ResponsePrepareProposal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.simulate(req.Height, req.Time)
	var out [][]byte
	var size int64
	for _, tx := range req.Txs {
		if size+int64(len(tx)) > req.MaxTxBytes {
			break
		}
		if r := b.ApplyTx(tx, a.decodeVerified(tx)); r.Code == ledger.CodeOK {
			out = append(out, tx)
			size += int64(len(tx))
		} else {
			a.metrics.TxsRejected.WithLabelValues("proposal", r.Code.String()).Inc()
		}
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return &abcitypes.ResponsePrepareProposal{Txs: out}, nil
}

func (a *App) ProcessProposal(_ context.Context, req *abcitypes.RequestProcessProposal) (*abcitypes.ResponseProcessProposal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.simulate(req.Height, req.Time)
	for i, tx := range req.Txs {
		if r := b.ApplyTx(tx, a.decodeVerified(tx)); r.Code != ledger.CodeOK {
			a.metrics.TxsRejected.WithLabelValues("proposal", r.Code.String()).Inc()
			a.logger.Info("rejecting proposal with an invalid tx", "height", req.Height, "tx", i, "reason", r.Log)
			return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_REJECT}, nil
		}
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_ACCEPT}, nil
}

func (a *App) FinalizeBlock(_ context.Context, req *abcitypes.RequestFinalizeBlock) (*abcitypes.ResponseFinalizeBlock, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	if last, _ := a.store.LastCommit(); req.Height != last+1 && last != 0 {
		return nil, fmt.Errorf("finalize height %d, but the last commit is %d", req.Height, last)
	}
	if a.staged != nil {
		return nil, fmt.Errorf("finalize height %d while height %d awaits commit", req.Height, a.staged.height)
	}
	b := ledger.NewBlock(a.store, a.chainID, a.params, ledger.BlockInfo{Height: req.Height, Time: req.Time.Unix()}, true)
	results := make([]*abcitypes.ExecTxResult, len(req.Txs))
	for i, tx := range req.Txs {
		r := b.ApplyTx(tx, a.decodeVerified(tx))
		a.verified.remove(r.Hash)
		if r.Code != ledger.CodeOK {
			a.metrics.TxsRejected.WithLabelValues("block", r.Code.String()).Inc()
			a.logger.Info("tx rejected in block", "height", req.Height, "tx", i, "code", uint32(r.Code), "reason", r.Log)
			results[i] = &abcitypes.ExecTxResult{Code: uint32(r.Code), Log: r.Log, Codespace: "trustledger"}
			continue
		}
		results[i] = &abcitypes.ExecTxResult{Code: 0, Events: txEvents(r.Records)}
	}
	for _, m := range req.Misbehavior {
		accused, ok, err := ledger.ValidatorPubKey(a.store, m.Validator.Address)
		if err != nil {
			return nil, err
		}
		if !ok {
			a.logger.Error("misbehaviour evidence against an unknown validator", "address", fmt.Sprintf("%X", m.Validator.Address))
			continue
		}
		kind := ledger.MisconductDuplicateVote
		if m.Type == abcitypes.MisbehaviorType_LIGHT_CLIENT_ATTACK {
			kind = ledger.MisconductLightClientAttack
		}
		b.RecordConsensusMisbehavior(accused, kind, misbehaviorDigest(m))
		a.logger.Info("recorded validator misbehaviour", "validator", accused.String(), "kind", kind.String(), "offence_height", m.Height)
	}
	if _, err := b.Finish(); err != nil {
		return nil, a.fail(fmt.Errorf("apply block %d: %w", req.Height, err))
	}
	var updates []abcitypes.ValidatorUpdate
	for _, c := range b.ValidatorChanges() {
		pk, err := cryptoenc.PubKeyToProto(cmted25519.PubKey(c.PubKey[:]))
		if err != nil {
			return nil, err
		}
		updates = append(updates, abcitypes.ValidatorUpdate{PubKey: pk, Power: int64(c.Power)})
		a.logger.Info("validator power change", "validator", c.PubKey.String(), "power", c.Power, "height", req.Height)
	}
	a.staged = &stagedBlock{height: req.Height, records: b.Records()}
	a.lastBlockSec = req.Time.Unix()
	a.metrics.BlockApply.Observe(time.Since(start).Seconds())
	return &abcitypes.ResponseFinalizeBlock{TxResults: results, AppHash: a.store.WorkingHash(), ValidatorUpdates: updates}, nil
}

func (a *App) Commit(_ context.Context, _ *abcitypes.RequestCommit) (*abcitypes.ResponseCommit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.staged == nil {
		return nil, errors.New("commit without a finalized block")
	}
	if a.CrashBeforeCommit != nil {
		a.CrashBeforeCommit(a.staged.height)
	}
	if a.failCommit != nil {
		if err := a.failCommit(a.staged.height); err != nil {
			return nil, a.fail(fmt.Errorf("commit height %d: %w", a.staged.height, err))
		}
	}
	if _, err := a.store.Commit(a.staged.height, a.staged.records); err != nil {
		return nil, a.fail(err)
	}
	if err := a.store.Prune(); err != nil {
		a.logger.Error("pruning old state versions", "err", err) // the commit stands
	}
	for _, r := range a.staged.records {
		a.metrics.EventsApplied.WithLabelValues(r.Kind.String()).Inc()
	}
	for _, l := range a.listeners {
		l(a.staged.height, a.staged.records)
	}
	a.metrics.Height.Set(float64(a.staged.height))
	a.metrics.StateKeys.Set(float64(a.store.Size()))
	a.afterCommit(a.staged.height)
	a.staged = nil
	a.check = nil
	return &abcitypes.ResponseCommit{}, nil
}
