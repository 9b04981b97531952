package reputation

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/trustledger/trustledger/ledger"
)

// Score is one subject's trust from one observer's viewpoint, with its parts (T-5).
type Score struct {
	Subject    ledger.PubKey `json:"subject"`
	Score      float64       `json:"score"`
	Confidence float64       `json:"confidence"`
	// Rate is the evidence-weighted success rate, direct and recommended, without the newcomer
	// baseline (the baseline when there is no evidence): what the hire threshold compares, and
	// the drop threshold when there is no direct experience (§4, §5).
	Rate     float64 `json:"rate"`
	Vetted   bool    `json:"vetted"`
	Eligible bool    `json:"eligible"`
	Reason   string  `json:"reason,omitempty"` // why not eligible
	Proof    *Proof  `json:"proof,omitempty"`
	// Trust is the subject's personalised PageRank mass from the observer (sums to 1 over nodes).
	Trust          float64        `json:"trust_mass"`
	Direct         *Direct        `json:"direct,omitempty"`
	Recommendation *Recommended   `json:"recommendation,omitempty"`
	Recommenders   []Recommender  `json:"recommenders,omitempty"`
	Ignored        []IgnoredClaim `json:"ignored,omitempty"`
}

// Direct is the observer's own experience of the subject.
type Direct struct {
	// Reputation is the beta reputation with the probation prior: the drop rule compares it.
	Reputation float64 `json:"reputation"`
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
	version  uint64
}

// View computes the observer's personalised PageRank over the current history (§3), warm-started
// from the observer's previous vector.
func (e *Engine) View(observer ledger.PubKey) *View {
	v := &View{e: e, observer: observer, o: -1, version: e.version}
	if i, ok := e.index[observer]; ok {
		v.o = i
	}
	v.t = e.pagerank(observer, v.o)
	for i, t := range v.t {
		if int32(i) != v.o && t > v.wmax {
			v.wmax = t
		}
	}
	return v
}

// Rescore returns a fresh view of v's observer that keeps v's PageRank vector (the trust mass
// of each node, zero for nodes that appeared since) and reads the engine's current evidence:
// direct experience, recommenders' rates and proofs are current, transitive trust is as of v.
// It costs O(nodes), not a PageRank computation: for a caller that recomputes PageRank only
// every so often (the simulator's Refresh) and still answers from the latest events.
func (e *Engine) Rescore(v *View) *View {
	t := make([]float64, len(e.nodes))
	copy(t, v.t)
	nv := &View{e: e, observer: v.observer, o: -1, t: t, wmax: v.wmax, version: e.version}
	if i, ok := e.index[v.observer]; ok {
		nv.o = i
	}
	return nv
}

// edgeWeight is c(j,k) of §3: only net-positive experience, volume capped.
func (e *Engine) edgeWeight(p *pairState) float64 {
	if p.n <= 0 {
		return 0
	}
	pos := float64(2*p.rate()) - 1
	if pos <= 0 {
		return 0
	}
	return float64(pos * math.Min(p.n, e.policy.EdgeCap))
}

