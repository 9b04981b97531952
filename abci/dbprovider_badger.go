//go:build badgerdb

package abci

import (
	"os"
	"path/filepath"

	dbm "github.com/cometbft/cometbft-db"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/dgraph-io/badger/v4"
)

// DBProvider opens CometBFT's own stores (block store, state, tx index, evidence). With the
// badger backend it opens them with bounded memory: cometbft-db's defaults (64 MiB memtables, five
// of them, a 256 MiB block cache, per store) let four stores alone approach a gigabyte of RSS under
// load. The on-disk format is badger's either way, so homes stay compatible.
func DBProvider(ctx *cfg.DBContext) (dbm.DB, error) {
	if dbm.BackendType(ctx.Config.DBBackend) != dbm.BadgerDBBackend {
		return cfg.DefaultDBProvider(ctx)
	}
	path := filepath.Join(ctx.Config.DBDir(), ctx.ID)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	opts := badger.DefaultOptions(path).
		WithLogger(nil).
		WithSyncWrites(false).
		WithMemTableSize(16 << 20).
		WithNumMemtables(3).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(16 << 20).
		WithNumCompactors(2).
		WithValueLogFileSize(128 << 20).
		WithDetectConflicts(false)
	opts.TableSizeMultiplier = 1 // every table 2 MiB: compaction builds small tables, in less memory
	return dbm.NewBadgerDBWithOptions(opts)
}
