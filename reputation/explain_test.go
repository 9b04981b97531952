package reputation

import (
	"fmt"
	"strings"
	"testing"
)

// TestExplainNamesEachNumberOnce (issue 16): the explanation's numbers are the score's own, each
// under one name (rate for the hire rule, drop evidence for the drop rule), compared with the
// policy's thresholds in words that follow the numbers, and counts say who did what, in the
// singular or the plural.
func TestExplainNamesEachNumberOnce(t *testing.T) {
	alice, bob, carol := node("alice"), node("bob"), node("carol")
	h := &history{t: t}
	h.contract(alice, bob)
	h.audit(alice, bob, true)
	h.receipt(alice, bob)
	h.report(alice, bob)
	h.serve(carol, bob, 40)
	h.serve(alice, carol, 30)
	pol := DefaultPolicy()
	sc := scoreOf(t, h.engine(pol).View(alice), bob)
	text := strings.Join(Explain(sc, pol, ShortName, 3), "\n")
	d := sc.Direct
	for _, want := range []string{
		"1 of your audits passed, 1 receipt countersigned, 1 report against it by you",
		fmt.Sprintf("success rate %.4f over %.1f observations", d.Rate, d.Evidence),
		fmt.Sprintf("drop evidence %.2f of the 9.21 that drops it", d.DropEvidence),
		"40 of " + ShortName(carol) + "'s audits passed",
		fmt.Sprintf("success rate %.4f (%s the hire threshold %.2f)", sc.Rate, atLeastOrBelow(sc.Rate, pol.HireThreshold), pol.HireThreshold),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"1 audits", "1 receipts", "1 reports", "for you", "(drops below the threshold)"} {
		if strings.Contains(text, bad) {
			t.Errorf("explanation says %q:\n%s", bad, text)
		}
	}
	// The words follow the status: bob is vetted through carol and eligible.
	if !strings.Contains(text, "; eligible, vetted: its success rate, with what nodes you trust report, is 0.9550, below the hire threshold 0.97") {
		t.Errorf("status not said:\n%s", text)
	}
	if got := plural(1, "claim", "claims") + "/" + plural(2, "claim", "claims"); got != "1 claim/2 claims" {
		t.Errorf("plural: %s", got)
	}
}

// TestExplainSaysWhyARecommenderCountsLess (§4.3): a recommender whose records contradict the
// observer's own verdicts, and one more than halfway to its own drop, are named with the reason
// and the figures that discount them.
func TestExplainSaysWhyARecommenderCountsLess(t *testing.T) {
	alice, sam, dave, mole1, mole2 := node("alice"), node("sam"), node("dave"), node("mole1"), node("mole2")
	h := &history{t: t}
	h.serve(alice, sam, 30)
	h.serve(alice, dave, 30)
	h.serve(sam, mole1, 30)
	h.serve(sam, mole2, 30)
	h.serve(dave, mole2, 30)
	for i := 0; i < 4; i++ {
		h.audit(dave, mole2, false)
	}
	h.contract(alice, mole1)
	for i := 0; i < 10; i++ {
		h.audit(alice, mole1, false)
	}
	pol := DefaultPolicy()
	sc := scoreOf(t, h.engine(pol).View(alice), mole2)
	text := strings.Join(Explain(sc, pol, ShortName, 3), "\n")
	var samRec, daveRec Recommender
	for _, r := range sc.Recommenders {
		switch r.Node {
		case sam:
			samRec = r
		case dave:
			daveRec = r
		}
	}
	if samRec.Conflicts < 0.99 || daveRec.Conflicts != 0 || daveRec.DropEvidence < 4.61 {
		t.Fatalf("sam's conflicts %.2f (want about 1), dave's %.2f (want 0), dave's drop evidence %.2f (want past 4.61)", samRec.Conflicts, daveRec.Conflicts, daveRec.DropEvidence)
	}
	for _, want := range []string{
		fmt.Sprintf("its records contradict your own verdicts by %.2f pairs' worth, so its weight is divided by %.1f", samRec.Conflicts, 1+pol.ConflictPenalty*samRec.Conflicts),
		fmt.Sprintf("%s's drop evidence %.2f is more than halfway to the 9.21 that drops it, so its rate counts less", ShortName(dave), daveRec.DropEvidence),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
}
