package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	dbm "github.com/cometbft/cometbft-db"
	abcicli "github.com/cometbft/cometbft/abci/client"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/blocksync"
	cfg "github.com/cometbft/cometbft/config"
	cs "github.com/cometbft/cometbft/consensus"
	"github.com/cometbft/cometbft/libs/log"
	mempl "github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpclocal "github.com/cometbft/cometbft/rpc/client/local"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/statesync"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/api"
)

// consensusService runs CometBFT (consensus, p2p, mempool, RPC) over the node's application.
// A CometBFT node cannot start again once stopped, so each Start builds a new one from the same
// home; the application, its state and the trust engine live on across restarts.
type consensusService struct {
	conf   *cfg.Config
	app    abcitypes.Application
	reset  func() // forgets what a stopped CometBFT node left unfinished in app (abci.App.ResetUncommitted)
	logger log.Logger
	// hush silences the CometBFT node's log while it stops: its listeners and routines report
	// their own closing as errors ("use of closed network connection"); a clean stop logs none.
	hush atomic.Bool

	mu     sync.RWMutex
	node   *nm.Node
	local  *rpclocal.Local
	dbs    *dbSet
	cancel context.CancelFunc
}

// dbSet opens CometBFT's databases for one CometBFT node and closes them all when it stops:
// the node closes its block, state and evidence stores itself but not the tx index, whose
// badger directory lock would refuse the next node.
type dbSet struct {
	mu  sync.Mutex
	dbs []*onceDB
}

type onceDB struct {
	dbm.DB
	once sync.Once
	err  error
}

func (d *onceDB) Close() error {
	d.once.Do(func() { d.err = d.DB.Close() })
	return d.err
}

func (s *dbSet) provide(ctx *cfg.DBContext) (dbm.DB, error) {
	db, err := abci.DBProvider(ctx)
	if err != nil {
		return nil, err
	}
	o := &onceDB{DB: db}
	s.mu.Lock()
	s.dbs = append(s.dbs, o)
	s.mu.Unlock()
	return o, nil
}

func (s *dbSet) closeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, d := range s.dbs {
		errs = append(errs, d.Close())
	}
	s.dbs = nil
	return errors.Join(errs...)
}

// cometMetrics memoises CometBFT's Prometheus metrics: its constructors register them in the
// process's default registry, which refuses a second registration, so every CometBFT node of
// this process (one after each consensus restart) reports through the first one's. They are
// always collected; the metrics service decides whether they are served.
var cometMetrics struct {
	once sync.Once
	cs   *cs.Metrics
	p2p  *p2p.Metrics
	mp   *mempl.Metrics
	sm   *sm.Metrics
	px   *proxy.Metrics
	bs   *blocksync.Metrics
	ss   *statesync.Metrics
}

func metricsProvider(ic *cfg.InstrumentationConfig) nm.MetricsProvider {
	return func(chainID string) (*cs.Metrics, *p2p.Metrics, *mempl.Metrics, *sm.Metrics, *proxy.Metrics, *blocksync.Metrics, *statesync.Metrics) {
		m := &cometMetrics
		m.once.Do(func() {
			on := *ic
			on.Prometheus = true
			m.cs, m.p2p, m.mp, m.sm, m.px, m.bs, m.ss = nm.DefaultMetricsProvider(&on)(chainID)
		})
		return m.cs, m.p2p, m.mp, m.sm, m.px, m.bs, m.ss
	}
}

