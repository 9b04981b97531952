package load

import (
	"context"
	"crypto/sha256"
	"sort"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"

	"github.com/trustledger/trustledger/ledger"
)

// commitInfo is what the follower learned about a committed tx.
type commitInfo struct {
	height int64
	code   uint32
	log    string
	// committed is when consensus committed the block: the median timestamp of the precommits
	// in its commit (the validators' clocks; on one machine, the same clock as the sender's).
	committed time.Time
	at        time.Time // when the follower saw it
}

// commitTime is the median precommit timestamp of height h's commit, or zero if unknown.
func commitTime(ctx context.Context, c *rpchttp.HTTP, h int64) time.Time {
	res, err := c.Commit(ctx, &h)
	if err != nil || res.Commit == nil {
		return time.Time{}
	}
	var ts []time.Time
	for _, sig := range res.Commit.Signatures {
		if sig.BlockIDFlag == types.BlockIDFlagCommit {
			ts = append(ts, sig.Timestamp)
		}
	}
	if len(ts) == 0 {
		return time.Time{}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts[len(ts)/2]
}

// follower reads every new block (and its results) from any endpoint that answers and resolves
// the transactions waiting for their commit: one reader for all workers instead of one poll per
// tx. A tx's commit time is its block's precommit time; when the follower saw it (poll interval
// 50 ms, plus the RPC round trips) is kept too.
type follower struct {
	clients []*rpchttp.HTTP
	mu      sync.Mutex
	waiting map[ledger.ID]chan commitInfo
	height  int64
	txs     int
}

func newFollower(clients []*rpchttp.HTTP) *follower {
	return &follower{clients: clients, waiting: map[ledger.ID]chan commitInfo{}}
}

// expect registers a tx before it is broadcast; the channel receives its commit.
func (f *follower) expect(h ledger.ID) chan commitInfo {
	ch := make(chan commitInfo, 1)
	f.mu.Lock()
	f.waiting[h] = ch
	f.mu.Unlock()
	return ch
}

func (f *follower) forget(h ledger.ID) {
	f.mu.Lock()
	delete(f.waiting, h)
	f.mu.Unlock()
}

// start follows blocks from the current height until ctx is done.
func (f *follower) start(ctx context.Context) {
	go func() {
		next := 0
		for ctx.Err() == nil {
			c := f.clients[next%len(f.clients)]
			if err := f.catchUp(ctx, c); err != nil {
				next++ // this endpoint failed: try the next one
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

func (f *follower) catchUp(ctx context.Context, c *rpchttp.HTTP) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	latest := st.SyncInfo.LatestBlockHeight
	f.mu.Lock()
	if f.height == 0 {
		f.height = max(latest-1, 0) // start just before the present; blocks begin at 1
	}
	from := f.height + 1
	f.mu.Unlock()
	for h := from; h <= latest; h++ {
		hh := h
		block, err := c.Block(ctx, &hh)
		if err != nil {
			return err
		}
		res, err := c.BlockResults(ctx, &hh)
		if err != nil {
			return err
		}
		committed := commitTime(ctx, c, h)
		now := time.Now()
		if committed.IsZero() || committed.After(now) {
			committed = now
		}
		f.mu.Lock()
		for i, tx := range block.Block.Txs {
			info := commitInfo{height: h, committed: committed, at: now}
			if i < len(res.TxsResults) {
				info.code, info.log = res.TxsResults[i].Code, res.TxsResults[i].Log
			}
			hash := ledger.ID(sha256.Sum256(tx))
			if ch, ok := f.waiting[hash]; ok {
				ch <- info
				delete(f.waiting, hash)
			}
		}
		f.txs += len(block.Block.Txs)
		f.height = h
		f.mu.Unlock()
	}
	return nil
}
