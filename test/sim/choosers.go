package sim

import (
	"fmt"
	"math"
	"sort"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// Chooser is a supplier-selection rule under test. All three share the same drop rule (the
// customer's own direct experience, reputation.View.ShouldDrop), so the table compares choosing.
type Chooser interface {
	Name() string
	Refresh(e *reputation.Engine, w *World)
	Choose(w *World, c int, cands []reputation.Candidate, n int, slot uint64) []ledger.PubKey
	ShouldDrop(w *World, c int, s ledger.PubKey) bool
	// Scores is the observer's score of every node (index order), for rank correlation.
	Scores(w *World, observer int) []float64
	// SybilShares is the sybils' share of the observer's trust mass and of the sum of the scores
	// it publishes.
	SybilShares(w *World, observer int) (mass, scores float64)
	// HeldIneligible lists the nodes the observer's view holds ineligible (the choosers without
	// eligibility of their own only drop, which the world counts).
	HeldIneligible(w *World, observer int) []ledger.PubKey
	// Avoided lists the nodes the observer's view, though it holds them eligible, would not try
	// on what others report (Score.Avoided without the observer's own vetting evidence); the
	// choosers without such a rule avoid nobody.
	Avoided(w *World, observer int) []ledger.PubKey
	// Vetted reports whether the observer's view holds the node vetted.
	Vetted(w *World, observer int, k ledger.PubKey) bool
}

// ours is trustledger's policy: each customer's own view.
type ours struct {
	views map[int]*reputation.View
}

func newOurs() *ours { return &ours{views: map[int]*reputation.View{}} }

func (o *ours) Name() string { return "trustledger" }

func (o *ours) Refresh(*reputation.Engine, *World) { o.views = map[int]*reputation.View{} }

// view returns c's view: PageRank as of the last Refresh, evidence as of now.
func (o *ours) view(w *World, c int) *reputation.View {
	v, ok := o.views[c]
	switch {
	case !ok:
		v = w.engine.View(w.Nodes[c].Key)
	case v.Stale():
		v = w.engine.Rescore(v)
	}
	o.views[c] = v
	return v
}

// must unwraps a fresh view's answer: an error there is a bug of the simulator's, not an outcome.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("simulator asked a view it had just computed: %v", err))
	}
	return v
}

func (o *ours) Choose(w *World, c int, cands []reputation.Candidate, n int, slot uint64) []ledger.PubKey {
	var out []ledger.PubKey
	for _, ch := range must(o.view(w, c).Choose(cands, n, slot)) {
		out = append(out, ch.Node)
	}
	return out
}

func (o *ours) ShouldDrop(w *World, c int, s ledger.PubKey) bool {
	return must(o.view(w, c).ShouldDrop(s)).Drop
}

func (o *ours) Scores(w *World, observer int) []float64 {
	v := w.engine.View(w.Nodes[observer].Key)
	out := make([]float64, len(w.Nodes))
	for i, n := range w.Nodes {
		out[i] = must(v.Score(n.Key)).Score
	}
	return out
}

func (o *ours) SybilShares(w *World, observer int) (mass, scores float64) {
	v := w.engine.View(w.Nodes[observer].Key)
	var total, sybil, totalScore, sybilScore float64
	for i, n := range w.Nodes {
		s := must(v.Score(n.Key))
		total += s.Trust
		if i != observer {
			totalScore += s.Score
		}
		if n.Role == Sybil {
			sybil += s.Trust
			sybilScore += s.Score
		}
	}
	return safeDiv(sybil, total), safeDiv(sybilScore, totalScore)
}

func (o *ours) HeldIneligible(w *World, observer int) []ledger.PubKey {
	var out []ledger.PubKey
	for _, s := range must(o.view(w, observer).All()) {
		if !s.Eligible {
			out = append(out, s.Subject)
		}
	}
	return out
}

func (o *ours) Avoided(w *World, observer int) []ledger.PubKey {
	var out []ledger.PubKey
	own := w.engine.Policy().VettingEvidence // with this much of its own, its own audits decide
	for _, s := range must(o.view(w, observer).All()) {
		if s.Avoided && (s.Direct == nil || s.Direct.Evidence < own) {
			out = append(out, s.Subject)
		}
	}
	return out
}

func (o *ours) Vetted(w *World, observer int, k ledger.PubKey) bool {
	return must(o.view(w, observer).Score(k)).Vetted
}

// eigenTrust is the baseline of Kamvar et al. (2003) with global pre-trust (uniform over every
// node): one global vector, computed from audits (satisfactory minus unsatisfactory), and
// probabilistic selection (proportional to trust, 10% uniformly random).
type eigenTrust struct {
	drop *ours
	t    map[ledger.PubKey]float64
}

func newEigenTrust() *eigenTrust { return &eigenTrust{drop: newOurs()} }

func (et *eigenTrust) Name() string { return "EigenTrust (global)" }

