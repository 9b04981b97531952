package node

import (
	"net/http"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/explorer"
)

// newExplorerService serves the web explorer (package explorer) at [explorer] listen, reading
// the node through its in-process client: never behind the chain, no database of its own.
// Stopping it ends the open live streams first.
func newExplorerService(addr string, c *client.Client, logger log.Logger) *httpService {
	return &httpService{addr: addr, noAddr: "[explorer] listen in app.toml",
		handler: func() (http.Handler, func(), error) {
			ex, err := explorer.New(c, logger.Error)
			if err != nil {
				return nil, nil, err
			}
			return ex.Handler(), ex.Close, nil
		},
		started: func(url string) { logger.Info("explorer listening", "url", url) }}
}
