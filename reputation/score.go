package reputation

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/trustledger/trustledger/ledger"
)

// Score is one subject's trust from one observer's viewpoint, with its parts (T-5).
type Score struct {
	Subject    ledger.PubKey `json:"subject"`
	Score      float64       `json:"score"`
	Confidence float64       `json:"confidence"`
	// Rate is the evidence-weighted success rate, direct and recommended, without the baseline
	// (the baseline when there is no evidence): what the hire threshold compares (§4, §5).
	Rate float64 `json:"rate"`
	// Status says what the observer may do with the subject (§4.6): StatusVetted,
	// StatusNewcomer and StatusStranger are eligible (the last two only within the newcomer
	// budget), StatusDropped and StatusProven are not; StatusSelf is the observer.
	Status   string `json:"status"`
	Vetted   bool   `json:"vetted"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason,omitempty"` // what the status means here, in words
	// Avoided: eligible, but the supplier policy does not try it: its rate is at or below the
	// unreliable standard and so is most of the evidence of its service (§4.7), the
	// observer's own deciding once it vets the subject alone.
	Avoided bool   `json:"avoided,omitempty"`
	Proof   *Proof `json:"proof,omitempty"`
	// Trust is the subject's personalised PageRank mass from the observer (sums to 1 over nodes).
	Trust float64 `json:"trust_mass"`
	// PublicShare is the share of the observer's PageRank restart spread over every node
	// because its own experience is still short of VettingEvidence (§3.1): 0 for an observer
	// with experience or anchors.
	PublicShare    float64        `json:"public_share,omitempty"`
	Direct         *Direct        `json:"direct,omitempty"`
	Recommendation *Recommended   `json:"recommendation,omitempty"`
	Recommenders   []Recommender  `json:"recommenders,omitempty"`
	Ignored        []IgnoredClaim `json:"ignored,omitempty"`
}

// The statuses of a Score (§4.6).
const (
	StatusSelf     = "self"     // the observer itself
	StatusProven   = "proven"   // objective evidence of misbehaviour: ineligible for everyone
	StatusDropped  = "dropped"  // the observer's own experience dropped it: ineligible for the observer
	StatusVetted   = "vetted"   // enough evidence to be ranked by its score
	StatusNewcomer = "newcomer" // some evidence, not enough: hired only within the newcomer budget
	StatusStranger = "stranger" // no evidence from the observer or anyone it trusts: the entry share
)

// Direct is the observer's own experience of the subject.
type Direct struct {
	// DropEvidence is the drop rule's statistic (§2.1): how strongly the observer's own
	// observations favour "unreliable" over "reliable" (a log-likelihood ratio, never below 0);
	// the observer drops the subject when it reaches ln(DropOdds).
	DropEvidence float64 `json:"drop_evidence"`
	Dropped      bool    `json:"dropped"`
	// Rate is the evidence-only success rate.
	Rate     float64 `json:"rate"`
	Evidence float64 `json:"evidence"`
	Counts   Counts  `json:"counts"`
}

// Recommended is what others the observer trusts have seen.
type Recommended struct {
	Rate float64 `json:"rate"`
	Mass float64 `json:"mass"`
}

// Recommender is one node whose experience contributed, with its weight in the observer's view.
type Recommender struct {
	Node     ledger.PubKey `json:"node"`
	Weight   float64       `json:"weight"`
	Rate     float64       `json:"rate"`
	Evidence float64       `json:"evidence"`
	Counts   Counts        `json:"counts"`
	// Dropped: its own drop rule dropped the subject, so its rate counts as 0. DropEvidence is
	// its drop statistic (§2.1); more than halfway to the drop level, its rate counts less
	// (§4.3), and Rate is the rate as counted.
	Dropped      bool    `json:"dropped,omitempty"`
	DropEvidence float64 `json:"drop_evidence,omitempty"`
	// Conflicts is how far its records contradict the observer's own verdicts, in pairs' worth
	// of evidence (§4.3); its weight is discounted by 1/(1 + ConflictPenalty·Conflicts).
	Conflicts float64 `json:"conflicts,omitempty"`
}

// IgnoredClaim is a unilateral claim that carried no weight (its author had no countersigned
// history with the subject), shown so the explanation is complete.
type IgnoredClaim struct {
	Node   ledger.PubKey `json:"node"`
	Claims uint64        `json:"claims"`
}

// ErrStaleView is returned by a View's methods once the engine has applied events since the
// view was computed: the view reads the engine's state, which those events changed. Take a new
// View (cheap: warm-started); a caller that holds views across blocks checks with errors.Is.
var ErrStaleView = errors.New("the view is stale: the engine applied events since it was computed; take a new view")

