package node

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
)

// meetingApp answers a query only once two are being answered at once, and counts how many
// CheckTx run at once.
type meetingApp struct {
	abcitypes.BaseApplication
	queries      sync.WaitGroup
	checks, most atomic.Int32
}

func (a *meetingApp) Query(context.Context, *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	a.queries.Done()
	a.queries.Wait()
	return &abcitypes.ResponseQuery{}, nil
}

func (a *meetingApp) CheckTx(context.Context, *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	n := a.checks.Add(1)
	for m := a.most.Load(); n > m && !a.most.CompareAndSwap(m, n); m = a.most.Load() {
	}
	time.Sleep(time.Millisecond)
	a.checks.Add(-1)
	return &abcitypes.ResponseCheckTx{}, nil
}

// TestQueriesRunSideBySide: the node's ABCI connection answers two queries at once (each waits
// for the other here: one mutex over them would never answer), while its other calls keep the
// connection's mutex (CheckTx one at a time).
func TestQueriesRunSideBySide(t *testing.T) {
	app := &meetingApp{}
	cli, err := sideBySideQueries{app}.NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	app.queries.Add(2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := cli.Query(context.Background(), &abcitypes.RequestQuery{Path: "/x"})
			done <- err
		}()
	}
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("two queries were not answered side by side within 10 s")
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cli.CheckTx(context.Background(), &abcitypes.RequestCheckTx{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := app.most.Load(); m != 1 {
		t.Fatalf("%d CheckTx ran at once; the connection's mutex should keep them to 1", m)
	}
}
