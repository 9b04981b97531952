package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-viper/mapstructure/v2"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/node/atomicfile"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// AppConfig is app.toml: the application's own settings (CometBFT's are in config.toml, the
// trust policy in trust.toml), one struct a section. TRUSTD_<SECTION>_<KEY> environment
// variables override the file (TRUSTD_SNAPSHOTS_INTERVAL, TRUSTD_SERVICES_TRUST).
type AppConfig struct {
	Memory    MemoryConfig    `toml:"memory"`
	Pruning   PruningConfig   `toml:"pruning"`
	Snapshots SnapshotsConfig `toml:"snapshots"`
	P2P       P2PConfig       `toml:"p2p"`
	Supplier  SupplierSection `toml:"supplier"`
	Customer  CustomerSection `toml:"customer"`
	Manager   ManagerSection  `toml:"manager"`
	Explorer  ExplorerSection `toml:"explorer"`
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

// P2PConfig is [p2p]: the node's libp2p host (specs/p2p.md).
type P2PConfig struct {
	// Key is the local key (a name in the home's keys) whose identity the host takes: a node's
	// peer id is its ledger key's (P-1). Empty: the node runs no host (the p2p service is off).
	// `trustd start` unlocks it (--passphrase-file, TRUSTD_PASSPHRASE, or a prompt).
	Key string `toml:"key"`
	// Listen are the multiaddrs the host listens on (default /ip4/127.0.0.1/tcp/0: loopback, a
	// port of the system's choice; set a port for a supplier others must reach).
	Listen []string `toml:"listen"`
	// Bootstrap are peers to connect to at start, as /ip4/…/tcp/…/p2p/PEERID multiaddrs.
	Bootstrap []string `toml:"bootstrap"`
}

// Validate parses every address.
func (c P2PConfig) Validate() error {
	for _, a := range c.Listen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("[p2p] listen %q: %w", a, err)
		}
	}
	for _, a := range c.Bootstrap {
		if _, err := peer.AddrInfoFromString(a); err != nil {
			return fmt.Errorf("[p2p] bootstrap %q: want /ip4/HOST/tcp/PORT/p2p/PEERID: %w", a, err)
		}
	}
	return nil
}

// SupplierSection is [supplier]: what the node offers to others (specs/p2p.md P-4).
type SupplierSection struct {
	// Space is the disk space offered, with a unit ("20GiB", "500MB"); "0": the node supplies
	// nothing (the supplier service is off).
	Space string `toml:"space"`
	// PricePerGiBMonth is the least price per GiB-month the node accepts.
	PricePerGiBMonth uint64 `toml:"price_per_gib_month"`
	// MaxDurationDays is the longest contract it accepts (365).
	MaxDurationDays uint64 `toml:"max_duration_days"`
	// ReceiptPeriod is how often the supplier asks its customers to countersign storage
	// receipts and submits them ("1h"; a Go duration).
	ReceiptPeriod string `toml:"receipt_period"`
}

// Period is ReceiptPeriod as a duration.
func (c SupplierSection) Period() (time.Duration, error) {
	d, err := time.ParseDuration(c.ReceiptPeriod)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("[supplier] receipt_period %q: want a duration of a second or more, such as 1h", c.ReceiptPeriod)
	}
	return d, nil
}

// Bytes is Space in bytes.
func (c SupplierSection) Bytes() (uint64, error) {
	if strings.TrimSpace(c.Space) == "" {
		return 0, nil
	}
	b, err := humanize.ParseBytes(c.Space)
	if err != nil {
		return 0, fmt.Errorf("[supplier] space %q: want a size such as 20GiB or 500MB: %w", c.Space, err)
	}
	return b, nil
}

// Validate parses the space and the receipt period.
func (c SupplierSection) Validate() error {
	_, err := c.Bytes()
	_, perr := c.Period()
	return errors.Join(err, perr)
}

// CustomerSection is [customer]: how the node backs up its files on others (specs/p2p.md P-9).
type CustomerSection struct {
	// DataShards and ParityShards are each stripe's shape: any ParityShards of its suppliers
	// may vanish with nothing lost (4 and 2).
	DataShards   int `toml:"data_shards"`
	ParityShards int `toml:"parity_shards"`
	// ContractSpace is the space asked of each supplier hired ("1GiB"; more when one put needs
	// more), ContractDays how long, PricePerGiBMonth the price offered.
	ContractSpace    string `toml:"contract_space"`
	ContractDays     uint64 `toml:"contract_days"`
	PricePerGiBMonth uint64 `toml:"price_per_gib_month"`
	// AuditEvery is how often the customer runs an audit round ("10m"; "0": no audits but those
	// asked for): each round challenges the shards trust.toml's [manager] schedule says are
	// due, and submits the results to the ledger. It must not be longer than the schedule's
	// interval.
	AuditEvery string `toml:"audit_every"`
}

