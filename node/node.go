package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/p2p"
	"github.com/trustledger/trustledger/reputation"
	"github.com/trustledger/trustledger/storage"
)

// Options adjust a node; the zero value is the production node.
type Options struct {
	// Logger receives the node's log; nil: standard output, in config.toml's log_format and
	// log_level.
	Logger log.Logger
	// CrashBeforeCommit, if positive, makes the process exit with code 3 at the start of that
	// height's Commit: fault injection for the crash tests (test/e2e).
	CrashBeforeCommit int64
	// LogLevel, if set, replaces config.toml's log_level (CometBFT's syntax: "info",
	// "*:error,consensus:info").
	LogLevel string
	// P2PKey is app.toml's [p2p] key, unlocked (the caller asks for its passphrase: the node
	// never prompts). Without it the p2p and supplier services stay off.
	P2PKey ed25519.PrivateKey
}

// Node is a trustledger node assembled from its home: the application state, the services, the
// control socket. Open it, Start it, Close it.
type Node struct {
	home      Home
	conf      *cfg.Config
	appConf   AppConfig
	logger    log.Logger
	lock      *homeLock
	store     *storage.AppStore
	app       *abci.App
	registry  *prometheus.Registry
	manager   *Manager
	trust     *TrustService
	consensus *consensusService
	p2p       *p2pService
	supplier  *supplierService
	customer  *customerService
	explorer  *httpService
	control   *controlServer
	closers   []func() error
}

