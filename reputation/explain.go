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

// Explain says in plain words what produced a score, most important first (T-5).
// maxRecommenders bounds how many recommenders are named.
func Explain(s Score, name Namer, maxRecommenders int) []string {
	if name == nil {
		name = ShortName
	}
	var out []string
	if s.Proof != nil {
		by := ""
		if s.Proof.By != "" {
			by = " (submitted by " + s.Proof.By[:12] + ")"
		}
		out = append(out, fmt.Sprintf("ineligible for everyone: %s at height %d%s", s.Proof.Kind, s.Proof.Height, by))
	}
	if d := s.Direct; d != nil {
		out = append(out, fmt.Sprintf("your own experience: %s; success rate %.4f over %.1f observations, reputation %.4f (drops below the threshold)",
			describeCounts(d.Counts, "for you"), d.Rate, d.Evidence, d.Reputation))
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
			who = append(who, fmt.Sprintf("%s (weight %.2f, sees %.4f over %s)", name(rc.Node), rc.Weight, rc.Rate, describeCounts(rc.Counts, "")))
		}
		out = append(out, fmt.Sprintf("vouched for by %s; together %.4f with weight %.1f", strings.Join(who, ", "), r.Rate, r.Mass))
	} else {
		out = append(out, "no one you trust has experience of it")
	}
	for _, ig := range s.Ignored {
		out = append(out, fmt.Sprintf("%d claim(s) by %s carry no weight: %s has no countersigned service history with it",
			ig.Claims, name(ig.Node), name(ig.Node)))
	}
	status := "eligible"
	if !s.Eligible {
		status = "not eligible: " + s.Reason
	}
	out = append(out, fmt.Sprintf("score %.4f, confidence %.2f, %s", s.Score, s.Confidence, status))
	return out
}

func describeCounts(c Counts, suffix string) string {
	var parts []string
	add := func(n uint64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.AuditsPassed, "audits passed")
	add(c.AuditsFailed, "failed")
	add(c.Receipts, "receipts")
	add(c.Expired, "contracts completed")
	add(c.Quit, "quit")
	add(c.Fired, "fired")
	add(c.Payments, "payments")
	add(c.Reports, "reports")
	if len(parts) == 0 {
		return "no scored events"
	}
	s := strings.Join(parts, ", ")
	if suffix != "" {
		s += " " + suffix
	}
	return s
}
