package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
)

func newInitCmd(g *globals) *cobra.Command {
	o := node.DefaultInitOptions()
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a single-validator node home: config, validator key, node key and genesis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var created bool
			var err error
			if o.Genesis != "" {
				created, err = node.Join(cmd.Context(), g.homeDir(), &o)
			} else {
				if o.Peers != "" || o.StateSync != "" || o.LibP2P {
					return errors.New("--peers, --state-sync and --libp2p need --genesis: a new single-validator chain has no peers")
				}
				created, err = node.Init(g.homeDir(), o)
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch {
			case !created:
				fmt.Fprintf(w, "node home %s already initialised; nothing changed\n", g.home)
			case o.Genesis != "":
				fmt.Fprintf(w, "initialised node home %s to join the network of %s\n", g.home, o.Genesis)
				if o.Trusted != "" {
					fmt.Fprintf(w, "state sync will trust %s; check this hash with another source you trust before `trustd start`\n", o.Trusted)
				}
			default:
				fmt.Fprintf(w, "initialised node home %s (chain %s)\n", g.home, o.ChainID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ChainID, "chain-id", o.ChainID, "chain id written into genesis")
	f.StringVar(&o.Moniker, "moniker", o.Moniker, "node name shown to peers")
	f.StringVar(&o.RPCAddr, "rpc.laddr", o.RPCAddr, "RPC listen address (loopback unless you mean to expose it)")
	f.StringVar(&o.P2PAddr, "p2p.laddr", o.P2PAddr, "P2P listen address")
	f.StringVar(&o.MetricsAddr, "instrumentation.prometheus_listen_addr", o.MetricsAddr, "Prometheus metrics address (empty: the metrics service is disabled)")
	f.StringVar(&o.ExplorerAddr, "explorer.laddr", o.ExplorerAddr, "web explorer address, app.toml [explorer] listen (empty: no explorer)")
	f.StringVar(&o.Genesis, "genesis", "", "join an existing network: its genesis.json (chain id and parameters come from it)")
	f.StringVar(&o.Peers, "peers", "", "with --genesis: persistent peers, id@host:port,... ('trustd show-node-id' on each)")
	f.StringVar(&o.StateSync, "state-sync", "", "with --genesis: restore the state from a snapshot instead of replaying every block; two or more RPC servers of the network, comma-separated (the first one's latest header is trusted)")
	f.BoolVar(&o.LibP2P, "libp2p", false, "with --genesis: use CometBFT's experimental go-libp2p transport; --peers then holds libp2p ids ('trustd show-node-id --libp2p')")
	f.Uint32Var(&o.Params.PowDifficulty, "pow-difficulty", o.Params.PowDifficulty, "genesis: leading zero bits a registration's proof of work needs")
	f.Uint32Var(&o.Params.MaxTxBytes, "max-tx-bytes", o.Params.MaxTxBytes, "genesis: largest transaction in bytes")
	f.Uint32Var(&o.Params.MaxEventsPerTx, "max-events-per-tx", o.Params.MaxEventsPerTx, "genesis: most events under one signature")
	f.Uint32Var(&o.Params.MaxTxsPerSignerPerBlock, "max-txs-per-signer-per-block", o.Params.MaxTxsPerSignerPerBlock, "genesis: most transactions of one signer in a block")
	f.BoolVar(&o.Params.ZeroPowerOnDuplicateVote, "zero-power-on-duplicate-vote", false, "genesis: a validator with committed duplicate-vote evidence loses its voting power")
	return cmd
}
