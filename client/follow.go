package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
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
		// The block, its results and its commit are three calls: made at once, they cost one
		// round trip to the node, not three.
		var (
			txs       [][]byte
			res       []txResult
			committed time.Time
			txsErr    error
			resErr    error
			wg        sync.WaitGroup
		)
		wg.Go(func() { txs, txsErr = c.blockTxs(ctx, h) })
		wg.Go(func() { res, resErr = c.txResults(ctx, h) })
		wg.Go(func() { committed = commitTime(ctx, c, h) })
		wg.Wait()
		if err := errors.Join(txsErr, resErr); err != nil {
			return c.wrap(err)
		}
		now := time.Now()
		if committed.IsZero() || committed.After(now) {
			committed = now
		}
		var tells []func()
		f.mu.Lock()
		for i, tx := range txs {
			hash := ledger.TxHash(tx)
			tell, ok := f.waiting[hash]
			if !ok {
				continue
			}
			info := Commit{Height: h, Time: committed, Seen: now}
			if i < len(res) {
				info.Code, info.Log = res[i].Code, res[i].Log
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

// txResult is the outcome of one transaction of a block.
type txResult struct {
	Code uint32 `json:"code"`
	Log  string `json:"log"`
}

// txResults is the outcome of each transaction of block h. A Dialed client reads only the codes
// and logs out of /block_results' JSON: decoding all of it with CometBFT's JSON (every result's
// events through gogoproto's jsonpb) was nearly half of a load generator's CPU, and made the
// follower, one goroutine, the ceiling of what it could measure (issue 18).
func (c *Client) txResults(ctx context.Context, h int64) ([]txResult, error) {
	if !c.plainHTTP() {
		rpc, err := c.RPC()
		if err != nil {
			return nil, err
		}
		res, err := rpc.BlockResults(ctx, &h)
		if err != nil {
			return nil, err
		}
		out := make([]txResult, len(res.TxsResults))
		for i, r := range res.TxsResults {
			out[i] = txResult{Code: r.Code, Log: r.Log}
		}
		return out, nil
	}
	var res struct {
		TxsResults []txResult `json:"txs_results"`
	}
	err := c.getJSON(ctx, fmt.Sprintf("block_results?height=%d", h), &res)
	return res.TxsResults, err
}

// blockTxs is the transactions of block h; a Dialed client reads only them out of /block's JSON.
func (c *Client) blockTxs(ctx context.Context, h int64) ([][]byte, error) {
	if !c.plainHTTP() {
		rpc, err := c.RPC()
		if err != nil {
			return nil, err
		}
		b, err := rpc.Block(ctx, &h)
		if err != nil {
			return nil, err
		}
		out := make([][]byte, len(b.Block.Txs))
		for i, tx := range b.Block.Txs {
			out[i] = tx
		}
		return out, nil
	}
	var res struct {
		Block struct {
			Data struct {
				Txs [][]byte `json:"txs"` // base64, as encoding/json reads []byte
			} `json:"data"`
		} `json:"block"`
	}
	err := c.getJSON(ctx, fmt.Sprintf("block?height=%d", h), &res)
	return res.Block.Data.Txs, err
}

// plainHTTP reports whether the client can call its node's JSON-RPC with plain HTTP GETs.
func (c *Client) plainHTTP() bool {
	return c.http != nil && c.httpBase() != ""
}

// httpBase is the node's RPC address as an http(s) URL, or "" if it is not one.
func (c *Client) httpBase() string {
	base := strings.TrimSuffix(c.remote, "/")
	if rest, ok := strings.CutPrefix(base, "tcp://"); ok {
		base = "http://" + rest
	}
	if strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://") {
		return base
	}
	return ""
}

// getJSON calls the node's JSON-RPC method with a URI request (path: method?params) and decodes
// the answer's result into result, or returns the node's error.
func (c *Client) getJSON(ctx context.Context, path string, result any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.httpBase()+"/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Result holds the caller's pointer, so the answer is decoded into it in one pass.
	body := struct {
		Result any `json:"result"`
		Error  *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}{Result: result}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case body.Error != nil:
		return fmt.Errorf("%s: %s %s", path, body.Error.Message, body.Error.Data)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: HTTP %s", path, resp.Status)
	}
	return nil
}
