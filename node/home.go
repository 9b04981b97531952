package node

import (
	"path/filepath"

	cfg "github.com/cometbft/cometbft/config"
)

// Home is a node's directory. Every path of trustledger's own inside it is a method here, so no
// path is spelled twice; CometBFT's (genesis, node and validator keys, data) come from its
// config (cfg.Config.SetRoot), which may move the data directory (db_dir).
type Home string

// Root is the home directory itself.
func (h Home) Root() string { return string(h) }

func (h Home) path(parts ...string) string {
	return filepath.Join(append([]string{string(h)}, parts...)...)
}

// ConfigDir holds config.toml, app.toml, trust.toml, genesis.json and the node's keys.
func (h Home) ConfigDir() string { return h.path("config") }

// ConfigFile is CometBFT's config.toml.
func (h Home) ConfigFile() string { return h.path("config", "config.toml") }

// AppConfigFile is app.toml: the application's own settings (AppConfig).
func (h Home) AppConfigFile() string { return h.path("config", "app.toml") }

// TrustConfigFile is trust.toml: the trust policy and default observer (TrustConfig).
func (h Home) TrustConfigFile() string { return h.path("config", "trust.toml") }

// GenesisFile is the chain's genesis.json (where CometBFT's default config puts it).
func (h Home) GenesisFile() string { return h.path("config", "genesis.json") }

// DataDir is where `trustd init` creates the databases (config.toml's db_dir may say otherwise).
func (h Home) DataDir() string { return h.path("data") }

// KeysDir holds the local signing keys (package keystore).
func (h Home) KeysDir() string { return h.path("keys") }

// JournalDir holds the signing journal (package journal): every statement a local key signed
// that could become evidence against it.
func (h Home) JournalDir() string { return h.path("journal") }

// LightDir holds the light client's verified headers and trust roots (`--prove`).
func (h Home) LightDir() string { return h.path("light") }

// ControlSocket is the running node's control channel (mode 0600).
func (h Home) ControlSocket() string { return h.path("trustd.sock") }

// LockFile is held by the process that runs the node; it holds that process's id.
func (h Home) LockFile() string { return h.path("trustd.lock") }

// AppDB is the application database inside the node's data directory.
func AppDB(c *cfg.Config) string { return filepath.Join(c.DBDir(), "app.db") }

// SnapshotsDir holds the node's state-sync snapshots.
func SnapshotsDir(c *cfg.Config) string { return filepath.Join(c.DBDir(), "snapshots") }
