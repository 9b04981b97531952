//go:build badgerdb

// Command kvnode is the benchmark baseline: CometBFT's example key-value application
// (abci/example/kvstore) on a badger database, run in-process by node.RunCometBFT, which builds
// CometBFT as `trustd start`'s consensus service does, from a home written by `trustd init`
// (same config.toml).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/viper"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/node"
)

func main() {
	home := flag.String("home", "", "a home written by `trustd init`")
	flag.Parse()
	if err := run(*home); err != nil {
		fmt.Fprintln(os.Stderr, "kvnode:", err)
		os.Exit(1)
	}
}

func run(home string) error {
	conf := cfg.DefaultConfig()
	v := viper.New()
	v.SetConfigFile(filepath.Join(home, "config", "config.toml"))
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	if err := v.ReadInConfig(); err != nil {
		return err
	}
	if err := v.Unmarshal(conf); err != nil {
		return err
	}
	conf.SetRoot(home)
	logger, err := cmtflags.ParseLogLevel(conf.LogLevel, log.NewTMLogger(log.NewSyncWriter(os.Stdout)), cfg.DefaultLogLevel)
	if err != nil {
		return err
	}
	// The same runtime settings as a trustd node: heap soft limit, bounded badger stores.
	abci.SetHeapSoftLimit(abci.DefaultHeapSoftLimitMiB)
	db, err := abci.DBProvider(&cfg.DBContext{ID: "kvstore", Config: conf})
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return node.RunCometBFT(ctx, conf, kvstore.NewApplication(db), logger)
}
