// Command loadgen measures committed throughput and commit latency against one node's RPC:
// the ledger (registered signers with contracts, countersigned receipts and audits) or, as the
// baseline, CometBFT's kvstore example with txs of the same size. It prints one JSON object.
//
// With -saturate it finds the node's saturation instead of measuring one offered load: it
// raises the txs in flight step by step (-steps, multiples of -inflight) and measures each
// step for -step after a short settling time, until committed txs/s stops rising (less than 5%
// above the best step) or the commit p99 passes -p99-limit; the saturation point is the best
// step within the limit. Each step also reports the CPU the node (-node-pid) and the generator
// used, in cores, and what the rest of the machine used, so that a generator that is itself the
// ceiling shows.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/trustledger/trustledger/test/bench/procstat"
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
	// CPU used while measuring, in cores: the node's process, the generator's, and the rest of
	// the machine's (every busy core less those two); 0 where not measured.
	NodeCores  float64 `json:"node_cores"`
	LoadCores  float64 `json:"loadgen_cores"`
	OtherCores float64 `json:"other_cores"`
	// OverP99Limit says that even the first step's commit p99 passed -p99-limit: the figures are
	// that step's, at a load the node could not hold within the limit.
	OverP99Limit bool `json:"over_p99_limit,omitempty"`
	// Steps are the offered loads a -saturate run measured, the result above being the best.
	Steps []step `json:"steps,omitempty"`
}

