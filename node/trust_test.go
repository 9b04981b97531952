package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
)

// synthetic is a history among n nodes at height 0: each customer keeps 5 suppliers, with a
// contract and passed audits.
func synthetic(n, events int) ([]ledger.EventRecord, []ledger.PubKey) {
	rng := rand.New(rand.NewSource(1))
	keys := make([]ledger.PubKey, n)
	for i := range keys {
		binary.BigEndian.PutUint64(keys[i][:], uint64(i)+1)
		keys[i][31] = 0xee
	}
	recs := make([]ledger.EventRecord, 0, events)
	for len(recs) < events {
		c := rng.Intn(n)
		s := (c + 1 + rng.Intn(5)*(n/7+1)) % n
		if s == c {
			continue
		}
		var ev ledger.Event = &ledger.AuditResult{Customer: keys[c], Supplier: keys[s], Passed: rng.Intn(40) != 0}
		if rng.Intn(10) == 0 {
			ev = &ledger.ContractOpen{Customer: keys[c], Supplier: keys[s]}
		}
		recs = append(recs, ledger.EventRecord{Subject: keys[s], Counterparty: keys[c], Kind: ev.Kind(), Event: ev})
	}
	return recs, keys
}

// TestTrustQueriesDoNotStallBlocks: 50 goroutines ask trust scores for 50 distinct observers at
// a time as fast as they are answered, over an engine of 100,000 nodes whose views go stale at
// every block (a signer commits an audit per block) and are computed cold (150 observers in
// turn, more than the warm-start cache holds), so each answer is a full PageRank. Blocks must go
// on at their usual interval: trust queries take the trust service's lock, never the app's.
// (With the queries under the app's lock, as before, a block waited for every queued query.)
func TestTrustQueriesDoNotStallBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-node engine")
	}
	n := nodetest.New(t, nodetest.Options{})
	ctx := context.Background()
	recs, keys := synthetic(100_000, 1_000_000)
	if err := n.Trust().ApplyForTest(recs); err != nil {
		t.Fatal(err)
	}
	c := n.Client()
	// A steady trickle of real events: a signer's audits, one in flight.
	alice, bob := nodetest.Key("alice"), nodetest.Key("bob")
	sa := nodetest.Register(t, c, alice)
	nodetest.Register(t, c, bob)
	contract := nodetest.OpenContract(t, c, sa, alice, bob)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var loadWG sync.WaitGroup
	var committed atomic.Int64
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		for i := 0; loadCtx.Err() == nil; i++ {
			if _, _, err := sa.SubmitAndWait(loadCtx, &ledger.AuditResult{ContractID: contract, Number: uint64(i + 1), Customer: keystore.PubKey(alice),
				Supplier: keystore.PubKey(bob), Passed: true, ChallengeDigest: sha256.Sum256([]byte(fmt.Sprint("ch", i)))}); err == nil {
				committed.Add(1)
			}
		}
	}()
	// One cold view, for the record.
	t0 := time.Now()
	if _, err := n.Trust().Score(keys[12345], keys[1]); err != nil {
		t.Fatal(err)
	}
	t.Logf("one cold view over %d nodes: %s", len(keys), time.Since(t0).Round(time.Millisecond))

	before := blockTimes(t, c, 3*time.Second)
	var answered atomic.Int64
	stormCtx, stopStorm := context.WithCancel(ctx)
	var wg sync.WaitGroup
	from := height(t, c)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; stormCtx.Err() == nil; k++ {
				// 150 observers in all, more than the engine keeps warm-start vectors for: each
				// view is computed cold. At any moment the 50 queries are for distinct observers.
				observer := keys[100+(g+50*(k%3))*37]
				if _, err := c.TrustScore(stormCtx, observer, keys[7]); err != nil {
					if stormCtx.Err() == nil {
						t.Errorf("trust score: %v", err)
					}
					return
				}
				answered.Add(1)
			}
		}(g)
	}
	time.Sleep(8 * time.Second)
	to := height(t, c)
	stopStorm()
	wg.Wait()
	stopLoad()
	loadWG.Wait()
	during := gaps(t, c, from, to)
	t.Logf("block interval before the storm: max %s over %d blocks; during it: max %s over %d blocks; %d trust answers in 8 s",
		maxOf(before), len(before), maxOf(during), len(during), answered.Load())
	if committed.Load() < 10 {
		t.Fatalf("only %d audits committed during the test: the views did not go stale", committed.Load())
	}
	if answered.Load() < 50 {
		t.Fatalf("only %d trust answers: the storm did not run", answered.Load())
	}
	// Blocks per second during the storm at least half of those before it, and no gap much
	// longer than before. (With the queries under the app's lock: 15 blocks instead of 74, a gap
	// of 640 ms, on the machine of BENCHMARKS.md.)
	rateBefore, rateDuring := float64(len(before))/3, float64(len(during))/8
	if rateDuring < rateBefore/2 {
		t.Errorf("%.1f blocks/s during the trust queries, %.1f before: trust queries hold up consensus", rateDuring, rateBefore)
	}
	if m, limit := maxOf(during), max(4*maxOf(before), 400*time.Millisecond); m > limit {
		t.Errorf("a block took %s during the trust queries (before: at most %s): trust queries hold up consensus", m, maxOf(before))
	}
}

