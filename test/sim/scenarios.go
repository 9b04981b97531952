package sim

import "fmt"

// Scenario builds a world's population for one experiment.
type Scenario struct {
	Name  string
	Build func(w *World)
	// Rounds overrides the Config's rounds when positive.
	Rounds int
	// NewcomerEvery: an honest newcomer joins every so many rounds (0: none).
	NewcomerEvery int
	// Slander: the collective and its spies report honest suppliers' audits as failed.
	Slander bool
	// NoExpiry keeps contracts until a drop (the turned-supplier worlds measure drop timing).
	NoExpiry bool
	// PayToEnter: every whitewasher identity first pays an honest supplier for a contract.
	PayToEnter bool
}

func honestReliability(w *World) float64 { return 0.98 + 0.02*w.rng.Float64() }

// population adds n nodes of a role with reliabilities drawn by rel.
func population(w *World, n int, role Role, rel func() float64) {
	for i := 0; i < n; i++ {
		w.add(role, rel(), "")
	}
}

func mixed(badShare float64, role Role, badRel func(w *World) float64) func(w *World) {
	return func(w *World) {
		nBad := int(float64(w.cfg.Nodes) * badShare)
		population(w, w.cfg.Nodes-nBad, Honest, func() float64 { return honestReliability(w) })
		population(w, nBad, role, func() float64 { return badRel(w) })
	}
}

func lowReliability(w *World) float64 { return 0.5 * w.rng.Float64() }

// Scenarios lists the experiments of issue 3 (sizes come from the Config).
func Scenarios() []Scenario {
	var out []Scenario
	out = append(out, Scenario{Name: "honest only", Build: mixed(0, Bad, lowReliability)})
	for _, f := range []float64{0.1, 0.3, 0.5, 0.7} {
		out = append(out, Scenario{Name: fmt.Sprintf("independent bad %d%%", int(f*100)), Build: mixed(f, Bad, lowReliability)})
	}
	out = append(out,
		Scenario{Name: "collective 30% vouching for itself", Build: mixed(0.3, Collective, func(*World) float64 { return 0.2 })},
		Scenario{Name: "camouflage 30%, well-behaved 80% of the time", Build: mixed(0.3, Bad, func(*World) float64 { return 0.8 })},
		Scenario{Name: "collective 20% + spies 10%", Build: func(w *World) {
			mixed(0.2, Collective, func(*World) float64 { return 0.2 })(w)
			population(w, w.cfg.Nodes/10, Spy, func() float64 { return 1 })
		}},
		Scenario{Name: "sybil region of 100, 3 attack edges", Build: sybils(100)},
		Scenario{Name: "sybil region of 1000, 3 attack edges", Build: sybils(1000)},
		Scenario{Name: "sybil region of 1000, no attack edge", Build: sybilsNoEdge(1000)},
	)
	for _, f := range []float64{0.1, 0.3, 0.5} {
		out = append(out,
			Scenario{Name: fmt.Sprintf("whitewashing %d%%, honest newcomers", int(f*100)), Build: mixed(f, Whitewash, func(*World) float64 { return 0.2 }), NewcomerEvery: 10, Rounds: 400},
			Scenario{Name: fmt.Sprintf("same honest nodes, newcomers, no whitewashers (%d%%)", int(f*100)), Build: honestOnly(f), NewcomerEvery: 10, Rounds: 400})
	}
	out = append(out, Scenario{Name: "whitewashing 30%, each identity paying to enter, honest newcomers",
		Build: mixed(0.3, Whitewash, func(*World) float64 { return 0.2 }), NewcomerEvery: 10, Rounds: 400, PayToEnter: true})
	out = append(out,
		Scenario{Name: "slandering collective 30%, camouflaged (80%)", Build: mixed(0.3, Collective, func(*World) float64 { return 0.8 }), Slander: true},
		Scenario{Name: "slandering collective 20% + spies 10%", Build: func(w *World) {
			mixed(0.2, Collective, func(*World) float64 { return 0.2 })(w)
			population(w, w.cfg.Nodes/10, Spy, func() float64 { return 1 })
		}, Slander: true},
		Scenario{Name: "slanderers 30%", Build: mixed(0.3, Slanderer, func(*World) float64 { return 1 })},
		Scenario{Name: "turned suppliers (always fail)", Build: turned(0), Rounds: 500, NoExpiry: true},
		Scenario{Name: "turned suppliers (fail 10%)", Build: turned(0.9), Rounds: 500, NoExpiry: true},
		Scenario{Name: "turned suppliers (fail 2%)", Build: turned(0.98), Rounds: 500, NoExpiry: true},
		Scenario{Name: "ranking (reliability uniform 0..1, 100 audits per node)", Build: func(w *World) {
			population(w, w.cfg.Nodes, Honest, func() float64 { return w.rng.Float64() })
			w.warmup(100)
		}, Rounds: 10},
	)
	return out
}

