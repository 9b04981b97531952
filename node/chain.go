package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/privval"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	"github.com/cometbft/cometbft/types"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

// stopped loads the config of a stopped node whose databases a command opens directly.
func stopped(home Home) (*cfg.Config, error) {
	if err := requireBadger(); err != nil {
		return nil, err
	}
	c, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	return c, EnsureStopped(home)
}

// chainStores opens CometBFT's block and state stores of a stopped node; close releases both.
func chainStores(c *cfg.Config) (bs *store.BlockStore, ss sm.Store, close func(), err error) {
	bdb, err := abci.DBProvider(&cfg.DBContext{ID: "blockstore", Config: c})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open block store (is the node stopped?): %w", err)
	}
	sdb, err := abci.DBProvider(&cfg.DBContext{ID: "state", Config: c})
	if err != nil {
		bdb.Close()
		return nil, nil, nil, fmt.Errorf("open state store: %w", err)
	}
	return store.NewBlockStore(bdb), sm.NewStore(sdb, sm.StoreOptions{}), func() { sdb.Close(); bdb.Close() }, nil
}

// VerifyReport is what VerifyChain found.
type VerifyReport struct {
	Blocks       int64  `json:"blocks"`
	Txs          int    `json:"txs"`
	Events       int    `json:"events"`
	Height       int64  `json:"height"`
	AppHash      string `json:"app_hash"`
	Inconsistent string `json:"first_inconsistency,omitempty"`
}

// VerifyChain re-executes a stopped node's whole chain from genesis with a fresh application in
// a temporary directory, checking each block's commit signatures, each tx's result code and the
// app hash of every header against the replay. The first inconsistency is in the report.
func VerifyChain(ctx context.Context, home Home) (*VerifyReport, error) {
	c, err := stopped(home)
	if err != nil {
		return nil, err
	}
	return verifyChain(ctx, c, 0, nil)
}

// Reindex rebuilds a stopped node's browsing indexes (events by node, pair, kind and tx) from
// its blocks, after the checks of VerifyChain: they are derived data, outside the app hash
// (specs/state.md §4). A chain that does not verify is not reindexed.
func Reindex(ctx context.Context, home Home) (*VerifyReport, error) {
	c, err := stopped(home)
	if err != nil {
		return nil, err
	}
	st, err := storage.OpenAppStore(AppDB(c))
	if err != nil {
		return nil, fmt.Errorf("open the node's application state: %w", err)
	}
	defer st.Close()
	// A node killed between storing a block and committing it has that block one ahead of its
	// state (it replays it at the next start): the indexes go up to the state's height.
	upTo, _ := st.LastCommit()
	if upTo == 0 {
		return nil, fmt.Errorf("the node's application state has committed nothing: nothing to reindex")
	}
	rep, err := verifyChain(ctx, c, upTo, st.ReplaceIndex)
	if err == nil && rep.Inconsistent != "" {
		err = fmt.Errorf("not reindexed: first inconsistency: %s", rep.Inconsistent)
	}
	return rep, err
}

