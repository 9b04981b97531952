package node

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
	"github.com/trustledger/trustledger/storage"
)

// History is where the trust service reads committed events (the app store). Both methods may
// be called while a block commits.
type History interface {
	LastCommit() (int64, []byte)
	Events(f storage.Filter, cursor string, limit int) (api.Page, error)
}

// ViewCacheSize is how many observers' views the trust service keeps; the least recently used
// is evicted when another is needed, one at a time.
const ViewCacheSize = 64

// WarmStartBytes is the memory the engine may keep last PageRank vectors in, to start each
// observer's next view from its last (reputation.Engine.SetWarmStartBytes): 8,000 observers at
// 1,000 nodes, 83 at 100,000.
const WarmStartBytes = 64 << 20

// TrustService keeps the node's reputation engine current and answers the /trust/* queries.
//
// Commits reach it through OnCommit, which only queues them (it runs inside the app's Commit and
// never waits for the engine); a goroutine of the service applies the queue. Queries take the
// service's own lock, never the app's, so a slow view (PageRank over 100k nodes) delays other
// trust queries and the queue, but no block. Stopped, it keeps its engine and answers
// api.ErrServiceStopped; started again it reads the events committed meanwhile from History,
// or replays all of it when trust.toml's policy changed.
type TrustService struct {
	hist     History
	policyFn func() (reputation.Policy, error)
	logger   log.Logger

	mu     sync.Mutex // guards engine, views, last, height
	engine *reputation.Engine
	views  *simplelru.LRU[ledger.PubKey, *reputation.View]
	// answers keeps /trust/view's answers with the view they came from: a trust page asked
	// again before the engine moves on costs nothing more (nil until the first).
	answers *simplelru.LRU[viewAnswerKey, viewAnswer]
	last    position // the last record applied
	height  int64    // the last block applied (blocks without events count)

	serving atomic.Bool

	qmu     sync.Mutex // guards the queue
	running bool
	queue   []committed
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

type viewAnswerKey struct {
	observer ledger.PubKey
	limit    int
}

type viewAnswer struct {
	view *reputation.View
	ans  api.TrustViewAnswer
}

type committed struct {
	height  int64
	records []ledger.EventRecord
}

// position orders records as the ledger does: height, then tx, then event.
type position struct {
	height  int64
	tx, ev  uint32
	nonzero bool
}

func positionOf(r *ledger.EventRecord) position {
	return position{height: r.Height, tx: r.TxIndex, ev: r.EventIndex, nonzero: true}
}

func (p position) before(q position) bool {
	switch {
	case !p.nonzero:
		return q.nonzero
	case p.height != q.height:
		return p.height < q.height
	case p.tx != q.tx:
		return p.tx < q.tx
	}
	return p.ev < q.ev
}

// NewTrustService returns a stopped service over hist; policy reads the policy at each Start.
func NewTrustService(hist History, policy func() (reputation.Policy, error), logger log.Logger) *TrustService {
	return &TrustService{hist: hist, policyFn: policy, logger: logger}
}

// Register serves the /trust/* paths through app and feeds the service from app's commits.
func (s *TrustService) Register(app *abci.App) {
	app.OnCommit(s.OnCommit)
	app.HandleQuery(api.PathTrustScore, s.queryScore)
	app.HandleQuery(api.PathTrustTop, s.queryTop)
	app.HandleQuery(api.PathTrustGraph, s.queryGraph)
	app.HandleQuery(api.PathTrustView, s.queryView)
	app.HandleQuery(api.PathTrustPolicy, s.queryPolicy)
}

// OnCommit queues a committed block for the engine (an abci.CommitListener); it never blocks
// on the engine. While the service is stopped it drops the block: Start reads it from History.
func (s *TrustService) OnCommit(height int64, records []ledger.EventRecord) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if !s.running {
		return
	}
	s.queue = append(s.queue, committed{height: height, records: records})
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start brings the engine up to the last commit and serves queries from then on.
func (s *TrustService) Start(ctx context.Context) error {
	policy, err := s.policyFn()
	if err != nil {
		return err
	}
	s.qmu.Lock()
	if s.running {
		s.qmu.Unlock()
		return nil
	}
	// From here on, commits queue up; the ones up to h0 are read from History (a block both
	// queued and read is applied once: the applier skips positions already applied).
	s.running, s.queue = true, nil
	s.wake, s.stop, s.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	s.qmu.Unlock()
	h0, _ := s.hist.LastCommit()
	started := time.Now()
	if err := s.catchUp(ctx, policy, h0); err != nil {
		s.qmu.Lock()
		s.running, s.queue = false, nil
		s.qmu.Unlock()
		close(s.done)
		return err
	}
	go s.apply()
	s.serving.Store(true)
	s.mu.Lock()
	s.logger.Info("trust engine ready", "events", s.engine.Events(), "nodes", s.engine.Nodes(), "height", s.height,
		"took", time.Since(started).Round(time.Millisecond))
	s.mu.Unlock()
	return nil
}

// catchUp applies History's events up to height h0: all of them into a new engine when there is
// none or the policy changed, else those after the last one applied.
func (s *TrustService) catchUp(ctx context.Context, policy reputation.Policy, h0 int64) error {
	s.mu.Lock()
	fresh := s.engine == nil || !reflect.DeepEqual(policy, s.engine.Policy())
	s.mu.Unlock()
	if fresh {
		e, err := reputation.NewEngine(policy)
		if err != nil {
			return err
		}
		e.SetWarmStartBytes(WarmStartBytes)
		last, err := s.replay(ctx, e, position{}, h0)
		if err != nil {
			return err
		}
		views, _ := simplelru.NewLRU[ledger.PubKey, *reputation.View](ViewCacheSize, nil)
		s.mu.Lock()
		s.engine, s.views, s.answers, s.last, s.height = e, views, nil, last, h0
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := s.replay(ctx, s.engine, s.last, h0)
	if err != nil {
		return err
	}
	s.last, s.height = last, max(s.height, h0)
	return nil
}

// replay applies History's events after from, up to height h0, into e; it returns the last
// position applied.
func (s *TrustService) replay(ctx context.Context, e *reputation.Engine, from position, h0 int64) (position, error) {
	cursor := ""
	if from.nonzero {
		cursor = storage.CursorAfter(&ledger.EventRecord{Height: from.height, TxIndex: from.tx, EventIndex: from.ev})
	}
	last := from
	for {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		page, err := s.hist.Events(storage.Filter{}, cursor, api.MaxPageSize)
		if err != nil {
			return last, fmt.Errorf("replay history into the trust engine: %w", err)
		}
		for i := range page.Records {
			r := &page.Records[i]
			if r.Height > h0 {
				return last, nil // later blocks come through the queue
			}
			if err := e.Apply(r); err != nil {
				return last, fmt.Errorf("replay history into the trust engine: %w", err)
			}
			last = positionOf(r)
		}
		if cursor = page.Next; cursor == "" {
			return last, nil
		}
	}
}

// apply is the service's goroutine: it applies queued blocks until Stop.
func (s *TrustService) apply() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		s.qmu.Lock()
		batch := s.queue
		s.queue = nil
		s.qmu.Unlock()
		s.mu.Lock()
		for _, b := range batch {
			for i := range b.records {
				r := &b.records[i]
				if p := positionOf(r); s.last.before(p) {
					if err := s.engine.Apply(r); err != nil {
						s.logger.Error("trust engine", "height", r.Height, "err", err)
						continue
					}
					s.last = p
				}
			}
			s.height = max(s.height, b.height)
		}
		s.mu.Unlock()
	}
}

// Stop stops serving and applying; the engine is kept for the next Start.
func (s *TrustService) Stop() error {
	s.serving.Store(false)
	s.qmu.Lock()
	if !s.running {
		s.qmu.Unlock()
		return nil
	}
	s.running, s.queue = false, nil
	s.qmu.Unlock()
	close(s.stop)
	<-s.done
	return nil
}
