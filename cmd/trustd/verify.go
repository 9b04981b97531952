package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

// verifyReport is what `trustd verify` found.
type verifyReport struct {
	Blocks       int64  `json:"blocks"`
	Txs          int    `json:"txs"`
	Events       int    `json:"events"`
	Height       int64  `json:"height"`
	AppHash      string `json:"app_hash"`
	Inconsistent string `json:"first_inconsistency,omitempty"`
}

// newVerifyCmd re-executes a stopped node's whole chain from genesis with a fresh application
// in a temporary directory, checking each block's commit signatures, each tx's result and the
// app hash of every header against the replay.
func newVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-check a stopped node's chain from genesis: commit signatures, tx results, app hashes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := stoppedNode(g)
			if err != nil {
				return err
			}
			rep, err := verifyChain(cmd.Context(), c, nil)
			if err != nil {
				return err
			}
			if err := printOut(cmd, g, rep, func() {
				if rep.Inconsistent == "" {
					fmt.Fprintf(cmd.OutOrStdout(), "verified %d blocks, %d txs, %d events: app hash %s at height %d\n",
						rep.Blocks, rep.Txs, rep.Events, rep.AppHash, rep.Height)
				}
			}); err != nil {
				return err
			}
			if rep.Inconsistent != "" {
				return fmt.Errorf("first inconsistency: %s", rep.Inconsistent)
			}
			return nil
		},
	}
}

// verifyChain replays the chain into a fresh app store; if the replay is consistent and done is
// not nil, done gets that store before it is discarded.
func verifyChain(ctx context.Context, c *cfg.Config, done func(*storage.AppStore) error) (*verifyReport, error) {
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
	rep := &verifyReport{}
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
	for h := gen.InitialHeight; h <= last; h++ {
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

// newReindexCmd rebuilds the browsing indexes (events by node, pair, kind and tx) of a stopped
// node from its blocks: they are derived data, outside the app hash (specs/state.md §4).
func newReindexCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild a stopped node's event indexes from its blocks (checks the chain as verify does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := stoppedNode(g)
			if err != nil {
				return err
			}
			rep, err := verifyChain(cmd.Context(), c, func(replayed *storage.AppStore) error {
				st, err := storage.OpenAppStore(filepath.Join(c.DBDir(), appDBName))
				if err != nil {
					return fmt.Errorf("open the node's application state (is it stopped?): %w", err)
				}
				defer st.Close()
				return st.ReplaceIndex(replayed)
			})
			if err != nil {
				return err
			}
			if rep.Inconsistent != "" {
				return fmt.Errorf("not reindexed: first inconsistency: %s", rep.Inconsistent)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reindexed %d events from %d blocks (height %d)\n", rep.Events, rep.Blocks, rep.Height)
			return nil
		},
	}
}
