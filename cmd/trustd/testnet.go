package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
)

func newTestnetCmd() *cobra.Command {
	o := node.TestnetOptions{Params: ledger.DefaultParams()}
	cmd := &cobra.Command{
		Use:   "testnet --validators N --output DIR",
		Short: "Write a ready local network: N validators on distinct loopback ports, one genesis, persistent peers",
		Long: "Write a ready local network. Node i (0-based) listens on 127.0.0.1: p2p BASE+10i, rpc BASE+10i+1,\n" +
			"metrics BASE+10i+2. Start each with `trustd start --home DIR/nodeI` (or `make testnet`).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := node.WriteTestnet(o)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\trpc %s\tp2p %s\n", n.Name, n.Home, n.RPC, n.P2P)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Validators, "validators", 4, "number of validators")
	f.StringVar(&o.Output, "output", "", "directory to create (must not exist or be empty) (required)")
	f.IntVar(&o.BasePort, "base-port", 26600, "first port; node i uses base+10i .. base+10i+2")
	f.StringVar(&o.ChainID, "chain-id", "trustledger-testnet", "chain id")
	f.Uint32Var(&o.Params.PowDifficulty, "pow-difficulty", o.Params.PowDifficulty, "genesis: registration proof of work, in leading zero bits")
	f.BoolVar(&o.Params.ZeroPowerOnDuplicateVote, "zero-power-on-duplicate-vote", false, "genesis: a validator with committed duplicate-vote evidence loses its voting power")
	f.BoolVar(&o.LibP2P, "libp2p", false, "use CometBFT's experimental go-libp2p transport (QUIC on the p2p port, UDP) with libp2p bootstrap peers")
	return cmd
}
