package explorer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/trustledger/trustledger/client"
)

// scriptedStatus is a node whose status is the height set, or an error; a lookup waits while
// hold is set, and calls counts them.
type scriptedStatus struct {
	rpcclient.Client // only Status is called
	height           atomic.Int64
	fail             atomic.Bool
	hold             chan struct{}
	calls            atomic.Int32
}

func (n *scriptedStatus) Status(ctx context.Context) (*coretypes.ResultStatus, error) {
	n.calls.Add(1)
	if n.hold != nil {
		select {
		case <-n.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if n.fail.Load() {
		return nil, errors.New("scripted failure")
	}
	return &coretypes.ResultStatus{SyncInfo: coretypes.SyncInfo{LatestBlockHeight: n.height.Load()}}, nil
}

// TestLatestStatus: the home page's status is looked up at most every statusEvery; while a
// lookup waits (for the block store's lock, in a real node), others get the last one at once;
// with none remembered, a failure is an error.
func TestLatestStatus(t *testing.T) {
	node := &scriptedStatus{}
	s := &Server{c: client.New(node, "a scripted node")}
	ctx := context.Background()
	height := func() int64 {
		t.Helper()
		st, err := s.latestStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.SyncInfo.LatestBlockHeight
	}

	node.fail.Store(true)
	if _, err := s.latestStatus(ctx); err == nil {
		t.Fatal("a failed lookup with nothing remembered gave a status")
	}
	node.fail.Store(false)
	node.height.Store(5)
	if h := height(); h != 5 {
		t.Fatalf("height %d, want 5", h)
	}
	node.height.Store(6)
	calls := node.calls.Load()
	if h := height(); h != 5 || node.calls.Load() != calls {
		t.Fatalf("within statusEvery: height %d after %d more lookups, want 5 and none", h, node.calls.Load()-calls)
	}

	// A lookup that waits: the others meanwhile get 5 at once.
	time.Sleep(statusEvery + 10*time.Millisecond)
	node.hold = make(chan struct{})
	got := make(chan int64)
	go func() {
		st, err := s.latestStatus(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- st.SyncInfo.LatestBlockHeight
	}()
	for deadline := time.Now().Add(5 * time.Second); node.calls.Load() == calls; {
		if time.Now().After(deadline) {
			t.Fatal("the lookup did not start")
		}
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if st, err := s.latestStatus(short); err != nil || st.SyncInfo.LatestBlockHeight != 5 {
		t.Fatalf("during a lookup: %v, want height 5 at once", err)
	}
	close(node.hold)
	if h := <-got; h != 6 {
		t.Fatalf("the lookup gave %d, want 6", h)
	}
	node.hold = nil
	if h := height(); h != 6 {
		t.Fatalf("after the lookup: height %d, want 6", h)
	}
}