// verifyChain replays the chain, up to height upTo if not 0, into a fresh app store; if the
// replay is consistent and done is not nil, done gets that store before it is discarded.
func verifyChain(ctx context.Context, c *cfg.Config, upTo int64, done func(*storage.AppStore) error) (*VerifyReport, error) {
	gen, err := types.GenesisDocFromFile(c.GenesisFile())
	if err != nil {
		return nil, err
	}
	bs, ss, closeStores, err := chainStores(c)
	if err != nil {
		return nil, err
	}
	defer closeStores()
	if bs.Base() > gen.InitialHeight {
		return nil, fmt.Errorf("the block store starts at %d (pruned or state-synced); verify needs every block from %d", bs.Base(), gen.InitialHeight)
	}
	tmp, err := os.MkdirTemp("", "trustd-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	appStore, err := storage.OpenAppStore(filepath.Join(tmp, "app.db"))
	if err != nil {
		return nil, err
	}
	defer appStore.Close()
	app, err := abci.NewApp(appStore, log.NewNopLogger(), abci.NewMetrics(nil))
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{}
	app.OnCommit(func(_ int64, records []ledger.EventRecord) { rep.Events += len(records) })
	vals := make([]*types.Validator, len(gen.Validators))
	for i, v := range gen.Validators {
		vals[i] = types.NewValidator(v.PubKey, v.Power)
	}
	params := gen.ConsensusParams.ToProto()
	if _, err := app.InitChain(ctx, &abcitypes.RequestInitChain{ChainId: gen.ChainID, InitialHeight: gen.InitialHeight, Time: gen.GenesisTime,
		ConsensusParams: &params, Validators: types.TM2PB.ValidatorUpdates(types.NewValidatorSet(vals)), AppStateBytes: gen.AppState}); err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	var prevHash []byte
	last := bs.Height()
	if upTo > 0 {
		if upTo > last {
			return nil, fmt.Errorf("the application state is at height %d, the block store at %d", upTo, last)
		}
		last = upTo
	}
	for h := gen.InitialHeight; h <= last; h++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		block := bs.LoadBlock(h)
		if block == nil {
			rep.Inconsistent = fmt.Sprintf("height %d: block missing from the block store", h)
			return rep, nil
		}
		if h > gen.InitialHeight && !bytes.Equal(block.Header.AppHash, prevHash) {
			rep.Inconsistent = fmt.Sprintf("height %d: header app hash %X, replaying height %d gives %X", h, block.Header.AppHash, h-1, prevHash)
			return rep, nil
		}
		// The block's commit (stored with block h+1, or as the seen commit for the last one) must
		// carry more than 2/3 of the power of height h's validators.
		commit := bs.LoadBlockCommit(h)
		if commit == nil {
			commit = bs.LoadSeenCommit(h)
		}
		valSet, err := ss.LoadValidators(h)
		if err != nil {
			return nil, fmt.Errorf("validators of height %d: %w", h, err)
		}
		meta := bs.LoadBlockMeta(h)
		if commit == nil || meta == nil {
			rep.Inconsistent = fmt.Sprintf("height %d: no commit stored", h)
			return rep, nil
		}
		if err := valSet.VerifyCommitLight(gen.ChainID, meta.BlockID, h, commit); err != nil {
			rep.Inconsistent = fmt.Sprintf("height %d: commit signatures: %v", h, err)
			return rep, nil
		}
		res, err := app.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Txs: block.Txs.ToSliceOfBytes(), Height: h,
			Time: block.Time, Hash: block.Hash(), Misbehavior: block.Evidence.Evidence.ToABCI(),
			ProposerAddress: block.ProposerAddress, NextValidatorsHash: block.NextValidatorsHash})
		if err != nil {
			rep.Inconsistent = fmt.Sprintf("height %d: replay failed: %v", h, err)
			return rep, nil
		}
		if stored, err := ss.LoadFinalizeBlockResponse(h); err == nil && stored != nil {
			if len(stored.TxResults) != len(res.TxResults) {
				rep.Inconsistent = fmt.Sprintf("height %d: %d stored tx results, replay gives %d", h, len(stored.TxResults), len(res.TxResults))
				return rep, nil
			}
			for i := range res.TxResults {
				if stored.TxResults[i].Code != res.TxResults[i].Code {
					rep.Inconsistent = fmt.Sprintf("height %d tx %d: stored code %d, replay gives %d (%s)", h, i, stored.TxResults[i].Code, res.TxResults[i].Code, res.TxResults[i].Log)
					return rep, nil
				}
			}
			if !bytes.Equal(stored.AppHash, res.AppHash) {
				rep.Inconsistent = fmt.Sprintf("height %d: stored app hash %X, replay gives %X", h, stored.AppHash, res.AppHash)
				return rep, nil
			}
		}
		if _, err := app.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
			return nil, fmt.Errorf("commit replay of %d: %w", h, err)
		}
		rep.Blocks++
		rep.Txs += len(block.Txs)
		prevHash = res.AppHash
		rep.Height = h
		rep.AppHash = fmt.Sprintf("%X", res.AppHash)
	}
	if state, err := ss.Load(); err == nil && state.LastBlockHeight == last && !bytes.Equal(state.AppHash, prevHash) {
		rep.Inconsistent = fmt.Sprintf("height %d: the node's state says app hash %X, replay gives %X", last, state.AppHash, prevHash)
	}
	if rep.Inconsistent == "" && done != nil {
		if err := done(appStore); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// Rollback rolls a stopped node's CometBFT state and application back one height (with
// removeBlock, the last block too); on the next start the block is replayed. It returns the
// height and app hash rolled back to.
func Rollback(home Home, removeBlock bool) (int64, []byte, error) {
	c, err := stopped(home)
	if err != nil {
		return 0, nil, err
	}
	bs, ss, closeStores, err := chainStores(c)
	if err != nil {
		return 0, nil, err
	}
	defer closeStores()
	app, err := storage.OpenAppStore(AppDB(c))
	if err != nil {
		return 0, nil, fmt.Errorf("open application state: %w", err)
	}
	defer app.Close()
	height, hash, err := sm.Rollback(bs, ss, removeBlock)
	if err != nil {
		return 0, nil, fmt.Errorf("roll back consensus state: %w", err)
	}
	if appHeight, _ := app.LastCommit(); appHeight > height {
		got, err := app.Rollback(height)
		if err != nil {
			return 0, nil, err
		}
		if !bytes.Equal(got, hash) {
			return 0, nil, fmt.Errorf("application state at %d has hash %X, consensus expects %X", height, got, hash)
		}
	}
	return height, hash, nil
}

// Reset deletes a stopped node's chain data (blocks, state, application state, indexes,
// snapshots) and resets the validator's last-signed state, keeping keys, config and genesis.
// It returns the data directory it emptied.
func Reset(home Home) (string, error) {
	c, err := stopped(home)
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(c.DBDir())
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(c.PrivValidatorStateFile()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.DBDir(), e.Name())); err != nil {
			return "", err
		}
	}
	privval.LoadFilePVEmptyState(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()).Reset()
	return c.DBDir(), nil
}
