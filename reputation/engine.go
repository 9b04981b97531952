package reputation

import (
	"fmt"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/trustledger/trustledger/ledger"
)

// Engine holds what committed history says about every pair of nodes, updated one event at a
// time (O(1) per event). Scores are computed from it per observer (View). It is not safe for
// concurrent use; wrap it with a lock when a node feeds it while serving queries.
type Engine struct {
	policy  Policy
	index   map[ledger.PubKey]int32
	nodes   []nodeState
	pairs   []pairState
	pairIdx map[uint64]int32
	events  uint64 // events ingested
	height  int64  // last height ingested
	version uint64 // bumped by every event that touches a node or pair; views older than it are stale
	// warm holds the last PageRank vector of the most recent observers, to warm-start their next
	// view; bounded (WarmStartObservers), least recently used evicted one at a time.
	warm *simplelru.LRU[ledger.PubKey, []float64]
	// warmBytes, once set (SetWarmStartBytes), sizes warm to the observers whose vectors fit in
	// it, WarmStartObservers at least; warmSize is its size now.
	warmBytes, warmSize int
	// successStep, failureStep and dropLevel are the drop rule's constants (§2.1).
	successStep, failureStep, dropLevel float64
	// rowDst and rowWgt are each node's positive out-edges, normalised (PageRank's rows, §3);
	// rowFresh says which are up to date. They depend on the history only, not on the
	// observer, so every view shares them (refreshRows).
	rowDst   [][]int32
	rowWgt   [][]float64
	rowFresh []bool
	// restartBuf, nextBuf and massBuf are a view's scratch vectors, kept so that a view at
	// every block does not allocate (and collect) three vectors of all nodes.
	restartBuf, nextBuf, massBuf, passBuf []float64
}

// scratch returns (*buf)[:n], zeroed, growing *buf when it is too short.
func scratch(buf *[]float64, n int) []float64 {
	if cap(*buf) < n {
		*buf = make([]float64, n)
	}
	s := (*buf)[:n]
	clear(s)
	return s
}

// WarmStartObservers is how many observers' last PageRank vectors an engine keeps to warm-start
// their next view (each is 8 bytes a node: 51 MiB at 100,000 nodes).
const WarmStartObservers = 64

// SetWarmStartBytes lets the engine keep the last PageRank vectors of as many observers as fit
// in bytes (at least WarmStartObservers), instead of WarmStartObservers: a node whose explorer
// shows the views of many observers computes each again from its last vector, in a few
// iterations instead of up to MaxIterations. A warm start changes a view only within
// PageRank's tolerance (§3).
func (e *Engine) SetWarmStartBytes(bytes int) { e.warmBytes = bytes }

// sizeWarm sets warm's size for n nodes.
func (e *Engine) sizeWarm(n int) {
	if e.warmBytes <= 0 || n == 0 {
		return
	}
	if want := max(WarmStartObservers, e.warmBytes/(8*n)); want != e.warmSize {
		e.warm.Resize(want)
		e.warmSize = want
	}
}

type nodeState struct {
	key    ledger.PubKey
	proof  *Proof
	out    []int32 // pairs (j→x) where this node is j, in order of creation
	in     []int32 // pairs (j→x) where this node is x
	seenAt int64
}

// Proof is objective evidence that made a node ineligible for everyone (T-3).
type Proof struct {
	Height int64  `json:"height"`
	Kind   string `json:"kind"`
	By     string `json:"by,omitempty"` // the node that submitted it, if any
}

// Counts are the raw observations of one pair, for explanations.
type Counts struct {
	AuditsPassed    uint64 `json:"audits_passed"`
	AuditsFailed    uint64 `json:"audits_failed"`
	Receipts        uint64 `json:"receipts"`
	ContractsOpened uint64 `json:"contracts_opened"`
	Expired         uint64 `json:"contracts_expired"`
	Quit            uint64 `json:"contracts_quit"`
	Fired           uint64 `json:"contracts_fired"`
	Payments        uint64 `json:"payments"`
	Reports         uint64 `json:"reports"`
	Ignored         uint64 `json:"ignored_claims"` // unilateral claims without countersigned history (T-2)
}

