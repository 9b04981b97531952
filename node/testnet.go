package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/types"

	"github.com/trustledger/trustledger/ledger"
)

// TestnetNode describes one node of a generated testnet (DIR/testnet.json).
type TestnetNode struct {
	Name     string `json:"name"`
	Home     string `json:"home"`
	NodeID   string `json:"node_id"`
	LibP2P   string `json:"libp2p_id,omitempty"`
	P2P      string `json:"p2p"`
	RPC      string `json:"rpc"`
	Metrics  string `json:"metrics"`
	Explorer string `json:"explorer"`
}

// TestnetOptions size a local network.
type TestnetOptions struct {
	Validators int
	Output     string // a directory that does not exist or is empty
	BasePort   int    // node i listens on BasePort+10i (p2p), +1 (RPC), +2 (metrics), +3 (explorer)
	ChainID    string
	Params     ledger.Params
	LibP2P     bool
}

// WriteTestnet writes a ready local network: Validators homes on distinct loopback ports, one
// genesis, every node the others' persistent peer, and Output/testnet.json listing them.
func WriteTestnet(o TestnetOptions) ([]TestnetNode, error) {
	if o.Output == "" {
		return nil, errors.New("--output is required")
	}
	if o.Validators < 1 || o.Validators > 64 {
		return nil, fmt.Errorf("--validators %d must be between 1 and 64", o.Validators)
	}
	if o.BasePort < 1024 || o.BasePort+10*o.Validators > 65535 {
		return nil, fmt.Errorf("--base-port %d leaves no room for %d nodes", o.BasePort, o.Validators)
	}
	if entries, err := os.ReadDir(o.Output); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty; remove it or choose another --output", o.Output)
	}
	out, err := filepath.Abs(o.Output)
	if err != nil {
		return nil, err
	}
	nodes := make([]TestnetNode, o.Validators)
	for i := range nodes {
		port := o.BasePort + 10*i
		nodes[i] = TestnetNode{Name: fmt.Sprintf("node%d", i), Home: filepath.Join(out, fmt.Sprintf("node%d", i)),
			P2P: fmt.Sprintf("tcp://127.0.0.1:%d", port), RPC: fmt.Sprintf("tcp://127.0.0.1:%d", port+1),
			Metrics: fmt.Sprintf("127.0.0.1:%d", port+2), Explorer: fmt.Sprintf("127.0.0.1:%d", port+3)}
	}
	// Node keys first, so every config can name its peers.
	var vals []types.GenesisValidator
	for i, n := range nodes {
		opts := InitOptions{ChainID: o.ChainID, Moniker: n.Name, RPCAddr: n.RPC, P2PAddr: n.P2P, MetricsAddr: n.Metrics, ExplorerAddr: n.Explorer, Params: o.Params}
		f, err := writeNodeFiles(Home(n.Home), opts, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		nodes[i].NodeID = f.nodeID
		if o.LibP2P {
			nodes[i].LibP2P = f.libp2pID
		}
		vals = append(vals, f.validator)
	}
	gen, err := newGenesis(InitOptions{ChainID: o.ChainID, Params: o.Params}, vals)
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
		c, err := LoadConfig(Home(n.Home))
		if err != nil {
			return nil, err
		}
		c.P2P.PersistentPeers = strings.Join(peers, ",")
		c.P2P.PexReactor = false
		if o.LibP2P {
			useLibP2P(c, lpeers)
		}
		cfg.WriteConfigFile(Home(n.Home).ConfigFile(), c)
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
