package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/abci"
)

type statusView struct {
	ChainID  string `json:"chain_id"`
	NodeID   string `json:"node_id"`
	Moniker  string `json:"moniker"`
	Height   int64  `json:"height"`
	AppHash  string `json:"app_hash"`
	Time     string `json:"time"`
	CatchUp  bool   `json:"catching_up"`
	RPC      string `json:"rpc"`
	Version  string `json:"version"`
	AppState string `json:"app_version"`
	// HistoryFrom: this node restored a state-sync snapshot of that height; it holds the events
	// above it only.
	HistoryFrom int64 `json:"history_from,omitempty"`
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "status", Short: "Height, app hash and identity of the node", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			v := statusView{ChainID: st.NodeInfo.Network, NodeID: string(st.NodeInfo.DefaultNodeID), Moniker: st.NodeInfo.Moniker,
				Height: st.SyncInfo.LatestBlockHeight, AppHash: st.SyncInfo.LatestAppHash.String(),
				Time: st.SyncInfo.LatestBlockTime.UTC().Format("2006-01-02T15:04:05Z"), CatchUp: st.SyncInfo.CatchingUp,
				RPC: c.Name(), Version: st.NodeInfo.Version, AppState: abci.Version}
			if p, err := c.Params(cmd.Context()); err == nil {
				v.HistoryFrom = p.HistoryFrom
			}
			return printOut(cmd, g, v, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "chain %s · height %d · app hash %s · %s\nnode %s (%s) at %s, catching up: %v\n",
					v.ChainID, v.Height, v.AppHash, v.Time, v.NodeID, safe(v.Moniker), v.RPC, v.CatchUp)
				if v.HistoryFrom > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "state restored from a snapshot at height %d: events are known from height %d on\n",
						v.HistoryFrom, v.HistoryFrom+1)
				}
			})
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "trustd", abci.Version) },
	}
}