func height(t *testing.T, c *client.Client) int64 {
	t.Helper()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.SyncInfo.LatestBlockHeight
}

// blockTimes waits d and returns the gaps between the blocks committed meanwhile.
func blockTimes(t *testing.T, c *client.Client, d time.Duration) []time.Duration {
	t.Helper()
	from := height(t, c)
	time.Sleep(d)
	return gaps(t, c, from, height(t, c))
}

// gaps are the header time differences of consecutive blocks from..to.
func gaps(t *testing.T, c *client.Client, from, to int64) []time.Duration {
	t.Helper()
	rpc, err := c.RPC()
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for h := from; h <= to; h++ {
		hh := h
		b, err := rpc.Header(context.Background(), &hh)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, b.Header.Time)
	}
	var out []time.Duration
	for i := 1; i < len(times); i++ {
		out = append(out, times[i].Sub(times[i-1]))
	}
	return out
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// TestTrustViewAnswerKept: a /trust/view answer asked again before the engine applies anything
// is the one kept (the same lists), and one asked after an event is computed anew.
func TestTrustViewAnswerKept(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	recs, keys := synthetic(200, 5_000)
	if err := n.Trust().ApplyForTest(recs); err != nil {
		t.Fatal(err)
	}
	o := keys[0]
	first, err := n.Trust().View(o, 5)
	if err != nil || len(first.Most) != 5 {
		t.Fatalf("view: %+v %v", first, err)
	}
	again, err := n.Trust().View(o, 5)
	if err != nil || &again.Most[0] != &first.Most[0] {
		t.Fatalf("asked again with nothing new: computed anew (%v)", err)
	}
	other, err := n.Trust().View(o, 6)
	if err != nil || len(other.Most) != 6 {
		t.Fatalf("another limit: %+v %v", other, err)
	}
	var fresh ledger.PubKey
	fresh[0] = 0xaa
	ev := &ledger.ContractOpen{Customer: fresh, Supplier: keys[1]}
	if err := n.Trust().ApplyForTest([]ledger.EventRecord{{Subject: keys[1], Counterparty: fresh, Kind: ev.Kind(), Event: ev}}); err != nil {
		t.Fatal(err)
	}
	after, err := n.Trust().View(o, 5)
	if err != nil || &after.Most[0] == &first.Most[0] || after.Total != first.Total+1 {
		t.Fatalf("after a new node: total %d (was %d), same lists %v, %v", after.Total, first.Total, &after.Most[0] == &first.Most[0], err)
	}
}
