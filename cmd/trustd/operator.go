package main

import (
	"errors"
	"fmt"
	"os"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
)

func newShowNodeIDCmd(g *globals) *cobra.Command {
	var asLibP2P bool
	cmd := &cobra.Command{
		Use: "show-node-id", Short: "Print this node's p2p id (what peers put before @host:port)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := node.LoadConfig(g.homeDir())
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
			c, err := node.LoadConfig(g.homeDir())
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

// newResetCmd deletes the chain data of a stopped node (node.Reset).
func newResetCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use: "reset --yes", Short: "Delete all chain data of a stopped node (keeps keys, config and genesis)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errors.New("reset deletes every block and all state of this node; run it again with --yes to confirm")
			}
			dir, err := node.Reset(g.homeDir())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reset %s: chain data deleted, validator state reset\n", dir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm")
	return cmd
}

// newRollbackCmd rolls a stopped node back by one height (node.Rollback).
func newRollbackCmd(g *globals) *cobra.Command {
	var removeBlock bool
	cmd := &cobra.Command{
		Use: "rollback", Short: "Roll a stopped node's state back one height (the block is replayed on start)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			height, hash, err := node.Rollback(g.homeDir(), removeBlock)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back to height %d, app hash %X\n", height, hash)
			return nil
		},
	}
	cmd.Flags().BoolVar(&removeBlock, "hard", false, "also remove the last block from the block store")
	return cmd
}
