package reputation

import (
	"bytes"
	"sort"

	"github.com/trustledger/trustledger/ledger"
)

// Edge is one trust edge: From's own countersigned experience of To, as the PageRank of §3 uses
// it (edgeWeight: only net-positive service, capped), and the pair's raw counts.
type Edge struct {
	From   ledger.PubKey `json:"from"`
	To     ledger.PubKey `json:"to"`
	Weight float64       `json:"weight"`
	Counts Counts        `json:"counts"`
}

// Graph is the strongest trust edges within two hops of a centre node, outward (whom it trusts,
// and whom they trust), as an ego graph to draw.
type Graph struct {
	Center ledger.PubKey `json:"center"`
	Nodes  []GraphNode   `json:"nodes"`  // the centre first, then hop 1, then hop 2
	Edges  []Edge        `json:"edges"`  // strongest first
	Capped bool          `json:"capped"` // edges or nodes were left out at the caps
}

// GraphNode is a node of a Graph and its distance from the centre.
type GraphNode struct {
	Node ledger.PubKey `json:"node"`
	Hop  int           `json:"hop"`
}

// Neighbourhood is the ego graph of center: its out-edges of positive weight, then the
// out-edges of the nodes they reach, strongest first, until maxNodes nodes or maxEdges edges;
// then every edge among the chosen nodes' out-edges that fits. Deterministic: ties in weight
// go by the keys' order. A center with no history has a graph of itself alone.
func (e *Engine) Neighbourhood(center ledger.PubKey, maxNodes, maxEdges int) Graph {
	g := Graph{Center: center, Nodes: []GraphNode{{Node: center}}}
	c, ok := e.index[center]
	if !ok || maxNodes < 1 {
		return g
	}
	chosen := map[int32]int{c: 0} // node → hop
	seenEdge := map[int32]bool{}  // pair index
	type cand struct {
		pair int32
		w    float64
	}
	out := func(j int32) []cand {
		var cs []cand
		for _, pi := range e.nodes[j].out {
			if w := e.edgeWeight(&e.pairs[pi]); w > 0 {
				cs = append(cs, cand{pi, w})
			}
		}
		return cs
	}
	order := func(cs []cand) {
		sort.Slice(cs, func(a, b int) bool {
			if cs[a].w != cs[b].w {
				return cs[a].w > cs[b].w
			}
			pa, pb := &e.pairs[cs[a].pair], &e.pairs[cs[b].pair]
			if d := bytes.Compare(e.nodes[pa.j].key[:], e.nodes[pb.j].key[:]); d != 0 {
				return d < 0
			}
			return bytes.Compare(e.nodes[pa.x].key[:], e.nodes[pb.x].key[:]) < 0
		})
	}
	add := func(pi int32) bool {
		if len(g.Edges) >= maxEdges {
			g.Capped = true
			return false
		}
		p := &e.pairs[pi]
		seenEdge[pi] = true
		g.Edges = append(g.Edges, Edge{From: e.nodes[p.j].key, To: e.nodes[p.x].key, Weight: e.edgeWeight(p), Counts: p.counts})
		return true
	}
	frontier := []int32{c}
	for hop := 1; hop <= 2; hop++ {
		var cs []cand
		for _, j := range frontier {
			cs = append(cs, out(j)...)
		}
		order(cs)
		var next []int32
		for _, cd := range cs {
			x := e.pairs[cd.pair].x
			if _, in := chosen[x]; !in {
				if len(chosen) >= maxNodes {
					g.Capped = true
					continue
				}
				chosen[x] = hop
				next = append(next, x)
				g.Nodes = append(g.Nodes, GraphNode{Node: e.nodes[x].key, Hop: hop})
			}
			if !add(cd.pair) {
				break
			}
		}
		frontier = next
	}
	// The edges among the chosen nodes that the walk did not take (hop 2 to hop 1, and so on).
	var rest []cand
	for j := range chosen {
		for _, cd := range out(j) {
			if _, in := chosen[e.pairs[cd.pair].x]; in && !seenEdge[cd.pair] {
				rest = append(rest, cd)
			}
		}
	}
	order(rest)
	for _, cd := range rest {
		if !add(cd.pair) {
			break
		}
	}
	sort.SliceStable(g.Edges, func(a, b int) bool { return g.Edges[a].Weight > g.Edges[b].Weight })
	return g
}