// Open takes the home's lock (ErrRunning if a node runs there), opens the application state
// and builds the services; none runs until Start.
func Open(home Home, o Options) (n *Node, err error) {
	if err := requireBadger(); err != nil {
		return nil, err
	}
	conf, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	appConf, err := LoadAppConfig(home)
	if err != nil {
		return nil, err
	}
	if _, err := LoadTrustConfig(home); err != nil {
		return nil, err
	}
	if o.LogLevel != "" {
		conf.LogLevel = o.LogLevel
	}
	logger := o.Logger
	if logger == nil {
		if logger, err = newLogger(conf); err != nil {
			return nil, err
		}
	}
	lock, err := lockHome(home)
	if err != nil {
		return nil, err
	}
	n = &Node{home: home, conf: conf, appConf: appConf, logger: logger, lock: lock, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			n.closeAll()
		}
	}()
	if n.store, err = storage.OpenAppStore(AppDB(conf), storage.KeepRecent(appConf.Pruning.KeepRecent)); err != nil {
		return nil, fmt.Errorf("open application state: %w", err)
	}
	n.closers = append(n.closers, n.store.Close)
	abci.SetHeapSoftLimit(appConf.Memory.SoftLimitMiB)
	if n.app, err = abci.NewApp(n.store, logger.With("module", "trustledger"), abci.NewMetrics(n.registry)); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() error { n.app.Close(); return nil }) // before the store: waits for a snapshot
	snaps, err := storage.OpenSnapshotStore(SnapshotsDir(conf))
	if err != nil {
		return nil, err
	}
	if err := n.app.EnableSnapshots(snaps, appConf.Snapshots.ABCI()); err != nil {
		return nil, err
	}
	n.app.PauseSnapshots(true) // until the snapshots service starts
	if at := o.CrashBeforeCommit; at > 0 {
		n.app.CrashBeforeCommit = func(h int64) {
			if h == at {
				logger.Error("test hook: crashing before commit", "height", h)
				os.Exit(3)
			}
		}
	}
	n.trust = NewTrustService(n.store, func() (reputation.Policy, error) {
		tc, err := LoadTrustConfig(home)
		return tc.Policy, err
	}, logger.With("module", "trust"))
	n.trust.Register(n.app)
	n.consensus = &consensusService{conf: conf, app: n.app, reset: n.app.ResetUncommitted, logger: logger.With("module", "node")}
	if n.manager, err = NewManager(n.registry); err != nil {
		return nil, err
	}
	n.app.OnFailure = func(err error) { n.manager.Fail(ServiceConsensus, fmt.Errorf("the application failed: %w", err)) }
	n.p2p = &p2pService{key: o.P2PKey, conf: appConf.P2P, ledger: n.Client(), logger: logger.With("module", "p2p")}
	gen, err := types.GenesisDocFromFile(conf.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	n.supplier, err = newSupplierService(home, gen.ChainID, appConf.Supplier, n.p2p.Host, o.P2PKey, n.Client(), logger.With("module", "supplier"))
	if err != nil {
		return nil, err
	}
	if n.customer, err = newCustomerService(home, gen.ChainID, appConf.Customer, n.p2p.Host, o.P2PKey, n.Client(), n.trust, logger.With("module", "customer")); err != nil {
		return nil, err
	}
	// One submitter of the node's key for the services that sign with it.
	n.supplier.signer = &keySubmitter{chainID: gen.ChainID, key: o.P2PKey, ledger: n.Client()}
	n.customer.signer = n.supplier.signer
	managerPolicy := func() (ManagerPolicy, error) {
		tc, err := LoadTrustConfig(home)
		return tc.Manager, err
	}
	n.customer.policy = managerPolicy
	every, err := appConf.Manager.Every()
	if err != nil {
		return nil, err
	}
	manager := &managerService{customer: n.customer, trust: n.trust, every: every, policy: managerPolicy, logger: logger.With("module", "supplier-manager")}
	n.explorer = newExplorerService(appConf.Explorer.Listen, n.Client(), logger.With("module", "explorer"))
	space := n.supplier.conf.Terms.Space
	p2pOn := appConf.ServiceEnabled(ServiceP2P) && o.P2PKey != nil
	metricsOn := appConf.ServiceEnabled(ServiceMetrics) && conf.Instrumentation.Prometheus
	for _, s := range []struct {
		name     string
		svc      Service
		enabled  bool
		requires []string
	}{
		{ServiceMetrics, newMetricsService(conf.Instrumentation.PrometheusListenAddr, n.registry), metricsOn, nil},
		{ServiceTrust, n.trust, appConf.ServiceEnabled(ServiceTrust), nil},
		{ServiceConsensus, n.consensus, appConf.ServiceEnabled(ServiceConsensus), nil},
		{ServiceSnapshots, snapshotsService{pause: n.app.PauseSnapshots}, appConf.ServiceEnabled(ServiceSnapshots), []string{ServiceConsensus}},
		{ServiceP2P, n.p2p, p2pOn, []string{ServiceConsensus}},
		{ServiceSupplier, n.supplier, p2pOn && space > 0 && appConf.ServiceEnabled(ServiceSupplier), []string{ServiceP2P}},
		{ServiceCustomer, n.customer, p2pOn && appConf.ServiceEnabled(ServiceCustomer), []string{ServiceP2P, ServiceTrust}},
		{ServiceManager, manager, p2pOn && appConf.ServiceEnabled(ServiceCustomer) && appConf.ServiceEnabled(ServiceManager), []string{ServiceCustomer}},
		{ServiceExplorer, n.explorer, appConf.Explorer.Listen != "" && appConf.ServiceEnabled(ServiceExplorer), nil},
	} {
		if err := n.manager.Add(s.name, s.svc, s.enabled, s.requires...); err != nil {
			return nil, err
		}
	}
	if appConf.ServiceEnabled(ServiceMetrics) && !conf.Instrumentation.Prometheus {
		n.manager.SetOff(ServiceMetrics, "instrumentation.prometheus is false in config.toml")
	}
	if appConf.ServiceEnabled(ServiceP2P) && !p2pOn {
		why := "no [p2p] key in app.toml"
		if appConf.P2P.Key != "" {
			why = fmt.Sprintf("[p2p] key %q was not unlocked", appConf.P2P.Key)
		}
		n.manager.SetOff(ServiceP2P, why)
	}
	if appConf.ServiceEnabled(ServiceSupplier) && (!p2pOn || space == 0) {
		why := "no [supplier] space in app.toml"
		if !p2pOn {
			why = "needs p2p, which is off"
		}
		n.manager.SetOff(ServiceSupplier, why)
	}
	if appConf.ServiceEnabled(ServiceCustomer) && !p2pOn {
		n.manager.SetOff(ServiceCustomer, "needs p2p, which is off")
	}
	if appConf.ServiceEnabled(ServiceExplorer) && appConf.Explorer.Listen == "" {
		n.manager.SetOff(ServiceExplorer, "no [explorer] listen in app.toml")
	}
	if appConf.ServiceEnabled(ServiceManager) && (!p2pOn || !appConf.ServiceEnabled(ServiceCustomer)) {
		n.manager.SetOff(ServiceManager, "needs the customer service, which is off")
	}
	return n, nil
}