// Bytes is ContractSpace in bytes.
func (c CustomerSection) Bytes() (uint64, error) {
	b, err := humanize.ParseBytes(c.ContractSpace)
	if err != nil || b == 0 {
		return 0, fmt.Errorf("[customer] contract_space %q: want a size such as 1GiB", c.ContractSpace)
	}
	return b, nil
}

// AuditEveryDuration is AuditEvery as a duration (0: no audits on a schedule).
func (c CustomerSection) AuditEveryDuration() (time.Duration, error) {
	if strings.TrimSpace(c.AuditEvery) == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.AuditEvery)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("[customer] audit_every %q: want a duration of a second or more, such as 10m, or 0", c.AuditEvery)
	}
	return d, nil
}

// Validate checks the shape, the space, the duration and the audit period.
func (c CustomerSection) Validate() error {
	var errs []error
	if c.DataShards < 1 || c.ParityShards < 0 || c.DataShards+c.ParityShards > stripe.MaxShards {
		errs = append(errs, fmt.Errorf("[customer] data_shards %d, parity_shards %d: want at least 1 data shard and at most %d in all", c.DataShards, c.ParityShards, stripe.MaxShards))
	}
	if c.ContractDays < 1 {
		errs = append(errs, fmt.Errorf("[customer] contract_days %d: want at least 1", c.ContractDays))
	}
	_, err := c.Bytes()
	_, aerr := c.AuditEveryDuration()
	return errors.Join(append(errs, err, aerr)...)
}

// ManagerSection is [manager]: the supplier manager (specs/p2p.md P-12). Its policy (the audit
// schedule, the grace period) is trust.toml's [manager] table.
type ManagerSection struct {
	// CheckEvery is how often it asks the trust view whether to drop each supplier ("1m").
	CheckEvery string `toml:"check_every"`
	// Grace is retired: the grace period is trust.toml's [manager] grace. An app.toml written
	// before has grace = "1h", the default then, which is ignored; another value is an error.
	Grace string `toml:"grace"`
}

// ErrMovedSetting is returned for an app.toml that still sets, to a value of its own, a key
// that has moved to trust.toml.
var ErrMovedSetting = errors.New("app.toml sets a key that has moved to trust.toml")

// Every parses CheckEvery.
func (c ManagerSection) Every() (time.Duration, error) {
	every, err := time.ParseDuration(c.CheckEvery)
	if err != nil || every < 100*time.Millisecond {
		return 0, fmt.Errorf("[manager] check_every %q: want a duration such as 1m", c.CheckEvery)
	}
	return every, nil
}

// Validate parses the period and refuses a grace of the operator's own here.
func (c ManagerSection) Validate() error {
	if g := strings.TrimSpace(c.Grace); g != "" && g != "1h" {
		return fmt.Errorf("%w: [manager] grace = %q: the grace period is trust.toml's [manager] grace now; remove the line from app.toml and set it there", ErrMovedSetting, c.Grace)
	}
	_, err := c.Every()
	return err
}

// ExplorerSection is [explorer]: the web explorer (the explorer service).
type ExplorerSection struct {
	// Listen is the explorer's host:port ("127.0.0.1:26680"); empty: no explorer. It serves
	// plain HTTP and only reads, so keep it on loopback or put a TLS proxy in front.
	Listen string `toml:"listen"`
}

// Validate checks that Listen is a host and a port.
func (c ExplorerSection) Validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("[explorer] listen %q: want host:port such as 127.0.0.1:26680", c.Listen)
	}
	return nil
}

// DefaultExplorerAddr is where `trustd init` puts the explorer.
const DefaultExplorerAddr = "127.0.0.1:26680"

// DefaultAppConfig is app.toml's defaults.
func DefaultAppConfig() AppConfig {
	d := abci.DefaultSnapshotConfig()
	c := AppConfig{
		Memory:    MemoryConfig{SoftLimitMiB: abci.DefaultHeapSoftLimitMiB},
		Pruning:   PruningConfig{KeepRecent: 10},
		Snapshots: SnapshotsConfig{Interval: d.Interval, KeepRecent: d.KeepRecent, ChunkBytes: d.ChunkBytes},
		P2P:       P2PConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}},
		Supplier:  SupplierSection{Space: "0", MaxDurationDays: 365, ReceiptPeriod: "1h"},
		Customer:  CustomerSection{DataShards: 4, ParityShards: 2, ContractSpace: "1GiB", ContractDays: 30, AuditEvery: "10m"},
		Manager:   ManagerSection{CheckEvery: "1m"},
		Explorer:  ExplorerSection{Listen: DefaultExplorerAddr},
		Services:  map[string]bool{},
	}
	for _, name := range ServiceNames() {
		c.Services[name] = true
	}
	return c
}

