package explorer

import (
	"context"
	"errors"
	"runtime"
)

// gate bounds the pages drawn at once that no cache serves, the trust page above all. Drawn
// side by side past the number of cores they only share the cores more thinly, and every kept
// page, which costs tens of microseconds, waits behind them for its turn on a core. In the
// gate they wait in the order they came instead (a channel serves the senders it blocks first
// in, first out), and kept pages go past them: under a load that saturates the cores the
// cheap pages stay fast and the costly ones are served in turn.
type gate chan struct{}

func newGate(n int) gate { return make(gate, max(n, 1)) }

// enter waits for a turn until ctx ends. A turn handed over by leave comes with the core
// of the one who left (Go runs a goroutine it wakes next on the waker's core, ahead of those
// already waiting for it), so without more the costly pages would pass their cores from one to
// the next while the kept pages' requests wait: enter yields once, to go behind them.
func (g gate) enter(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		runtime.Gosched()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave gives a turn back.
func (g gate) leave() { <-g }

// errBusy is the answer (503) to a visitor who waited costlyWait (pageTimeout) for a turn.
var errBusy = errors.New("the explorer is busy")
