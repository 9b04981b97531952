package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

func newStartCmd(g *globals) *cobra.Command {
	var initIfMissing bool
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node in the foreground: consensus, the ledger application, RPC and metrics",
		Long: "Run the node in the foreground until interrupted (Ctrl-C or SIGTERM stops it cleanly).\n" +
			"With --init, a missing home is first initialised as a single-validator chain.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if initIfMissing {
				if _, err := initHome(g.home, initOptions{chainID: "trustledger-local", moniker: "trustd",
					rpcAddr: "tcp://127.0.0.1:26657", p2pAddr: "tcp://127.0.0.1:26656",
					metricsAddr: "127.0.0.1:26660", params: ledger.DefaultParams()}); err != nil {
					return err
				}
			}
			return runNode(cmd.Context(), g.home)
		},
	}
	cmd.Flags().BoolVar(&initIfMissing, "init", false, "initialise a single-validator home first if there is none")
	return cmd
}

// runNode starts CometBFT with the trustledger application in this process and blocks until ctx
// is done, then stops both cleanly.
func runNode(ctx context.Context, home string) error {
	if err := requireBadger(); err != nil {
		return err
	}
	conf, err := loadConfig(home)
	if err != nil {
		return err
	}
	logger, err := newLogger(conf)
	if err != nil {
		return err
	}
	store, err := storage.OpenAppStore(filepath.Join(conf.DBDir(), appDBName))
	if err != nil {
		return fmt.Errorf("open application state: %w", err)
	}
	defer store.Close()
	app, err := abci.NewApp(store, logger.With("module", "trustledger"), abci.NewMetrics(prometheus.DefaultRegisterer))
	if err != nil {
		return err
	}
	if hook := os.Getenv("TRUSTD_TEST_CRASH_BEFORE_COMMIT"); hook != "" {
		// Test-only fault injection (test/e2e): exit abruptly before committing this height.
		at, err := strconv.ParseInt(hook, 10, 64)
		if err != nil {
			return fmt.Errorf("TRUSTD_TEST_CRASH_BEFORE_COMMIT=%q is not a height", hook)
		}
		app.CrashBeforeCommit = func(h int64) {
			if h == at {
				logger.Error("test hook: crashing before commit", "height", h)
				os.Exit(3)
			}
		}
	}
	tf, err := loadTrustConfig(home)
	if err != nil {
		return err
	}
	if _, err := startTrustService(app, store, tf.Policy, logger.With("module", "trust")); err != nil {
		return err
	}
	nodeKey, err := p2p.LoadNodeKey(conf.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("load node key: %w", err)
	}
	pv := privval.LoadFilePV(conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile())
	n, err := node.NewNodeWithContext(ctx, conf, pv, nodeKey, proxy.NewLocalClientCreator(app),
		node.DefaultGenesisDocProviderFunc(conf), cfg.DefaultDBProvider,
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
	logger.Info("trustd is running", "home", home, "rpc", conf.RPC.ListenAddress,
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

func newLogger(conf *cfg.Config) (log.Logger, error) {
	logger := log.NewTMLogger(log.NewSyncWriter(os.Stdout))
	if conf.LogFormat == cfg.LogFormatJSON {
		logger = log.NewTMJSONLogger(log.NewSyncWriter(os.Stdout))
	}
	return cmtflags.ParseLogLevel(conf.LogLevel, logger, cfg.DefaultLogLevel)
}
