package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsService serves Prometheus metrics at instrumentation.prometheus_listen_addr: CometBFT's
// (from the process's default registry) and the node's own (application, services).
type metricsService struct {
	addr     string
	gatherer prometheus.Gatherer

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

func newMetricsService(addr string, own *prometheus.Registry) *metricsService {
	return &metricsService{addr: addr, gatherer: prometheus.Gatherers{prometheus.DefaultGatherer, own}}
}

func (m *metricsService) Start(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		return nil
	}
	if m.addr == "" {
		return errors.New("no address: set instrumentation.prometheus_listen_addr in config.toml")
	}
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.ln = ln
	go func(srv *http.Server) { _ = srv.Serve(ln) }(m.srv)
	return nil
}

func (m *metricsService) Stop() error {
	m.mu.Lock()
	srv := m.srv
	m.srv, m.ln = nil, nil
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// snapshotsService takes and serves state-sync snapshots (the app does the work; this pauses
// and resumes it). Stopping it waits for a snapshot being written.
type snapshotsService struct{ pause func(bool) }

func (s snapshotsService) Start(context.Context) error { s.pause(false); return nil }
func (s snapshotsService) Stop() error                 { s.pause(true); return nil }
