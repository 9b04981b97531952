package main

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	cmtversion "github.com/cometbft/cometbft/version"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/node"
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
	Version  string `json:"cometbft_reports"` // the version CometBFT reports of itself
	CometBFT string `json:"cometbft_module"`  // the CometBFT module this trustd is built with
	AppState string `json:"app_version"`
	// HistoryFrom: this node restored a state-sync snapshot of that height; it holds the events
	// above it only.
	HistoryFrom int64 `json:"history_from,omitempty"`
	// Failed are the services of the node running on --home that failed (consensus after the
	// application could not go on, say), from its control socket.
	Failed []node.Status `json:"failed_services,omitempty"`
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
				// The RPC is consensus's: a node running on --home may have it stopped or failed.
				if ans, cerr := node.DialControl(g.homeDir()).Services(cmd.Context()); cerr == nil {
					for _, s := range ans.Services {
						if s.Name == node.ServiceConsensus && s.State != node.StateRunning {
							return fmt.Errorf("the node on %s runs, but its consensus service (and RPC) is %s%s: `trustd services`",
								g.home, s.State, map[bool]string{true: " (" + s.Error + ")", false: ""}[s.Error != ""])
						}
					}
				}
				return err
			}
			v := statusView{ChainID: st.NodeInfo.Network, NodeID: string(st.NodeInfo.DefaultNodeID), Moniker: st.NodeInfo.Moniker,
				Height: st.SyncInfo.LatestBlockHeight, AppHash: st.SyncInfo.LatestAppHash.String(),
				Time: st.SyncInfo.LatestBlockTime.UTC().Format("2006-01-02T15:04:05Z"), CatchUp: st.SyncInfo.CatchingUp,
				RPC: c.Name(), Version: st.NodeInfo.Version, CometBFT: readBuildVersion().CometBFT, AppState: abci.Version}
			if p, err := c.Params(cmd.Context()); err == nil {
				v.HistoryFrom = p.HistoryFrom
			}
			if ans, err := node.DialControl(g.homeDir()).Services(cmd.Context()); err == nil {
				for _, s := range ans.Services {
					if s.State == node.StateFailed {
						v.Failed = append(v.Failed, s)
					}
				}
			}
			return printOut(cmd, g, v, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "chain %s · height %d · app hash %s · %s\nnode %s (%s) at %s, catching up: %v\n"+
					"trustd %s on CometBFT %s (which reports itself as %s)\n",
					v.ChainID, v.Height, v.AppHash, v.Time, v.NodeID, safe(v.Moniker), v.RPC, v.CatchUp, v.AppState, v.CometBFT, v.Version)
				for _, s := range v.Failed {
					fmt.Fprintf(cmd.OutOrStdout(), "service %s FAILED since %s: %s\n", s.Name, s.Since.UTC().Format(time.RFC3339), s.Error)
				}
				if v.HistoryFrom > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "state restored from a snapshot at height %d: events are known from height %d on\n",
						v.HistoryFrom, v.HistoryFrom+1)
				}
			})
		},
	}
}

// buildVersion is what this binary is: trustd's version and the commit it was built from, and
// CometBFT's module version beside the version CometBFT reports of itself.
type buildVersion struct {
	Trustd         string `json:"trustd"`
	Commit         string `json:"commit,omitempty"`
	CommitTime     string `json:"commit_time,omitempty"`
	Modified       bool   `json:"modified,omitempty"`
	Go             string `json:"go"`
	CometBFT       string `json:"cometbft_module"`
	CometBFTReport string `json:"cometbft_reports"`
	AppProtocol    uint64 `json:"app_protocol"`
}

// commit is the git commit the binary was built from, set by `make build` (-ldflags -X); else the
// Go toolchain's VCS stamp, when it made one.
var commit string

func readBuildVersion() buildVersion {
	v := buildVersion{Trustd: abci.Version, CometBFTReport: cmtversion.TMCoreSemVer, AppProtocol: abci.AppVersion, CometBFT: "unknown"}
	v.Commit, v.Modified = strings.CutSuffix(commit, "-dirty")
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Go = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = v.Modified || s.Value == "true"
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/cometbft/cometbft" {
				v.CometBFT = d.Version
			}
		}
	}
	return v
}

func (v buildVersion) String() string {
	commit := "commit unknown"
	if v.Commit != "" {
		commit = "commit " + v.Commit[:min(12, len(v.Commit))]
		if v.Modified {
			commit += " with uncommitted changes"
		}
	}
	return fmt.Sprintf("trustd %s (%s, %s), app protocol %d · CometBFT %s (it reports itself as %s)",
		v.Trustd, commit, v.Go, v.AppProtocol, v.CometBFT, v.CometBFTReport)
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print trustd's version and commit, and CometBFT's", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readBuildVersion()
			return printOut(cmd, g, v, func() { fmt.Fprintln(cmd.OutOrStdout(), v) })
		},
	}
}
