package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/abci"
)

// AppConfig is app.toml: the application's own settings (CometBFT's are in config.toml, the
// trust policy in trust.toml), one struct a section. TRUSTD_<SECTION>_<KEY> environment
// variables override the file (TRUSTD_SNAPSHOTS_INTERVAL, TRUSTD_SERVICES_TRUST).
type AppConfig struct {
	Memory    MemoryConfig    `toml:"memory"`
	Pruning   PruningConfig   `toml:"pruning"`
	Snapshots SnapshotsConfig `toml:"snapshots"`
	// Services says which services start with the node: name → enabled. A name left out is
	// enabled. `trustd services enable|disable NAME` edits it.
	Services map[string]bool `toml:"services"`
}

// MemoryConfig is [memory].
type MemoryConfig struct {
	// SoftLimitMiB is the Go heap's soft limit in MiB: past it the garbage collector runs more
	// often (the process may still exceed it). 0 leaves Go's default; GOMEMLIMIT, if set, wins.
	// Default 768, which keeps a node's RSS under 1 GiB under load (BENCHMARKS.md).
	SoftLimitMiB int64 `toml:"soft_limit_mib"`
}

// Validate refuses a limit too small to run in.
func (c MemoryConfig) Validate() error {
	if c.SoftLimitMiB < 0 || (c.SoftLimitMiB > 0 && c.SoftLimitMiB < 64) {
		return fmt.Errorf("[memory] soft_limit_mib %d: use 0 (Go's default) or at least 64", c.SoftLimitMiB)
	}
	return nil
}

// PruningConfig is [pruning].
type PruningConfig struct {
	// KeepRecent is how many state versions (heights) are kept for reads and proofs at past
	// heights; 0 keeps all (an archive node). Default 10: enough for a proof of the latest state
	// and a rollback; each kept version costs the tree nodes its block rewrote (at 100 the kept
	// versions were two thirds of the database, BENCHMARKS.md).
	KeepRecent int64 `toml:"keep_recent"`
}

// Validate refuses 1 (a rollback needs the previous version) and negatives.
func (c PruningConfig) Validate() error {
	if c.KeepRecent < 0 || c.KeepRecent == 1 {
		return fmt.Errorf("[pruning] keep_recent %d: use 0 (keep every version) or at least 2", c.KeepRecent)
	}
	return nil
}

// SnapshotsConfig is [snapshots] (specs/state.md §6).
type SnapshotsConfig struct {
	Interval   int64 `toml:"interval"`    // a snapshot at every height divisible by it; 0: none
	KeepRecent int   `toml:"keep_recent"` // snapshots kept on disk, newest first
	ChunkBytes int   `toml:"chunk_bytes"` // largest chunk sent to a joining node
}

// ABCI is the section as the application takes it.
func (c SnapshotsConfig) ABCI() abci.SnapshotConfig {
	return abci.SnapshotConfig{Interval: c.Interval, KeepRecent: c.KeepRecent, ChunkBytes: c.ChunkBytes}
}

// Validate refuses settings that cannot work.
func (c SnapshotsConfig) Validate() error {
	if err := c.ABCI().Validate(); err != nil {
		return fmt.Errorf("[snapshots] %w", err)
	}
	return nil
}

// DefaultAppConfig is app.toml's defaults.
func DefaultAppConfig() AppConfig {
	d := abci.DefaultSnapshotConfig()
	c := AppConfig{
		Memory:    MemoryConfig{SoftLimitMiB: abci.DefaultHeapSoftLimitMiB},
		Pruning:   PruningConfig{KeepRecent: 10},
		Snapshots: SnapshotsConfig{Interval: d.Interval, KeepRecent: d.KeepRecent, ChunkBytes: d.ChunkBytes},
		Services:  map[string]bool{},
	}
	for _, name := range ServiceNames() {
		c.Services[name] = true
	}
	return c
}

// Validate checks every section; unknown service names are errors that name the known ones.
func (c AppConfig) Validate() error {
	if err := errors.Join(c.Memory.Validate(), c.Pruning.Validate(), c.Snapshots.Validate()); err != nil {
		return err
	}
	for name := range c.Services {
		if !knownService(name) {
			return fmt.Errorf("[services] %s: no such service (known: %s)", name, strings.Join(ServiceNames(), ", "))
		}
	}
	return nil
}

// ServiceEnabled reports whether the named service starts with the node.
func (c AppConfig) ServiceEnabled(name string) bool {
	on, ok := c.Services[name]
	return !ok || on
}

