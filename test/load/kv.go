package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
)

// KV drives CometBFT's kvstore example with key=value txs of a fixed size: the baseline that
// measures what consensus alone costs on this machine.
type KV struct {
	client *client.Client
	follow *client.Follower
	size   int

	mu      sync.Mutex
	acked   int
	errs    int
	latency []time.Duration // send → consensus commit
	seen    []time.Duration // send → the follower saw it
}

// NewKV prepares the baseline load; size is the tx size in bytes (at least 70).
func NewKV(endpoint string, size int) (*KV, error) {
	c, err := client.Dial(endpoint, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &KV{client: c, follow: client.NewFollower(c), size: max(size, 70)}, nil
}

// Run keeps `workers` txs in flight until ctx is done.
func (k *KV) Run(ctx context.Context, workers int) {
	if err := k.follow.Start(ctx); err != nil {
		k.fail()
		return
	}
	defer k.follow.Close()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				key := sha256.Sum256([]byte(fmt.Sprintf("kv %d %d %d", w, n, time.Now().UnixNano())))
				tx := []byte(hex.EncodeToString(key[:]) + "=")
				for len(tx) < k.size {
					tx = append(tx, 'v')
				}
				hash := ledger.TxHash(tx)
				wait := make(chan client.Commit, 1)
				k.follow.Expect(hash, func(c client.Commit) { wait <- c })
				start := time.Now()
				if err := k.client.BroadcastSync(ctx, tx); err != nil {
					k.follow.Forget(hash)
					k.fail()
					continue
				}
				select {
				case info := <-wait:
					k.mu.Lock()
					k.acked++
					k.latency = append(k.latency, info.Time.Sub(start))
					k.seen = append(k.seen, info.Seen.Sub(start))
					k.mu.Unlock()
				case <-time.After(20 * time.Second):
					k.follow.Forget(hash)
					k.fail()
				case <-ctx.Done():
					k.follow.Forget(hash)
				}
			}
		}(w)
	}
	wg.Wait()
}

func (k *KV) fail() {
	k.mu.Lock()
	k.errs++
	k.mu.Unlock()
}

// Result is the committed count, failures, commit latencies and seen latencies so far.
func (k *KV) Result() (int, int, []time.Duration, []time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.acked, k.errs, append([]time.Duration(nil), k.latency...), append([]time.Duration(nil), k.seen...)
}

// TxBytes reports the average encoded size of the ledger's load txs (for a baseline of the same size).
func (g *Generator) TxBytes() int { return TxBytesFor(g.ChainID, g.EventsPerTx) }

// TxBytesFor is the encoded size of a load tx of events events on chain.
func TxBytesFor(chain string, events int) int {
	evs := make([]ledger.Event, 0, events)
	for e := 0; e < events; e++ {
		if e%2 == 0 {
			evs = append(evs, &ledger.StorageReceipt{})
		} else {
			evs = append(evs, &ledger.AuditResult{})
		}
	}
	return len((&ledger.Tx{ChainID: chain, Events: evs}).Encode())
}
