package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/abci"
)

// appFile is <home>/config/app.toml: settings of the trustledger application itself (CometBFT's
// are in config.toml, the trust policy in trust.toml).
type appFile struct {
	Memory struct {
		SoftLimitMiB int64 `toml:"soft_limit_mib"`
	} `toml:"memory"`
	Pruning struct {
		KeepRecent int64 `toml:"keep_recent"`
	} `toml:"pruning"`
	Snapshots struct {
		Interval   int64 `toml:"interval"`
		KeepRecent int   `toml:"keep_recent"`
		ChunkBytes int   `toml:"chunk_bytes"`
	} `toml:"snapshots"`
}

func appConfigPath(home string) string { return filepath.Join(home, "config", "app.toml") }

// defaultKeepRecent is how many state versions a node keeps by default: several seconds of
// heights, enough for a proof of the latest state (checked against the next header) and a
// rollback. Each kept version costs the nodes its block rewrote: at 100 the kept versions were
// two thirds of the application database (BENCHMARKS.md, scaling).
const defaultKeepRecent = 10

const defaultSoftLimitMiB = abci.DefaultHeapSoftLimitMiB

// appSettings is app.toml, checked.
type appSettings struct {
	softLimitMiB int64
	keepRecent   int64
	snapshots    abci.SnapshotConfig
}

func defaultAppFile() appFile {
	var f appFile
	f.Memory.SoftLimitMiB = defaultSoftLimitMiB
	f.Pruning.KeepRecent = defaultKeepRecent
	d := abci.DefaultSnapshotConfig()
	f.Snapshots.Interval, f.Snapshots.KeepRecent, f.Snapshots.ChunkBytes = d.Interval, d.KeepRecent, d.ChunkBytes
	return f
}

// writeAppConfig writes app.toml with the defaults and their documentation.
func writeAppConfig(home string) error {
	def := defaultAppFile()
	d := def.Snapshots
	text := fmt.Sprintf(`# trustledger application settings. Environment variables TRUSTD_<SECTION>_<KEY> override them
# (for example TRUSTD_SNAPSHOTS_INTERVAL).

# Soft limit of the Go heap, in MiB: past it the garbage collector runs more often (the process
# may still exceed it; nothing fails). 0 leaves Go's default. The GOMEMLIMIT environment
# variable, if set, wins.
[memory]
soft_limit_mib = %d

# State versions (one per height) kept for reads and proofs at past heights (specs/state.md §4).
# Older versions are deleted after each commit; the latest state, the event history and its
# indexes are never pruned. 0 keeps every version (an archive node); otherwise at least 2.
[pruning]
keep_recent = %d

# State-sync snapshots (specs/state.md §6): a new node can restore the state from one instead of
# replaying every block (`+"`trustd init --genesis G --peers P --state-sync RPC1,RPC2`"+`).
[snapshots]
# Take a snapshot at every height divisible by interval (0: take none, serve none).
interval = %d
# Snapshots kept on disk, newest first.
keep_recent = %d
# Largest chunk sent to a joining node, in bytes.
chunk_bytes = %d
`, def.Memory.SoftLimitMiB, def.Pruning.KeepRecent, d.Interval, d.KeepRecent, d.ChunkBytes)
	return os.WriteFile(appConfigPath(home), []byte(text), 0o600)
}

// loadAppConfig reads app.toml over the defaults (a missing file means defaults).
func loadAppConfig(home string) (appSettings, error) {
	f := defaultAppFile()
	path := appConfigPath(home)
	v := viper.New()
	v.SetEnvPrefix("TRUSTD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, k := range []string{"memory.soft_limit_mib", "pruning.keep_recent", "snapshots.interval", "snapshots.keep_recent", "snapshots.chunk_bytes"} {
		if err := v.BindEnv(k); err != nil {
			return appSettings{}, err
		}
	}
	if err := readTOML(v, path, &f); err != nil {
		return appSettings{}, err
	}
	c := abci.SnapshotConfig{Interval: f.Snapshots.Interval, KeepRecent: f.Snapshots.KeepRecent, ChunkBytes: f.Snapshots.ChunkBytes}
	if err := c.Validate(); err != nil {
		return appSettings{}, fmt.Errorf("%s: %w", path, err)
	}
	if k := f.Pruning.KeepRecent; k < 0 || k == 1 {
		return appSettings{}, fmt.Errorf("%s: [pruning] keep_recent %d: use 0 (keep every version) or at least 2", path, k)
	}
	if f.Memory.SoftLimitMiB < 0 || (f.Memory.SoftLimitMiB > 0 && f.Memory.SoftLimitMiB < 64) {
		return appSettings{}, fmt.Errorf("%s: [memory] soft_limit_mib %d: use 0 (Go's default) or at least 64", path, f.Memory.SoftLimitMiB)
	}
	return appSettings{softLimitMiB: f.Memory.SoftLimitMiB, keepRecent: f.Pruning.KeepRecent, snapshots: c}, nil
}
