package reputation

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/trustledger/trustledger/ledger"
)

// Candidate is a node the supplier manager could hire, as the p2p layer sees it.
type Candidate struct {
	Node ledger.PubKey
	// Network groups candidates that should not hold two shards of one file (a /24, or an
	// equivalent the p2p layer derives from the candidate's addresses). Empty: its own group.
	Network string
}

// Choice is one hired candidate and why.
type Choice struct {
	Candidate
	Score    float64 `json:"score"`
	Explored bool    `json:"explored"` // hired through the newcomer exploration share
}

// Choose picks up to n suppliers among candidates (§5). slot is the number of supplier slots
// the observer has filled before this placement, a counter the caller keeps and advances by
// the number of suppliers it hires: it makes the newcomer budget exact and deterministic.
//
// Vetted candidates whose hire rate meets the hire threshold come first, by score. At most one
// other candidate joins a placement, and only in a slot of the newcomer budget: in the entry
// share a stranger, or a newcomer known only as a payer (nobody has audited it yet); otherwise
// a newcomer whose service so far meets the hire threshold, then a vetted candidate that
// others report below it, then a newcomer they report below it, so that the observer's own
// audits, not others' words alone, decide about them. Candidates reported at or below the
// unreliable standard (a success rate of 1-UnreliableFailure) are not tried. When vetted
// candidates run out (at bootstrap, everyone is a stranger), promising served newcomers and
// then entrants fill the rest; candidates reported below the hire threshold never fill. No two
// choices share a node or a network. A stale view returns ErrStaleView.
func (v *View) Choose(candidates []Candidate, n int, slot uint64) ([]Choice, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	pol := v.e.policy
	// Candidates the view avoids (their rate and most of the evidence of their service at or
	// below the unreliable standard, Score.Avoided) are not tried: the observer waits for
	// better ones.
	var preferred, below, newcomers, entrants, failing []Choice
	rates := make(map[ledger.PubKey]float64, len(candidates)) // the newcomers' success rates, their order in the budget
	vetted := make([]int8, len(v.e.nodes))                    // recommenders' status, for served: 0 not known yet, 1 vetted, -1 not
	for _, c := range candidates {
		if c.Node == v.observer {
			continue
		}
		x, known := v.e.index[c.Node]
		if !known {
			entrants = append(entrants, Choice{Candidate: c, Score: v.newcomer(c.Node).Score, Explored: true})
			continue
		}
		s, ev := v.scoreSums(x, false, false)
		ch := Choice{Candidate: c, Score: s.Score}
		switch s.Status {
		case StatusVetted:
			// The rate the hire threshold compares: the observer's own once it alone vets the
			// candidate (its own experience decides for it), else the rate among the nodes it
			// trusts, its own experience included (§5).
			rate := s.Rate
			if ev.nDirect >= pol.VettingEvidence {
				rate = ev.qDirect
			}
			switch {
			case rate >= pol.HireThreshold:
				preferred = append(preferred, ch)
			case !s.Avoided:
				ch.Explored = true
				below = append(below, ch)
			}
		case StatusNewcomer:
			ch.Explored = true
			rates[c.Node] = s.Rate
			switch {
			case s.Avoided:
			case !v.served(x, vetted):
				// Known only as a payer: nothing yet says how it stores data, and a fresh key
				// that paid once looks the same. It enters through the entry share with the
				// strangers, ahead of them and of those that paid less (§5).
				entrants = append(entrants, ch)
			case s.Rate >= pol.HireThreshold:
				newcomers = append(newcomers, ch)
			default:
				failing = append(failing, ch)
			}
		case StatusStranger:
			ch.Explored = true
			entrants = append(entrants, ch)
		}
	}
	sortChoices(preferred)
	sortChoices(below)
	sortChoices(failing)
	v.shuffleNewcomers(newcomers, rates, slot)
	v.shuffleNewcomers(entrants, rates, slot)
	usedNode := map[ledger.PubKey]bool{}
	usedNet := map[string]bool{}
	var out []Choice
	take := func(pool []Choice, max int) int {
		taken := 0
		for _, c := range pool {
			if len(out) == n || taken == max {
				break
			}
			if usedNode[c.Node] || (c.Network != "" && usedNet[c.Network]) {
				continue
			}
			usedNode[c.Node] = true
			if c.Network != "" {
				usedNet[c.Network] = true
			}
			out = append(out, c)
			taken++
		}
		return taken
	}
	// The newcomer budget: slot s is a newcomer slot when s+phase is a multiple of
	// 1/ExplorationShare, and open to entrants when it is a multiple of 1/StrangerShare; the
	// phase comes from the observer's key, so observers do not all explore at the same count.
	// One unvetted supplier per placement at most: a stripe survives losing it.
	phase := binary.BigEndian.Uint64(v.observer[:8])
	newcomerSlot, strangerSlot := false, false
	for k := uint64(0); k < uint64(n); k++ {
		newcomerSlot = newcomerSlot || multipleOf(phase+slot+k, pol.ExplorationShare)
		strangerSlot = strangerSlot || multipleOf(phase+slot+k, pol.StrangerShare)
	}
	if strangerSlot && take(entrants, 1) == 1 {
		newcomerSlot = false
	}
	if newcomerSlot {
		for _, pool := range [][]Choice{newcomers, below, failing} {
			if take(pool, 1) == 1 {
				break
			}
		}
	}
	take(preferred, n)
	// Too few vetted candidates: promising served newcomers, then entrants, fill the rest.
	take(newcomers, n)
	take(entrants, n)
	return out, nil
}

