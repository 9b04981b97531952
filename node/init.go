package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/ledger"
)

// InitOptions are what a new home is written with (`trustd init`'s flags).
type InitOptions struct {
	ChainID     string
	Moniker     string
	RPCAddr     string
	P2PAddr     string
	MetricsAddr string // empty: metrics off (the metrics service disabled in app.toml)
	// ExplorerAddr is app.toml's [explorer] listen; empty: no explorer.
	ExplorerAddr string
	Params       ledger.Params
	Genesis      string // Join: an existing network's genesis file
	Peers        string // Join: persistent peers, id@host:port,...
	LibP2P       bool   // Join over CometBFT's experimental go-libp2p transport
	StateSync    string // Join: RPC servers to state-sync from, comma-separated
	// Trusted is set by Join with state sync: the trust height and hash it starts from, to show.
	Trusted string
}

// DefaultInitOptions are `trustd init`'s flag defaults, also what `trustd start --init` uses.
func DefaultInitOptions() InitOptions {
	return InitOptions{ChainID: "trustledger-local", Moniker: "trustd", RPCAddr: "tcp://127.0.0.1:26657",
		P2PAddr: "tcp://127.0.0.1:26656", MetricsAddr: "127.0.0.1:26660", ExplorerAddr: DefaultExplorerAddr, Params: ledger.DefaultParams()}
}

// Init writes a new single-validator home; it returns false without touching anything if one
// exists.
func Init(home Home, o InitOptions) (bool, error) {
	if err := o.Params.Validate(); err != nil {
		return false, fmt.Errorf("genesis parameters: %w", err)
	}
	if _, err := os.Stat(home.GenesisFile()); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	n, err := writeNodeFiles(home, o, nil)
	if err != nil {
		return false, err
	}
	gen, err := newGenesis(o, []types.GenesisValidator{n.validator})
	if err != nil {
		return false, err
	}
	if err := gen.SaveAs(home.GenesisFile()); err != nil {
		return false, fmt.Errorf("write genesis: %w", err)
	}
	return true, nil
}

// nodeFiles is what writeNodeFiles created: the validator entry and the p2p identity.
type nodeFiles struct {
	validator types.GenesisValidator
	nodeID    string
	libp2pID  string
}

// writeNodeFiles writes config.toml, app.toml, trust.toml, the validator key and the node key.
// edit, if not nil, adjusts the CometBFT config before it is written.
func writeNodeFiles(home Home, o InitOptions, edit func(*cfg.Config)) (nodeFiles, error) {
	c := CometDefaults(home)
	c.Moniker = o.Moniker
	c.RPC.ListenAddress = o.RPCAddr
	c.P2P.ListenAddress = o.P2PAddr
	c.Instrumentation.PrometheusListenAddr = o.MetricsAddr
	c.Instrumentation.Prometheus = o.MetricsAddr != ""
	// The mempool's own cap stays at or above the ledger's, so an oversized tx reaches CheckTx and
	// gets the ledger's `oversized` code rather than a transport error.
	c.Mempool.MaxTxBytes = max(c.Mempool.MaxTxBytes, int(o.Params.MaxTxBytes))
	if edit != nil {
		edit(c)
	}
	for _, d := range []string{home.ConfigDir(), home.DataDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nodeFiles{}, err
		}
	}
	cfg.WriteConfigFile(home.ConfigFile(), c)
	if err := WriteTrustConfig(home); err != nil {
		return nodeFiles{}, fmt.Errorf("write trust policy: %w", err)
	}
	ac := DefaultAppConfig()
	ac.Explorer.Listen = o.ExplorerAddr
	if err := WriteAppConfigFrom(home, ac); err != nil {
		return nodeFiles{}, fmt.Errorf("write app settings: %w", err)
	}
	if o.MetricsAddr == "" {
		if err := SetServiceEnabled(home, ServiceMetrics, false); err != nil {
			return nodeFiles{}, err
		}
	}
	pv := privval.GenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	pv.Save()
	nk, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
	if err != nil {
		return nodeFiles{}, fmt.Errorf("node key: %w", err)
	}
	pk, err := pv.GetPubKey()
	if err != nil {
		return nodeFiles{}, err
	}
	lid, err := lp2p.IDFromPrivateKey(nk.PrivKey)
	if err != nil {
		return nodeFiles{}, fmt.Errorf("libp2p peer id: %w", err)
	}
	return nodeFiles{validator: types.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: 10, Name: o.Moniker},
		nodeID: string(nk.ID()), libp2pID: lid.String()}, nil
}

// newGenesis builds the genesis document for a set of validators.
func newGenesis(o InitOptions, vals []types.GenesisValidator) (*types.GenesisDoc, error) {
	appState, err := json.Marshal(abci.GenesisState{Params: o.Params})
	if err != nil {
		return nil, err
	}
	gen := &types.GenesisDoc{
		ChainID:         o.ChainID,
		GenesisTime:     cmttime.Now(),
		ConsensusParams: types.DefaultConsensusParams(),
		Validators:      vals,
		AppState:        appState,
	}
	gen.ConsensusParams.Block.MaxBytes = 4 << 20
	// The app version lives in the consensus params too, so a rollback (which rebuilds the state
	// from them) keeps the version that blocks carry.
	gen.ConsensusParams.Version.App = abci.AppVersion
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return gen, nil
}

