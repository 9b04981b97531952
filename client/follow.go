package client

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/trustledger/trustledger/ledger"
)

// Commit is what a Follower learned about a committed transaction.
type Commit struct {
	Height int64
	Code   uint32 // 0: applied; else the ledger's rejection code inside the block
	Log    string
	// Time is when consensus committed the block: the median timestamp of the precommits in its
	// commit (the validators' clocks).
	Time time.Time
	Seen time.Time // when the follower read it
}

// Follower reads every new block (and its results) from the first of its endpoints that answers
// and tells the transactions waiting for their commit: one reader for all of a program's
// submitters instead of one poll per tx. Blocks are fetched only while someone waits.
type Follower struct {
	endpoints []*Client
	// Poll is the pause between two looks at the latest height; 50 ms unless set before use.
	Poll time.Duration

	mu      sync.Mutex
	waiting map[ledger.ID]func(Commit)
	height  int64 // last height read
	started bool
	stop    context.CancelFunc
	done    chan struct{}
}

// NewFollower follows the chain through endpoints (tried in turn when one fails).
func NewFollower(endpoints ...*Client) *Follower {
	return &Follower{endpoints: endpoints, Poll: 50 * time.Millisecond, waiting: map[ledger.ID]func(Commit){}}
}

// Start reads the latest height (so that no later block is missed) and starts following, once.
func (f *Follower) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return nil
	}
	if len(f.endpoints) == 0 {
		return errors.New("follower has no endpoint")
	}
	var err error
	for _, c := range f.endpoints {
		s, e := c.Status(ctx)
		if e != nil {
			err = e
			continue
		}
		f.height, err = s.SyncInfo.LatestBlockHeight, nil
		break
	}
	if err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.Background())
	f.started, f.stop, f.done = true, cancel, make(chan struct{})
	go f.run(bg)
	return nil
}

// Close stops following; waiting transactions are not told anything more.
func (f *Follower) Close() {
	f.mu.Lock()
	stop, done := f.stop, f.done
	f.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// Expect registers a tx hash before it is broadcast; tell is called once with its commit.
func (f *Follower) Expect(h ledger.ID, tell func(Commit)) {
	f.mu.Lock()
	f.waiting[h] = tell
	f.mu.Unlock()
}

func (f *Follower) Forget(h ledger.ID) {
	f.mu.Lock()
	delete(f.waiting, h)
	f.mu.Unlock()
}

// Height is the last height the follower has read.
func (f *Follower) Height() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.height
}

func (f *Follower) run(ctx context.Context) {
	defer close(f.done)
	next := 0
	for ctx.Err() == nil {
		if err := f.catchUp(ctx, f.endpoints[next%len(f.endpoints)]); err != nil {
			next++ // this endpoint failed: try the next one
		}
		select {
		case <-ctx.Done():
		case <-time.After(f.Poll):
		}
	}
}

func (f *Follower) catchUp(ctx context.Context, c *Client) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	latest := st.SyncInfo.LatestBlockHeight
	f.mu.Lock()
	if len(f.waiting) == 0 {
		// Nobody waits: a tx registered from now on is broadcast later, so it commits above latest.
		f.height = max(f.height, latest)
		f.mu.Unlock()
		return nil
	}
	from := f.height + 1
	f.mu.Unlock()
	rpc, err := c.RPC()
	if err != nil {
		return err
	}
	// A block is stored (and in the status) before the application has committed its state:
	// tell a waiter of a commit only once queries see it, so that a read right after a wait
	// shows the transaction (TestClient read a sequence one block old 1 time in ~10 under load).
	info, err := rpc.ABCIInfo(ctx)
	if err != nil {
		return c.wrap(err)
	}
	latest = min(latest, info.Response.LastBlockHeight)
	for h := from; h <= latest; h++ {
		hh := h
		block, err := rpc.Block(ctx, &hh)
		if err != nil {
			return c.wrap(err)
		}
		res, err := rpc.BlockResults(ctx, &hh)
		if err != nil {
			return c.wrap(err)
		}
		now := time.Now()
		committed := commitTime(ctx, c, h)
		if committed.IsZero() || committed.After(now) {
			committed = now
		}
		var tells []func()
		f.mu.Lock()
		for i, tx := range block.Block.Txs {
			hash := ledger.TxHash(tx)
			tell, ok := f.waiting[hash]
			if !ok {
				continue
			}
			info := Commit{Height: h, Time: committed, Seen: now}
			if i < len(res.TxsResults) {
				info.Code, info.Log = res.TxsResults[i].Code, res.TxsResults[i].Log
			}
			delete(f.waiting, hash)
			tells = append(tells, func() { tell(info) })
		}
		f.height = h
		f.mu.Unlock()
		for _, t := range tells {
			t()
		}
	}
	return nil
}

// commitTime is the median precommit timestamp of height h's commit, or zero if unknown.
func commitTime(ctx context.Context, c *Client, h int64) time.Time {
	rpc, err := c.RPC()
	if err != nil {
		return time.Time{}
	}
	res, err := rpc.Commit(ctx, &h)
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