// served reports whether the observer has audited node x or holds a receipt of its service,
// or a node the observer holds vetted has (§4.5): a record of how it stores data, not only of
// its payments, and not one that a region vouching for itself can hand out to all its
// identities, since its members are not vetted (§5). vetted caches the recommenders' status.
// It reads the pairs as score's explanation would list them (the observer's own, then each
// recommender the observer trusts), without building the explanation.
func (v *View) served(x int32, vetted []int8) bool {
	service := func(c Counts) bool { return c.AuditsPassed+c.AuditsFailed+c.Receipts+c.Expired > 0 }
	// The answer is yes as soon as one pair says so: first what costs nothing (the observer's
	// own service, recommenders already known vetted), then the recommenders not known yet.
	unknown := false
	for _, pi := range v.e.nodes[x].in {
		p := &v.e.pairs[pi]
		switch {
		case p.n <= 0 || !service(p.counts):
		case p.j == v.o:
			return true
		case v.wmax == 0 || v.t[p.j] == 0:
		case vetted[p.j] == 1:
			return true
		case vetted[p.j] == 0:
			unknown = true
		}
	}
	if !unknown {
		return false
	}
	for _, pi := range v.e.nodes[x].in {
		p := &v.e.pairs[pi]
		if p.n <= 0 || !service(p.counts) || p.j == v.o || v.wmax == 0 || v.t[p.j] == 0 || vetted[p.j] != 0 {
			continue
		}
		vetted[p.j] = -1
		if v.isVetted(p.j) {
			vetted[p.j] = 1
			return true
		}
	}
	return false
}

// multipleOf reports whether slot is a multiple of round(1/share) (never for share 0).
func multipleOf(slot uint64, share float64) bool {
	if share <= 0 {
		return false
	}
	return slot%uint64(math.Round(1/share)) == 0
}

// shuffleNewcomers orders newcomers (or entrants) by their success rate so far, highest first,
// then by score (among clean records, more evidence first, so the budget finishes vetting one
// newcomer before it starts the next; among entrants, more paid first), ties broken by
// SHA-256(observer, slot, node): deterministic, yet different observers and placements explore
// different newcomers instead of all piling onto the lowest key. Rate before score: a score
// grows with evidence, so an established node that some observers have not vetted yet would
// outrank every real newcomer (§5).
func (v *View) shuffleNewcomers(c []Choice, rates map[ledger.PubKey]float64, slot uint64) {
	// Each key is computed once, not once per comparison; the last tie (the same node offered
	// twice) is the offer's place in c, so the order is total and SortFunc need not be stable.
	type keyed struct {
		rate float64
		tie  [32]byte
		at   int
	}
	keys := make([]keyed, len(c))
	buf := make([]byte, 0, 72)
	for i, ch := range c {
		buf = append(buf[:0], v.observer[:]...)
		buf = binary.BigEndian.AppendUint64(buf, slot)
		buf = append(buf, ch.Node[:]...)
		keys[i] = keyed{rate: rates[ch.Node], tie: sha256.Sum256(buf), at: i}
	}
	slices.SortFunc(keys, func(a, b keyed) int {
		if a.rate != b.rate {
			return cmp.Compare(b.rate, a.rate)
		}
		if sa, sb := c[a.at].Score, c[b.at].Score; sa != sb {
			return cmp.Compare(sb, sa)
		}
		if t := bytes.Compare(a.tie[:], b.tie[:]); t != 0 {
			return t
		}
		return cmp.Compare(a.at, b.at)
	})
	sorted := make([]Choice, len(c))
	for i, k := range keys {
		sorted[i] = c[k.at]
	}
	copy(c, sorted)
}

func sortChoices(c []Choice) {
	sort.SliceStable(c, func(a, b int) bool { return better(c[a].Score, c[a].Node, c[b].Score, c[b].Node) })
}

// Drop is the answer to ShouldDrop.
type Drop struct {
	Drop   bool   `json:"drop"`
	Reason string `json:"reason"`
}

// ShouldDrop says whether the observer should drop a current supplier, and why (§5): when it
// is proven misbehaving, or the observer's own observations dropped it (§2.1). Others' claims
// alone never drop a supplier the observer is using: its own audits decide. A stale view
// returns ErrStaleView.
func (v *View) ShouldDrop(supplier ledger.PubKey) (Drop, error) {
	if err := v.fresh(); err != nil {
		return Drop{}, err
	}
	s := v.scoreOf(supplier)
	switch s.Status {
	case StatusProven, StatusDropped:
		return Drop{true, s.Reason}, nil
	}
	keep := fmt.Sprintf("score %.4f; keeps its place", s.Score)
	if s.Direct != nil {
		keep += fmt.Sprintf(" (drop evidence %.2f of the %.2f that drops)", s.Direct.DropEvidence, v.e.dropLevel)
	}
	return Drop{false, keep}, nil
}