// View is one observer's trust in everyone, computed from the engine at one point of history.
// It answers for that point only: once the engine applies another event its methods return
// ErrStaleView instead of mixing two points of history. Like the Engine, it is not safe for use
// concurrently with Apply; the node reads views under the lock that guards the engine.
type View struct {
	e        *Engine
	observer ledger.PubKey
	o        int32 // -1 if the observer has no history
	t        []float64
	wmax     float64
	// typical is the trust mass of a typical trusted node: half of the mass (the observer's
	// own aside) sits on nodes holding at least this much (§4.5).
	typical float64
	// public is the share of the observer's restart spread over everyone: 1 for an observer
	// without experience or anchors, 0 once its own evidence reaches VettingEvidence (§3.1).
	public float64
	// conflicts is, per recommender, how far its records contradict the observer's own
	// verdicts (§4.3); absent means not at all.
	conflicts map[int32]float64
	version   uint64
	all       []Score // All's answer, once asked
}

// View computes the observer's personalised PageRank over the current history (§3), warm-started
// from the observer's previous vector.
func (e *Engine) View(observer ledger.PubKey) *View {
	v := &View{e: e, observer: observer, o: -1, version: e.version}
	if i, ok := e.index[observer]; ok {
		v.o = i
	}
	v.conflicts = e.conflicts(v.o)
	v.t, v.public = e.pagerank(observer, v.o, v.conflicts)
	for i, t := range v.t {
		if int32(i) != v.o && t > v.wmax {
			v.wmax = t
		}
	}
	v.typical = typicalMass(v.t, v.o, scratch(&e.massBuf, len(v.t))[:0])
	return v
}

// conflicts measures, for each node j, how far j's records contradict the observer's own
// verdicts (§4.3), in pairs' worth of evidence (a pair counts at most EdgeCap observations, as
// everywhere): for each subject o dropped, the trust j's record of it carries (its evidence at
// better than the unreliable standard, as an edge of §3 weighs it); for each subject o vouches
// for (its own evidence reaches VettingEvidence at a success rate meeting the hire threshold),
// the distrust j's record of it carries (all of it when j dropped it, else its evidence in
// proportion to how far its success rate falls below the unreliable standard). Records of
// honest nodes about the same supplier rarely contradict each other that far, while a node that
// vouches with fake service for members of a collective, or slanders suppliers the observer
// knows to be good, contradicts every observer that has tried them. It costs the in-pairs of
// the observer's own subjects.
func (e *Engine) conflicts(o int32) map[int32]float64 {
	if o < 0 || e.policy.ConflictPenalty == 0 {
		return nil
	}
	pol := e.policy
	floor := 1 - pol.UnreliableFailure
	var out map[int32]float64
	for _, pi := range e.nodes[o].out {
		p := &e.pairs[pi]
		dropped := e.dropped(p)
		vouches := !dropped && p.n >= pol.VettingEvidence && p.rate() >= pol.HireThreshold
		if !dropped && !vouches {
			continue
		}
		for _, qi := range e.nodes[p.x].in {
			q := &e.pairs[qi]
			if q.j == o || q.n <= 0 {
				continue
			}
			amount := 0.0
			switch {
			case dropped:
				amount = e.edgeWeight(q)
			case e.dropped(q):
				amount = math.Min(q.n, pol.EdgeCap)
			case q.rate() < floor:
				amount = float64((floor-q.rate())/floor) * math.Min(q.n, pol.EdgeCap)
			}
			if amount > 0 {
				if out == nil {
					out = map[int32]float64{}
				}
				out[q.j] += amount / pol.EdgeCap
			}
		}
	}
	return out
}

// credibility is the factor by which j's recommendations are discounted in this view (§4.3),
// and j's conflicts with the observer.
func (v *View) credibility(j int32) (float64, float64) {
	c := v.conflicts[j]
	if c == 0 {
		return 1, 0
	}
	return v.e.policy.credibility(c), c
}

// credibility is the factor 1/(1 + ConflictPenalty·c) by which a recommender with conflicts c
// is discounted (§4.3), in its recommendations and in the mass it forwards (§3).
func (p Policy) credibility(c float64) float64 {
	return 1 / float64(1+float64(p.ConflictPenalty*c))
}

// typicalMass is the mass-weighted median of t over the nodes other than o: the mass of the
// node at which, going down from the most trusted, half of their total mass is reached. Many
// identities with little mass each (a sybil region) do not move it; only mass does.
// masses is scratch room for len(t) values.
func typicalMass(t []float64, o int32, masses []float64) float64 {
	total := 0.0
	for i, x := range t {
		if int32(i) != o && x > 0 {
			masses = append(masses, x)
			total += x
		}
	}
	return weightedMedian(masses, total/2)
}

