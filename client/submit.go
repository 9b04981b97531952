package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trustledger/trustledger/ledger"
)

// Submitter sends one signer's transactions. It keeps the signer's sequence locally, so several
// transactions may be in flight at once (each at the next sequence), and it learns their fate
// from a Follower. After a rejection, a lost transaction or a failed broadcast, its next Submit
// first waits until every transaction in flight is committed or timed out, then asks the node
// for the committed sequence and continues from there. It is safe for concurrent use; Submit
// calls of one Submitter are serialised (each signs the next sequence).
type Submitter struct {
	chainID   string
	key       ed25519.PrivateKey
	signer    ledger.PubKey
	endpoints []*Client
	follow    *Follower
	ownFollow bool
	timeout   time.Duration

	mu       sync.Mutex
	last     uint64 // the last sequence signed (or committed, after a resync)
	synced   bool   // last is known; false until the first Submit or after a failure
	turn     int    // endpoint to try first, rotating
	inflight []*Pending
	unsure   atomic.Bool // a tx failed after Submit returned: resync before the next
}

// SubmitterConfig configures NewSubmitter.
type SubmitterConfig struct {
	ChainID string
	Key     ed25519.PrivateKey
	// Endpoints are tried in turn for each broadcast (the first that answers takes the tx), and
	// for the sequence. At least one.
	Endpoints []*Client
	// Follower learns commits; nil: the Submitter follows with its own (closed by Close). Share
	// one among many submitters.
	Follower *Follower
	// CommitTimeout is how long a transaction may take from broadcast to commit before Wait
	// returns ErrNotCommitted; 30 s if zero.
	CommitTimeout time.Duration
}

// NewSubmitter returns a submitter for one key.
func NewSubmitter(cfg SubmitterConfig) (*Submitter, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("submitter needs at least one endpoint")
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("submitter needs an ed25519 private key")
	}
	if cfg.ChainID == "" {
		return nil, errors.New("submitter needs the chain id")
	}
	s := &Submitter{chainID: cfg.ChainID, key: cfg.Key, endpoints: cfg.Endpoints, follow: cfg.Follower, timeout: cfg.CommitTimeout}
	copy(s.signer[:], cfg.Key.Public().(ed25519.PublicKey))
	if s.follow == nil {
		s.follow, s.ownFollow = NewFollower(cfg.Endpoints...), true
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	return s, nil
}

// Signer is the submitting key.
func (s *Submitter) Signer() ledger.PubKey { return s.signer }

// StartAt makes the next Submit sign at sequence seq without asking the node (for a caller that
// manages sequences itself, such as `trustd tx --sequence`).
func (s *Submitter) StartAt(seq uint64) {
	s.mu.Lock()
	s.last, s.synced = seq-1, true
	s.unsure.Store(false)
	s.mu.Unlock()
}

// Close stops the submitter's own follower, if it has one.
func (s *Submitter) Close() {
	if s.ownFollow {
		s.follow.Close()
	}
}

// Pending is a transaction accepted into a mempool, not yet known committed.
type Pending struct {
	Hash     ledger.ID
	Sequence uint64
	Events   int
	Sent     time.Time
	once     sync.Once
	done     chan struct{}
	commit   Commit
	err      error
}

func (p *Pending) resolve(c Commit, err error) {
	p.once.Do(func() {
		p.commit, p.err = c, err
		close(p.done)
	})
}

// Done is closed once the transaction's fate is known (committed, rejected or timed out).
func (p *Pending) Done() <-chan struct{} { return p.done }

// Wait blocks until the transaction is committed (its Commit) and the node's state answers
// queries with it, rejected in a block (*RejectedError), not committed within the timeout
// (ErrNotCommitted), or ctx is done.
func (p *Pending) Wait(ctx context.Context) (Commit, error) {
	select {
	case <-p.done:
		return p.commit, p.err
	case <-ctx.Done():
		return Commit{}, ctx.Err()
	}
}

// Submit signs events into one transaction at the signer's next sequence and broadcasts it (the
// node's CheckTx accepts it into the mempool, or a *RejectedError says why not). Wait on the
// Pending for the commit.
func (s *Submitter) Submit(ctx context.Context, evs ...ledger.Event) (*Pending, error) {
	return s.SubmitBuilt(ctx, func(uint64) []ledger.Event { return evs })
}

