package abci

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
)

// DefaultHeapSoftLimitMiB is the Go heap's default soft limit for a node (app.toml [memory]):
// past it the garbage collector runs more often, which keeps a node's RSS under 1 GiB under load
// (BENCHMARKS.md) at some cost in throughput.
const DefaultHeapSoftLimitMiB = 768

// SetHeapSoftLimit applies a soft limit of mib MiB to the Go heap, unless it is 0 or the
// GOMEMLIMIT environment variable is set (that one wins).
func SetHeapSoftLimit(mib int64) {
	if mib > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(mib << 20)
	}
}

// RunNode runs CometBFT in this process with app as its ABCI application, until ctx is done,
// then stops it cleanly. Each ABCI connection (mempool, consensus, query, snapshot) has its own
// lock, so the app must serialise access to its state itself (App does, with one mutex). `trustd start` runs the ledger with it; the benchmark baseline runs
// CometBFT's kvstore example with it, so both are measured the same way.
func RunNode(ctx context.Context, conf *cfg.Config, app abcitypes.Application, logger log.Logger, home string) error {
	nodeKey, err := p2p.LoadNodeKey(conf.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("load node key: %w", err)
	}
	pv := privval.LoadFilePV(conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile())
	n, err := node.NewNodeWithContext(ctx, conf, pv, nodeKey, proxy.NewConnSyncLocalClientCreator(app),
		node.DefaultGenesisDocProviderFunc(conf), DBProvider,
		node.DefaultMetricsProvider(conf.Instrumentation), logger)
	if err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	if err := n.Start(); err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	metrics := "off"
	if conf.Instrumentation.IsPrometheusEnabled() {
		metrics = "http://" + conf.Instrumentation.PrometheusListenAddr + "/metrics"
	}
	logger.Info("node is running", "home", home, "rpc", conf.RPC.ListenAddress,
		"p2p", conf.P2P.ListenAddress, "metrics", metrics, "node_id", string(nodeKey.ID()))
	fmt.Fprintf(os.Stderr, "trustd: rpc %s · p2p %s · metrics %s · home %s\n",
		conf.RPC.ListenAddress, conf.P2P.ListenAddress, metrics, home)
	<-ctx.Done()
	logger.Info("stopping")
	if err := n.Stop(); err != nil {
		logger.Error("stop node", "err", err)
	}
	n.Wait()
	return nil
}