// weightedMedian returns the value x of a such that the elements above x sum to less than half
// and those at x or above to half or more, where half is half the sum of a (all positive). It is
// a quickselect, O(len(a)) expected rather than a sort's O(n log n): a view at 100k nodes pays
// it on every computation. It reorders a. The pivot is the median of three, so equal inputs
// give equal answers.
func weightedMedian(a []float64, half float64) float64 {
	above := 0.0 // the sum of the elements already known to be above the remaining window
	for len(a) > 0 {
		p := medianOfThree(a[0], a[len(a)/2], a[len(a)-1])
		// Three-way partition: a[:gt] > p, a[gt:lt] == p, a[lt:] < p.
		gt, i, lt := 0, 0, len(a)
		sumGT, sumEQ := 0.0, 0.0
		for i < lt {
			switch x := a[i]; {
			case x > p:
				a[gt], a[i] = a[i], a[gt]
				sumGT += x
				gt++
				i++
			case x < p:
				lt--
				a[lt], a[i] = a[i], a[lt]
			default:
				sumEQ += x
				i++
			}
		}
		switch {
		case above+sumGT >= half:
			a = a[:gt]
		case above+sumGT+sumEQ >= half:
			return p
		default:
			above += sumGT + sumEQ
			a = a[lt:]
		}
	}
	return 0
}

func medianOfThree(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return math.Max(a, b)
}

// Rescore returns a fresh view of v's observer that keeps v's PageRank vector (the trust mass
// of each node, zero for nodes that appeared since) and reads the engine's current evidence:
// direct experience, recommenders' rates and proofs are current, transitive trust is as of v.
// It costs O(nodes), not a PageRank computation: for a caller that recomputes PageRank only
// every so often (the simulator's Refresh) and still answers from the latest events.
func (e *Engine) Rescore(v *View) *View {
	t := make([]float64, len(e.nodes))
	copy(t, v.t)
	nv := &View{e: e, observer: v.observer, o: -1, t: t, wmax: v.wmax, typical: v.typical, public: v.public, version: e.version}
	if i, ok := e.index[v.observer]; ok {
		nv.o = i
	}
	nv.conflicts = e.conflicts(nv.o)
	return nv
}

// edgeWeight is c(j,k) of §3: only net-positive experience, volume capped.
func (e *Engine) edgeWeight(p *pairState) float64 {
	if p.n <= 0 || e.dropped(p) {
		return 0
	}
	// Only service at the reliable standard propagates: 0 at a success rate of
	// 1-UnreliableFailure or less (a supplier failing a tenth of its audits passes on no
	// trust, however much it serves), 1 at a perfect record.
	floor := 1 - e.policy.UnreliableFailure
	pos := (p.rate() - floor) / (1 - floor) // not UnreliableFailure: a perfect record is exactly 1
	if pos <= 0 {
		return 0
	}
	return float64(pos * math.Min(p.n, e.policy.EdgeCap))
}

// refreshRows brings the engine's normalised out-edge rows up to date: a row is rebuilt when one
// of its node's pairs changed since the last view (Apply marks it), so a block of events costs
// the rows it touched, not every edge. The weights are those a full rebuild gives, bit for bit:
// the same edges in the same order, each divided by the same row sum.
func (e *Engine) refreshRows() {
	for len(e.rowDst) < len(e.nodes) {
		e.rowDst, e.rowWgt, e.rowFresh = append(e.rowDst, nil), append(e.rowWgt, nil), append(e.rowFresh, false)
	}
	for j := range e.nodes {
		if e.rowFresh[j] {
			continue
		}
		dst, wgt, row := e.rowDst[j][:0], e.rowWgt[j][:0], 0.0
		for _, pi := range e.nodes[j].out {
			p := &e.pairs[pi]
			if w := e.edgeWeight(p); w > 0 {
				dst = append(dst, p.x)
				wgt = append(wgt, w)
				row += w
			}
		}
		for k := range wgt {
			wgt[k] /= row
		}
		e.rowDst[j], e.rowWgt[j], e.rowFresh[j] = dst, wgt, true
	}
}