func (et *eigenTrust) Refresh(e *reputation.Engine, w *World) {
	et.drop.Refresh(e, w)
	idx := map[ledger.PubKey]int{}
	for i, n := range w.Nodes {
		idx[n.Key] = i
	}
	n := len(w.Nodes)
	type edge struct {
		to int
		s  float64
	}
	out := make([][]edge, n)
	e.Pairs(func(p reputation.PairInfo) {
		s := float64(p.Counts.AuditsPassed) - float64(p.Counts.AuditsFailed)
		if s > 0 {
			out[idx[p.Observer]] = append(out[idx[p.Observer]], edge{idx[p.Subject], s})
		}
	})
	t := make([]float64, n)
	for i := range t {
		t[i] = 1 / float64(n)
	}
	next := make([]float64, n)
	const a = 0.15
	for iter := 0; iter < 50; iter++ {
		for i := range next {
			next[i] = 0
		}
		dangling := 0.0
		for j, es := range out {
			sum := 0.0
			for _, e := range es {
				sum += e.s
			}
			if sum == 0 {
				dangling += t[j]
				continue
			}
			for _, e := range es {
				next[e.to] += t[j] * e.s / sum
			}
		}
		for i := range t {
			t[i] = (1-a)*(next[i]+dangling/float64(n)) + a/float64(n)
		}
	}
	et.t = map[ledger.PubKey]float64{}
	for i, nd := range w.Nodes {
		et.t[nd.Key] = t[i]
	}
}

func (et *eigenTrust) Choose(w *World, c int, cands []reputation.Candidate, n int, _ uint64) []ledger.PubKey {
	pool := append([]reputation.Candidate(nil), cands...)
	var out []ledger.PubKey
	for len(out) < n && len(pool) > 0 {
		i := w.rng.Intn(len(pool))
		if w.rng.Float64() >= 0.1 {
			total := 0.0
			for _, p := range pool {
				total += et.t[p.Node]
			}
			x := w.rng.Float64() * total
			for j, p := range pool {
				if x -= et.t[p.Node]; x <= 0 {
					i = j
					break
				}
			}
		}
		out = append(out, pool[i].Node)
		pool = append(pool[:i], pool[i+1:]...)
	}
	return out
}

func (et *eigenTrust) ShouldDrop(w *World, c int, s ledger.PubKey) bool {
	return et.drop.ShouldDrop(w, c, s)
}

func (et *eigenTrust) Scores(w *World, _ int) []float64 {
	out := make([]float64, len(w.Nodes))
	for i, n := range w.Nodes {
		out[i] = et.t[n.Key]
	}
	return out
}

// SybilShares: EigenTrust publishes its global trust vector, so both shares are of it.
func (et *eigenTrust) SybilShares(w *World, _ int) (mass, scores float64) {
	total, sybil := 0.0, 0.0
	for _, n := range w.Nodes {
		total += et.t[n.Key]
		if n.Role == Sybil {
			sybil += et.t[n.Key]
		}
	}
	return safeDiv(sybil, total), safeDiv(sybil, total)
}

func (et *eigenTrust) HeldIneligible(*World, int) []ledger.PubKey { return nil }
func (et *eigenTrust) Avoided(*World, int) []ledger.PubKey        { return nil }
func (et *eigenTrust) Vetted(*World, int, ledger.PubKey) bool     { return false }

// random picks uniformly among candidates.
type random struct{ drop *ours }

func newRandom() *random { return &random{drop: newOurs()} }

func (r *random) Name() string                                     { return "random" }
func (r *random) Refresh(e *reputation.Engine, w *World)           { r.drop.Refresh(e, w) }
func (r *random) ShouldDrop(w *World, c int, s ledger.PubKey) bool { return r.drop.ShouldDrop(w, c, s) }
func (r *random) Scores(w *World, _ int) []float64                 { return make([]float64, len(w.Nodes)) }

// SybilShares: random choice weighs every node alike.
func (r *random) SybilShares(w *World, _ int) (mass, scores float64) {
	n := 0
	for _, nd := range w.Nodes {
		if nd.Role == Sybil {
			n++
		}
	}
	share := safeDiv(float64(n), float64(len(w.Nodes)))
	return share, share
}

func (r *random) HeldIneligible(*World, int) []ledger.PubKey { return nil }
func (r *random) Avoided(*World, int) []ledger.PubKey        { return nil }
func (r *random) Vetted(*World, int, ledger.PubKey) bool     { return false }

func (r *random) Choose(w *World, c int, cands []reputation.Candidate, n int, _ uint64) []ledger.PubKey {
	perm := w.rng.Perm(len(cands))
	var out []ledger.PubKey
	for _, i := range perm[:min(n, len(perm))] {
		out = append(out, cands[i].Node)
	}
	return out
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// rankCorrelation is Spearman's rho between the observer's scores and true reliability over
// every other active node.
func (w *World) rankCorrelation(o int) float64 {
	scores := w.chooser.Scores(w, o)
	var xs, ys []float64
	for i, n := range w.Nodes {
		if i != o && n.Active {
			xs = append(xs, scores[i])
			ys = append(ys, n.reliability(w.cfg.Rounds))
		}
	}
	return pearson(ranks(xs), ranks(ys))
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j) / 2
		}
		i = j + 1
	}
	return r
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
