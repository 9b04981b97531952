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
	drops       int // times dropped (whitewashers re-register once dropped)
	Joined      int // the round it registered (0: at the start)
	// Newcomer marks an honest node that joined during the run: the vetting metric follows it.
	Newcomer bool
	// PaysToEnter: a node that is no customer of its own pays an honest supplier for one contract
	// when it appears, so that it has evidence from a node others trust and is no stranger (§5).
	PaysToEnter bool
	paid        bool
}

// reliability is the chance to pass an audit at round r.
func (n *Node) reliability(r int) float64 {
	if n.TurnAt > 0 && r >= n.TurnAt {
		return n.TurnTo
	}
	return n.Reliability
}

func (n *Node) isBad(r int) bool { return n.reliability(r) < 0.95 } // honest suppliers are 0.98..1

// honestSupplier reports whether n is an honest node that stays reliable for the whole run: the
// suppliers of the honest-pairs metric.
func (n *Node) honestSupplier(rounds int) bool {
	return n.Role == Honest && !n.isBad(0) && !n.isBad(rounds)
}

// Config sizes a run.
type Config struct {
	Nodes   int // initial nodes
	Rounds  int
	Slots   int // suppliers each honest customer keeps
	Refresh int // rounds between recomputing each customer's PageRank view
	Seed    int64
	// Term is a contract's length in rounds: at its end the contract expires (a countersigned
	// success) and the customer places that slot anew, as a customer storing new data does.
	// The first contracts get terms spread over 1..Term so renewals do not come in waves.
	// 0: contracts run until the customer drops the supplier.
	Term int
	// Capacity is how many contracts a supplier holds at once (the space it donates): a full
	// supplier is no candidate. 0: unlimited.
	Capacity int
}

// Metrics are what one run measured (honest customers only).
type Metrics struct {
	Placements, BadPlacements    int
	HonestPlacements, WrongDrops int
	Audits, FailedAudits         int
	// Steady counts the same from the steady-state round on (a third of the run): bootstrap,
	// when nobody is vetted yet and every choice is a guess, is left out.
	Steady struct{ Placements, BadPlacements, Audits, FailedAudits int }
	// HonestPairs is the number of (honest customer, honest supplier) pairs; PairsDropped those in
	// which the customer ever dropped the supplier or held it ineligible (checked at every refresh).
	HonestPairs, PairsDropped int
	// AvoidedPairs of AvoidChecks: at each refresh in steady state, the (honest customer,
	// honest supplier) pairs checked and those in which the customer's view avoided the supplier
	// on others' word (eligible, never tried: Score.Avoided, without its own vetting evidence).
	AvoidChecks, AvoidedPairs int
	TurnedDropAudits          []int   // per customer that used a turned supplier: its audits after the turn until it dropped it (-1: never)
	SybilMass                 float64 // sybils' share of honest observers' trust mass (averaged)
	SybilScoreShare           float64 // sybils' share of the sum of honest observers' published scores (averaged)
	RankCorrelation           float64 // Spearman: an honest observer's scores vs true reliability
	// VettingPlacements is, per (honest newcomer, sampled honest observer), the placements honest
	// customers made on the newcomer until the observer held it vetted (-1: not by the end);
	// VettingRounds the rounds from its registration.
	VettingPlacements, VettingRounds []int
}