// pagerank returns the observer's trust vector and the share of its restart spread over
// everyone (the cold start of §3.1).
func (e *Engine) pagerank(observer ledger.PubKey, o int32, conflicts map[int32]float64) ([]float64, float64) {
	n := len(e.nodes)
	t := make([]float64, n)
	if n == 0 {
		return t, 0
	}
	restart := scratch(&e.restartBuf, n)
	var seeds []int32
	if o >= 0 {
		seeds = append(seeds, o)
	}
	for _, a := range e.policy.Anchors {
		if i, ok := e.index[a]; ok && i != o {
			seeds = append(seeds, i)
		}
	}
	// Cold start (§3.1): an observer without anchors and with less trust-carrying experience of
	// its own than VettingEvidence (failures teach it whom not to trust, not whom to trust)
	// restarts partly at everyone else, in proportion to the experience it lacks.
	own := 0.0 // the restart share of the observer and its anchors
	switch {
	case len(seeds) > 0 && (o < 0 || len(seeds) > 1):
		own = 1 // anchors the observer named stand in for the public
	case o >= 0:
		ev := 0.0 // experience that carries trust: service at the reliable standard (§3)
		for _, pi := range e.nodes[o].out {
			ev += e.edgeWeight(&e.pairs[pi])
		}
		own = math.Min(1, ev/e.policy.VettingEvidence)
	}
	others := n
	if o >= 0 {
		others--
	}
	if own == 0 && others == 0 {
		return t, 0
	}
	for _, s := range seeds {
		restart[s] = float64(own / float64(len(seeds)))
	}
	if own < 1 {
		share := float64((1 - own) / float64(others))
		for i := range restart {
			if int32(i) != o {
				restart[i] += share
			}
		}
	}
	// Normalised edges, one row per node, kept between views and rebuilt only for the nodes
	// whose pairs changed since (§3): each iteration is then one multiply-add per edge, in
	// node-index then insertion order (T-4).
	e.refreshRows()
	dst, wgt := e.rowDst, e.rowWgt
	prev, warm := e.warm.Get(observer)
	warm = warm && len(prev) <= n
	if warm {
		copy(t, prev)
	} else {
		copy(t, restart)
	}
	a := e.policy.Restart
	next := scratch(&e.nextBuf, n)
	// A recommender whose records contradict the observer's own verdicts passes on only its
	// credibility's share of its mass (§3, §4.3); the rest returns to the restart, as a
	// dangling node's does.
	pass := e.passShares(conflicts, n)
	for iter := 0; iter < e.policy.MaxIterations; iter++ {
		for i := range next {
			next[i] = 0
		}
		dangling := 0.0
		for j := 0; j < n; j++ {
			tj := t[j]
			if tj == 0 {
				continue
			}
			row, w := dst[j], wgt[j]
			if len(row) == 0 {
				dangling += tj
				continue
			}
			if pass != nil && pass[j] < 1 {
				dangling += float64(tj * (1 - pass[j]))
				tj = float64(tj * pass[j])
			}
			for k, x := range row {
				next[x] += float64(tj * w[k])
			}
		}
		back := float64(a) + float64((1-a)*dangling)
		diff := 0.0
		for i := range next {
			v := float64((1-a)*next[i]) + float64(back*restart[i])
			diff += math.Abs(v - t[i])
			t[i] = v
		}
		if diff < convergence {
			break
		}
	}
	// A node no positive edge path reaches from the restart has no trust at all: clear what a
	// warm start left there (mass decays geometrically towards 0 but never gets there), so
	// "no path" is exactly 0 (§3). From a cold start such a node never received any, and when
	// every node has a share of the restart (a public share, with some of the observer's own
	// too, or without an observer) every node is reached: nothing to clear.
	if everyRestarts := own < 1 && (o < 0 || own > 0); warm && !everyRestarts {
		clearUnreached(t, restart, dst)
	}
	e.sizeWarm(n)
	e.warm.Add(observer, t) // nothing writes a view's t once it is made
	return t, float64(1 - own)
}

// passShares is, per node, the share of its mass it passes on in the observer's PageRank: its
// credibility (§4.3), 1 for every node without conflicts. nil when no node has any.
func (e *Engine) passShares(conflicts map[int32]float64, n int) []float64 {
	if len(conflicts) == 0 {
		return nil
	}
	pass := scratch(&e.passBuf, n)
	for i := range pass {
		pass[i] = 1
	}
	for j, c := range conflicts { // each entry sets its own node: the order does not matter
		if int(j) < n {
			pass[j] = e.policy.credibility(c)
		}
	}
	return pass
}

// clearUnreached zeroes t on the nodes that no edge path of rows reaches from a node with a
// positive restart.
func clearUnreached(t, restart []float64, rows [][]int32) {
	n := len(t)
	reached := make([]bool, n)
	queue := make([]int32, 0, n)
	for i, r := range restart {
		if r > 0 {
			reached[i] = true
			queue = append(queue, int32(i))
		}
	}
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		for _, x := range rows[j] {
			if !reached[x] {
				reached[x] = true
				queue = append(queue, x)
			}
		}
	}
	for i := range t {
		if !reached[i] {
			t[i] = 0
		}
	}
}

