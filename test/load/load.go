// Package load is the load generator shared by the fault tests and benchmarks: signer keys with
// contracts between them, workers that submit countersigned receipts and audits through real RPC
// (package client: one Submitter a signer, one Follower for all), and a record of every
// acknowledged (committed) transaction.
package load

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
)

// Ack is one committed transaction.
type Ack struct {
	Hash   ledger.ID
	Height int64
	Events int
}

// Generator drives signed events against a set of RPC endpoints.
type Generator struct {
	ChainID   string
	Endpoints []string
	keys      []ed25519.PrivateKey
	subs      []*client.Submitter
	follow    *client.Follower
	posts     chan struct{} // one token per broadcast in progress (maxPosts)

	mu      sync.Mutex
	acks    []Ack
	sent    int
	errs    int
	lastErr error
	latency []time.Duration // send → consensus commit
	seen    []time.Duration // send → the follower saw the commit
	events  int
	// EventsPerTx is how many events each load tx carries (receipts and audits alternating);
	// 2 unless set before Run.
	EventsPerTx int
	// InFlight is how many txs each signer keeps sent and not yet committed; 1 unless set.
	InFlight int
	// inflight, once SetInFlight has set it, overrides InFlight while Run runs.
	inflight atomic.Int64
}

// SetInFlight changes how many txs each signer keeps in flight, also while Run runs (a load
// that steps up until the node saturates).
func (g *Generator) SetInFlight(n int) { g.inflight.Store(int64(max(n, 1))) }

// window is the number of txs a signer keeps in flight now.
func (g *Generator) window() int {
	if n := g.inflight.Load(); n > 0 {
		return int(n)
	}
	return max(g.InFlight, 1)
}

// New prepares n signers derived from seed, each with a submitter over every endpoint.
func New(chainID string, endpoints []string, n int, seed string) (*Generator, error) {
	g := &Generator{ChainID: chainID, Endpoints: endpoints, EventsPerTx: 2, posts: make(chan struct{}, maxPosts)}
	var clients []*client.Client
	for _, e := range endpoints {
		c, err := client.Dial(e, 5*time.Second)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	g.follow = client.NewFollower(clients...)
	for i := 0; i < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s signer %d", seed, i)))
		key := ed25519.NewKeyFromSeed(s[:])
		// Each signer starts with another endpoint, so the load spreads over them.
		rotated := append(append([]*client.Client(nil), clients[i%len(clients):]...), clients[:i%len(clients)]...)
		sub, err := client.NewSubmitter(client.SubmitterConfig{ChainID: chainID, Key: key, Endpoints: rotated,
			Follower: g.follow, CommitTimeout: 20 * time.Second})
		if err != nil {
			return nil, err
		}
		g.keys = append(g.keys, key)
		g.subs = append(g.subs, sub)
	}
	return g, nil
}

// Close stops the block follower.
func (g *Generator) Close() { g.follow.Close() }

func (g *Generator) pub(i int) ledger.PubKey { return keystore.PubKey(g.keys[i]) }

// Key is signer i's node key (signer i hires signer i+1, the last the first).
func (g *Generator) Key(i int) ledger.PubKey { return g.pub(i) }

func (g *Generator) contractID(i int) ledger.ID {
	return sha256.Sum256([]byte(fmt.Sprintf("load contract %x", g.pub(i))))
}

// record notes a sent transaction's outcome.
func (g *Generator) record(p *client.Pending, c client.Commit, err error) (Ack, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		return Ack{}, err
	}
	ack := Ack{Hash: p.Hash, Height: c.Height, Events: p.Events}
	g.acks = append(g.acks, ack)
	g.latency = append(g.latency, c.Time.Sub(p.Sent))
	g.seen = append(g.seen, c.Seen.Sub(p.Sent))
	g.events += p.Events
	return ack, nil
}

// setupConcurrency is how many signers Setup registers or contracts at a time.
const setupConcurrency = 500

// maxPosts bounds the broadcasts in progress at once, over all signers: a node's RPC serves 900
// connections (CometBFT's max_open_connections), and 10,000 signers posting at once had most of
// their requests time out waiting for one.
const maxPosts = 500

