package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"sort"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// Role is how a node behaves.
type Role int

const (
	Honest     Role = iota // reliable supplier, truthful customer
	Bad                    // unreliable supplier, truthful customer
	Collective             // unreliable supplier that vouches for the collective
	Spy                    // reliable supplier that vouches for the collective
	Sybil                  // member of a sybil region that vouches for itself
	Slanderer              // reliable supplier that reports failures of every supplier it uses
	Whitewash              // unreliable supplier that re-registers once widely dropped
)

// Node is one participant and its hidden truth.
type Node struct {
	Key         ledger.PubKey
	Role        Role
	Reliability float64 // chance to pass an audit as a supplier
	TurnAt      int     // from this round on, Reliability becomes TurnTo (0: never)
	TurnTo      float64
	Network     string
	Active      bool
	drops       int // times dropped (whitewashers re-register after enough)
}

// reliability is the chance to pass an audit at round r.
func (n *Node) reliability(r int) float64 {
	if n.TurnAt > 0 && r >= n.TurnAt {
		return n.TurnTo
	}
	return n.Reliability
}

func (n *Node) isBad(r int) bool { return n.reliability(r) < 0.95 } // honest suppliers are 0.98..1

// Config sizes a run.
type Config struct {
	Nodes   int // initial nodes
	Rounds  int
	Slots   int // suppliers each honest customer keeps
	Refresh int // rounds between recomputing each customer's PageRank view
	Seed    int64
}

// Metrics are what one run measured (honest customers only).
type Metrics struct {
	Placements, BadPlacements    int
	HonestPlacements, WrongDrops int
	Audits, FailedAudits         int
	TurnedDropAudits             []int   // per customer that used a turned supplier: its audits after the turn until it dropped it (-1: never)
	SybilMass                    float64 // sybils' share of honest observers' trust mass (averaged)
	RankCorrelation              float64 // Spearman: an honest observer's scores vs true reliability
}

func (m Metrics) BadShare() float64  { return ratio(m.BadPlacements, m.Placements) }
func (m Metrics) FailShare() float64 { return ratio(m.FailedAudits, m.Audits) }
func (m Metrics) WrongDropRate() float64 {
	return ratio(m.WrongDrops, m.HonestPlacements)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// World is one simulation: nodes, the ledger's history as it grows, and the engine fed by it.
type World struct {
	cfg       Config
	rng       *rand.Rand
	Nodes     []*Node
	engine    *reputation.Engine
	height    int64
	suppliers map[int][]int // honest customer → current suppliers (node indexes)
	placement map[int]uint64
	vouched   map[[2]int]bool // contracts opened by vouching roles
	turnAudit map[[2]int]int  // (customer, supplier) → audits since the supplier turned
	chooser   Chooser
	metrics   Metrics
	nextKey   uint64
}

func newWorld(cfg Config, ch Chooser) *World {
	e, err := reputation.NewEngine(reputation.DefaultPolicy())
	if err != nil {
		panic(err) // the default policy is valid; TestPolicyValidate checks it
	}
	return &World{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), engine: e, suppliers: map[int][]int{},
		placement: map[int]uint64{}, vouched: map[[2]int]bool{}, turnAudit: map[[2]int]int{}, chooser: ch}
}

// add creates a node; its key is derived from a counter so runs are reproducible.
func (w *World) add(role Role, reliability float64, network string) int {
	w.nextKey++
	var k ledger.PubKey
	binary.BigEndian.PutUint64(k[:8], w.nextKey)
	copy(k[8:], "trustledger-sim-node")
	if network == "" {
		network = fmt.Sprintf("net-%d", w.nextKey)
	}
	w.Nodes = append(w.Nodes, &Node{Key: k, Role: role, Reliability: reliability, Network: network, Active: true})
	i := len(w.Nodes) - 1
	w.emit(k, ledger.PubKey{}, &ledger.RegisterNode{PeerID: "sim"})
	return i
}

func (w *World) emit(subject, counterparty ledger.PubKey, ev ledger.Event) {
	w.height++
	rec := ledger.EventRecord{Height: w.height, Subject: subject, Counterparty: counterparty, Kind: ev.Kind(), Event: ev}
	if err := w.engine.Apply(&rec); err != nil {
		panic(err) // heights only grow here
	}
}

func (w *World) contract(c, s int) {
	w.emit(w.Nodes[s].Key, w.Nodes[c].Key, &ledger.ContractOpen{Customer: w.Nodes[c].Key, Supplier: w.Nodes[s].Key})
}

func (w *World) audit(c, s int, pass bool) {
	w.emit(w.Nodes[s].Key, w.Nodes[c].Key, &ledger.AuditResult{Customer: w.Nodes[c].Key, Supplier: w.Nodes[s].Key, Passed: pass})
}

// vouch is a fake relation: a contract once, then a passed audit, with no real service.
func (w *World) vouch(c, s int) {
	if !w.vouched[[2]int{c, s}] {
		w.vouched[[2]int{c, s}] = true
		w.contract(c, s)
	}
	w.audit(c, s, true)
}

// customers are the nodes that place real data: everyone but sybils and whitewashers.
func (w *World) isCustomer(i int) bool {
	r := w.Nodes[i].Role
	return w.Nodes[i].Active && r != Sybil && r != Whitewash && r != Collective
}

// honestObserver reports whether i's decisions count in the metrics.
func (w *World) honestObserver(i int) bool { return w.Nodes[i].Role == Honest && w.Nodes[i].Active }