// convergence is the L1 change at which PageRank iteration stops.
const convergence = 1e-10

// Observer is the key the view was computed for.
func (v *View) Observer() ledger.PubKey { return v.observer }

// Stale reports whether the engine has ingested events since the view was computed.
func (v *View) Stale() bool { return v.version != v.e.version }

// fresh returns ErrStaleView, wrapped with the observer, once the view is stale.
func (v *View) fresh() error {
	if v.Stale() {
		return fmt.Errorf("view of %s: %w", ShortName(v.observer), ErrStaleView)
	}
	return nil
}

// Score returns the subject's score from the observer's viewpoint (§4), or ErrStaleView.
func (v *View) Score(subject ledger.PubKey) (Score, error) {
	if err := v.fresh(); err != nil {
		return Score{}, err
	}
	return v.scoreOf(subject), nil
}

// scoreOf is Score on a view known to be fresh.
func (v *View) scoreOf(subject ledger.PubKey) Score {
	x, ok := v.e.index[subject]
	if !ok {
		return v.newcomer(subject)
	}
	return v.score(x, true)
}

func (v *View) newcomer(subject ledger.PubKey) Score {
	p := v.e.policy
	return Score{Subject: subject, Score: p.Baseline, Rate: p.Baseline, Status: StatusStranger, Eligible: true, PublicShare: v.public,
		Reason: "no history yet; hired only within the entry share of the newcomer budget"}
}

func (v *View) score(x int32, explain bool) Score {
	s, _ := v.scoreSums(x, explain, true)
	return s
}

// evidenceSums is what a score is made of: the observer's own evidence of the subject and its
// success rate there, the recommenders' mass and their weighted sum of rates, and the
// observer's own pair with it (nil: none).
type evidenceSums struct {
	nDirect, qDirect, mass, sum float64
	own                         *pairState
}

// sums adds up the evidence of node x; with s not nil (an explanation) it records the parts in
// s: the observer's own, each recommender, the claims ignored.
func (v *View) sums(x int32, s *Score) evidenceSums {
	e := v.e
	node := &e.nodes[x]
	var ev evidenceSums
	for _, pi := range node.in {
		p := &e.pairs[pi]
		if p.counts.Ignored > 0 && s != nil {
			s.Ignored = append(s.Ignored, IgnoredClaim{Node: e.nodes[p.j].key, Claims: p.counts.Ignored})
		}
		if p.j == v.o {
			ev.own = p
		}
		if p.n <= 0 {
			continue
		}
		q := p.rate()
		if p.j == v.o {
			ev.nDirect, ev.qDirect = p.n, q
			if s != nil {
				s.Direct = &Direct{DropEvidence: p.drop, Dropped: e.dropped(p), Rate: q, Evidence: p.n, Counts: p.counts}
			}
			continue
		}
		w, ok := v.recommenderWeight(p)
		if !ok {
			continue
		}
		weight := float64(w * e.counted(p, p.n))
		dropped := e.dropped(p)
		q = e.recommendedRate(p, q)
		ev.mass += weight
		ev.sum += float64(weight * q)
		if s != nil {
			_, conflicts := v.credibility(p.j)
			s.Recommenders = append(s.Recommenders, Recommender{Node: e.nodes[p.j].key, Weight: w, Rate: q, Evidence: p.n, Counts: p.counts, Dropped: dropped, DropEvidence: p.drop, Conflicts: conflicts})
		}
	}
	return ev
}

// counted is how much of pair p's evidence n a recommendation counts (§4.3): at most EdgeCap
// observations, and once j's own drop rule dropped x, no more than its verdict rested on: a
// customer that goes on auditing a supplier it dropped (a slanderer does; an honest customer
// fires it) adds nothing to its verdict's weight.
func (e *Engine) counted(p *pairState, n float64) float64 {
	if p.verdict > 0 && e.dropped(p) {
		n = min(n, float64(p.verdict))
	}
	return math.Min(n, e.policy.EdgeCap)
}

// recommenderWeight is w_j of §4.3 for the recommender of pair p: its trust mass relative to
// the most trusted node's, discounted by its credibility; false when it carries no weight.
func (v *View) recommenderWeight(p *pairState) (float64, bool) {
	if p.j == v.o || v.wmax == 0 || v.t[p.j] == 0 {
		return 0, false
	}
	cred, _ := v.credibility(p.j)
	return float64(v.t[p.j]/v.wmax) * cred, true
}

