package node

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetricsService serves Prometheus metrics at instrumentation.prometheus_listen_addr:
// CometBFT's (from the process's default registry) and the node's own (application, services).
func newMetricsService(addr string, own *prometheus.Registry) *httpService {
	gatherer := prometheus.Gatherers{prometheus.DefaultGatherer, own}
	return &httpService{addr: addr, noAddr: "instrumentation.prometheus_listen_addr in config.toml",
		handler: func() (http.Handler, func(), error) {
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
			return mux, func() {}, nil
		}}
}

// snapshotsService takes and serves state-sync snapshots (the app does the work; this pauses
// and resumes it). Stopping it waits for a snapshot being written.
type snapshotsService struct{ pause func(bool) }

func (s snapshotsService) Start(context.Context) error { s.pause(false); return nil }
func (s snapshotsService) Stop() error                 { s.pause(true); return nil }
