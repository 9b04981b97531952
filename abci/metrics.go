package abci

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustledger/trustledger/ledger"
)

// Metrics are the application's Prometheus series, served beside CometBFT's own.
type Metrics struct {
	EventsApplied *prometheus.CounterVec
	TxsRejected   *prometheus.CounterVec
	// TxsVerified counts txs whose signatures CheckTx verified: each tx once (R-SIG-3), however
	// often it is rechecked.
	TxsVerified prometheus.Counter
	BlockApply  prometheus.Histogram
	StateKeys   prometheus.Gauge
	// AppDBBytes is measured when scraped (a walk of the database directory), not on every commit.
	AppDBBytes prometheus.GaugeFunc
	appDBSize  atomic.Value // func() int64, set by NewApp
	Height     prometheus.Gauge
	// SnapshotHeight is the height of the newest state-sync snapshot taken.
	SnapshotHeight prometheus.Gauge
}

// NewMetrics creates the series and registers them with reg (nil: not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		EventsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "trustledger", Name: "events_applied_total",
			Help: "Events committed, by kind."}, []string{"kind"}),
		TxsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "trustledger", Name: "txs_rejected_total",
			Help: "Transactions rejected, by stage (check, proposal, block) and reason."}, []string{"stage", "reason"}),
		TxsVerified: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "trustledger", Name: "txs_signature_verified_total",
			Help: "Transactions whose signatures CheckTx verified (once per tx; rechecks reuse the result)."}),
		BlockApply: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "trustledger", Name: "block_apply_seconds",
			Help: "Time to apply a block's transactions in FinalizeBlock.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		StateKeys: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "trustledger", Name: "state_keys",
			Help: "Keys in the merkleized state after the last commit."}),
		Height: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "trustledger", Name: "committed_height",
			Help: "Height of the last commit."}),
		SnapshotHeight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "trustledger", Name: "snapshot_height",
			Help: "Height of the newest state-sync snapshot this node took."}),
	}
	m.AppDBBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "trustledger", Name: "app_db_bytes",
		Help: "On-disk size of the application database (state tree, indexes), measured when scraped."},
		func() float64 {
			if size, ok := m.appDBSize.Load().(func() int64); ok {
				return float64(size())
			}
			return 0
		})
	for _, k := range ledger.AllKinds {
		m.EventsApplied.WithLabelValues(k.String())
	}
	if reg != nil {
		reg.MustRegister(m.EventsApplied, m.TxsRejected, m.TxsVerified, m.BlockApply, m.StateKeys, m.AppDBBytes, m.Height, m.SnapshotHeight)
	}
	return m
}
