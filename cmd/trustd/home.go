package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/ledger"
)

// appDBName is the directory of the application database inside the data directory.
const appDBName = "app.db"

// nodeDefaults are trustledger's changes to CometBFT's defaults: everything on loopback, badger
// for every store, metrics on, a block about every half second.
func nodeDefaults(home string) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	c.Moniker = "trustd"
	c.DBBackend = "badgerdb"
	c.RPC.ListenAddress = "tcp://127.0.0.1:26657"
	c.P2P.ListenAddress = "tcp://127.0.0.1:26656"
	c.P2P.AllowDuplicateIP = true
	c.P2P.AddrBookStrict = false
	c.Instrumentation.Prometheus = true
	c.Instrumentation.PrometheusListenAddr = "127.0.0.1:26660"
	c.Consensus.TimeoutCommit = 500 * time.Millisecond
	c.Mempool.Type = cfg.MempoolTypeFlood
	c.Mempool.MaxTxBytes = int(ledger.DefaultParams().MaxTxBytes)
	c.TxIndex.Indexer = "kv"
	return c
}

// loadConfig reads home/config/config.toml; TRUSTD_<SECTION>_<KEY> environment variables
// override it (for example TRUSTD_RPC_LADDR).
func loadConfig(home string) (*cfg.Config, error) {
	c := nodeDefaults(home)
	path := filepath.Join(home, "config", "config.toml")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no node in %s (%v): run `trustd init --home %s` first", home, err, home)
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetEnvPrefix("TRUSTD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := v.Unmarshal(c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	c.SetRoot(home)
	if err := c.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

type initOptions struct {
	chainID     string
	moniker     string
	rpcAddr     string
	p2pAddr     string
	metricsAddr string
	params      ledger.Params
	genesis     string // join: an existing network's genesis file
	peers       string // join: persistent peers, id@host:port,...
	libp2p      bool   // join over CometBFT's experimental go-libp2p transport
	stateSync   string // join: RPC servers to state-sync from, comma-separated
	trusted     string // set by joinHome: the trust height and hash state sync starts from
}

// defaultInitOptions are `trustd init`'s flag defaults, also what `trustd start --init` uses.
func defaultInitOptions() initOptions {
	return initOptions{chainID: "trustledger-local", moniker: "trustd", rpcAddr: "tcp://127.0.0.1:26657",
		p2pAddr: "tcp://127.0.0.1:26656", metricsAddr: "127.0.0.1:26660", params: ledger.DefaultParams()}
}

func newInitCmd(g *globals) *cobra.Command {
	o := defaultInitOptions()
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a single-validator node home: config, validator key, node key and genesis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var created bool
			var err error
			if o.genesis != "" {
				created, err = joinHome(cmd.Context(), g.home, &o)
			} else {
				if o.peers != "" || o.stateSync != "" || o.libp2p {
					return errors.New("--peers, --state-sync and --libp2p need --genesis: a new single-validator chain has no peers")
				}
				created, err = initHome(g.home, o)
			}
			if err != nil {
				return err
			}
			if !created {
				fmt.Fprintf(cmd.OutOrStdout(), "node home %s already initialised; nothing changed\n", g.home)
				return nil
			}
			if o.genesis != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "initialised node home %s to join the network of %s\n", g.home, o.genesis)
				if o.trusted != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "state sync will trust %s; check this hash with another source you trust before `trustd start`\n", o.trusted)
				}
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialised node home %s (chain %s)\n", g.home, o.chainID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.chainID, "chain-id", o.chainID, "chain id written into genesis")
	f.StringVar(&o.moniker, "moniker", o.moniker, "node name shown to peers")
	f.StringVar(&o.rpcAddr, "rpc.laddr", o.rpcAddr, "RPC listen address (loopback unless you mean to expose it)")
	f.StringVar(&o.p2pAddr, "p2p.laddr", o.p2pAddr, "P2P listen address")
	f.StringVar(&o.metricsAddr, "instrumentation.prometheus_listen_addr", o.metricsAddr, "Prometheus metrics address (empty: off)")
	f.StringVar(&o.genesis, "genesis", "", "join an existing network: its genesis.json (chain id and parameters come from it)")
	f.StringVar(&o.peers, "peers", "", "with --genesis: persistent peers, id@host:port,... (`trustd show-node-id` on each)")
	f.StringVar(&o.stateSync, "state-sync", "", "with --genesis: restore the state from a snapshot instead of replaying every block; two or more RPC servers of the network, comma-separated (the first one's latest header is trusted)")
	f.BoolVar(&o.libp2p, "libp2p", false, "with --genesis: use CometBFT's experimental go-libp2p transport; --peers then holds libp2p ids (`trustd show-node-id --libp2p`)")
	f.Uint32Var(&o.params.PowDifficulty, "pow-difficulty", o.params.PowDifficulty, "genesis: leading zero bits a registration's proof of work needs")
	f.Uint32Var(&o.params.MaxTxBytes, "max-tx-bytes", o.params.MaxTxBytes, "genesis: largest transaction in bytes")
	f.Uint32Var(&o.params.MaxEventsPerTx, "max-events-per-tx", o.params.MaxEventsPerTx, "genesis: most events under one signature")
	f.Uint32Var(&o.params.MaxTxsPerSignerPerBlock, "max-txs-per-signer-per-block", o.params.MaxTxsPerSignerPerBlock, "genesis: most transactions of one signer in a block")
	f.BoolVar(&o.params.ZeroPowerOnDuplicateVote, "zero-power-on-duplicate-vote", false, "genesis: a validator with committed duplicate-vote evidence loses its voting power")
	return cmd
}