// recommendedRate is pair p's success rate q as a recommendation counts it (§4.3): 0 once j's
// own drop rule dropped x (its verdict), less the nearer j's drop statistic is to the drop
// level past halfway (its recent audits say x fails, whatever its long record says).
func (e *Engine) recommendedRate(p *pairState, q float64) float64 {
	if e.dropped(p) {
		return 0
	}
	if half := e.dropLevel / 2; p.drop > half {
		return q * float64((e.dropLevel-p.drop)/half)
	}
	return q
}

// avoids reports whether the supplier policy leaves node x, with sums ev and this rate,
// untried (§5), and the share of the evidence of its service at or below the unreliable
// standard: the observer's own success rate decides once its own evidence vets x; before
// that, the rate and most of the evidence of its service must both be at or below the
// standard. When only a minority of that evidence is (one slanderer at full weight among
// honest customers drags the mean down), the observer's own audits decide, within the newcomer
// budget (T-3). The service pass runs only for a rate at or below the standard.
func (v *View) avoids(x int32, ev evidenceSums, rate float64) (bool, float64) {
	pol := v.e.policy
	floor := 1 - pol.UnreliableFailure
	if ev.nDirect >= pol.VettingEvidence {
		return ev.qDirect <= floor, 0
	}
	if rate > floor {
		return false, 0
	}
	service, low := v.serviceSums(x)
	return low > float64(service/2), safeRatio(low, service)
}

// serviceSums adds up the evidence of node x's service, payments left out: the observer's own
// and its recommenders' weighted as in sums, each pair counting its rate as a recommendation
// does, and the part of it whose rate is at or below the unreliable standard.
func (v *View) serviceSums(x int32) (service, low float64) {
	e, pol := v.e, v.e.policy
	for _, pi := range e.nodes[x].in {
		p := &e.pairs[pi]
		n, q := p.service()
		if n == 0 {
			continue
		}
		w := 1.0
		if p.j != v.o {
			var ok bool
			if w, ok = v.recommenderWeight(p); !ok {
				continue
			}
		}
		amount := float64(w * e.counted(p, n))
		service += amount
		if e.recommendedRate(p, q) <= 1-pol.UnreliableFailure {
			low += amount
		}
	}
	return service, low
}

// vets reports whether evidence ev and trust mass vet a node: enough experience of the
// observer's own; or enough evidence with the nodes it trusts and a trust mass of its own near
// that of a typical trusted node. Evidence is not shared out (a recommender vouches for any
// number of nodes with full weight); mass is (a recommender's trust is split among everyone it
// vouches for), so a region that vouches for itself can vet at most as many identities as the
// mass its attack edges bring in (§4.5).
func (v *View) vets(ev evidenceSums, trust float64) bool {
	pol := v.e.policy
	return ev.nDirect >= pol.VettingEvidence ||
		(ev.nDirect+ev.mass >= pol.VettingEvidence && v.typical > 0 && trust >= float64(pol.VettingTrust*v.typical))
}

// isVetted is score(x).Vetted without the rest of the score.
func (v *View) isVetted(x int32) bool {
	if v.e.nodes[x].key == v.observer {
		return false
	}
	trust := 0.0
	if int(x) < len(v.t) {
		trust = v.t[x]
	}
	pol := v.e.policy
	if !(v.typical > 0 && trust >= float64(pol.VettingTrust*v.typical)) {
		// Too little trust mass to be vetted through others: only the observer's own evidence
		// can vet it, and that is one pair, not a pass over all of them.
		i, ok := v.e.pairIdx[uint64(uint32(v.o))<<32|uint64(uint32(x))]
		return ok && v.e.pairs[i].n >= pol.VettingEvidence
	}
	// Enough trust mass: vetted once the evidence, the observer's own and its recommenders'
	// weighted, reaches VettingEvidence. Every part adds, so the pass stops there.
	// The mass is summed in sums' order, so a partial sum never exceeds the whole and the
	// answer is vets' to the last bit.
	e := v.e
	var nDirect, mass float64
	for _, pi := range e.nodes[x].in {
		p := &e.pairs[pi]
		switch {
		case p.n <= 0:
			continue
		case p.j == v.o:
			nDirect = p.n
		default:
			w, ok := v.recommenderWeight(p)
			if !ok {
				continue
			}
			mass += float64(w * e.counted(p, p.n))
		}
		if nDirect >= pol.VettingEvidence || nDirect+mass >= pol.VettingEvidence {
			return true
		}
	}
	return false
}

