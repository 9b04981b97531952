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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/abci"
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
				if _, err := initHome(g.home, defaultInitOptions()); err != nil {
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
	defer app.Close() // before the store closes: waits for a snapshot being written
	settings, err := loadAppConfig(home)
	if err != nil {
		return err
	}
	if err := store.SetPruning(settings.keepRecent); err != nil {
		return err
	}
	abci.SetHeapSoftLimit(settings.softLimitMiB)
	snaps, err := storage.OpenSnapshotStore(filepath.Join(conf.DBDir(), "snapshots"))
	if err != nil {
		return err
	}
	if err := app.EnableSnapshots(snaps, settings.snapshots); err != nil {
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
	return abci.RunNode(ctx, conf, app, logger, home)
}

func newLogger(conf *cfg.Config) (log.Logger, error) {
	logger := log.NewTMLogger(log.NewSyncWriter(os.Stdout))
	if conf.LogFormat == cfg.LogFormatJSON {
		logger = log.NewTMJSONLogger(log.NewSyncWriter(os.Stdout))
	}
	return cmtflags.ParseLogLevel(conf.LogLevel, logger, cfg.DefaultLogLevel)
}
