package load

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/trustledger/trustledger/ledger"
)

// commitInfo is what the follower learned about a committed tx.
type commitInfo struct {
	height int64
	code   uint32
	log    string
	at     time.Time
}

// follower reads every new block (and its results) from any endpoint that answers and resolves
// the transactions waiting for their commit: one reader for all workers instead of one poll per
// tx. Its time resolution is its poll interval (50 ms) plus one RPC round trip.
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
		now := time.Now()
		f.mu.Lock()
		for i, tx := range block.Block.Txs {
			info := commitInfo{height: h, at: now}
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