func (m Metrics) BadShare() float64  { return ratio(m.BadPlacements, m.Placements) }
func (m Metrics) FailShare() float64 { return ratio(m.FailedAudits, m.Audits) }
func (m Metrics) WrongDropRate() float64 {
	return ratio(m.WrongDrops, m.HonestPlacements)
}
func (m Metrics) SteadyBadShare() float64  { return ratio(m.Steady.BadPlacements, m.Steady.Placements) }
func (m Metrics) SteadyFailShare() float64 { return ratio(m.Steady.FailedAudits, m.Steady.Audits) }
func (m Metrics) AvoidedShare() float64    { return ratio(m.AvoidedPairs, m.AvoidChecks) }
func (m Metrics) PairsDroppedShare() float64 {
	return ratio(m.PairsDropped, m.HonestPairs)
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
	suppliers map[int][]int     // honest customer → current suppliers (node indexes)
	placement map[int]uint64    // customer → supplier slots it has filled (the newcomer budget's counter)
	vouched   map[[2]int]bool   // contracts opened by vouching roles
	turnAudit map[[2]int]int    // (customer, supplier) → audits since the supplier turned
	until     map[[2]int]int    // (customer, supplier) → the round its contract expires
	load      map[int]int       // supplier → contracts it holds
	served    map[[2]int][2]int // (customer, supplier) → audits passed and failed in the current contract
	chooser   Chooser
	metrics   Metrics
	nextKey   uint64
	round     int
	// newcomerEvery: an honest newcomer joins every so many rounds (0: none), until two thirds
	// of the run, so the last ones still have time to be vetted.
	newcomerEvery int
	// slander: collective members and spies each open one real contract with a few honest
	// suppliers and then report every round's audit of them as failed (unilateral claims that
	// count, since the contract is countersigned).
	slander bool
	// payToEnter: each whitewasher identity first pays an honest supplier for a contract, so
	// that it has countersigned evidence from a node others trust and is no stranger (§5).
	payToEnter bool
	slandered  map[int][]int   // slanderer → its targets
	heldOut    map[[2]int]bool // (honest customer, honest supplier) dropped or held ineligible
	vetting    []*vettingTrack
	observers  []int // the sampled honest observers of the vetting and score metrics
}

// vettingTrack follows one honest newcomer until each sampled observer holds it vetted.
type vettingTrack struct {
	node, joinedRound int
	placements        int            // honest customers' placements on it so far
	vettedAt          map[int][2]int // observer → (placements, rounds) to vetting
}

func newWorld(cfg Config, ch Chooser) *World {
	e, err := reputation.NewEngine(reputation.DefaultPolicy())
	if err != nil {
		panic(err) // the default policy is valid; TestPolicyValidate checks it
	}
	return &World{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), engine: e, suppliers: map[int][]int{},
		placement: map[int]uint64{}, vouched: map[[2]int]bool{}, turnAudit: map[[2]int]int{}, chooser: ch,
		heldOut: map[[2]int]bool{}, slandered: map[int][]int{}, until: map[[2]int]int{}, load: map[int]int{}, served: map[[2]int][2]int{}}
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
	w.Nodes = append(w.Nodes, &Node{Key: k, Role: role, Reliability: reliability, Network: network, Active: true, Joined: w.round})
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

