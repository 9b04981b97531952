package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/explorer"
)

// explorerService serves the web explorer (package explorer) at [explorer] listen, reading the
// node through its in-process client: never behind the chain, no database of its own.
type explorerService struct {
	addr   string
	client *client.Client
	logger log.Logger

	mu  sync.Mutex
	srv *http.Server
	ex  *explorer.Server
	url string
}

func (e *explorerService) Start(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		return nil
	}
	if e.addr == "" {
		return errors.New("no address: set [explorer] listen in app.toml")
	}
	ex, err := explorer.New(e.client, e.logger.Error)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		ex.Close()
		return fmt.Errorf("listen on %s: %w", e.addr, err)
	}
	e.ex = ex
	e.srv = &http.Server{Handler: ex.Handler(), ReadHeaderTimeout: 10 * time.Second}
	e.url = "http://" + ln.Addr().String()
	go func(srv *http.Server) { _ = srv.Serve(ln) }(e.srv)
	e.logger.Info("explorer listening", "url", e.url)
	return nil
}

// URL is where the explorer answers while it runs ("" while stopped).
func (e *explorerService) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url
}

func (e *explorerService) Stop() error {
	e.mu.Lock()
	srv, ex := e.srv, e.ex
	e.srv, e.ex, e.url = nil, nil, ""
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	ex.Close() // ends the live streams, which Shutdown would otherwise wait for
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