func (g *Generator) send(ctx context.Context, i int, build func(seq uint64) []ledger.Event) (*client.Pending, error) {
	select {
	case g.posts <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p, err := g.subs[i].SubmitBuilt(ctx, build)
	<-g.posts
	if err == nil {
		g.mu.Lock()
		g.sent++
		g.mu.Unlock()
	}
	return p, err
}

// submit sends events for signer i and waits for their commit.
func (g *Generator) submit(ctx context.Context, i int, evs ...ledger.Event) (Ack, error) {
	p, err := g.send(ctx, i, func(uint64) []ledger.Event { return evs })
	if err != nil {
		return Ack{}, err
	}
	c, err := p.Wait(ctx)
	return g.record(p, c, err)
}

// Setup registers every signer (proof of work at difficulty) and opens a contract from signer i
// (customer) to signer i+1 (supplier), countersigned. At most setupConcurrency signers are set up
// at once, each until its tx commits, so that setup txs stay well within a node's mempool (5,000
// txs by default) however many signers there are; send bounds the broadcasts themselves.
func (g *Generator) Setup(ctx context.Context, difficulty int) error {
	n := len(g.keys)
	var wg sync.WaitGroup
	errs := make([]error, n)
	slots := make(chan struct{}, setupConcurrency)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			reg := &ledger.RegisterNode{PeerID: ledger.PeerIDOf(g.pub(i)), Capacity: 1 << 30,
				PowNonce: ledger.SolvePoW(g.ChainID, g.pub(i), difficulty)}
			_, errs[i] = g.submit(ctx, i, reg)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("register signers: %w", err)
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			s := (i + 1) % n
			open := &ledger.ContractOpen{ContractID: g.contractID(i), Customer: g.pub(i), Supplier: g.pub(s),
				Bytes: 1 << 30, DurationSeconds: 30 * 86400, PricePerGiBMonth: 4000}
			open.Countersig = ledger.Countersign(g.keys[s], g.ChainID, open)
			_, errs[i] = g.submit(ctx, i, open)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run makes every signer submit countersigned storage receipts and audits of its supplier,
// keeping InFlight txs (at consecutive sequences) unacknowledged at a time, until ctx is done.
// Errors (a node down, say) are counted; the signer waits out its pending txs and carries on
// (its submitter resynchronises the sequence with the node).
func (g *Generator) Run(ctx context.Context) {
	n := len(g.keys)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := (i + 1) % n
			var inflight []*client.Pending
			await := func(p *client.Pending) error {
				c, err := p.Wait(ctx)
				_, err = g.record(p, c, err)
				return err
			}
			fail := func(err error) {
				g.mu.Lock()
				g.errs++
				g.lastErr = err
				g.mu.Unlock()
				for _, p := range inflight {
					_ = await(p)
				}
				inflight = nil
				if ctx.Err() == nil {
					time.Sleep(300 * time.Millisecond)
				}
			}
			for r := 0; ctx.Err() == nil; r++ {
				if len(inflight) < g.window() {
					p, err := g.send(ctx, i, func(seq uint64) []ledger.Event { return g.loadEvents(i, s, r, seq) })
					if err != nil {
						fail(err)
						continue
					}
					inflight = append(inflight, p)
					if len(inflight) < g.window() {
						continue
					}
				}
				p := inflight[0]
				inflight = inflight[1:]
				if err := await(p); err != nil {
					fail(err)
				}
			}
		}(i)
	}
	wg.Wait()
}

// loadEvents are the events of signer i's tx at sequence seq in round r: receipts (countersigned
// by supplier s) and audits, alternating. Receipt and audit numbers grow with the tx sequence
// (and the event's place in the tx), so they increase across runs against the same chain.
func (g *Generator) loadEvents(i, s, r int, seq uint64) []ledger.Event {
	evs := make([]ledger.Event, 0, g.EventsPerTx)
	// The period of a receipt is the hour before it is signed: after the contract opened (at
	// setup) and not in the future (R-RCPT-3).
	now := time.Now().Unix()
	for e := 0; e < g.EventsPerTx; e++ {
		if e%2 == 0 {
			rcpt := &ledger.StorageReceipt{ContractID: g.contractID(i), Number: seq*ledger.HardMaxEventsPerTx + uint64(e), Customer: g.pub(i), Supplier: g.pub(s),
				PeriodStart: now - 3600, PeriodEnd: now, ByteSeconds: 3600 << 30}
			rcpt.Countersig = ledger.Countersign(g.keys[s], g.ChainID, rcpt)
			evs = append(evs, rcpt)
		} else {
			var challenge ledger.ID
			binary.BigEndian.PutUint64(challenge[:], uint64(i))
			binary.BigEndian.PutUint64(challenge[8:], seq)
			binary.BigEndian.PutUint32(challenge[16:], uint32(e))
			copy(challenge[20:], "load-audit")
			evs = append(evs, &ledger.AuditResult{ContractID: g.contractID(i), Number: seq*ledger.HardMaxEventsPerTx + uint64(e), Customer: g.pub(i), Supplier: g.pub(s),
				ChallengeDigest: sha256.Sum256(challenge[:]), Passed: true})
		}
	}
	return evs
}

// Acks returns every acknowledged transaction so far.
func (g *Generator) Acks() []Ack {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Ack(nil), g.acks...)
}

// Stats reports sent, acknowledged and failed submissions, and the last error.
func (g *Generator) Stats() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	last := ""
	if g.lastErr != nil {
		last = strings.SplitN(g.lastErr.Error(), "\n", 2)[0]
	}
	return fmt.Sprintf("sent %d, acknowledged %d, errors %d (last: %s)", g.sent, len(g.acks), g.errs, last)
}

// Events is the number of events in acknowledged transactions.
func (g *Generator) Events() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.events
}

// Latencies returns the commit latency of every acknowledged transaction: from its broadcast to
// the precommits of its block.
func (g *Generator) Latencies() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Duration(nil), g.latency...)
}

// SeenLatencies returns, for every acknowledged transaction, the time from its broadcast until
// the generator saw it committed (Latencies plus the follower's polling and RPC delay).
func (g *Generator) SeenLatencies() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Duration(nil), g.seen...)
}

// Errors is the number of failed submissions so far (a failure at the end of a run, when its
// context is cancelled, included).
func (g *Generator) Errors() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.errs
}