// sybils: honest nodes plus a region of n sybils; 3 sybils serve honestly (the attack edges'
// source of genuine good service) and pay an honest supplier to get in, as an honest newcomer
// does; the rest never store anything.
func sybils(n int) func(w *World) {
	return func(w *World) {
		population(w, w.cfg.Nodes, Honest, func() float64 { return honestReliability(w) })
		for i := 0; i < n; i++ {
			rel := 0.0
			if i < 3 {
				rel = 1
			}
			k := w.add(Sybil, rel, fmt.Sprintf("sybil-net-%d", i%8))
			w.Nodes[k].PaysToEnter = i < 3
		}
	}
}

// sybilsNoEdge: honest nodes plus a region of n sybils none of which ever serves anyone well.
func sybilsNoEdge(n int) func(w *World) {
	return func(w *World) {
		population(w, w.cfg.Nodes, Honest, func() float64 { return honestReliability(w) })
		for i := 0; i < n; i++ {
			w.add(Sybil, 0, fmt.Sprintf("sybil-net-%d", i%8))
		}
	}
}

// honestOnly: the honest part of a world with badShare bad nodes (mixed), and nobody else.
func honestOnly(badShare float64) func(w *World) {
	return func(w *World) {
		nBad := int(float64(w.cfg.Nodes) * badShare)
		population(w, w.cfg.Nodes-nBad, Honest, func() float64 { return honestReliability(w) })
	}
}

// turned: honest nodes, a tenth of which turn at mid-run (after 250 rounds of good service: long
// trusted) to the given reliability.
func turned(to float64) func(w *World) {
	return func(w *World) {
		population(w, w.cfg.Nodes, Honest, func() float64 { return 1 })
		for i := 0; i < w.cfg.Nodes/10; i++ {
			n := w.Nodes[i*10]
			n.TurnAt, n.TurnTo = w.cfg.Rounds/2, to
		}
	}
}

// Run plays one scenario with one chooser.
func Run(cfg Config, sc Scenario, ch Chooser) Metrics {
	if sc.Rounds > 0 {
		cfg.Rounds = sc.Rounds
	}
	if sc.NoExpiry {
		cfg.Term = 0
	}
	w := newWorld(cfg, ch)
	w.newcomerEvery, w.slander = sc.NewcomerEvery, sc.Slander
	sc.Build(w)
	for _, n := range w.Nodes {
		if sc.PayToEnter && n.Role == Whitewash {
			n.PaysToEnter = true
		}
	}
	return w.Run()
}

// Choosers returns fresh instances of the three rules.
func Choosers() []Chooser { return []Chooser{newOurs(), newEigenTrust(), newRandom()} }

// warmup gives every node `audits` audits by customers drawn at random, with a contract for each
// new pair: the "after 100 audits per node" of the ranking goal.
func (w *World) warmup(audits int) {
	for x := range w.Nodes {
		for k := 0; k < audits; k++ {
			c := w.rng.Intn(len(w.Nodes))
			if c == x {
				continue
			}
			if !w.vouched[[2]int{c, x}] {
				w.vouched[[2]int{c, x}] = true
				w.contract(c, x)
			}
			w.audit(c, x, w.rng.Float64() < w.Nodes[x].reliability(0))
		}
	}
}
