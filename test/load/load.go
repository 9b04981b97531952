// Package load is the load generator shared by the fault tests and benchmarks: signer keys with
// contracts between them, workers that submit countersigned receipts and audits through real RPC,
// and a record of every acknowledged (committed) transaction.
package load

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/trustledger/trustledger/ledger"
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
	seq       []uint64
	clients   []*rpchttp.HTTP

	follow  *follower
	started bool

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
}

// New prepares n signers derived from seed and clients for every endpoint.
func New(chainID string, endpoints []string, n int, seed string) (*Generator, error) {
	g := &Generator{ChainID: chainID, Endpoints: endpoints}
	for _, e := range endpoints {
		c, err := rpchttp.NewWithTimeout(e, "/websocket", 5)
		if err != nil {
			return nil, err
		}
		g.clients = append(g.clients, c)
	}
	for i := 0; i < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s signer %d", seed, i)))
		g.keys = append(g.keys, ed25519.NewKeyFromSeed(s[:]))
	}
	g.seq = make([]uint64, n)
	g.follow = newFollower(g.clients)
	g.EventsPerTx = 2
	return g, nil
}

// follow starts the block follower once, for the lifetime of ctx.
func (g *Generator) startFollower(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.started {
		g.started = true
		g.follow.start(ctx)
	}
}

func (g *Generator) pub(i int) ledger.PubKey {
	var k ledger.PubKey
	copy(k[:], g.keys[i].Public().(ed25519.PublicKey))
	return k
}

func (g *Generator) contractID(i int) ledger.ID {
	return sha256.Sum256([]byte(fmt.Sprintf("load contract %x", g.pub(i))))
}

// submit signs events for signer i at its next sequence and waits for the commit through any
// endpoint that answers, starting with endpoint `first`.
func (g *Generator) submit(ctx context.Context, i, first int, evs ...ledger.Event) (Ack, error) {
	p, err := g.send(ctx, i, first, g.seq[i]+1, evs)
	if err != nil {
		return Ack{}, err
	}
	return g.await(ctx, i, p)
}

// pending is a tx accepted by a mempool and not yet seen committed.
type pending struct {
	tx     *ledger.Tx
	hash   ledger.ID
	wait   chan commitInfo
	start  time.Time
	events int
}

// send signs events for signer i at sequence seq and broadcasts them (CheckTx only).
func (g *Generator) send(ctx context.Context, i, first int, seq uint64, evs []ledger.Event) (*pending, error) {
	tx := &ledger.Tx{ChainID: g.ChainID, Sequence: seq, Events: evs}
	tx.Sign(g.keys[i])
	raw := tx.Encode()
	p := &pending{tx: tx, hash: ledger.TxHash(raw), start: time.Now(), events: len(evs)}
	p.wait = g.follow.expect(p.hash)
	var sentErr error
	for k := range g.clients {
		c := g.clients[(first+k)%len(g.clients)]
		res, err := c.BroadcastTxSync(ctx, raw)
		if err != nil {
			sentErr = err
			continue
		}
		if res.Code != 0 {
			g.follow.forget(p.hash)
			return nil, fmt.Errorf("rejected (code %d %s): %s", res.Code, ledger.Code(res.Code), res.Log)
		}
		sentErr = nil
		break
	}
	if sentErr != nil {
		g.follow.forget(p.hash)
		return nil, fmt.Errorf("no endpoint took the tx: %w", sentErr)
	}
	g.mu.Lock()
	g.sent++
	g.mu.Unlock()
	return p, nil
}

// await waits for a sent tx's commit and records the acknowledgement.
func (g *Generator) await(ctx context.Context, i int, p *pending) (Ack, error) {
	defer g.follow.forget(p.hash)
	select {
	case info := <-p.wait:
		if info.code != 0 {
			return Ack{}, fmt.Errorf("failed in block %d: %s", info.height, info.log)
		}
		g.seq[i] = p.tx.Sequence
		ack := Ack{Hash: p.hash, Height: info.height, Events: p.events}
		g.mu.Lock()
		g.acks = append(g.acks, ack)
		g.latency = append(g.latency, info.committed.Sub(p.start))
		g.seen = append(g.seen, info.at.Sub(p.start))
		g.events += p.events
		g.mu.Unlock()
		return ack, nil
	case <-time.After(20 * time.Second):
		return Ack{}, fmt.Errorf("tx %s not committed within 20s", p.hash)
	case <-ctx.Done():
		return Ack{}, ctx.Err()
	}
}