// Validate checks every section; unknown service names are errors that name the known ones.
func (c AppConfig) Validate() error {
	if err := errors.Join(c.Memory.Validate(), c.Pruning.Validate(), c.Snapshots.Validate(), c.P2P.Validate(), c.Supplier.Validate(), c.Customer.Validate(), c.Manager.Validate(), c.Explorer.Validate()); err != nil {
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

# The node's libp2p host (specs/p2p.md). key names the local key whose identity it takes (its
# peer id is that key's); empty: no host. `+"`trustd start`"+` unlocks the key (--passphrase-file,
# TRUSTD_PASSPHRASE, or a prompt). listen: multiaddrs (a port for a supplier others must reach);
# bootstrap: peers to connect to at start, as /ip4/HOST/tcp/PORT/p2p/PEERID.
[p2p]
key = %q
listen = [%s]
bootstrap = []

# What the node offers as a supplier (needs the host): disk space with a unit ("20GiB"; "0":
# none), the least price per GiB-month, the longest contract in days, and how often it asks its
# customers to countersign storage receipts and submits them to the ledger.
[supplier]
space = %q
price_per_gib_month = %d
max_duration_days = %d
receipt_period = %q

# How the node backs up its files on others (the customer service; needs the host;
# `+"`trustd backup put|ls|get|rm|status|restore`"+`). Each stripe is cut into data_shards shards
# plus parity_shards more, one per supplier: any parity_shards suppliers may vanish with nothing
# lost. Suppliers are hired by this node's trust in them, for contract_space each (more when a put
# needs it), contract_days long, at price_per_gib_month; each is audited every audit_every
# ("0": only by `+"`trustd backup audit`"+`). Each round audits the shards that trust.toml's
# [manager] audit schedule says are due (every 75 min 47 s by default), so audit_every must not be
# longer than that.
[customer]
data_shards = %d
parity_shards = %d
contract_space = %q
contract_days = %d
price_per_gib_month = %d
audit_every = %q

# The supplier manager (the supplier-manager service, with the customer): every check_every it
# fires the suppliers this node's trust view drops (proven misbehaving, or dropped by its own
# audits), and those that have not answered for longer than trust.toml's [manager] grace, each
# after its shards are rebuilt onto a replacement (`+"`trustd suppliers history`"+` says why).
[manager]
check_every = %q

# The web explorer (the explorer service): the ledger's public history and who trusts whom, as
# HTML pages and JSON (/api), read from this node. Plain HTTP that only reads; empty: none.
[explorer]
listen = %q

# Services that start with the node (specs/network.md §5). While it runs, `+"`trustd services`"+`
# lists them and stops or starts one; `+"`trustd services enable|disable NAME`"+` edits this section.
[services]
%s`, c.Memory.SoftLimitMiB, c.Pruning.KeepRecent, c.Snapshots.Interval, c.Snapshots.KeepRecent, c.Snapshots.ChunkBytes,
		c.P2P.Key, quoteList(c.P2P.Listen), c.Supplier.Space, c.Supplier.PricePerGiBMonth, c.Supplier.MaxDurationDays, c.Supplier.ReceiptPeriod,
		c.Customer.DataShards, c.Customer.ParityShards, c.Customer.ContractSpace, c.Customer.ContractDays, c.Customer.PricePerGiBMonth, c.Customer.AuditEvery,
		c.Manager.CheckEvery, c.Explorer.Listen, services.String())
}

// quoteList is a TOML array's items.
func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = fmt.Sprintf("%q", it)
	}
	return strings.Join(q, ", ")
}

// WriteAppConfig writes app.toml with the defaults and their documentation.
func WriteAppConfig(home Home) error { return WriteAppConfigFrom(home, DefaultAppConfig()) }

// WriteAppConfigFrom writes app.toml with c's values, documented as the defaults are; c must
// validate.
func WriteAppConfigFrom(home Home, c AppConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return os.WriteFile(home.AppConfigFile(), []byte(appConfigText(c)), 0o600)
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
	keys := []string{"memory.soft_limit_mib", "pruning.keep_recent", "snapshots.interval", "snapshots.keep_recent", "snapshots.chunk_bytes",
		"p2p.key", "supplier.space", "supplier.price_per_gib_month", "supplier.max_duration_days", "supplier.receipt_period",
		"customer.data_shards", "customer.parity_shards", "customer.contract_space", "customer.contract_days", "customer.price_per_gib_month", "customer.audit_every", "manager.check_every", "explorer.listen"}
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
	return atomicfile.Write(path, text, 0o600)
}
