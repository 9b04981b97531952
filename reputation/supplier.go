package reputation

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
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

// Choose picks up to n suppliers among candidates for the observer's placement number
// `placement` (a counter the caller keeps; it makes exploration deterministic) (§5).
// No two choices share a node or a network. A stale view returns ErrStaleView.
func (v *View) Choose(candidates []Candidate, n int, placement uint64) ([]Choice, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	pol := v.e.policy
	var vetted, newcomers []Choice
	for _, c := range candidates {
		if c.Node == v.observer {
			continue
		}
		s := v.scoreOf(c.Node)
		switch {
		case s.Eligible && s.Rate >= pol.HireThreshold:
			vetted = append(vetted, Choice{Candidate: c, Score: s.Score})
		case !s.Vetted && s.Proof == nil && (s.Direct == nil || s.Direct.Reputation >= pol.DropThreshold):
			newcomers = append(newcomers, Choice{Candidate: c, Score: s.Score, Explored: true})
		}
	}
	sortChoices(vetted)
	v.shuffleNewcomers(newcomers, placement)
	explore := 0
	if pol.ExplorationShare > 0 {
		every := uint64(math.Round(1 / pol.ExplorationShare))
		// The k-th slot of placement p is exploration when (p*n + k) is a multiple of `every`.
		for k := 0; k < n; k++ {
			if (placement*uint64(n)+uint64(k))%every == 0 {
				explore++
			}
		}
	}
	usedNode := map[ledger.PubKey]bool{}
	usedNet := map[string]bool{}
	var out []Choice
	take := func(pool []Choice, max int) {
		for _, c := range pool {
			if len(out) == n || max == 0 {
				return
			}
			if usedNode[c.Node] || (c.Network != "" && usedNet[c.Network]) {
				continue
			}
			usedNode[c.Node] = true
			if c.Network != "" {
				usedNet[c.Network] = true
			}
			out = append(out, c)
			max--
		}
	}
	take(newcomers, explore)
	take(vetted, n)
	take(newcomers, n) // no vetted supplier left: newcomers fill the remaining slots
	return out, nil
}

// shuffleNewcomers orders newcomers by score, ties (most newcomers score the baseline) broken by
// SHA-256(observer, placement, node): deterministic, yet different observers and placements
// explore different newcomers instead of all piling onto the lowest key.
func (v *View) shuffleNewcomers(c []Choice, placement uint64) {
	tie := make(map[ledger.PubKey][32]byte, len(c))
	for _, ch := range c {
		buf := make([]byte, 0, 72)
		buf = append(buf, v.observer[:]...)
		buf = binary.BigEndian.AppendUint64(buf, placement)
		buf = append(buf, ch.Node[:]...)
		tie[ch.Node] = sha256.Sum256(buf)
	}
	sort.SliceStable(c, func(a, b int) bool {
		if c[a].Score != c[b].Score {
			return c[a].Score > c[b].Score
		}
		ta, tb := tie[c[a].Node], tie[c[b].Node]
		return bytes.Compare(ta[:], tb[:]) < 0
	})
}

func sortChoices(c []Choice) {
	sort.SliceStable(c, func(a, b int) bool { return better(c[a].Score, c[a].Node, c[b].Score, c[b].Node) })
}

// Drop is the answer to ShouldDrop.
type Drop struct {
	Drop   bool   `json:"drop"`
	Reason string `json:"reason"`
}

// ShouldDrop says whether the observer should drop a current supplier, and why (§5), or returns
// ErrStaleView.
func (v *View) ShouldDrop(supplier ledger.PubKey) (Drop, error) {
	if err := v.fresh(); err != nil {
		return Drop{}, err
	}
	pol := v.e.policy
	s := v.scoreOf(supplier)
	switch {
	case s.Proof != nil:
		return Drop{true, s.Reason}, nil
	case s.Direct != nil && s.Direct.Evidence > 0 && s.Direct.Reputation < pol.DropThreshold:
		return Drop{true, fmt.Sprintf("your reputation of it fell to %.4f, below the drop threshold %.2f (%s)", s.Direct.Reputation, pol.DropThreshold, describeCounts(s.Direct.Counts, "you"))}, nil
	case s.Direct == nil && s.Vetted && s.Rate < pol.DropThreshold:
		return Drop{true, fmt.Sprintf("its success rate among nodes you trust fell to %.4f, below the drop threshold %.2f", s.Rate, pol.DropThreshold)}, nil
	}
	return Drop{false, fmt.Sprintf("score %.4f; keeps its place (drops below %.2f)", s.Score, pol.DropThreshold)}, nil
}
