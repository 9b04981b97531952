package reputation

import (
	"fmt"
	"strings"

	"github.com/trustledger/trustledger/ledger"
)

// Namer turns a node key into a display name (a local key name, or a short hex form).
type Namer func(ledger.PubKey) string

// ShortName is the default Namer: the first 12 hex digits.
func ShortName(k ledger.PubKey) string { return k.String()[:12] }

// Explain says in plain words what produced a score, most important first (T-5). Every number
// is the one the decision used, under one name: the *rate* is the evidence-weighted success rate
// (what the hire threshold compares); the *drop evidence* is the drop rule's statistic on the
// observer's own observations (§2.1). maxRecommenders bounds how many recommenders are named.
func Explain(s Score, pol Policy, name Namer, maxRecommenders int) []string {
	if name == nil {
		name = ShortName
	}
	var out []string
	_, _, level := pol.dropSteps()
	if s.Proof != nil {
		by := ""
		if s.Proof.By != "" {
			by = " (submitted by " + s.Proof.By[:12] + ")"
		}
		out = append(out, fmt.Sprintf("ineligible for everyone: %s at height %d%s", s.Proof.Kind, s.Proof.Height, by))
	}
	if d := s.Direct; d != nil {
		verdict := fmt.Sprintf("drop evidence %.2f of the %.2f that drops it", d.DropEvidence, level)
		if d.Dropped {
			verdict = fmt.Sprintf("drop evidence %.2f reached the %.2f that drops it", d.DropEvidence, level)
		}
		out = append(out, fmt.Sprintf("your own experience: %s; success rate %.4f over %.1f observations; %s",
			describeCounts(d.Counts, "you"), d.Rate, d.Evidence, verdict))
	} else {
		out = append(out, "no direct experience of your own")
	}
	if r := s.Recommendation; r != nil {
		var who []string
		for i, rc := range s.Recommenders {
			if i == maxRecommenders {
				who = append(who, fmt.Sprintf("and %d more", len(s.Recommenders)-i))
				break
			}
			var notes []string
			switch {
			case rc.Dropped:
				notes = append(notes, name(rc.Node)+" dropped it, so its rate counts as 0")
			case rc.DropEvidence > level/2:
				notes = append(notes, fmt.Sprintf("%s's drop evidence %.2f is more than halfway to the %.2f that drops it, so its rate counts less", name(rc.Node), rc.DropEvidence, level))
			}
			if rc.Conflicts > 0 {
				notes = append(notes, fmt.Sprintf("its records contradict your own verdicts by %.2f pairs' worth, so its weight is divided by %.1f",
					rc.Conflicts, 1+pol.ConflictPenalty*rc.Conflicts))
			}
			note := ""
			if len(notes) > 0 {
				note = "; " + strings.Join(notes, "; ")
			}
			who = append(who, fmt.Sprintf("%s (weight %.2f: success rate %.4f; %s%s)", name(rc.Node), rc.Weight, rc.Rate, describeCounts(rc.Counts, name(rc.Node)), note))
		}
		out = append(out, fmt.Sprintf("vouched for by %s; together a success rate of %.4f with weight %.1f", strings.Join(who, ", "), r.Rate, r.Mass))
	} else {
		out = append(out, "no one you trust has experience of it")
	}
	for _, ig := range s.Ignored {
		out = append(out, fmt.Sprintf("%s by %s %s no weight: %s has no countersigned service history with it",
			plural(ig.Claims, "claim", "claims"), name(ig.Node), map[bool]string{true: "carries", false: "carry"}[ig.Claims == 1], name(ig.Node)))
	}
	if s.PublicShare > 0 {
		out = append(out, fmt.Sprintf("you have too little experience of your own: %.0f%% of your trust starts from every node alike (the public's view), until your own evidence reaches %.0f",
			100*s.PublicShare, pol.VettingEvidence))
	}
	status := "eligible, " + StatusText(s)
	if !s.Eligible {
		status = "not eligible, " + StatusText(s)
	}
	out = append(out, fmt.Sprintf("score %.4f, confidence %.2f, success rate %.4f (%s the hire threshold %.2f); %s",
		s.Score, s.Confidence, s.Rate, atLeastOrBelow(s.Rate, pol.HireThreshold), pol.HireThreshold, status))
	return out
}

func atLeastOrBelow(v, threshold float64) string {
	if v < threshold {
		return "below"
	}
	return "at or above"
}

// plural is "1 audit" or "2 audits".
func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// describeCounts says what who (the observer "you", or a recommender's name) recorded of the
// subject, naming who did what.
func describeCounts(c Counts, who string) string {
	var parts []string
	add := func(n uint64, s string) {
		if n > 0 {
			parts = append(parts, s)
		}
	}
	audited := "your audits"
	by := "you"
	if who != "you" {
		audited, by = who+"'s audits", who
	}
	switch {
	case c.AuditsPassed > 0 && c.AuditsFailed > 0:
		parts = append(parts, fmt.Sprintf("%d of %s passed and %d failed", c.AuditsPassed, audited, c.AuditsFailed))
	case c.AuditsPassed > 0:
		parts = append(parts, fmt.Sprintf("%d of %s passed", c.AuditsPassed, audited))
	case c.AuditsFailed > 0:
		parts = append(parts, fmt.Sprintf("%d of %s failed", c.AuditsFailed, audited))
	}
	add(c.Receipts, plural(c.Receipts, "receipt", "receipts")+" countersigned")
	add(c.Expired, plural(c.Expired, "contract", "contracts")+" completed")
	add(c.Quit, fmt.Sprintf("it quit %s", plural(c.Quit, "contract", "contracts")))
	add(c.Fired, fmt.Sprintf("fired by %s %s", by, plural(c.Fired, "time", "times")))
	add(c.Payments, plural(c.Payments, "payment", "payments"))
	add(c.Reports, fmt.Sprintf("%s against it by %s", plural(c.Reports, "report", "reports"), by))
	if len(parts) == 0 {
		return "no scored events"
	}
	return strings.Join(parts, ", ")
}
