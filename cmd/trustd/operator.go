package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	cfg "github.com/cometbft/cometbft/config"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/storage"
)

func newShowNodeIDCmd(g *globals) *cobra.Command {
	var asLibP2P bool
	cmd := &cobra.Command{
		Use: "show-node-id", Short: "Print this node's p2p id (what peers put before @host:port)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(g.home)
			if err != nil {
				return err
			}
			nk, err := p2p.LoadNodeKey(c.NodeKeyFile())
			if err != nil {
				return fmt.Errorf("load node key: %w", err)
			}
			if asLibP2P {
				id, err := lp2p.IDFromPrivateKey(nk.PrivKey)
				if err != nil {
					return fmt.Errorf("libp2p peer id: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), nk.ID())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asLibP2P, "libp2p", false, "print the go-libp2p peer id of the same node key (for [p2p.libp2p] bootstrap_peers)")
	return cmd
}

func newShowValidatorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "show-validator", Short: "Print this node's validator public key (CometBFT JSON)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(g.home)
			if err != nil {
				return err
			}
			if _, err := os.Stat(c.PrivValidatorKeyFile()); err != nil {
				return fmt.Errorf("no validator key: %w", err)
			}
			pk, err := privval.LoadFilePVEmptyState(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()).GetPubKey()
			if err != nil {
				return err
			}
			b, err := cmtjson.Marshal(pk)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
}

// newResetCmd deletes the chain data (blocks, state, application state, indexes) and resets the
// validator's last-signed state, keeping keys, config and genesis.
func newResetCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use: "reset --yes", Short: "Delete all chain data of a stopped node (keeps keys, config and genesis)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errors.New("reset deletes every block and all state of this node; run it again with --yes to confirm")
			}
			c, err := loadConfig(g.home)
			if err != nil {
				return err
			}
			if err := refuseIfRunning(c); err != nil {
				return err
			}
			entries, err := os.ReadDir(c.DBDir())
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.Name() == filepath.Base(c.PrivValidatorStateFile()) {
					continue
				}
				if err := os.RemoveAll(filepath.Join(c.DBDir(), e.Name())); err != nil {
					return err
				}
			}
			privval.LoadFilePVEmptyState(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()).Reset()
			fmt.Fprintf(cmd.OutOrStdout(), "reset %s: chain data deleted, validator state reset\n", c.DBDir())
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm")
	return cmd
}

// refuseIfRunning fails when the node's databases are locked by a running process.
func refuseIfRunning(c *cfg.Config) error {
	s, err := storage.OpenAppStore(filepath.Join(c.DBDir(), appDBName))
	if err != nil {
		return fmt.Errorf("the node's data is in use or damaged (stop the node first): %w", err)
	}
	return s.Close()
}

// newRollbackCmd rolls CometBFT's state and the application back by one height on a stopped
// node; on the next start the last block is replayed.
func newRollbackCmd(g *globals) *cobra.Command {
	var removeBlock bool
	cmd := &cobra.Command{
		Use: "rollback", Short: "Roll a stopped node's state back one height (the block is replayed on start)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := stoppedNode(g)
			if err != nil {
				return err
			}
			bs, ss, closeStores, err := chainStores(c)
			if err != nil {
				return err
			}
			defer closeStores()
			app, err := storage.OpenAppStore(filepath.Join(c.DBDir(), appDBName))
			if err != nil {
				return fmt.Errorf("open application state: %w", err)
			}
			defer app.Close()
			height, hash, err := sm.Rollback(bs, ss, removeBlock)
			if err != nil {
				return fmt.Errorf("roll back consensus state: %w", err)
			}
			appHeight, _ := app.LastCommit()
			if appHeight > height {
				got, err := app.Rollback(height)
				if err != nil {
					return err
				}
				if string(got) != string(hash) {
					return fmt.Errorf("application state at %d has hash %X, consensus expects %X", height, got, hash)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back to height %d, app hash %X\n", height, hash)
			return nil
		},
	}
	cmd.Flags().BoolVar(&removeBlock, "hard", false, "also remove the last block from the block store")
	return cmd
}

// stoppedNode loads the config of a node whose databases a command opens directly.
func stoppedNode(g *globals) (*cfg.Config, error) {
	if err := requireBadger(); err != nil {
		return nil, err
	}
	return loadConfig(g.home)
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
