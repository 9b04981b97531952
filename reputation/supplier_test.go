package reputation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// TestChoose checks the supplier policy of specs/trust.md §5 on a scripted history: vetted
// candidates by score, at most one unvetted candidate per placement and only in a slot of the
// newcomer budget (a promising newcomer, or in the stranger share a stranger), fill order when
// vetted candidates run out, network diversity, and the drop rule.
func TestChoose(t *testing.T) {
	o := node("o")
	good := []ledger.PubKey{node("g1"), node("g2"), node("g3"), node("g4")}
	fresh, promising, bad, proven := node("fresh"), node("promising"), node("bad"), node("proven")
	h := &history{t: t}
	for i, g := range good {
		h.serve(o, g, 40+i) // g4 best, g1 worst
	}
	h.serve(o, bad, 40)
	for i := 0; i < 6; i++ { // six failures reach ln(10^4) (§2.1)
		h.audit(o, bad, false)
	}
	h.serve(o, proven, 40)
	h.provenFailure(o, proven)
	h.serve(good[3], promising, 10) // g4, whom o trusts, found it good: a newcomer, not a stranger
	h.add(fresh, ledger.PubKey{}, fresh, &ledger.RegisterNode{PeerID: "p"})
	pol := DefaultPolicy()
	pol.VettingTrust = 10 // in a graph this small only the observer's own evidence vets
	v := h.engine(pol).View(o)
	if st := scoreOf(t, v, promising).Status; st != StatusNewcomer {
		t.Fatalf("setup: promising is %s, want newcomer", st)
	}
	cands := []Candidate{{good[0], "10.0.1"}, {good[1], "10.0.2"}, {good[2], "10.0.2"}, {good[3], "10.0.3"},
		{fresh, "10.0.9"}, {promising, "10.0.7"}, {bad, "10.0.4"}, {proven, "10.0.5"}, {o, "10.0.6"}}
	names := map[ledger.PubKey]string{good[0]: "g1", good[1]: "g2", good[2]: "g3", good[3]: "g4", fresh: "fresh",
		promising: "promising", bad: "bad", proven: "proven"}
	pick := func(slot uint64, n int) string {
		var s []string
		for _, c := range chooseOf(t, v, cands, n, slot) {
			s = append(s, names[c.Node])
		}
		return fmt.Sprint(s)
	}
	// The budget's slots follow the observer's phase: find a stranger slot (every 50th), a
	// newcomer slot that is not one (every 10th), and a plain slot.
	phase := binary.BigEndian.Uint64(o[:8])
	every := func(share float64) uint64 { return uint64(math.Round(1 / share)) }
	nEvery, sEvery := every(pol.ExplorationShare), every(pol.StrangerShare)
	var strangerSlot, newcomerSlot uint64
	for s := uint64(0); s < sEvery; s++ {
		switch (phase + s) % sEvery {
		case 0:
			strangerSlot = s
		case 2 * nEvery:
			newcomerSlot = s
		}
	}
	plain := newcomerSlot + 1
	cases := []struct {
		name string
		slot uint64
		n    int
		want string
	}{
		// g3 and g2 share a network, so only the better (g3) is taken.
		{"stranger slot: the stranger, then vetted by score", strangerSlot, 3, "[fresh g4 g3]"},
		{"newcomer slot: the promising newcomer, never a stranger", newcomerSlot, 3, "[promising g4 g3]"},
		{"no budget slot: vetted only", plain, 3, "[g4 g3 g1]"},
		{"one slot", plain, 1, "[g4]"},
		// Dropped and proven nodes never; newcomers then strangers fill what vetted ones cannot.
		{"fewer vetted candidates than slots", plain, 5, "[g4 g3 g1 promising fresh]"},
	}
	for _, c := range cases {
		if got := pick(c.slot, c.n); got != c.want {
			t.Errorf("%s (slot %d): got %s, want %s", c.name, c.slot, got, c.want)
		}
	}
	// Over 400 one-slot placements, exactly 10% of slots (40) go to unvetted suppliers, 2% (8)
	// to the stranger.
	explored, strangers := 0, 0
	for s := uint64(0); s < 400; s++ {
		for _, c := range chooseOf(t, v, cands, 1, s) {
			if c.Explored {
				explored++
				if c.Node == fresh {
					strangers++
				}
			}
		}
	}
	if explored != 40 || strangers != 8 {
		t.Errorf("over 400 slots: %d explored (want 40), %d strangers (want 8)", explored, strangers)
	}
	for _, c := range []struct {
		node ledger.PubKey
		drop bool
	}{{good[0], false}, {bad, true}, {proven, true}, {fresh, false}, {promising, false}} {
		if d := dropOf(t, v, c.node); d.Drop != c.drop || d.Reason == "" {
			t.Errorf("ShouldDrop(%s): %+v, want drop=%v with a reason", names[c.node], d, c.drop)
		}
	}
}

// TestHysteresis: a supplier failing 5% of its audits sits between the two rules: its drop
// evidence stays far from the drop level, so a customer keeps it, but its success rate is below
// the hire threshold, so nobody who has a better candidate hires it anew.
func TestHysteresis(t *testing.T) {
	o, s, g := node("o"), node("s"), node("g")
	h := &history{t: t}
	h.contract(o, s)
	for i := 1; i <= 400; i++ {
		h.audit(o, s, i%20 != 0)
	}
	h.serve(o, g, 40)
	v := h.engine(DefaultPolicy()).View(o)
	sc := scoreOf(t, v, s)
	if sc.Rate >= 0.97 || sc.Direct.Dropped || sc.Direct.DropEvidence > 2 {
		t.Fatalf("setup: rate %.4f, drop evidence %.2f: want a rate below 0.97 and little drop evidence", sc.Rate, sc.Direct.DropEvidence)
	}
	if dropOf(t, v, s).Drop {
		t.Error("dropped inside the hysteresis band")
	}
	if got := chooseOf(t, v, []Candidate{{Node: s}, {Node: g}}, 1, 1); len(got) != 1 || got[0].Node != g {
		t.Errorf("hired inside the hysteresis band over a better candidate: %+v", got)
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
		{"hire above one", mod(func(p *Policy) { p.HireThreshold = 1.1 }), false},
		{"reliable fails more than unreliable", mod(func(p *Policy) { p.ReliableFailure = 0.2 }), false},
		{"drop odds one", mod(func(p *Policy) { p.DropOdds = 1 }), false},
		{"stranger share above exploration", mod(func(p *Policy) { p.StrangerShare = 0.2 }), false},
		{"no vetting on others' trust", mod(func(p *Policy) { p.VettingTrust = 0 }), false},
		{"exploration 60%", mod(func(p *Policy) { p.ExplorationShare = 0.6 }), false},
		{"no exploration", mod(func(p *Policy) { p.ExplorationShare, p.StrangerShare = 0, 0 }), true},
		{"negative conflict penalty", mod(func(p *Policy) { p.ConflictPenalty = -1 }), false},
		{"no conflict penalty", mod(func(p *Policy) { p.ConflictPenalty = 0 }), true},
		{"negative weight", mod(func(p *Policy) { p.ReceiptWeight = -1 }), false},
	}
	for _, c := range cases {
		err := c.p.Validate()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrPolicy)) {
			t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