func (c *consensusService) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.node != nil {
		return nil
	}
	conf := *c.conf
	inst := *conf.Instrumentation
	inst.Prometheus = false // the metrics service serves CometBFT's metrics with ours
	conf.Instrumentation = &inst
	nodeKey, err := p2p.LoadNodeKey(conf.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("load node key: %w", err)
	}
	pv := privval.LoadFilePV(conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile())
	// The node's lifetime context: handshake replay and state sync stop with the service.
	ctx, cancel := context.WithCancel(context.Background())
	dbs := &dbSet{}
	c.hush.Store(false)
	n, err := nm.NewNodeWithContext(ctx, &conf, pv, nodeKey, sideBySideQueries{c.app},
		nm.DefaultGenesisDocProviderFunc(&conf), dbs.provide, metricsProvider(c.conf.Instrumentation), hushable{c.logger, &c.hush})
	if err != nil {
		cancel()
		_ = dbs.closeAll()
		c.reset()
		return fmt.Errorf("create CometBFT node: %w", err)
	}
	if err := n.Start(); err != nil {
		cancel()
		_ = n.Stop()
		_ = dbs.closeAll()
		c.reset()
		return fmt.Errorf("start CometBFT node: %w", err)
	}
	c.node, c.local, c.dbs, c.cancel = n, rpclocal.New(n), dbs, cancel
	c.logger.Info("consensus running", "rpc", conf.RPC.ListenAddress, "p2p", conf.P2P.ListenAddress, "node_id", string(nodeKey.ID()))
	return nil
}

func (c *consensusService) Stop() error {
	c.mu.Lock()
	n, dbs, cancel := c.node, c.dbs, c.cancel
	c.node, c.local, c.dbs, c.cancel = nil, nil, nil, nil
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	c.hush.Store(true)
	cancel()
	err := n.Stop()
	n.Wait()
	c.reset()
	c.logger.Info("consensus stopped")
	return errors.Join(err, dbs.closeAll())
}

// hushable is a logger that drops everything while hush is set.
type hushable struct {
	next log.Logger
	hush *atomic.Bool
}

func (h hushable) Debug(msg string, kv ...any) {
	if !h.hush.Load() {
		h.next.Debug(msg, kv...)
	}
}

func (h hushable) Info(msg string, kv ...any) {
	if !h.hush.Load() {
		h.next.Info(msg, kv...)
	}
}

func (h hushable) Warn(msg string, kv ...any) {
	if !h.hush.Load() {
		h.next.Warn(msg, kv...)
	}
}

func (h hushable) Error(msg string, kv ...any) {
	if !h.hush.Load() {
		h.next.Error(msg, kv...)
	}
}

func (h hushable) With(kv ...any) log.Logger { return hushable{h.next.With(kv...), h.hush} }

// RunCometBFT runs CometBFT over app in this process, built as a node's consensus service
// builds it (the same stores, options and metrics), until ctx is done, then stops it. The
// benchmark baseline runs CometBFT's kvstore example with it, so that both are measured alike.
func RunCometBFT(ctx context.Context, conf *cfg.Config, app abcitypes.Application, logger log.Logger) error {
	c := &consensusService{conf: conf, app: app, reset: func() {}, logger: logger}
	if err := c.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return c.Stop()
}

// rpc is the running CometBFT node's local client, or an error wrapping api.ErrServiceStopped.
func (c *consensusService) rpc() (rpcclient.Client, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.local == nil {
		return nil, fmt.Errorf("service %s is stopped on this node: %w", ServiceConsensus, api.ErrServiceStopped)
	}
	return c.local, nil
}

// sideBySideQueries connects CometBFT to the app in-process as its connection-synchronised
// local client does (each connection holds its own mutex over its calls), except that queries
// take no mutex: the app answers them side by side (abci.App.Query reads committed state and
// indexes outside its lock, and the trust service's queries lock what they read). Behind one
// mutex, every query waited for the one ahead of it, so an explorer page's cheap lookups
// (a node's newest event) queued behind trust views being computed.
type sideBySideQueries struct{ app abcitypes.Application }

var _ proxy.ClientCreator = sideBySideQueries{}

func (c sideBySideQueries) NewABCIClient() (abcicli.Client, error) {
	return unlockedQueries{abcicli.NewLocalClient(nil, c.app), c.app}, nil
}

// unlockedQueries is a local client whose Query calls the app directly.
type unlockedQueries struct {
	abcicli.Client
	app abcitypes.Application
}

func (q unlockedQueries) Query(ctx context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	return q.app.Query(ctx, req)
}
