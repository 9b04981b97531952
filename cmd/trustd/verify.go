package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
)

// newVerifyCmd re-executes a stopped node's whole chain from genesis (node.VerifyChain).
func newVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-check a stopped node's chain from genesis: commit signatures, tx results, app hashes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := node.VerifyChain(cmd.Context(), g.homeDir())
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

// newReindexCmd rebuilds the browsing indexes of a stopped node from its blocks (node.Reindex).
func newReindexCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild a stopped node's event indexes from its blocks (checks the chain as verify does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := node.Reindex(cmd.Context(), g.homeDir())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reindexed %d events from %d blocks (height %d)\n", rep.Events, rep.Blocks, rep.Height)
			return nil
		},
	}
}
