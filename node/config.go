package node

import (
	"fmt"
	"os"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/ledger"
)

// DefaultLogLevel is a quiet log: CometBFT's errors, and the node's own progress (services
// started and stopped, the trust engine ready, rejected transactions). `trustd start --log-level
// info` (or TRUSTD_LOG_LEVEL, or config.toml's log_level) shows CometBFT's every step.
const DefaultLogLevel = "*:error,node:info,trust:info,trustledger:info"

// CometDefaults are trustledger's changes to CometBFT's defaults: everything on loopback, badger
// for every store, metrics on, a block about every half second, a quiet log.
func CometDefaults(home Home) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home.Root())
	c.LogLevel = DefaultLogLevel
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

// ErrNoHome is returned when a directory has no initialised node.
var ErrNoHome = fmt.Errorf("no node home")

// LoadConfig reads home's config.toml; TRUSTD_<SECTION>_<KEY> environment variables override it
// (for example TRUSTD_RPC_LADDR).
func LoadConfig(home Home) (*cfg.Config, error) {
	c := CometDefaults(home)
	path := home.ConfigFile()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w in %s (%v): run `trustd init --home %s` first", ErrNoHome, home, err, home)
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
	c.SetRoot(home.Root())
	if err := c.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}