// step is one offered load of a -saturate run.
type step struct {
	InFlight   int     `json:"inflight"` // txs in flight in all
	TxsPerSec  float64 `json:"txs_per_sec"`
	EventsPerS float64 `json:"events_per_sec"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	SeenP50ms  float64 `json:"seen_p50_ms"`
	Errors     int     `json:"errors"`
	NodeCores  float64 `json:"node_cores"`
	LoadCores  float64 `json:"loadgen_cores"`
	OtherCores float64 `json:"other_cores"`
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
	saturate := flag.Bool("saturate", false, "step the load up until the node saturates (see -steps, -step, -p99-limit)")
	steps := flag.String("steps", "1,2,4,8,16,32", "with -saturate: the offered loads, as multiples of -inflight")
	stepFor := flag.Duration("step", 15*time.Second, "with -saturate: how long each step is measured (after 3 s of settling)")
	p99Limit := flag.Duration("p99-limit", 2*time.Second, "with -saturate: the commit p99 beyond which the node counts as saturated")
	nodePID := flag.Int("node-pid", 0, "the node's process id, to report the CPU it used (0: not reported)")
	cpuProfile := flag.String("cpuprofile", "", "write the generator's own CPU profile to this file")
	seed := flag.String("seed", "loadgen", "what the signers' keys derive from (ledger mode): another seed makes other signers, to load a node a run has loaded before")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: -cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	var r *result
	var err error
	if *saturate {
		var mult []int
		for _, f := range strings.Split(*steps, ",") {
			var m int
			if _, e := fmt.Sscan(f, &m); e != nil || m < 1 {
				fmt.Fprintf(os.Stderr, "loadgen: -steps %q: want positive whole numbers such as 1,2,4\n", *steps)
				os.Exit(2)
			}
			mult = append(mult, m)
		}
		r, err = runSaturated(*mode, *rpc, *chain, *seed, *pow, *workers, *inflight, *events, *size, mult, *stepFor, *p99Limit, *nodePID)
	} else {
		r, err = run(*mode, *rpc, *chain, *seed, *pow, *workers, *inflight, *events, *size, *duration, *nodePID)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func run(mode, rpc, chain, seed string, pow, workers, inflight, events, size int, d time.Duration, nodePID int) (*result, error) {
	r := &result{Mode: mode, Workers: workers, InFlight: inflight, EventsPerTx: events}
	g, err := load.New(chain, strings.Split(rpc, ","), workers, seed)
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
		cpu0 := readCPU(nodePID)
		start := time.Now()
		g.Run(ctx)
		r.Seconds = time.Since(start).Seconds()
		r.NodeCores, r.LoadCores, r.OtherCores = readCPU(nodePID).since(cpu0)
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
		cpu0 := readCPU(nodePID)
		start := time.Now()
		kv.Run(ctx, workers*inflight) // the same number of txs in flight
		r.Seconds = time.Since(start).Seconds()
		r.NodeCores, r.LoadCores, r.OtherCores = readCPU(nodePID).since(cpu0)
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

// runSaturated steps the offered load up (mult × inflight per signer, or mult × workers ×
// inflight kvstore workers) and returns the best step within p99Limit, with every step.
func runSaturated(mode, rpc, chain, seed string, pow, workers, inflight, events, size int, mult []int, stepFor, p99Limit time.Duration, nodePID int) (*result, error) {
	const settle = 3 * time.Second // after a step up, before measuring: the new txs reach their first commits
	r := &result{Mode: mode, Workers: workers, EventsPerTx: events}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// counts returns committed txs, events, errors, and the commit and seen latencies so far.
	var counts func() (int, int, int, []time.Duration, []time.Duration)
	var raise func(inflight int) // sets the offered load: txs in flight in all
	var done chan struct{}
	switch mode {
	case "ledger":
		g, err := load.New(chain, strings.Split(rpc, ","), workers, seed)
		if err != nil {
			return nil, err
		}
		g.EventsPerTx = events
		r.TxBytes = g.TxBytes()
		setup, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := g.Setup(setup, pow); err != nil {
			return nil, err
		}
		counts = func() (int, int, int, []time.Duration, []time.Duration) {
			return len(g.Acks()), g.Events(), g.Errors(), g.Latencies(), g.SeenLatencies()
		}
		raise = func(total int) { g.SetInFlight(total / workers) }
		raise(mult[0] * inflight * workers)
		done = make(chan struct{})
		go func() { defer close(done); g.Run(ctx) }()
	case "kvstore":
		r.EventsPerTx = 0
		tx := load.TxBytesFor(chain, events)
		if size > 0 {
			tx = size
		}
		r.TxBytes = tx
		kv, err := load.NewKV(strings.Split(rpc, ",")[0], tx)
		if err != nil {
			return nil, err
		}
		counts = func() (int, int, int, []time.Duration, []time.Duration) {
			n, errs, lat, seen := kv.Result()
			return n, 0, errs, lat, seen
		}
		running := 0
		var wg sync.WaitGroup
		raise = func(total int) {
			if total > running {
				extra := total - running
				running = total
				wg.Go(func() { kv.Run(ctx, extra) })
			}
		}
		raise(mult[0] * inflight * workers)
		done = make(chan struct{})
		go func() { <-ctx.Done(); wg.Wait(); close(done) }()
	default:
		return nil, fmt.Errorf("-mode %q: want ledger or kvstore", mode)
	}
	best := -1
	for i, m := range mult {
		total := m * inflight * workers
		raise(total)
		time.Sleep(settle)
		tx0, ev0, er0, lat0, seen0 := counts()
		cpu0 := readCPU(nodePID)
		start := time.Now()
		time.Sleep(stepFor)
		tx1, ev1, er1, lat1, seen1 := counts()
		secs := time.Since(start).Seconds()
		st := step{InFlight: total, TxsPerSec: float64(tx1-tx0) / secs, EventsPerS: float64(ev1-ev0) / secs, Errors: er1 - er0}
		st.NodeCores, st.LoadCores, st.OtherCores = readCPU(nodePID).since(cpu0)
		lat := lat1[len(lat0):]
		st.P50ms, st.P99ms = quantileMs(lat, 0.50), quantileMs(lat, 0.99)
		st.SeenP50ms = quantileMs(seen1[len(seen0):], 0.50)
		r.Steps = append(r.Steps, st)
		fmt.Fprintf(os.Stderr, "loadgen: %d in flight: %.0f txs/s, %.0f events/s, commit p50 %.0f ms p99 %.0f ms (seen p50 %.0f ms), %d errors; cores: node %.2f, loadgen %.2f, other %.2f\n",
			total, st.TxsPerSec, st.EventsPerS, st.P50ms, st.P99ms, st.SeenP50ms, st.Errors, st.NodeCores, st.LoadCores, st.OtherCores)
		if st.P99ms > float64(p99Limit.Milliseconds()) {
			break // saturated: the queue grows faster than the node commits
		}
		rising := best < 0 || st.TxsPerSec >= 1.05*r.Steps[best].TxsPerSec
		if best < 0 || st.TxsPerSec > r.Steps[best].TxsPerSec {
			best = i
		}
		if !rising {
			break // saturated: more in flight commits no more
		}
	}
	stop()
	<-done
	if best < 0 {
		fmt.Fprintf(os.Stderr, "loadgen: even the first step (%d txs in flight) had a commit p99 above %v: reporting it, marked over_p99_limit\n",
			mult[0]*inflight*workers, p99Limit)
		best, r.OverP99Limit = 0, true
	}
	b := r.Steps[best]
	r.InFlight = b.InFlight / workers
	r.Seconds = stepFor.Seconds()
	r.TxsPerSec, r.EventsPerS, r.P50ms, r.P99ms, r.Errors = b.TxsPerSec, b.EventsPerS, b.P50ms, b.P99ms, b.Errors
	r.Txs, r.Events = int(b.TxsPerSec*r.Seconds), int(b.EventsPerS*r.Seconds)
	r.NodeCores, r.LoadCores, r.OtherCores = b.NodeCores, b.LoadCores, b.OtherCores
	return r, nil
}

// cpuSample is CPU time used so far: by the node's process, by this one, and by the whole
// machine (busy time of every core), with the wall clock it was read at.
type cpuSample struct {
	node, self, machine time.Duration
	at                  time.Time
}

func readCPU(nodePID int) cpuSample {
	s := cpuSample{at: time.Now(), self: procstat.Self(), machine: procstat.Machine()}
	if nodePID > 0 {
		s.node = procstat.Process(nodePID)
	}
	return s
}

// since returns the cores used between then and s: the node's, this process's, and the rest.
func (s cpuSample) since(then cpuSample) (node, self, other float64) {
	wall := s.at.Sub(then.at).Seconds()
	if wall <= 0 {
		return 0, 0, 0
	}
	node = (s.node - then.node).Seconds() / wall
	self = (s.self - then.self).Seconds() / wall
	other = max(0, (s.machine-then.machine).Seconds()/wall-node-self)
	return node, self, other
}