func newLogger(conf *cfg.Config) (log.Logger, error) {
	logger := log.NewTMLogger(log.NewSyncWriter(os.Stdout))
	if conf.LogFormat == cfg.LogFormatJSON {
		logger = log.NewTMJSONLogger(log.NewSyncWriter(os.Stdout))
	}
	return cmtflags.ParseLogLevel(conf.LogLevel, logger, cfg.DefaultLogLevel)
}

// Start opens the control socket and starts the enabled services in order. A service that fails
// to start is marked failed and the others start anyway; the failures are returned, joined, and
// the node keeps running (`trustd services start NAME` tries again).
func (n *Node) Start(ctx context.Context) error {
	if n.control == nil {
		c, err := serveControl(n.home, n.manager, n.customer, n.supplier)
		if err != nil {
			return err
		}
		n.control = c
	}
	return n.manager.StartEnabled(ctx)
}

// StopTimeout bounds how long Close waits for the services to stop: a CometBFT node whose
// consensus failed may never finish stopping, and a node asked to stop must.
const StopTimeout = 15 * time.Second

// ErrStopTimeout is returned by Close when the services did not stop in StopTimeout; the state
// is then left open (the process is expected to exit; the stores recover on the next start).
var ErrStopTimeout = errors.New("services did not stop in time")

// ExplorerURL is where the node's explorer answers, "" while its service is stopped.
func (n *Node) ExplorerURL() string { return n.explorer.URL() }

// Close stops every service, closes the control socket and the state, and releases the home.
func (n *Node) Close() error {
	var errs []error
	if n.control != nil {
		n.control.close()
		n.control = nil
	}
	if n.manager != nil {
		done := make(chan error, 1)
		go func() { done <- n.manager.StopAll() }()
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-time.After(StopTimeout):
			n.logger.Error("services did not stop in time; leaving the state to recover at the next start", "timeout", StopTimeout)
			return fmt.Errorf("%w (%s)", ErrStopTimeout, StopTimeout)
		}
	}
	errs = append(errs, n.closeAll())
	return errors.Join(errs...)
}

func (n *Node) closeAll() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i]())
	}
	n.closers = nil
	n.lock.release()
	return errors.Join(errs...)
}

// Services is the node's service manager.
func (n *Node) Services() *Manager { return n.manager }

// Trust is the node's trust service, for in-process callers.
func (n *Node) Trust() *TrustService { return n.trust }

// Config is the node's CometBFT configuration (addresses, paths).
func (n *Node) Config() *cfg.Config { return n.conf }

// Home is the node's home.
func (n *Node) Home() Home { return n.home }

// P2P is the node's running libp2p host, or nil (no [p2p] key, or the p2p service stopped).
func (n *Node) P2P() *p2p.Host { return n.p2p.Host() }

// Backups is the node's customer service, for in-process callers (Control serves the same
// operations to other processes).
func (n *Node) Backups() Backups { return n.customer }

// Client is an in-process client of this node: the local RPC of the running consensus service,
// whichever CometBFT node that is after restarts; while consensus is stopped its calls return
// errors wrapping api.ErrServiceStopped.
func (n *Node) Client() *client.Client {
	return client.NewInProcess(n.consensus.rpc, "the in-process node", n.trust)
}
