package reputation

import (
	"reflect"
	"testing"
)

// TestChooseShortcuts: what Choose reads without building explanations (isVetted, served) is
// what the explained score says, for every node of a synthetic world and several observers
// (specs/trust.md §4.5, §5).
func TestChooseShortcuts(t *testing.T) {
	recs, keys := synthetic(300, 30_000, 3)
	e := loaded(t, recs)
	seen := map[[2]bool]int{} // (vetted, served) pairs met: the world must have each
	for _, observer := range keys[:5] {
		v := e.View(observer)
		vetted := make([]int8, len(e.nodes))
		for x := range e.nodes {
			x := int32(x)
			full := v.score(x, true)
			if got := v.isVetted(x); got != full.Vetted {
				t.Fatalf("observer %s, node %d: isVetted %v, the score says %v", observer, x, got, full.Vetted)
			}
			lite, ev := v.scoreSums(x, false, false)
			if lite.Score != full.Score || lite.Rate != full.Rate || lite.Status != full.Status || lite.Vetted != full.Vetted {
				t.Fatalf("node %d: the score without explanation %+v differs from %+v", x, lite, full)
			}
			if full.Direct != nil && (ev.nDirect != full.Direct.Evidence || ev.qDirect != full.Direct.Rate) {
				t.Fatalf("node %d: own evidence %v/%v, the explanation %v/%v", x, ev.nDirect, ev.qDirect, full.Direct.Evidence, full.Direct.Rate)
			}
			got, want := v.served(x, vetted), servedByExplanation(v, full)
			if got != want {
				t.Fatalf("node %d: served %v, by its explanation %v", x, got, want)
			}
			seen[[2]bool{full.Vetted, got}]++
		}
	}
	if len(seen) < 3 {
		t.Fatalf("the world is too plain to test this: (vetted, served) counts %v", seen)
	}
}

// servedByExplanation is served as it read an explained score before Choose stopped building
// explanations.
func servedByExplanation(v *View, s Score) bool {
	service := func(c Counts) bool { return c.AuditsPassed+c.AuditsFailed+c.Receipts+c.Expired > 0 }
	if s.Direct != nil && service(s.Direct.Counts) {
		return true
	}
	for _, r := range s.Recommenders {
		if service(r.Counts) && v.score(v.e.index[r.Node], false).Vetted {
			return true
		}
	}
	return false
}

// TestExtremes: the most and least trusted that Extremes gives, reasons and all, are All's
// ends, whichever is asked first.
func TestExtremes(t *testing.T) {
	recs, keys := synthetic(300, 30_000, 4)
	e := loaded(t, recs)
	for i, observer := range keys[:4] {
		v := e.View(observer)
		var most, least []Score
		var total int
		var err error
		if i%2 == 0 { // Extremes before All
			if most, least, total, err = v.Extremes(20); err != nil {
				t.Fatal(err)
			}
		}
		all, err := v.All()
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if most, least, total, err = v.Extremes(20); err != nil {
				t.Fatal(err)
			}
		}
		if total != len(all) || len(most) != 20 || len(least) != 20 {
			t.Fatalf("%d ranked, %d and %d given, All has %d", total, len(most), len(least), len(all))
		}
		for j := range most {
			if !reflect.DeepEqual(most[j], all[j]) || !reflect.DeepEqual(least[j], all[len(all)-1-j]) {
				t.Fatalf("observer %d, place %d: Extremes %+v / %+v, All %+v / %+v", i, j, most[j], least[j], all[j], all[len(all)-1-j])
			}
		}
	}
}