// resync asks the endpoints for signer i's committed sequence (after an error, a tx may or may
// not have committed).
func (g *Generator) resync(ctx context.Context, i int) error {
	k := g.pub(i)
	for _, c := range g.clients {
		res, err := c.ABCIQuery(ctx, "/node", k[:])
		if err != nil {
			continue
		}
		if res.Response.Code != 0 {
			g.seq[i] = 0
			return nil
		}
		var v struct {
			Record struct {
				Sequence uint64 `json:"sequence"`
			} `json:"record"`
		}
		if err := json.Unmarshal(res.Response.Value, &v); err != nil {
			return err
		}
		g.seq[i] = v.Record.Sequence
		return nil
	}
	return errors.New("no endpoint answered")
}

// Setup registers every signer (proof of work at difficulty) and opens a contract from signer i
// (customer) to signer i+1 (supplier), countersigned.
func (g *Generator) Setup(ctx context.Context, difficulty int) error {
	g.startFollower(context.WithoutCancel(ctx))
	n := len(g.keys)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			reg := &ledger.RegisterNode{PeerID: fmt.Sprintf("load-%d", i), Capacity: 1 << 30,
				PowNonce: ledger.SolvePoW(g.ChainID, g.pub(i), difficulty)}
			_, errs[i] = g.submit(ctx, i, i, reg)
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
			s := (i + 1) % n
			open := &ledger.ContractOpen{ContractID: g.contractID(i), Customer: g.pub(i), Supplier: g.pub(s),
				Bytes: 1 << 30, DurationSeconds: 30 * 86400, PricePerGiBMonth: 4000}
			open.Countersig = ledger.Countersign(g.keys[s], g.ChainID, open)
			_, errs[i] = g.submit(ctx, i, i, open)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run makes every signer submit countersigned storage receipts and audits of its supplier,
// keeping InFlight txs (at consecutive sequences) unacknowledged at a time, until ctx is done.
// Errors (a node down, say) are counted; the signer waits out its pending txs, resynchronises
// its sequence and carries on.
func (g *Generator) Run(ctx context.Context) {
	g.startFollower(context.WithoutCancel(ctx))
	n := len(g.keys)
	window := max(g.InFlight, 1)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := (i + 1) % n
			next := g.seq[i] // the last sequence sent
			var inflight []*pending
			fail := func(err error) {
				g.mu.Lock()
				g.errs++
				g.lastErr = err
				g.mu.Unlock()
				for _, p := range inflight {
					_, _ = g.await(ctx, i, p)
				}
				inflight = nil
				if ctx.Err() != nil {
					return
				}
				time.Sleep(300 * time.Millisecond)
				_ = g.resync(ctx, i)
				next = g.seq[i]
			}
			for r := 0; ctx.Err() == nil; r++ {
				if len(inflight) < window {
					p, err := g.send(ctx, i, i+r, next+1, g.loadEvents(i, s, r, next+1))
					if err != nil {
						fail(err)
						continue
					}
					next++
					inflight = append(inflight, p)
					if len(inflight) < window {
						continue
					}
				}
				p := inflight[0]
				inflight = inflight[1:]
				if _, err := g.await(ctx, i, p); err != nil {
					fail(err)
				}
			}
		}(i)
	}
	wg.Wait()
}

// loadEvents are the events of signer i's tx at sequence seq in round r: receipts (countersigned
// by supplier s) and audits, alternating. Receipt numbers grow with the tx sequence (and the
// event's place in the tx), so they increase across runs against the same chain.
func (g *Generator) loadEvents(i, s, r int, seq uint64) []ledger.Event {
	evs := make([]ledger.Event, 0, g.EventsPerTx)
	for e := 0; e < g.EventsPerTx; e++ {
		if e%2 == 0 {
			rcpt := &ledger.StorageReceipt{ContractID: g.contractID(i), Number: seq*ledger.HardMaxEventsPerTx + uint64(e), Customer: g.pub(i), Supplier: g.pub(s),
				PeriodStart: int64(r) * 3600, PeriodEnd: int64(r+1) * 3600, ByteSeconds: 3600 << 30}
			rcpt.Countersig = ledger.Countersign(g.keys[s], g.ChainID, rcpt)
			evs = append(evs, rcpt)
		} else {
			var challenge ledger.ID
			binary.BigEndian.PutUint64(challenge[:], uint64(i))
			binary.BigEndian.PutUint64(challenge[8:], seq)
			binary.BigEndian.PutUint32(challenge[16:], uint32(e))
			copy(challenge[20:], "load-audit")
			evs = append(evs, &ledger.AuditResult{ContractID: g.contractID(i), Customer: g.pub(i), Supplier: g.pub(s),
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