// Join writes a home that joins an existing network: its genesis, our keys (the node is not a
// validator until the validator set includes it), and the given peers. It catches up by block
// sync, or restores a snapshot first with o.StateSync. It returns false if a home exists.
func Join(ctx context.Context, home Home, o *InitOptions) (bool, error) {
	gen, err := types.GenesisDocFromFile(o.Genesis)
	if err != nil {
		return false, fmt.Errorf("--genesis: %w", err)
	}
	var gs abci.GenesisState
	if err := json.Unmarshal(gen.AppState, &gs); err != nil {
		return false, fmt.Errorf("--genesis: app_state: %w", err)
	}
	if err := gs.Params.Validate(); err != nil {
		return false, fmt.Errorf("--genesis: %w", err)
	}
	if _, err := os.Stat(home.GenesisFile()); err == nil {
		return false, nil
	}
	var lpeers []cfg.LibP2PBootstrapPeer
	if o.LibP2P {
		if lpeers, err = ParseLibP2PPeers(o.Peers); err != nil {
			return false, fmt.Errorf("--peers: %w", err)
		}
	} else {
		for _, p := range SplitList(o.Peers) {
			if _, err := p2p.NewNetAddressString(p); err != nil {
				return false, fmt.Errorf("--peers: %q: %w", p, err)
			}
		}
	}
	o.ChainID, o.Params = gen.ChainID, gs.Params
	var servers []string
	var trustHeight int64
	var trustHash string
	if o.StateSync != "" {
		servers = SplitList(o.StateSync)
		if trustHeight, trustHash, err = stateSyncTrust(ctx, servers, gen.ChainID); err != nil {
			return false, err
		}
		o.Trusted = fmt.Sprintf("height %d, header hash %s (from %s)", trustHeight, trustHash, servers[0])
	}
	edit := func(c *cfg.Config) {
		c.P2P.PersistentPeers = o.Peers
		if o.LibP2P {
			useLibP2P(c, lpeers)
		}
		if servers != nil {
			c.StateSync.Enable = true
			c.StateSync.RPCServers = servers
			c.StateSync.TrustHeight = trustHeight
			c.StateSync.TrustHash = trustHash
		}
	}
	if _, err := writeNodeFiles(home, *o, edit); err != nil {
		return false, err
	}
	if err := gen.SaveAs(home.GenesisFile()); err != nil {
		return false, fmt.Errorf("write genesis: %w", err)
	}
	return true, nil
}

// stateSyncTrust asks the first of servers for its latest committed header: the height and
// hash the joiner's light client starts trusting. The operator should check the printed hash
// against another source they trust (another operator, an explorer) before starting the node.
func stateSyncTrust(ctx context.Context, servers []string, chainID string) (int64, string, error) {
	if len(servers) < 2 {
		return 0, "", errors.New("--state-sync needs at least two RPC servers, comma-separated (a primary and a witness for the light client)")
	}
	c, err := rpchttp.NewWithTimeout(servers[0], "/websocket", 10)
	if err != nil {
		return 0, "", fmt.Errorf("--state-sync: %s: %w", servers[0], err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	commit, err := c.Commit(ctx, nil)
	if err != nil {
		return 0, "", fmt.Errorf("--state-sync: latest header from %s: %w", servers[0], err)
	}
	if commit.Header.ChainID != chainID {
		return 0, "", fmt.Errorf("--state-sync: %s serves chain %q, the genesis is for %q", servers[0], commit.Header.ChainID, chainID)
	}
	return commit.Header.Height, commit.Header.Hash().String(), nil
}

// CometBFT's go-libp2p transport ([p2p.libp2p], QUIC over UDP on the p2p listen port) is early
// alpha upstream: a network uses it only if every validator switches at once, and peers are
// named by libp2p peer ids (`trustd show-node-id --libp2p`) instead of CometBFT node ids.

// ParseLibP2PPeers reads "peerid@host:port,..." into persistent bootstrap peers.
func ParseLibP2PPeers(list string) ([]cfg.LibP2PBootstrapPeer, error) {
	var peers []cfg.LibP2PBootstrapPeer
	for _, p := range SplitList(list) {
		id, host, ok := strings.Cut(p, "@")
		if !ok {
			return nil, fmt.Errorf("libp2p peer %q: want peerid@host:port", p)
		}
		if _, err := lp2p.AddrInfoFromHostAndID(host, id); err != nil {
			return nil, fmt.Errorf("libp2p peer %q: %w", p, err)
		}
		peers = append(peers, cfg.LibP2PBootstrapPeer{Host: host, ID: id, Persistent: true})
	}
	return peers, nil
}

// useLibP2P switches a node's config to the go-libp2p transport with the given bootstrap peers.
func useLibP2P(c *cfg.Config, peers []cfg.LibP2PBootstrapPeer) {
	c.P2P.LibP2PConfig.Enabled = true
	c.P2P.LibP2PConfig.BootstrapPeers = peers
	c.P2P.PersistentPeers = ""
	c.P2P.PexReactor = false
}

// SplitList splits a comma-separated list, trimming spaces and dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