// appConfigText is app.toml as `trustd init` writes it: the defaults, documented.
func appConfigText(c AppConfig) string {
	var services strings.Builder
	for _, name := range ServiceNames() {
		fmt.Fprintf(&services, "%s = %v\n", name, c.ServiceEnabled(name))
	}
	return fmt.Sprintf(`# trustledger application settings. Environment variables TRUSTD_<SECTION>_<KEY> override them
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

# Services that start with the node (specs/network.md §5). While it runs, `+"`trustd services`"+`
# lists them and stops or starts one; `+"`trustd services enable|disable NAME`"+` edits this section.
[services]
%s`, c.Memory.SoftLimitMiB, c.Pruning.KeepRecent, c.Snapshots.Interval, c.Snapshots.KeepRecent, c.Snapshots.ChunkBytes, services.String())
}

// WriteAppConfig writes app.toml with the defaults and their documentation.
func WriteAppConfig(home Home) error {
	return os.WriteFile(home.AppConfigFile(), []byte(appConfigText(DefaultAppConfig())), 0o600)
}

// LoadAppConfig reads app.toml over the defaults (a missing file means the defaults), with the
// environment's overrides, and validates it.
func LoadAppConfig(home Home) (AppConfig, error) {
	path := home.AppConfigFile()
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return AppConfig{}, err
	}
	return parseAppConfig(path, raw)
}

// appConfigKeys are the keys environment variables may override.
func appConfigKeys() []string {
	keys := []string{"memory.soft_limit_mib", "pruning.keep_recent", "snapshots.interval", "snapshots.keep_recent", "snapshots.chunk_bytes"}
	for _, name := range ServiceNames() {
		keys = append(keys, "services."+name)
	}
	return keys
}

// parseAppConfig decodes app.toml's text (nil: no file) named path in messages.
func parseAppConfig(path string, raw []byte) (AppConfig, error) {
	c := DefaultAppConfig()
	v := viper.New()
	v.SetEnvPrefix("TRUSTD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	for _, k := range appConfigKeys() {
		if err := v.BindEnv(k); err != nil {
			return c, err
		}
	}
	if err := readTOML(v, path, raw, &c); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readTOML decodes TOML text (nil: none) and v's environment bindings into out, by `toml` tags;
// a key out does not have is an error that names it.
func readTOML(v *viper.Viper, path string, raw []byte, out any) error {
	if raw != nil {
		v.SetConfigType("toml")
		if err := v.ReadConfig(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	if err := v.Unmarshal(out, func(dc *mapstructure.DecoderConfig) {
		dc.TagName = "toml"
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = true // environment values arrive as strings
	}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

var sectionRE = regexp.MustCompile(`^\s*\[([^\]]*)\]\s*(#.*)?$`)

// SetServiceEnabled records in app.toml whether the named service starts with the node, keeping
// the rest of the file (comments included) as it is. The new file is checked before it replaces
// the old one, which it does atomically.
func SetServiceEnabled(home Home, name string, enabled bool) error {
	if !knownService(name) {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownService, name, strings.Join(ServiceNames(), ", "))
	}
	path := home.AppConfigFile()
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw, err = []byte(appConfigText(DefaultAppConfig())), nil
	}
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	keyRE := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(name) + `"?\s*=`)
	entry := fmt.Sprintf("%s = %v", name, enabled)
	section, insertAt, done := "", -1, false
	for i, l := range lines {
		if m := sectionRE.FindStringSubmatch(l); m != nil {
			section = strings.TrimSpace(m[1])
			if section == "services" {
				insertAt = i + 1
			}
			continue
		}
		if section == "services" {
			if keyRE.MatchString(l) {
				lines[i], done = entry, true
				break
			}
			if strings.TrimSpace(l) != "" {
				insertAt = i + 1
			}
		}
	}
	switch {
	case done:
	case insertAt >= 0:
		lines = append(lines[:insertAt], append([]string{entry}, lines[insertAt:]...)...)
	default:
		lines = append(lines, "", "[services]", entry)
	}
	text := []byte(strings.Join(lines, "\n") + "\n")
	if _, err := parseAppConfig(path, text); err != nil {
		return fmt.Errorf("app.toml would not read back after the edit: %w", err)
	}
	return writeFileAtomic(path, text, 0o600)
}

// writeFileAtomic writes data beside path and renames it over path, so a reader sees the old
// file or the new one, never a part.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
