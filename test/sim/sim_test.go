package sim

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

var table = flag.Bool("sim.table", false, "run every scenario at full size and print the BENCHMARKS.md table")

// small keeps `make test` quick; the goals are asserted at this size.
var small = Config{Nodes: 60, Rounds: 120, Slots: 3, Refresh: 5, Seed: 1}

func find(name string) Scenario {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s
		}
	}
	panic("no scenario " + name)
}

// TestQualityGoals asserts the goals of issue 3 with our chooser (specs/trust.md §7). The
// scenarios run in parallel subtests; each is deterministic (fixed seed).
func TestQualityGoals(t *testing.T) {
	for _, f := range []string{"honest only", "independent bad 10%", "independent bad 30%", "independent bad 50%", "independent bad 70%",
		"collective 30% vouching for itself", "collective 20% + spies 10%", "whitewashing 30%"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			m := Run(small, find(f), newOurs())
			t.Logf("failed audits %.3f, bad placements %.3f", m.FailShare(), m.BadShare())
			if m.FailShare() > 0.05 {
				t.Errorf("failed-audit share %.3f, goal ≤ 0.05", m.FailShare())
			}
		})
	}
	t.Run("slanderers", func(t *testing.T) {
		t.Parallel()
		m := Run(small, find("slanderers 30%"), newOurs())
		t.Logf("honest wrongly dropped %.4f", m.WrongDropRate())
		if m.WrongDropRate() > 0.01 {
			t.Errorf("wrongly dropped honest suppliers %.4f, goal ≤ 0.01", m.WrongDropRate())
		}
	})
	t.Run("turned", func(t *testing.T) {
		t.Parallel()
		m := Run(small, find("turned suppliers (always fail)"), newOurs())
		t.Logf("audits until dropped %v", m.TurnedDropAudits)
		for _, a := range m.TurnedDropAudits {
			if a < 0 || a > 50 {
				t.Fatalf("a turned supplier (always fail) was dropped after %d audits, goal ≤ 50", a)
			}
		}
		if m := Run(small, find("turned suppliers (fail 2%)"), newOurs()); m.WrongDrops > 0 {
			t.Errorf("a supplier failing 2%% was dropped %d times, goal: never", m.WrongDrops)
		}
	})
	t.Run("sybils", func(t *testing.T) {
		t.Parallel()
		s100 := Run(small, find("sybil region of 100, 3 attack edges"), newOurs())
		s1000 := Run(small, find("sybil region of 1000, 3 attack edges"), newOurs())
		t.Logf("sybil mass %.5f with 100 sybils, %.5f with 1000", s100.SybilMass, s1000.SybilMass)
		if s1000.SybilMass > s100.SybilMass*1.05+1e-9 {
			t.Errorf("sybil mass grew with the number of sybils")
		}
	})
	t.Run("ranking", func(t *testing.T) {
		t.Parallel()
		r := Run(small, find("ranking (reliability uniform 0..1, 100 audits per node)"), newOurs())
		t.Logf("rank correlation %.3f", r.RankCorrelation)
		if r.RankCorrelation < 0.8 {
			t.Errorf("rank correlation %.3f, goal ≥ 0.8", r.RankCorrelation)
		}
	})
}

// TestTable prints the comparison table (with -sim.table, at full size).
func TestTable(t *testing.T) {
	if !*table {
		t.Skip("run with -sim.table")
	}
	cfg := Config{Nodes: 200, Rounds: 150, Slots: 4, Refresh: 5, Seed: 7}
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | chooser | bad placements | failed audits | honest wrongly dropped | turned: audits to drop (median) | sybil mass | rank corr. |\n|---|---|---|---|---|---|---|---|\n")
	for _, sc := range Scenarios() {
		for _, ch := range Choosers() {
			m := Run(cfg, sc, ch)
			fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %.3f | %s | %.4f | %.2f |\n", sc.Name, ch.Name(), m.BadShare(), m.FailShare(),
				m.WrongDropRate(), median(m.TurnedDropAudits), m.SybilMass, m.RankCorrelation)
		}
	}
	t.Log("\n" + b.String())
}

func median(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	never := 0
	for _, x := range v {
		if x < 0 {
			never++
		}
	}
	if never*2 > len(v) {
		return fmt.Sprintf("never (%d/%d)", never, len(v))
	}
	return fmt.Sprint(v[never+(len(v)-never)/2])
}