// initHome writes a new single-validator home; it returns false without touching anything if
// one exists.
func initHome(home string, o initOptions) (bool, error) {
	if err := o.params.Validate(); err != nil {
		return false, fmt.Errorf("genesis parameters: %w", err)
	}
	if _, err := os.Stat(nodeDefaults(home).GenesisFile()); err == nil {
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
	if err := gen.SaveAs(nodeDefaults(home).GenesisFile()); err != nil {
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

// writeNodeFiles writes config.toml, trust.toml, the validator key and the node key.
// edit, if not nil, adjusts the CometBFT config before it is written.
func writeNodeFiles(home string, o initOptions, edit func(*cfg.Config)) (nodeFiles, error) {
	c := nodeDefaults(home)
	c.Moniker = o.moniker
	c.RPC.ListenAddress = o.rpcAddr
	c.P2P.ListenAddress = o.p2pAddr
	c.Instrumentation.PrometheusListenAddr = o.metricsAddr
	c.Instrumentation.Prometheus = o.metricsAddr != ""
	// The mempool's own cap stays at or above the ledger's, so an oversized tx reaches CheckTx and
	// gets the ledger's `oversized` code rather than a transport error.
	c.Mempool.MaxTxBytes = max(c.Mempool.MaxTxBytes, int(o.params.MaxTxBytes))
	if edit != nil {
		edit(c)
	}
	for _, d := range []string{filepath.Join(home, "config"), filepath.Join(home, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nodeFiles{}, err
		}
	}
	cfg.WriteConfigFile(filepath.Join(home, "config", "config.toml"), c)
	if err := writeTrustConfig(home); err != nil {
		return nodeFiles{}, fmt.Errorf("write trust policy: %w", err)
	}
	if err := writeAppConfig(home); err != nil {
		return nodeFiles{}, fmt.Errorf("write app settings: %w", err)
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
	return nodeFiles{validator: types.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: 10, Name: o.moniker},
		nodeID: string(nk.ID()), libp2pID: lid.String()}, nil
}

// newGenesis builds the genesis document for a set of validators.
func newGenesis(o initOptions, vals []types.GenesisValidator) (*types.GenesisDoc, error) {
	appState, err := json.Marshal(abci.GenesisState{Params: o.params})
	if err != nil {
		return nil, err
	}
	gen := &types.GenesisDoc{
		ChainID:         o.chainID,
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

// joinHome writes a home that joins an existing network: its genesis, our keys (the node is not a
// validator until the validator set includes it), and the given peers. It catches up by block sync.
func joinHome(ctx context.Context, home string, o *initOptions) (bool, error) {
	gen, err := types.GenesisDocFromFile(o.genesis)
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
	if _, err := os.Stat(nodeDefaults(home).GenesisFile()); err == nil {
		return false, nil
	}
	var lpeers []cfg.LibP2PBootstrapPeer
	if o.libp2p {
		if lpeers, err = parseLibP2PPeers(o.peers); err != nil {
			return false, fmt.Errorf("--peers: %w", err)
		}
	} else {
		for _, p := range splitList(o.peers) {
			if _, err := p2p.NewNetAddressString(p); err != nil {
				return false, fmt.Errorf("--peers: %q: %w", p, err)
			}
		}
	}
	o.chainID, o.params = gen.ChainID, gs.Params
	var servers []string
	var trustHeight int64
	var trustHash string
	if o.stateSync != "" {
		servers = splitList(o.stateSync)
		if trustHeight, trustHash, err = stateSyncTrust(ctx, servers, gen.ChainID); err != nil {
			return false, err
		}
		o.trusted = fmt.Sprintf("height %d, header hash %s (from %s)", trustHeight, trustHash, servers[0])
	}
	edit := func(c *cfg.Config) {
		c.P2P.PersistentPeers = o.peers
		if o.libp2p {
			useLibP2P(c, lpeers)
		}
		if servers != nil {
			useStateSync(c, servers, trustHeight, trustHash)
		}
	}
	if _, err := writeNodeFiles(home, *o, edit); err != nil {
		return false, err
	}
	if err := gen.SaveAs(nodeDefaults(home).GenesisFile()); err != nil {
		return false, fmt.Errorf("write genesis: %w", err)
	}
	return true, nil
}
