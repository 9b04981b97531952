package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustledger/trustledger/test/load"
)

var (
	explorerLoad     = flag.Int("explorer.load", 0, "with a number of events (1000000): TestExplorerLoad fills a real node's ledger with that many, then measures the explorer's pages under load (BENCHMARKS.md)")
	explorerClients  = flag.String("explorer.clients", "100,10", "with -explorer.load: concurrent HTTP clients, one run per number")
	explorerDuration = flag.Duration("explorer.duration", 30*time.Second, "with -explorer.load: how long the clients ask")
	explorerSigners  = flag.Int("explorer.signers", 1000, "with -explorer.load: signers of the load (each hires the next)")
	explorerProfile  = flag.String("explorer.cpuprofile", "", "with -explorer.load: write the node's CPU profile of the measured run to this file, its allocations to FILE.allocs")
)

// TestExplorerLoad is issue 15's performance run (by hand: `go test ./test/e2e -run
// TestExplorerLoad -v -timeout 60m -args -explorer.load=1000000`): a real trustd process is
// filled with -explorer.load events by the load generator (receipts and audits, 8 a tx, over
// -explorer.signers nodes in a ring), then, while a lighter load keeps blocks committing,
// -explorer.clients clients ask the explorer's home, node, relation and trust pages for
// -explorer.duration. It reports each page's p50 and p99 and the request rate.
func TestExplorerLoad(t *testing.T) {
	if *explorerLoad == 0 {
		t.Skip("a load run: -args -explorer.load=1000000")
	}
	n := newNode(t, "--pow-difficulty", "0", "--max-txs-per-signer-per-block", "8")
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	n.start("TRUSTD_RPC_PPROF_LADDR=" + pprofAddr)
	n.waitHeight(2, 30*time.Second)
	ctx := context.Background()
	fill, err := load.New("e2e-chain", []string{n.rpcAddr}, *explorerSigners, "explorer-load")
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	fill.EventsPerTx, fill.InFlight = 8, 2
	if err := fill.Setup(ctx, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fctx, stopFill := context.WithCancel(ctx)
	go func() {
		for fctx.Err() == nil && fill.Events() < *explorerLoad {
			time.Sleep(time.Second)
		}
		stopFill()
	}()
	fill.Run(fctx)
	t.Logf("filled: %d events in %s (%s)", fill.Events(), time.Since(start).Round(time.Second), fill.Stats())

	// A lighter load keeps blocks committing while the pages are asked.
	bg, err := load.New("e2e-chain", []string{n.rpcAddr}, 50, "explorer-load-bg")
	if err != nil {
		t.Fatal(err)
	}
	defer bg.Close()
	bg.EventsPerTx = 8
	if err := bg.Setup(ctx, 0); err != nil {
		t.Fatal(err)
	}
	bctx, stopBG := context.WithCancel(ctx)
	bgDone := make(chan struct{})
	go func() { bg.Run(bctx); close(bgDone) }()
	keys := make([]string, *explorerSigners)
	for i := range keys {
		keys[i] = fill.Key(i).String()
	}
	origin := "http://" + n.explorer
	pages := []loadPage{
		{"home", func(*rand.Rand) string { return origin + "/" }},
		{"node", func(r *rand.Rand) string { return origin + "/node/" + keys[r.IntN(len(keys))] }},
		{"relation", func(r *rand.Rand) string {
			i := r.IntN(len(keys))
			return origin + "/relation/" + keys[i] + "/" + keys[(i+1)%len(keys)]
		}},
		{"trust", func(r *rand.Rand) string { return origin + "/trust/" + keys[r.IntN(len(keys))] }},
	}
	for _, clients := range explorerClientCounts(t) {
		h0 := n.height()
		prof := ""
		if *explorerProfile != "" {
			prof = fmt.Sprintf("%s.%d", *explorerProfile, clients)
		}
		table, rate, fails := measurePages(t, pages, clients, pprofAddr, prof)
		t.Logf("explorer under load: %d events in the ledger, %d clients for %s, %.0f requests/s; %d blocks committed meanwhile\n%s",
			fill.Events(), clients, *explorerDuration, rate, n.height()-h0, table)
		if fails > 0 {
			t.Errorf("%d requests failed", fails)
		}
	}
	stopBG()
	<-bgDone
	t.Logf("background load: %s", bg.Stats())
}

type loadPage struct {
	name string
	url  func(r *rand.Rand) string
}

// explorerClientCounts parses -explorer.clients (a comma-separated list).
func explorerClientCounts(t *testing.T) []int {
	var out []int
	for _, f := range strings.Split(*explorerClients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("-explorer.clients %q: want numbers such as 100,10", *explorerClients)
		}
		out = append(out, n)
	}
	return out
}

// measurePages has clients ask the pages in turn, each as soon as its last answer came, for
// -explorer.duration, and returns a table of each page's latencies, the rate and the failures.
func measurePages(t *testing.T, pages []loadPage, clients int, pprofAddr, profile string) (string, float64, int) {
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	fails := map[string]int{}
	ctx, stop := context.WithTimeout(context.Background(), *explorerDuration)
	defer stop()
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	if profile != "" {
		// The node's CPU profile, and beside it the allocations over the same seconds.
		secs := int(explorerDuration.Seconds()) - 2
		for _, p := range []struct{ path, file string }{{"profile", profile}, {"allocs", profile + ".allocs"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", pprofAddr, p.path, secs))
				if err != nil {
					t.Errorf("profile: %v", err)
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if err := os.WriteFile(p.file, b, 0o644); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	measured := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 15))
			for k := c; ctx.Err() == nil; k++ {
				p := pages[k%len(pages)]
				t0 := time.Now()
				resp, err := httpc.Get(p.url(r))
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				if ctx.Err() != nil {
					return // cut off by the end of the run
				}
				mu.Lock()
				if ok {
					lat[p.name] = append(lat[p.name], d)
				} else {
					fails[p.name]++
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(measured)
	var total, failed int
	var b strings.Builder
	fmt.Fprintf(&b, "| page | requests | p50 | p99 | failed |\n|---|---|---|---|---|\n")
	for _, p := range pages {
		l := lat[p.name]
		slices.Sort(l)
		total += len(l)
		failed += fails[p.name]
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d |\n", p.name, len(l), quantile(l, 0.5), quantile(l, 0.99), fails[p.name])
	}
	return b.String(), float64(total) / elapsed.Seconds(), failed
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * q)
	return sorted[sort.Search(len(sorted), func(j int) bool { return j >= i })].Round(100 * time.Microsecond)
}