// scoreSums is score with its sums; without reasons, Reason is left empty (the supplier
// policy's ranking needs none).
func (v *View) scoreSums(x int32, explain, reasons bool) (Score, evidenceSums) {
	e, pol := v.e, v.e.policy
	node := &e.nodes[x]
	s := Score{Subject: node.key, PublicShare: v.public}
	if int(x) < len(v.t) {
		s.Trust = v.t[x]
	}
	if node.key == v.observer {
		s.Score, s.Confidence, s.Rate, s.Status, s.Reason = 1, 1, 1, StatusSelf, "the observer itself"
		return s, evidenceSums{}
	}
	var rec *Score
	if explain {
		rec = &s
	}
	ev := v.sums(x, rec)
	nDirect, qDirect, mass, own := ev.nDirect, ev.qDirect, ev.mass, ev.own
	var rRec, total float64
	s.Score, rRec, total = ev.blend(pol)
	if mass > 0 && explain {
		s.Recommendation = &Recommended{Rate: rRec, Mass: mass}
	}
	s.Confidence = (nDirect + mass) / total
	s.Rate = pol.Baseline
	if nDirect+mass > 0 {
		s.Rate = (float64(nDirect*qDirect) + float64(mass*rRec)) / (nDirect + mass)
	}
	s.Vetted = v.vets(ev, s.Trust)
	// Eligibility follows proof and the observer's own experience only: what others claim
	// ranks a node lower, never out (T-3, §4.6).
	switch {
	case node.proof != nil:
		s.Score, s.Confidence, s.Rate, s.Proof = 0, 1, 0, node.proof
		s.Status = StatusProven
		if reasons {
			s.Reason = fmt.Sprintf("%s at height %d", node.proof.Kind, node.proof.Height)
		}
	case own != nil && e.dropped(own):
		s.Status = StatusDropped
		if reasons {
			s.Reason = fmt.Sprintf("by your own experience (%s)", describeCounts(own.counts, "you"))
		}
	case s.Vetted:
		s.Status, s.Eligible = StatusVetted, true
		switch {
		case !reasons:
		case nDirect >= pol.VettingEvidence && qDirect < pol.HireThreshold:
			s.Reason = fmt.Sprintf("your own success rate of it, %.4f, is below the hire threshold %.2f: tried only within the newcomer budget", qDirect, pol.HireThreshold)
		case nDirect < pol.VettingEvidence && s.Rate < pol.HireThreshold:
			s.Reason = fmt.Sprintf("its success rate, with what nodes you trust report, is %.4f, below the hire threshold %.2f: tried only within the newcomer budget, where your own audits decide", s.Rate, pol.HireThreshold)
		}
	case nDirect+mass > 0:
		s.Status, s.Eligible = StatusNewcomer, true
		if reasons {
			s.Reason = fmt.Sprintf("evidence %.1f, trust mass %.2f of a typical node's; hired only within the newcomer budget (its entry share until you or a node you vetted has audited it)", nDirect+mass, safeRatio(s.Trust, v.typical))
		}
	default:
		s.Status, s.Eligible = StatusStranger, true
		if reasons {
			s.Reason = "no evidence from you or anyone you trust; hired only within the entry share of the newcomer budget"
		}
	}
	if s.Status == StatusVetted || s.Status == StatusNewcomer {
		var low float64
		s.Avoided, low = v.avoids(x, ev, s.Rate)
		if s.Avoided && reasons {
			s.Reason = fmt.Sprintf("its success rate %.4f and %.0f%% of the evidence of its service are at or below the unreliable standard %.2f: not tried",
				s.Rate, 100*low, 1-pol.UnreliableFailure)
			if nDirect >= pol.VettingEvidence {
				s.Reason = fmt.Sprintf("your own success rate of it, %.4f, is at or below the unreliable standard %.2f: not tried", qDirect, 1-pol.UnreliableFailure)
			}
		}
	}
	if explain {
		sort.SliceStable(s.Recommenders, func(a, b int) bool {
			ca := s.Recommenders[a].Weight * math.Min(s.Recommenders[a].Evidence, pol.EdgeCap)
			cb := s.Recommenders[b].Weight * math.Min(s.Recommenders[b].Evidence, pol.EdgeCap)
			if ca != cb {
				return ca > cb
			}
			return bytes.Compare(s.Recommenders[a].Node[:], s.Recommenders[b].Node[:]) < 0
		})
	}
	return s, ev
}

// All returns every known node's score except the observer's, best first (ties by key), or
// ErrStaleView. The view computes them once: callers share the slice and must not change it.
func (v *View) All() ([]Score, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	if v.all != nil {
		return v.all, nil
	}
	out := make([]Score, 0, len(v.e.nodes))
	for i := range v.e.nodes {
		if int32(i) == v.o {
			continue
		}
		out = append(out, v.score(int32(i), false))
	}
	sortScores(out)
	v.all = out
	return out, nil
}

