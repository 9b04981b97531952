package explorer

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/trustledger/trustledger/client"
)

// livePoll is how often the feed looks at the latest height while anyone listens: a block
// shows on every open page within half a second of its commit, well inside the 2 s asked.
const livePoll = 250 * time.Millisecond

// liveMaxListeners bounds the open /live streams; past it a page simply does not refresh.
const liveMaxListeners = 1000

// liveFeed tells every /live listener each new height. One poller serves them all; it runs
// only while someone listens.
type liveFeed struct {
	c *client.Client

	mu        sync.Mutex
	listeners map[chan int64]struct{}
	height    int64
	running   bool
	closed    bool
	stop      chan struct{}
}

func newLiveFeed(c *client.Client) *liveFeed {
	return &liveFeed{c: c, listeners: map[chan int64]struct{}{}, stop: make(chan struct{})}
}

func (f *liveFeed) subscribe() (chan int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || len(f.listeners) >= liveMaxListeners {
		return nil, false
	}
	ch := make(chan int64, 1)
	f.listeners[ch] = struct{}{}
	if !f.running {
		f.running = true
		go f.poll()
	}
	return ch, true
}

func (f *liveFeed) unsubscribe(ch chan int64) {
	f.mu.Lock()
	delete(f.listeners, ch)
	f.mu.Unlock()
}

// poll reads the latest height until nobody listens or the feed closes.
func (f *liveFeed) poll() {
	t := time.NewTicker(livePoll)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := f.c.Status(ctx)
		cancel()
		f.mu.Lock()
		if len(f.listeners) == 0 || f.closed {
			f.running = false
			f.mu.Unlock()
			return
		}
		if err == nil && st.SyncInfo.LatestBlockHeight > f.height {
			f.height = st.SyncInfo.LatestBlockHeight
			for ch := range f.listeners {
				select {
				case <-ch: // a listener that has not read the last height gets the newest instead
				default:
				}
				ch <- f.height
			}
		}
		f.mu.Unlock()
		select {
		case <-t.C:
		case <-f.stop:
		}
	}
}

func (f *liveFeed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.stop)
	}
}

// serve streams server-sent events: "block" with each new height.
func (f *liveFeed) serve(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	ch, ok := f.subscribe()
	if !ok {
		http.Error(w, "too many live listeners; reload the page to see new blocks", http.StatusServiceUnavailable)
		return
	}
	defer f.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case h := <-ch:
			fmt.Fprintf(w, "event: block\ndata: %d\n\n", h)
			fl.Flush()
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-f.stop:
			return
		}
	}
}