func (e *Engine) pagerank(observer ledger.PubKey, o int32) []float64 {
	n := len(e.nodes)
	t := make([]float64, n)
	if n == 0 {
		return t
	}
	restart := make([]float64, n)
	var seeds []int32
	if o >= 0 {
		seeds = append(seeds, o)
	}
	for _, a := range e.policy.Anchors {
		if i, ok := e.index[a]; ok && i != o {
			seeds = append(seeds, i)
		}
	}
	if len(seeds) == 0 {
		return t // an observer with no history and no anchors trusts no one transitively
	}
	for _, s := range seeds {
		restart[s] = 1 / float64(len(seeds))
	}
	// Normalised edges in compressed rows (CSR), built once per view: each iteration is then
	// one multiply-add per edge, in node-index then insertion order (T-4).
	start := make([]int32, n+1)
	dst := make([]int32, 0, len(e.pairs))
	wgt := make([]float64, 0, len(e.pairs))
	for j := range e.nodes {
		start[j] = int32(len(dst))
		row := 0.0
		for _, pi := range e.nodes[j].out {
			row += e.edgeWeight(&e.pairs[pi])
		}
		if row > 0 {
			for _, pi := range e.nodes[j].out {
				p := &e.pairs[pi]
				if w := e.edgeWeight(p); w > 0 {
					dst = append(dst, p.x)
					wgt = append(wgt, w/row)
				}
			}
		}
	}
	start[n] = int32(len(dst))
	if prev, ok := e.warm.Get(observer); ok && len(prev) <= n {
		copy(t, prev)
	} else {
		copy(t, restart)
	}
	a := e.policy.Restart
	next := make([]float64, n)
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
			lo, hi := start[j], start[j+1]
			if lo == hi {
				dangling += tj
				continue
			}
			for k := lo; k < hi; k++ {
				next[dst[k]] += float64(tj * wgt[k])
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
	e.warm.Add(observer, append([]float64(nil), t...))
	return t
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
	return Score{Subject: subject, Score: p.Baseline, Rate: p.Baseline, Reason: "newcomer: no history yet"}
}

func (v *View) score(x int32, explain bool) Score {
	e, pol := v.e, v.e.policy
	node := &e.nodes[x]
	s := Score{Subject: node.key}
	if int(x) < len(v.t) {
		s.Trust = v.t[x]
	}
	if node.key == v.observer {
		s.Score, s.Confidence, s.Rate, s.Reason = 1, 1, 1, "the observer itself"
		return s
	}
	var nDirect, rDirect, qDirect, mass, sum float64
	for _, pi := range node.in {
		p := &e.pairs[pi]
		if p.counts.Ignored > 0 && explain {
			s.Ignored = append(s.Ignored, IgnoredClaim{Node: e.nodes[p.j].key, Claims: p.counts.Ignored})
		}
		if p.n <= 0 {
			continue
		}
		q := p.rate()
		if p.j == v.o {
			nDirect, rDirect, qDirect = p.n, p.reputation(), q
			if explain {
				s.Direct = &Direct{Reputation: rDirect, Rate: q, Evidence: p.n, Counts: p.counts}
			}
			continue
		}
		if v.wmax == 0 || v.t[p.j] == 0 {
			continue
		}
		w := v.t[p.j] / v.wmax
		ev := float64(w * math.Min(p.n, pol.EdgeCap))
		mass += ev
		sum += float64(ev * q)
		if explain {
			s.Recommenders = append(s.Recommenders, Recommender{Node: e.nodes[p.j].key, Weight: w, Rate: q, Evidence: p.n, Counts: p.counts})
		}
	}
	rRec := 0.0
	if mass > 0 {
		rRec = sum / mass
		if explain {
			s.Recommendation = &Recommended{Rate: rRec, Mass: mass}
		}
	}
	k := pol.BaselineStrength
	total := nDirect + mass + k
	s.Score = (float64(nDirect*qDirect) + float64(mass*rRec) + float64(k*pol.Baseline)) / total
	s.Confidence = (nDirect + mass) / total
	s.Rate = pol.Baseline
	if nDirect+mass > 0 {
		s.Rate = (float64(nDirect*qDirect) + float64(mass*rRec)) / (nDirect + mass)
	}
	s.Vetted = nDirect+mass >= pol.VettingEvidence
	switch {
	case node.proof != nil:
		s.Score, s.Confidence, s.Rate, s.Proof = 0, 1, 0, node.proof
		s.Reason = fmt.Sprintf("proven misbehaviour: %s at height %d", node.proof.Kind, node.proof.Height)
	case nDirect > 0 && rDirect < pol.DropThreshold:
		s.Reason = fmt.Sprintf("your own reputation of it %.4f is below the drop threshold %.2f", rDirect, pol.DropThreshold)
	case nDirect == 0 && s.Vetted && s.Rate < pol.DropThreshold:
		s.Reason = fmt.Sprintf("its success rate among nodes you trust, %.4f, is below the drop threshold %.2f", s.Rate, pol.DropThreshold)
	case !s.Vetted:
		s.Reason = fmt.Sprintf("newcomer: evidence %.1f of the %.0f needed to be vetted", nDirect+mass, pol.VettingEvidence)
	default:
		s.Eligible = true
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
	return s
}

// All returns every known node's score except the observer's, best first (ties by key), or
// ErrStaleView.
func (v *View) All() ([]Score, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	out := make([]Score, 0, len(v.e.nodes))
	for i := range v.e.nodes {
		if int32(i) == v.o {
			continue
		}
		out = append(out, v.score(int32(i), false))
	}
	sortScores(out)
	return out, nil
}

func sortScores(s []Score) {
	sort.SliceStable(s, func(a, b int) bool { return better(s[a].Score, s[a].Subject, s[b].Score, s[b].Subject) })
}

// better orders by score, highest first, then by key, so rankings never depend on input order.
func better(sa float64, ka ledger.PubKey, sb float64, kb ledger.PubKey) bool {
	if sa != sb {
		return sa > sb
	}
	return bytes.Compare(ka[:], kb[:]) < 0
}