// Run plays the rounds.
func (w *World) Run() Metrics {
	for r := 0; r < w.cfg.Rounds; r++ {
		if r%w.cfg.Refresh == 0 {
			w.chooser.Refresh(w.engine, w)
		}
		for c := range w.Nodes {
			if w.isCustomer(c) {
				w.serveCustomer(c, r)
			}
		}
		w.misbehave(r)
	}
	w.finalMetrics()
	return w.metrics
}

func (w *World) serveCustomer(c, r int) {
	honest := w.honestObserver(c)
	if need := w.cfg.Slots - len(w.suppliers[c]); need > 0 {
		var cands []reputation.Candidate
		current := map[int]bool{}
		for _, s := range w.suppliers[c] {
			current[s] = true
		}
		for i, n := range w.Nodes {
			if i != c && n.Active && !current[i] {
				cands = append(cands, reputation.Candidate{Node: n.Key, Network: n.Network})
			}
		}
		for _, k := range w.chooser.Choose(w, c, cands, need, w.placement[c]) {
			s := w.index(k)
			w.suppliers[c] = append(w.suppliers[c], s)
			w.contract(c, s)
			if honest {
				w.metrics.Placements++
				if w.Nodes[s].isBad(r) {
					w.metrics.BadPlacements++
				} else {
					w.metrics.HonestPlacements++
				}
			}
		}
		w.placement[c]++
	}
	kept := w.suppliers[c][:0]
	for _, s := range w.suppliers[c] {
		pass := w.rng.Float64() < w.Nodes[s].reliability(r)
		if w.Nodes[c].Role == Slanderer {
			pass = false // a slanderer reports every audit as failed
		}
		w.audit(c, s, pass)
		if honest {
			w.metrics.Audits++
			if !pass {
				w.metrics.FailedAudits++
			}
			if t := w.Nodes[s].TurnAt; t > 0 && r >= t {
				w.turnAudit[[2]int{c, s}]++
			}
		}
		slanderer := w.Nodes[c].Role == Slanderer // keeps its suppliers, to keep slandering them
		if !w.Nodes[s].Active || (!slanderer && w.chooser.ShouldDrop(w, c, w.Nodes[s].Key)) {
			w.emit(w.Nodes[s].Key, w.Nodes[c].Key, &ledger.ContractClose{Customer: w.Nodes[c].Key, Supplier: w.Nodes[s].Key, Reason: ledger.CloseFired})
			w.Nodes[s].drops++
			if honest {
				if !w.Nodes[s].isBad(r) {
					w.metrics.WrongDrops++
				}
				if t := w.Nodes[s].TurnAt; t > 0 && r >= t {
					w.metrics.TurnedDropAudits = append(w.metrics.TurnedDropAudits, w.turnAudit[[2]int{c, s}])
					delete(w.turnAudit, [2]int{c, s})
				}
			}
			continue
		}
		kept = append(kept, s)
	}
	w.suppliers[c] = kept
}

// misbehave plays the malicious roles' own events for round r.
func (w *World) misbehave(r int) {
	var collective, sybils []int
	for i, n := range w.Nodes {
		switch {
		case n.Role == Collective && n.Active:
			collective = append(collective, i)
		case n.Role == Sybil:
			sybils = append(sybils, i)
		}
	}
	pick := func(set []int, not int) int {
		for {
			if s := set[w.rng.Intn(len(set))]; s != not || len(set) == 1 {
				return s
			}
		}
	}
	for i, n := range w.Nodes {
		switch {
		case (n.Role == Collective || n.Role == Spy) && len(collective) > 1:
			for k := 0; k < w.cfg.Slots; k++ {
				if s := pick(collective, i); s != i {
					w.vouch(i, s)
				}
			}
		case n.Role == Sybil && len(sybils) > 1:
			// Each sybil vouches for one of its next three ring neighbours: a dense region that
			// only vouches for itself.
			pos := sort.SearchInts(sybils, i)
			if s := sybils[(pos+1+w.rng.Intn(3))%len(sybils)]; s != i {
				w.vouch(i, s)
			}
		case n.Role == Whitewash && n.Active && n.drops >= 3:
			n.Active = false // leaves, and comes back as a fresh identity with the same behaviour
			w.add(Whitewash, n.Reliability, "")
		}
	}
}

func (w *World) index(k ledger.PubKey) int {
	for i, n := range w.Nodes {
		if n.Key == k {
			return i
		}
	}
	panic("chooser returned an unknown node")
}

func (w *World) finalMetrics() {
	var observers []int
	for i := range w.Nodes {
		if w.honestObserver(i) && len(observers) < 5 {
			observers = append(observers, i)
		}
	}
	sybilMass, corr := 0.0, 0.0
	for _, o := range observers {
		sybilMass += w.chooser.SybilMass(w, o)
		corr += w.rankCorrelation(o)
	}
	if len(observers) > 0 {
		w.metrics.SybilMass = sybilMass / float64(len(observers))
		w.metrics.RankCorrelation = corr / float64(len(observers))
	}
	for _, n := range w.turnAudit { // turned suppliers still in use: never dropped (order-free count)
		if n > 0 {
			w.metrics.TurnedDropAudits = append(w.metrics.TurnedDropAudits, -1)
		}
	}
	sort.Ints(w.metrics.TurnedDropAudits)
}
