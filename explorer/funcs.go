package explorer

import (
	"encoding/json"
	"fmt"
	"html/template"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// funcs are the templates' helpers; none returns unescaped HTML from a user's string.
var funcs = template.FuncMap{
	"short":    func(k fmt.Stringer) string { return shortHex(k.String()) },
	"shorthex": shortHex,
	"bytes":    func(n uint64) string { return humanize.IBytes(n) },
	"count":    func(n uint64) string { return humanize.Comma(int64(n)) },
	"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"unix":     func(s int64) string { return time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05 UTC") },
	"pct":      func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"num":      func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"zero":     func(k ledger.PubKey) bool { return k.IsZero() },
	"summary":  summary,
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"add": func(a, b int64) int64 { return a + b },
	"passed": func(a *ledger.Aggregate) uint64 {
		if a == nil {
			return 0
		}
		return a.AuditsPassed
	},
	"status": func(s reputation.Score) string { return reputation.StatusText(s) },
}

func shortHex(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:12] + "…"
}

// summary is one line on what an event says, for lists (its fields in full are on its tx page).
func summary(ev ledger.Event) string {
	switch e := ev.(type) {
	case *ledger.RegisterNode:
		return fmt.Sprintf("registered as %q offering %s", e.Moniker, humanize.IBytes(e.Capacity))
	case *ledger.ContractOpen:
		return fmt.Sprintf("contract %s: %s for %s at %d per GiB-month", shortHex(e.ContractID.String()), humanize.IBytes(e.Bytes),
			(time.Duration(e.DurationSeconds) * time.Second).String(), e.PricePerGiBMonth)
	case *ledger.ContractClose:
		return fmt.Sprintf("contract %s closed: %s", shortHex(e.ContractID.String()), e.Reason)
	case *ledger.StorageReceipt:
		return fmt.Sprintf("storage receipt #%d: %s·s", e.Number, humanize.Comma(int64(e.ByteSeconds)))
	case *ledger.BandwidthReceipt:
		return fmt.Sprintf("bandwidth receipt #%d: %s served", e.Number, humanize.IBytes(e.Bytes))
	case *ledger.AuditResult:
		switch {
		case e.Passed:
			return fmt.Sprintf("audit #%d passed", e.Number)
		case e.Evidence != nil:
			return fmt.Sprintf("audit #%d failed, with the supplier's signed answer as proof", e.Number)
		}
		return fmt.Sprintf("audit #%d failed", e.Number)
	case *ledger.Payment:
		return fmt.Sprintf("paid %d", e.Amount)
	case *ledger.MisbehaviorReport:
		if len(e.Evidence) > 0 {
			return fmt.Sprintf("reported for %s, with evidence", e.Misconduct)
		}
		return fmt.Sprintf("reported for %s", e.Misconduct)
	case *ledger.ValidatorUpdate:
		return fmt.Sprintf("validator %s to power %d (%d approvals)", shortHex(e.Validator.String()), e.Power, len(e.Approvals))
	}
	return ""
}