// pairState is what node j has seen of node x (§2).
type pairState struct {
	j, x int32
	// drop is the drop rule's statistic (§2.1): the log-likelihood ratio of "unreliable" to
	// "reliable" accumulated over j's observations of x, never below 0. j drops x at dropLevel.
	drop float64
	succ float64 // decayed real successes: succ/n is the evidence-only success rate
	n    float64 // decayed real evidence
	// paid is the part of succ (and n) that acknowledged payments make: evidence about x as a
	// payer, not about how it stores data (§5 reads the rest, x's service). verdict is n when
	// the drop statistic first reached the drop level (0 before): what j's verdict on x rests
	// on; observations after it add nothing to its weight (§4.3). Both are float32, rounded
	// at each step (deterministic, T-4): a pair is kept for every relation in history.
	paid, verdict float32
	countersigned bool
	counts        Counts
	first, last   int64
}

// NewEngine returns an empty engine; the policy must be valid.
func NewEngine(p Policy) (*Engine, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	warm, err := simplelru.NewLRU[ledger.PubKey, []float64](WarmStartObservers, nil)
	if err != nil {
		return nil, err
	}
	e := &Engine{policy: p, index: map[ledger.PubKey]int32{}, pairIdx: map[uint64]int32{}, warm: warm}
	e.successStep, e.failureStep, e.dropLevel = p.dropSteps()
	return e, nil
}

// Policy returns the engine's policy.
func (e *Engine) Policy() Policy { return e.policy }

// Height is the last height ingested; Events the number of events.
func (e *Engine) Height() int64  { return e.height }
func (e *Engine) Events() uint64 { return e.events }

// Nodes is the number of nodes seen.
func (e *Engine) Nodes() int { return len(e.nodes) }

func (e *Engine) node(k ledger.PubKey, height int64) int32 {
	if i, ok := e.index[k]; ok {
		return i
	}
	i := int32(len(e.nodes))
	e.index[k] = i
	e.nodes = append(e.nodes, nodeState{key: k, seenAt: height})
	return i
}

func (e *Engine) pair(j, x int32, height int64) *pairState {
	key := uint64(uint32(j))<<32 | uint64(uint32(x))
	if i, ok := e.pairIdx[key]; ok {
		return &e.pairs[i]
	}
	i := int32(len(e.pairs))
	e.pairIdx[key] = i
	e.pairs = append(e.pairs, pairState{j: j, x: x, first: height})
	e.nodes[j].out = append(e.nodes[j].out, i)
	e.nodes[x].in = append(e.nodes[x].in, i)
	e.rowChanged(j)
	return &e.pairs[i]
}

// observe applies one observation with success weight s and failure weight f (§2).
func (e *Engine) observe(p *pairState, s, f float64, height int64) {
	l := e.policy.Lambda
	p.drop = max(0, p.drop+float64(s*e.successStep)+float64(f*e.failureStep))
	p.succ = float64(l*p.succ) + s
	p.n = float64(l*p.n) + s + f
	p.paid = float32(l * float64(p.paid))
	if p.verdict == 0 && p.drop >= e.dropLevel {
		p.verdict = float32(p.n)
	}
	p.last = height
	e.rowChanged(p.j)
}

// rowChanged marks node j's PageRank row for rebuilding: one of its pairs changed.
func (e *Engine) rowChanged(j int32) {
	if int(j) < len(e.rowFresh) {
		e.rowFresh[j] = false
	}
}

