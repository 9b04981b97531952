package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/ledger"
)

// testnetNode describes one node of a generated testnet (DIR/testnet.json).
type testnetNode struct {
	Name    string `json:"name"`
	Home    string `json:"home"`
	NodeID  string `json:"node_id"`
	LibP2P  string `json:"libp2p_id,omitempty"`
	P2P     string `json:"p2p"`
	RPC     string `json:"rpc"`
	Metrics string `json:"metrics"`
}

type testnetOptions struct {
	validators int
	output     string
	basePort   int
	chainID    string
	params     ledger.Params
	libp2p     bool
}

func newTestnetCmd() *cobra.Command {
	o := testnetOptions{params: ledger.DefaultParams()}
	cmd := &cobra.Command{
		Use:   "testnet --validators N --output DIR",
		Short: "Write a ready local network: N validators on distinct loopback ports, one genesis, persistent peers",
		Long: "Write a ready local network. Node i (0-based) listens on 127.0.0.1: p2p BASE+10i, rpc BASE+10i+1,\n" +
			"metrics BASE+10i+2. Start each with `trustd start --home DIR/nodeI` (or `make testnet`).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := writeTestnet(o)
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
	f.IntVar(&o.validators, "validators", 4, "number of validators")
	f.StringVar(&o.output, "output", "", "directory to create (must not exist or be empty) (required)")
	f.IntVar(&o.basePort, "base-port", 26600, "first port; node i uses base+10i .. base+10i+2")
	f.StringVar(&o.chainID, "chain-id", "trustledger-testnet", "chain id")
	f.Uint32Var(&o.params.PowDifficulty, "pow-difficulty", o.params.PowDifficulty, "genesis: registration proof of work, in leading zero bits")
	f.BoolVar(&o.params.ZeroPowerOnDuplicateVote, "zero-power-on-duplicate-vote", false, "genesis: a validator with committed duplicate-vote evidence loses its voting power")
	f.BoolVar(&o.libp2p, "libp2p", false, "use CometBFT's experimental go-libp2p transport (QUIC on the p2p port, UDP) with libp2p bootstrap peers")
	return cmd
}

func writeTestnet(o testnetOptions) ([]testnetNode, error) {
	if o.output == "" {
		return nil, errors.New("--output is required")
	}
	if o.validators < 1 || o.validators > 64 {
		return nil, fmt.Errorf("--validators %d must be between 1 and 64", o.validators)
	}
	if o.basePort < 1024 || o.basePort+10*o.validators > 65535 {
		return nil, fmt.Errorf("--base-port %d leaves no room for %d nodes", o.basePort, o.validators)
	}
	if entries, err := os.ReadDir(o.output); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty; remove it or choose another --output", o.output)
	}
	out, err := filepath.Abs(o.output)
	if err != nil {
		return nil, err
	}
	nodes := make([]testnetNode, o.validators)
	for i := range nodes {
		port := o.basePort + 10*i
		nodes[i] = testnetNode{Name: fmt.Sprintf("node%d", i), Home: filepath.Join(out, fmt.Sprintf("node%d", i)),
			P2P: fmt.Sprintf("tcp://127.0.0.1:%d", port), RPC: fmt.Sprintf("tcp://127.0.0.1:%d", port+1),
			Metrics: fmt.Sprintf("127.0.0.1:%d", port+2)}
	}
	// Node keys first, so every config can name its peers.
	var vals []types.GenesisValidator
	files := make([]nodeFiles, len(nodes))
	for i, n := range nodes {
		opts := initOptions{chainID: o.chainID, moniker: n.Name, rpcAddr: n.RPC, p2pAddr: n.P2P, metricsAddr: n.Metrics, params: o.params}
		f, err := writeNodeFiles(n.Home, opts, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		files[i] = f
		nodes[i].NodeID = f.nodeID
		if o.libp2p {
			nodes[i].LibP2P = f.libp2pID
		}
		vals = append(vals, f.validator)
	}
	gen, err := newGenesis(initOptions{chainID: o.chainID, params: o.params}, vals)
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		var peers []string
		var lpeers []cfg.LibP2PBootstrapPeer
		for j, m := range nodes {
			if j != i {
				peers = append(peers, m.NodeID+"@"+strings.TrimPrefix(m.P2P, "tcp://"))
				lpeers = append(lpeers, cfg.LibP2PBootstrapPeer{Host: strings.TrimPrefix(m.P2P, "tcp://"), ID: m.LibP2P, Persistent: true})
			}
		}
		c, err := loadConfig(n.Home)
		if err != nil {
			return nil, err
		}
		c.P2P.PersistentPeers = strings.Join(peers, ",")
		c.P2P.PexReactor = false
		if o.libp2p {
			useLibP2P(c, lpeers)
		}
		cfg.WriteConfigFile(filepath.Join(n.Home, "config", "config.toml"), c)
		if err := gen.SaveAs(c.GenesisFile()); err != nil {
			return nil, err
		}
	}
	b, _ := json.MarshalIndent(nodes, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "testnet.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return nodes, nil
}
