// Command loadgen measures committed throughput and commit latency against one node's RPC:
// the ledger (registered signers with contracts, countersigned receipts and audits) or, as the
// baseline, CometBFT's kvstore example with txs of the same size. It prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/trustledger/trustledger/test/load"
)

type result struct {
	Mode        string  `json:"mode"`
	Seconds     float64 `json:"seconds"`
	Workers     int     `json:"workers"`
	InFlight    int     `json:"inflight"`
	EventsPerTx int     `json:"events_per_tx"`
	TxBytes     int     `json:"tx_bytes"`
	Txs         int     `json:"committed_txs"`
	Events      int     `json:"committed_events"`
	TxsPerSec   float64 `json:"txs_per_sec"`
	EventsPerS  float64 `json:"events_per_sec"`
	Errors      int     `json:"errors"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	// SeenP99ms is the p99 of broadcast → the generator saw the commit (polling and RPC included).
	SeenP50ms float64 `json:"seen_p50_ms"`
	SeenP99ms float64 `json:"seen_p99_ms"`
}

func main() {
	mode := flag.String("mode", "ledger", "ledger or kvstore")
	rpc := flag.String("rpc", "tcp://127.0.0.1:26657", "node RPC; in ledger mode a comma-separated list spreads the signers over several nodes")
	chain := flag.String("chain-id", "trustledger-local", "chain id (ledger mode)")
	pow := flag.Int("pow", 4, "genesis proof-of-work difficulty (ledger mode)")
	workers := flag.Int("workers", 200, "signers (ledger) or concurrent workers (kvstore)")
	inflight := flag.Int("inflight", 1, "txs each worker keeps sent and not yet committed (ledger: consecutive sequences of one signer)")
	events := flag.Int("events-per-tx", 1, "events per tx (ledger mode)")
	size := flag.Int("tx-size", 0, "tx bytes (kvstore mode; default: the ledger's tx size for -events-per-tx)")
	duration := flag.Duration("duration", 30*time.Second, "measured duration, after setup")
	flag.Parse()
	r, err := run(*mode, *rpc, *chain, *pow, *workers, *inflight, *events, *size, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func run(mode, rpc, chain string, pow, workers, inflight, events, size int, d time.Duration) (*result, error) {
	r := &result{Mode: mode, Workers: workers, InFlight: inflight, EventsPerTx: events}
	g, err := load.New(chain, strings.Split(rpc, ","), workers, "loadgen")
	if err != nil {
		return nil, err
	}
	g.EventsPerTx, g.InFlight = events, inflight
	r.TxBytes = g.TxBytes()
	var lat, seen []time.Duration
	switch mode {
	case "ledger":
		setup, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := g.Setup(setup, pow); err != nil {
			return nil, err
		}
		before, beforeEvents := len(g.Acks()), g.Events()
		latBefore, seenBefore := len(g.Latencies()), len(g.SeenLatencies())
		ctx, stop := context.WithTimeout(context.Background(), d)
		defer stop()
		start := time.Now()
		g.Run(ctx)
		r.Seconds = time.Since(start).Seconds()
		r.Txs, r.Events, r.Errors = len(g.Acks())-before, g.Events()-beforeEvents, g.Errors()
		fmt.Fprintln(os.Stderr, "loadgen:", g.Stats())
		lat, seen = g.Latencies()[latBefore:], g.SeenLatencies()[seenBefore:]
	case "kvstore":
		if size > 0 {
			r.TxBytes = size
		}
		r.EventsPerTx = 0
		kv, err := load.NewKV(strings.Split(rpc, ",")[0], r.TxBytes)
		if err != nil {
			return nil, err
		}
		ctx, stop := context.WithTimeout(context.Background(), d)
		defer stop()
		start := time.Now()
		kv.Run(ctx, workers*inflight) // the same number of txs in flight
		r.Seconds = time.Since(start).Seconds()
		r.Txs, r.Errors, lat, seen = kv.Result()
	default:
		return nil, fmt.Errorf("-mode %q: want ledger or kvstore", mode)
	}
	r.TxsPerSec = float64(r.Txs) / r.Seconds
	r.EventsPerS = float64(r.Events) / r.Seconds
	r.P50ms, r.P95ms, r.P99ms = quantileMs(lat, 0.50), quantileMs(lat, 0.95), quantileMs(lat, 0.99)
	r.SeenP50ms, r.SeenP99ms = quantileMs(seen, 0.50), quantileMs(seen, 0.99)
	return r, nil
}

// quantileMs is the p-quantile of d in milliseconds (0 for none); it sorts d.
func quantileMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
}