// pay: the customer pays for a contract when it opens it, and the supplier acknowledges the
// payment (a countersigned fact about the payer: x paid j).
func (w *World) pay(c, s int) {
	w.emit(w.Nodes[c].Key, w.Nodes[s].Key, &ledger.Payment{Payer: w.Nodes[c].Key, Payee: w.Nodes[s].Key, Amount: 1})
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

// customers are the nodes that place real data: everyone but sybils, whitewashers and the collective.
func (w *World) isCustomer(i int) bool {
	r := w.Nodes[i].Role
	return w.Nodes[i].Active && r != Sybil && r != Whitewash && r != Collective
}

// honestObserver reports whether i's decisions count in the metrics.
func (w *World) honestObserver(i int) bool { return w.Nodes[i].Role == Honest && w.Nodes[i].Active }

// Run plays the rounds.
func (w *World) Run() Metrics {
	for i := range w.Nodes {
		if w.honestObserver(i) && len(w.observers) < 5 {
			w.observers = append(w.observers, i)
		}
	}
	for r := 0; r < w.cfg.Rounds; r++ {
		w.round = r
		if w.newcomerEvery > 0 && r > 0 && r%w.newcomerEvery == 0 && r <= 2*w.cfg.Rounds/3 {
			i := w.add(Honest, honestReliability(w), "")
			w.Nodes[i].Newcomer = true
			w.vetting = append(w.vetting, &vettingTrack{node: i, joinedRound: r, vettedAt: map[int][2]int{}})
		}
		if r%w.cfg.Refresh == 0 {
			w.chooser.Refresh(w.engine, w)
			w.checkViews(r)
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

// steady reports whether round r counts in the steady-state figures.
func (w *World) steady(r int) bool { return r >= w.cfg.Rounds/3 }

// checkViews records, at a refresh, which honest suppliers each honest customer holds
// ineligible, and which honest newcomers the sampled observers now hold vetted.
func (w *World) checkViews(r int) {
	honestSuppliers := 0 // the honest suppliers each honest customer's check covers, itself aside
	for _, n := range w.Nodes {
		if n.honestSupplier(w.cfg.Rounds) {
			honestSuppliers++
		}
	}
	for c, nc := range w.Nodes {
		if !w.honestObserver(c) {
			continue
		}
		for _, k := range w.chooser.HeldIneligible(w, c) {
			if s := w.index(k); w.Nodes[s].honestSupplier(w.cfg.Rounds) {
				w.heldOut[[2]int{c, s}] = true
			}
		}
		if w.steady(r) {
			w.metrics.AvoidChecks += honestSuppliers
			if nc.honestSupplier(w.cfg.Rounds) {
				w.metrics.AvoidChecks--
			}
			for _, k := range w.chooser.Avoided(w, c) {
				if s := w.index(k); w.Nodes[s].honestSupplier(w.cfg.Rounds) {
					w.metrics.AvoidedPairs++
				}
			}
		}
	}
	for _, tr := range w.vetting {
		for _, o := range w.observers {
			if _, done := tr.vettedAt[o]; done {
				continue
			}
			if w.chooser.Vetted(w, o, w.Nodes[tr.node].Key) {
				tr.vettedAt[o] = [2]int{tr.placements, r - tr.joinedRound}
			}
		}
	}
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
			if i != c && n.Active && !current[i] && (w.cfg.Capacity == 0 || w.load[i] < w.cfg.Capacity) {
				cands = append(cands, reputation.Candidate{Node: n.Key, Network: n.Network})
			}
		}
		chosen := w.chooser.Choose(w, c, cands, need, w.placement[c])
		w.placement[c] += uint64(len(chosen))
		for _, k := range chosen {
			s := w.index(k)
			w.suppliers[c] = append(w.suppliers[c], s)
			w.load[s]++
			w.contract(c, s)
			w.pay(c, s)
			if t := w.cfg.Term; t > 0 {
				term := t
				if r == 0 {
					term = 1 + w.rng.Intn(t)
				}
				w.until[[2]int{c, s}] = r + term
			}
			if honest {
				w.metrics.Placements++
				bad := w.Nodes[s].isBad(r)
				if bad {
					w.metrics.BadPlacements++
				} else {
					w.metrics.HonestPlacements++
				}
				if w.steady(r) {
					w.metrics.Steady.Placements++
					if bad {
						w.metrics.Steady.BadPlacements++
					}
				}
				if w.Nodes[s].Newcomer {
					for _, tr := range w.vetting {
						if tr.node == s {
							tr.placements++
						}
					}
				}
			}
		}
	}
	kept := w.suppliers[c][:0]
	for _, s := range w.suppliers[c] {
		pass := w.rng.Float64() < w.Nodes[s].reliability(r)
		if w.Nodes[c].Role == Slanderer {
			pass = false // a slanderer reports every audit as failed
		}
		w.audit(c, s, pass)
		sv := w.served[[2]int{c, s}]
		if pass {
			sv[0]++
		} else {
			sv[1]++
		}
		w.served[[2]int{c, s}] = sv
		if honest {
			w.metrics.Audits++
			if !pass {
				w.metrics.FailedAudits++
			}
			if w.steady(r) {
				w.metrics.Steady.Audits++
				if !pass {
					w.metrics.Steady.FailedAudits++
				}
			}
			if t := w.Nodes[s].TurnAt; t > 0 && r >= t {
				w.turnAudit[[2]int{c, s}]++
			}
		}
		slanderer := w.Nodes[c].Role == Slanderer // keeps its suppliers, to keep slandering them
		if !w.Nodes[s].Active || (!slanderer && w.chooser.ShouldDrop(w, c, w.Nodes[s].Key)) {
			w.closeContract(c, s, ledger.CloseFired)
			w.Nodes[s].drops++
			if honest {
				if !w.Nodes[s].isBad(r) && w.Nodes[s].Active {
					w.metrics.WrongDrops++
				}
				if w.Nodes[s].Active && w.Nodes[s].honestSupplier(w.cfg.Rounds) {
					w.heldOut[[2]int{c, s}] = true
				}
				if t := w.Nodes[s].TurnAt; t > 0 && r >= t {
					w.metrics.TurnedDropAudits = append(w.metrics.TurnedDropAudits, w.turnAudit[[2]int{c, s}])
					delete(w.turnAudit, [2]int{c, s})
				}
			}
			continue
		}
		if end, ok := w.until[[2]int{c, s}]; ok && r >= end {
			// Both sign a contract's completion only if it was served at the reliable standard
			// (at most a tenth of its audits failed); otherwise the customer ends it as fired.
			reason := ledger.CloseExpired
			if sv[1]*10 > sv[0]+sv[1] {
				reason = ledger.CloseFired
			}
			w.closeContract(c, s, reason)
			continue
		}
		kept = append(kept, s)
	}
	w.suppliers[c] = kept
}

// closeContract ends c's contract with s for reason: the supplier's capacity is free again.
func (w *World) closeContract(c, s int, reason ledger.CloseReason) {
	delete(w.until, [2]int{c, s})
	delete(w.served, [2]int{c, s})
	w.load[s]--
	w.emit(w.Nodes[s].Key, w.Nodes[c].Key, &ledger.ContractClose{Customer: w.Nodes[c].Key, Supplier: w.Nodes[s].Key, Reason: reason})
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
		if n.PaysToEnter && n.Active && !n.paid {
			if s := w.randomHonest(); s >= 0 {
				n.paid = true
				w.contract(i, s)
				w.pay(i, s)
			}
		}
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
		case n.Role == Whitewash && n.Active && n.drops >= 1:
			n.Active = false // leaves at its first drop, and comes back as a fresh identity
			w.Nodes[w.add(Whitewash, n.Reliability, "")].PaysToEnter = n.PaysToEnter
		}
		if w.slander && (n.Role == Collective || n.Role == Spy) {
			w.slanderHonest(i)
		}
	}
}