// SubmitBuilt is Submit for events that depend on the sequence they are signed at (a receipt
// numbered after it, say): build gets the sequence.
func (s *Submitter) SubmitBuilt(ctx context.Context, build func(sequence uint64) []ledger.Event) (*Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.follow.Start(ctx); err != nil {
		return nil, err
	}
	if !s.synced || s.unsure.Load() {
		if err := s.resync(ctx); err != nil {
			return nil, err
		}
	}
	evs := build(s.last + 1)
	tx := &ledger.Tx{ChainID: s.chainID, Sequence: s.last + 1, Events: evs}
	tx.Sign(s.key)
	raw := tx.Encode()
	p := &Pending{Hash: ledger.TxHash(raw), Sequence: tx.Sequence, Events: len(evs), Sent: time.Now(), done: make(chan struct{})}
	s.follow.Expect(p.Hash, func(c Commit) {
		if c.Code != 0 {
			s.unsure.Store(true)
			p.resolve(c, &RejectedError{Code: c.Code, Log: c.Log, Stage: fmt.Sprintf("block %d", c.Height)})
			return
		}
		p.resolve(c, nil)
	})
	if err := s.broadcast(ctx, raw); err != nil {
		s.follow.Forget(p.Hash)
		s.synced = false // the tx may or may not be in a mempool
		return nil, err
	}
	s.last = tx.Sequence
	timeout := s.timeout
	time.AfterFunc(timeout, func() {
		s.follow.Forget(p.Hash)
		if p.fail(fmt.Errorf("transaction %s was accepted into the mempool but not committed within %s: %w", p.Hash, timeout, ErrNotCommitted)) {
			s.unsure.Store(true)
		}
	})
	live := s.inflight[:0]
	for _, q := range s.inflight {
		select {
		case <-q.done:
		default:
			live = append(live, q)
		}
	}
	s.inflight = append(live, p)
	return p, nil
}

// SubmitAndWait is Submit, then Wait.
func (s *Submitter) SubmitAndWait(ctx context.Context, evs ...ledger.Event) (*Pending, Commit, error) {
	p, err := s.Submit(ctx, evs...)
	if err != nil {
		return nil, Commit{}, err
	}
	c, err := p.Wait(ctx)
	return p, c, err
}

// fail resolves p with err unless it is resolved already; it reports whether it did.
func (p *Pending) fail(err error) bool {
	did := false
	p.once.Do(func() {
		p.err, did = err, true
		close(p.done)
	})
	return did
}

// broadcast offers raw to the endpoints in turn; the first that answers decides.
func (s *Submitter) broadcast(ctx context.Context, raw []byte) error {
	var lastErr error
	for k := range s.endpoints {
		c := s.endpoints[(s.turn+k)%len(s.endpoints)]
		err := c.BroadcastSync(ctx, raw)
		var rej *RejectedError
		if err == nil || errors.As(err, &rej) {
			s.turn++
			if rej != nil {
				s.synced = false
			}
			return err
		}
		lastErr = err
	}
	s.turn++
	return lastErr
}

// resync waits for the transactions in flight, then takes the committed sequence from the node,
// from a state that includes the last block any of them committed in (at most the commit
// timeout later).
func (s *Submitter) resync(ctx context.Context) error {
	var since int64
	for _, p := range s.inflight {
		select {
		case <-p.done:
			since = max(since, p.commit.Height)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.inflight = nil
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var err error
	for _, c := range s.endpoints {
		var next uint64
		if next, err = c.nextSequenceSince(ctx, s.signer, since); err == nil {
			s.last, s.synced = next-1, true
			s.unsure.Store(false)
			return nil
		}
	}
	return fmt.Errorf("sequence of %s: %w", s.signer, err)
}

// BroadcastSync runs CheckTx on the node: nil if the tx entered the mempool.
func (c *Client) BroadcastSync(ctx context.Context, raw []byte) error {
	rpc, err := c.src()
	if err != nil {
		return err
	}
	res, err := rpc.BroadcastTxSync(ctx, raw)
	if err != nil {
		return c.wrap(err)
	}
	if res.Code != 0 {
		return &RejectedError{Code: res.Code, Log: res.Log, Stage: "check"}
	}
	return nil
}