// Apply ingests one committed event. Events must come in ledger order (height, tx, event);
// an earlier height than the last one ingested is an error and changes nothing.
func (e *Engine) Apply(r *ledger.EventRecord) error {
	if r.Height < e.height {
		return fmt.Errorf("event at height %d after height %d: history must be applied in order", r.Height, e.height)
	}
	e.height = r.Height
	e.events++
	if r.Subject.IsZero() {
		return nil
	}
	// Any event with a subject may add a node or pair or change counts that views read.
	e.version++
	x := e.node(r.Subject, r.Height)
	if r.Counterparty.IsZero() {
		if m, ok := r.Event.(*ledger.MisbehaviorReport); ok && r.Signer.IsZero() {
			e.prove(x, r.Height, m.Misconduct.String(), "")
		}
		return nil
	}
	j := e.node(r.Counterparty, r.Height)
	p := e.pair(j, x, r.Height)
	pol := e.policy
	// A unilateral claim counts only with countersigned history (T-2).
	claim := func(f float64, count *uint64) {
		*count++
		if !e.related(j, x) {
			p.counts.Ignored++
			return
		}
		e.observe(p, 0, f, r.Height)
	}
	switch ev := r.Event.(type) {
	case *ledger.ContractOpen:
		p.countersigned = true
		p.counts.ContractsOpened++
	case *ledger.StorageReceipt, *ledger.BandwidthReceipt:
		p.countersigned = true
		p.counts.Receipts++
		e.observe(p, pol.ReceiptWeight, 0, r.Height)
	case *ledger.AuditResult:
		switch {
		case ev.Passed:
			p.counts.AuditsPassed++
			e.observe(p, 1, 0, r.Height)
		case ev.Evidence != nil:
			p.counts.AuditsFailed++
			e.observe(p, 0, 1, r.Height)
			e.prove(x, r.Height, "signed an audit answer that fails its own storage commitment", r.Counterparty.String())
		default:
			claim(1, &p.counts.AuditsFailed)
		}
	case *ledger.ContractClose:
		switch ev.Reason {
		case ledger.CloseExpired:
			p.countersigned = true
			p.counts.Expired++
			e.observe(p, 1, 0, r.Height)
		case ledger.CloseQuit:
			p.counts.Quit++
			e.observe(p, 0, 1, r.Height) // the supplier's own statement
		case ledger.CloseFired:
			claim(pol.FiredWeight, &p.counts.Fired)
		}
	case *ledger.Payment:
		p.countersigned = true
		p.counts.Payments++
		e.observe(p, pol.PaymentWeight, 0, r.Height)
		p.paid = float32(float64(p.paid) + pol.PaymentWeight)
	case *ledger.MisbehaviorReport:
		if ev.Misconduct == ledger.MisconductDoubleSignedRcpt && len(ev.Evidence) > 0 {
			// The ledger accepted it only with verified evidence of two conflicting receipts
			// signed by x (R-EVID-2): a proof, whoever reported it (T-3).
			p.counts.Reports++
			e.prove(x, r.Height, "signed two conflicting receipts", r.Counterparty.String())
			return nil
		}
		claim(1, &p.counts.Reports)
	}
	return nil
}

func (e *Engine) prove(x int32, height int64, kind, by string) {
	if e.nodes[x].proof == nil {
		e.nodes[x].proof = &Proof{Height: height, Kind: kind, By: by}
	}
}

// related reports whether j and x have countersigned history, in either direction.
func (e *Engine) related(j, x int32) bool {
	for _, key := range []uint64{uint64(uint32(j))<<32 | uint64(uint32(x)), uint64(uint32(x))<<32 | uint64(uint32(j))} {
		if i, ok := e.pairIdx[key]; ok && e.pairs[i].countersigned {
			return true
		}
	}
	return false
}

// PairInfo is a read-only summary of one pair: what Observer has seen of Subject.
type PairInfo struct {
	Observer, Subject ledger.PubKey
	DropEvidence      float64 // the drop rule's statistic (§2.1)
	Dropped           bool    // the observer's drop rule has dropped the subject
	Rate              float64 // evidence-only success rate
	Evidence          float64
	Counts            Counts
}

// Pairs calls fn for every pair in creation order (deterministic), for baselines and exports.
func (e *Engine) Pairs(fn func(PairInfo)) {
	for i := range e.pairs {
		p := &e.pairs[i]
		fn(PairInfo{Observer: e.nodes[p.j].key, Subject: e.nodes[p.x].key,
			DropEvidence: p.drop, Dropped: e.dropped(p), Rate: p.rate(), Evidence: p.n, Counts: p.counts})
	}
}

// rate is the evidence-only success rate (0 without evidence).
func (p *pairState) rate() float64 {
	if p.n <= 0 {
		return 0
	}
	return p.succ / p.n
}

// service is the pair's evidence of x's service, without its payments: the decayed amount and
// its success rate (0, 0 when there is none).
func (p *pairState) service() (n, rate float64) {
	paid := float64(p.paid)
	n = p.n - paid
	if n <= 1e-6*p.n { // payments only, up to paid's rounding
		return 0, 0
	}
	return n, max(0, p.succ-paid) / n
}

// dropped reports whether the pair's drop statistic reached the drop level: j has seen enough
// of x to tell it from a reliable supplier (§2.1).
func (e *Engine) dropped(p *pairState) bool { return p.drop >= e.dropLevel }
