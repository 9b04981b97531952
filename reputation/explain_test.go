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
