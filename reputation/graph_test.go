package reputation

import (
	"reflect"
	"testing"
)

// TestNeighbourhood checks the ego graph the explorer draws (specs/trust.md §3's edges): two hops
// outward from the centre, strongest first, no third hop, a failing supplier's edge absent, the
// caps honoured and the same graph every time.
func TestNeighbourhood(t *testing.T) {
	o, a, b, x, y, z, bad := node("o"), node("a"), node("b"), node("x"), node("y"), node("z"), node("bad")
	h := &history{t: t}
	h.serve(o, a, 40)
	h.serve(o, b, 10)
	h.serve(a, x, 40)
	h.serve(b, y, 40)
	h.serve(x, z, 40) // third hop: left out
	h.serve(x, a, 40) // hop 2 back to hop 1: an edge among chosen nodes
	h.contract(o, bad)
	for i := 0; i < 20; i++ {
		h.audit(o, bad, false)
	}
	e := h.engine(DefaultPolicy())
	g := e.Neighbourhood(o, 500, 2500)
	hops := map[string]int{}
	names := map[[32]byte]string{o: "o", a: "a", b: "b", x: "x", y: "y", z: "z", bad: "bad"}
	for _, n := range g.Nodes {
		hops[names[n.Node]] = n.Hop
	}
	if want := map[string]int{"o": 0, "a": 1, "b": 1, "x": 2, "y": 2}; !reflect.DeepEqual(hops, want) {
		t.Fatalf("nodes and hops %v, want %v", hops, want)
	}
	if len(g.Edges) != 5 || g.Capped {
		t.Fatalf("%d edges (capped %v), want o→a, o→b, a→x, b→y, x→a", len(g.Edges), g.Capped)
	}
	for i := 1; i < len(g.Edges); i++ {
		if g.Edges[i].Weight > g.Edges[i-1].Weight {
			t.Fatalf("edges not strongest first: %v", g.Edges)
		}
	}
	if again := e.Neighbourhood(o, 500, 2500); !reflect.DeepEqual(g, again) {
		t.Fatal("two graphs of one history differ")
	}
	small := e.Neighbourhood(o, 2, 2500)
	if len(small.Nodes) != 2 || !small.Capped || names[small.Nodes[1].Node] != "a" {
		t.Fatalf("capped at 2 nodes: %+v", small.Nodes)
	}
	if few := e.Neighbourhood(o, 500, 1); len(few.Edges) != 1 || !few.Capped {
		t.Fatalf("capped at 1 edge: %d edges", len(few.Edges))
	}
	if lone := e.Neighbourhood(node("nobody"), 500, 2500); len(lone.Nodes) != 1 || len(lone.Edges) != 0 {
		t.Fatalf("a node without history: %+v", lone)
	}
}
