//go:build !badgerdb

package abci

import cfg "github.com/cometbft/cometbft/config"

// DBProvider opens CometBFT's own stores; without the badgerdb tag, with CometBFT's defaults.
var DBProvider cfg.DBProvider = cfg.DefaultDBProvider