// Extremes returns the limit nodes the observer trusts most, best first, and the limit it
// trusts least, worst first, as All ranks them, and how many All ranks; or ErrStaleView. It
// ranks everyone without their reasons (a page shows forty of thousands) and writes the
// reasons of those it returns only.
func (v *View) Extremes(limit int) (most, least []Score, total int, err error) {
	if err := v.fresh(); err != nil {
		return nil, nil, 0, err
	}
	if v.all != nil { // ranked already, with reasons
		n := len(v.all)
		most, least = slices.Clone(v.all[:min(limit, n)]), make([]Score, 0, min(limit, n))
		for i := n - 1; i >= 0 && len(least) < limit; i-- {
			least = append(least, v.all[i])
		}
		return most, least, n, nil
	}
	// The ends of All's order (score, then key: a total order), kept as the scores go by, as
	// (score, node) pairs: a sort of thousands of large Scores for forty of them was most of a
	// trust page's cost, and inserting Scores into the ends, then, half of what was left.
	type ranked struct {
		score float64
		x     int32
	}
	first := func(a, b ranked) bool { return better(a.score, v.e.nodes[a.x].key, b.score, v.e.nodes[b.x].key) }
	last := func(a, b ranked) bool { return first(b, a) }
	var top, bottom []ranked // top best first; bottom worst first
	n := 0
	keep := func(list []ranked, r ranked, first func(a, b ranked) bool) []ranked {
		if len(list) == limit && !first(r, list[limit-1]) {
			return list
		}
		at := sort.Search(len(list), func(i int) bool { return first(r, list[i]) })
		if len(list) < limit {
			list = append(list, ranked{})
		}
		copy(list[at+1:], list[at:])
		list[at] = r
		return list
	}
	for i := range v.e.nodes {
		if int32(i) == v.o {
			continue
		}
		n++
		if limit <= 0 {
			continue
		}
		r := ranked{v.scoreOnly(int32(i)), int32(i)}
		top = keep(top, r, first)
		bottom = keep(bottom, r, last)
	}
	withReason := func(list []ranked) []Score {
		out := make([]Score, 0, len(list))
		for _, r := range list {
			out = append(out, v.score(r.x, false))
		}
		return out
	}
	return withReason(top), withReason(bottom), n, nil
}

// scoreOnly is scoreSums(x, false, false).Score for a node other than the observer, without
// the rest of the Score: what Extremes ranks every node by.
func (v *View) scoreOnly(x int32) float64 {
	if v.e.nodes[x].proof != nil {
		return 0
	}
	score, _, _ := v.sums(x, nil).blend(v.e.policy)
	return score
}

// blend is §4.4's score of the evidence, with the recommenders' rate r (0 without them) and the
// weight of everything, the baseline's included.
func (ev evidenceSums) blend(pol Policy) (score, rRec, total float64) {
	if ev.mass > 0 {
		rRec = ev.sum / ev.mass
	}
	k := pol.BaselineStrength
	total = ev.nDirect + ev.mass + k
	score = (float64(ev.nDirect*ev.qDirect) + float64(ev.mass*rRec) + float64(k*pol.Baseline)) / total
	return score, rRec, total
}

// sortScores orders by score, then key. Keys are unique, so the order is total and an unstable
// sort gives the one answer; pdqsort swaps each Score (a large struct) O(n log n) times where a
// stable merge sort swapped it O(n log² n) times, which was 40% of a full view's time.
func sortScores(s []Score) { slices.SortFunc(s, sortCompare) }

// sortCompare is sortScores' order: score, highest first, then key.
func sortCompare(a, b Score) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return bytes.Compare(a.Subject[:], b.Subject[:])
}

// better orders by score, highest first, then by key, so rankings never depend on input order.
func better(sa float64, ka ledger.PubKey, sb float64, kb ledger.PubKey) bool {
	if sa != sb {
		return sa > sb
	}
	return bytes.Compare(ka[:], kb[:]) < 0
}

// Typical is the trust mass of a typical trusted node in this view (§4.5): half of the mass
// (the observer's own aside) sits on nodes holding at least this much.
func (v *View) Typical() float64 { return v.typical }

// safeRatio is a/b, or 0 when b is 0.
func safeRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// StatusText is a score's status in words: the status, then what it means here.
func StatusText(s Score) string {
	if s.Reason == "" {
		return s.Status
	}
	return s.Status + ": " + s.Reason
}
