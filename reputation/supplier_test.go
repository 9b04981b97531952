package reputation

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

func TestChoose(t *testing.T) {
	o := node("o")
	good := []ledger.PubKey{node("g1"), node("g2"), node("g3"), node("g4")}
	fresh, bad, proven := node("fresh"), node("bad"), node("proven")
	h := &history{t: t}
	for i, g := range good {
		h.serve(o, g, 40+i) // g4 best, g1 worst
	}
	h.serve(o, bad, 40)
	for i := 0; i < 5; i++ {
		h.audit(o, bad, false)
	}
	h.serve(o, proven, 40)
	h.provenFailure(o, proven)
	h.add(fresh, ledger.PubKey{}, fresh, &ledger.RegisterNode{PeerID: "p"})
	v := h.engine(DefaultPolicy()).View(o)
	cands := []Candidate{{good[0], "10.0.1"}, {good[1], "10.0.2"}, {good[2], "10.0.2"}, {good[3], "10.0.3"},
		{fresh, "10.0.9"}, {bad, "10.0.4"}, {proven, "10.0.5"}, {o, "10.0.6"}}
	names := map[ledger.PubKey]string{good[0]: "g1", good[1]: "g2", good[2]: "g3", good[3]: "g4", fresh: "fresh"}
	pick := func(placement uint64, n int) string {
		var s []string
		for _, c := range chooseOf(t, v, cands, n, placement) {
			s = append(s, names[c.Node])
		}
		return fmt.Sprint(s)
	}
	cases := []struct {
		name      string
		placement uint64
		n         int
		want      string
	}{
		// placement 0: slot 0 is the exploration slot (every 20th slot), so the newcomer comes first;
		// g3 and g2 share a network, so only the better (g3) is taken.
		{"exploration slot, diversity", 0, 3, "[fresh g4 g3]"},
		{"no exploration slot", 1, 3, "[g4 g3 g1]"},
		{"fewer vetted candidates than slots: a newcomer fills the gap", 1, 10, "[g4 g3 g1 fresh]"},
		{"one slot", 2, 1, "[g4]"},
	}
	for _, c := range cases {
		if got := pick(c.placement, c.n); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	// Over 100 placements of 3 slots, exactly 5% of slots (15) are exploration.
	explored := 0
	for p := uint64(0); p < 100; p++ {
		for _, c := range chooseOf(t, v, cands, 3, p) {
			if c.Explored {
				explored++
			}
		}
	}
	if explored != 15 {
		t.Errorf("exploration slots over 300: got %d, want 15", explored)
	}
	for _, c := range []struct {
		node ledger.PubKey
		drop bool
	}{{good[0], false}, {bad, true}, {proven, true}, {fresh, false}} {
		if d := dropOf(t, v, c.node); d.Drop != c.drop || d.Reason == "" {
			t.Errorf("ShouldDrop(%s): %+v, want drop=%v with a reason", ShortName(c.node), d, c.drop)
		}
	}
}

// TestHysteresis: a supplier whose reputation sits between the drop and hire thresholds is
// kept if hired, but not hired anew.
func TestHysteresis(t *testing.T) {
	o, s := node("o"), node("s")
	h := &history{t: t}
	h.serve(o, s, 1000)       // α ≈ 650
	for i := 0; i < 22; i++ { // β ≈ 21.8, α ≈ 636: R ≈ 0.967
		h.audit(o, s, false)
	}
	v := h.engine(DefaultPolicy()).View(o)
	sc := scoreOf(t, v, s)
	if r := sc.Direct.Reputation; r < 0.96 || r >= 0.97 {
		t.Fatalf("setup: reputation %.4f, want between 0.96 and 0.97", r)
	}
	if dropOf(t, v, s).Drop {
		t.Error("dropped inside the hysteresis band")
	}
	if got := chooseOf(t, v, []Candidate{{Node: s}}, 1, 1); len(got) != 0 {
		t.Errorf("hired inside the hysteresis band: %+v", got)
	}
}

func TestPolicyValidate(t *testing.T) {
	mod := func(f func(*Policy)) Policy { p := DefaultPolicy(); f(&p); return p }
	cases := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"defaults", DefaultPolicy(), true},
		{"lambda zero", mod(func(p *Policy) { p.Lambda = 0 }), false},
		{"lambda above one", mod(func(p *Policy) { p.Lambda = 1.5 }), false},
		{"restart one", mod(func(p *Policy) { p.Restart = 1 }), false},
		{"hire below drop", mod(func(p *Policy) { p.HireThreshold = 0.9 }), false},
		{"exploration 60%", mod(func(p *Policy) { p.ExplorationShare = 0.6 }), false},
		{"no exploration", mod(func(p *Policy) { p.ExplorationShare = 0 }), true},
		{"negative weight", mod(func(p *Policy) { p.ReceiptWeight = -1 }), false},
	}
	for _, c := range cases {
		err := c.p.Validate()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrPolicy)) {
			t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