// activeHonest lists the active honest nodes, in index order.
func (w *World) activeHonest() []int {
	var honest []int
	for k, n := range w.Nodes {
		if n.Role == Honest && n.Active {
			honest = append(honest, k)
		}
	}
	return honest
}

// randomHonest returns an active honest node, or -1 if there is none.
func (w *World) randomHonest() int {
	honest := w.activeHonest()
	if len(honest) == 0 {
		return -1
	}
	return honest[w.rng.Intn(len(honest))]
}

// slanderTargets is how many honest suppliers each slanderer of a collective targets.
const slanderTargets = 8

// slanderHonest: slanderer i contracts once with its targets (honest suppliers accept anyone)
// and files a failed audit against each of them every round.
func (w *World) slanderHonest(i int) {
	if _, ok := w.slandered[i]; !ok {
		honest := w.activeHonest()
		for _, k := range w.rng.Perm(len(honest))[:min(slanderTargets, len(honest))] {
			w.slandered[i] = append(w.slandered[i], honest[k])
			w.contract(i, honest[k])
			w.pay(i, honest[k])
		}
	}
	for _, s := range w.slandered[i] {
		w.audit(i, s, false)
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
	observers := w.observers
	sybilMass, sybilScores, corr := 0.0, 0.0, 0.0
	for _, o := range observers {
		mass, scores := w.chooser.SybilShares(w, o)
		sybilMass += mass
		sybilScores += scores
		corr += w.rankCorrelation(o)
	}
	if len(observers) > 0 {
		w.metrics.SybilMass = sybilMass / float64(len(observers))
		w.metrics.SybilScoreShare = sybilScores / float64(len(observers))
		w.metrics.RankCorrelation = corr / float64(len(observers))
	}
	for c, nc := range w.Nodes {
		if nc.Role != Honest {
			continue
		}
		for s, ns := range w.Nodes {
			if s != c && ns.honestSupplier(w.cfg.Rounds) {
				w.metrics.HonestPairs++
				if w.heldOut[[2]int{c, s}] {
					w.metrics.PairsDropped++
				}
			}
		}
	}
	for _, tr := range w.vetting {
		for _, o := range observers {
			at, ok := tr.vettedAt[o]
			if !ok {
				at = [2]int{-1, -1}
			}
			w.metrics.VettingPlacements = append(w.metrics.VettingPlacements, at[0])
			w.metrics.VettingRounds = append(w.metrics.VettingRounds, at[1])
		}
	}
	sort.Ints(w.metrics.VettingPlacements)
	sort.Ints(w.metrics.VettingRounds)
	for _, n := range w.turnAudit { // turned suppliers still in use: never dropped (order-free count)
		if n > 0 {
			w.metrics.TurnedDropAudits = append(w.metrics.TurnedDropAudits, -1)
		}
	}
	sort.Ints(w.metrics.TurnedDropAudits)
}
