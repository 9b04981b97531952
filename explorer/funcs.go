package explorer

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// funcs are the templates' helpers; none returns unescaped HTML from a user's string.
var funcs = template.FuncMap{
	"short":       func(k fmt.Stringer) string { return shortHex(k.String()) },
	"shorthex":    shortHex,
	"bytes":       func(n uint64) string { return humanize.IBytes(n) },
	"count":       func(n uint64) string { return humanize.Comma(int64(n)) },
	"when":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"unix":        func(s int64) string { return time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05 UTC") },
	"pct":         func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"num":         func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"zero":        func(k ledger.PubKey) bool { return k.IsZero() },
	"summary":     summary,
	"eventsTable": eventsTable,
	"scoresList":  scoresList,
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

// eventsTable draws a list of events as a table. It is Go, not a template: a page of a hundred
// rows through html/template's reflection cost more than the rest of the page (BENCHMARKS.md).
// Every string it writes is escaped or made of hex digits and numbers.
func eventsTable(recs []ledger.EventRecord) template.HTML {
	if len(recs) == 0 {
		return `<p class="muted">No events.</p>`
	}
	var b strings.Builder
	b.Grow(len(recs) * 600)
	b.WriteString(`<div class="scroll"><table class="events"><thead><tr><th>Height</th><th>Kind</th><th>Subject</th><th>Counterparty</th><th>What</th></tr></thead><tbody>`)
	node := func(k ledger.PubKey) {
		b.WriteString(`<td>`)
		if !k.IsZero() {
			h := k.String()
			b.WriteString(`<a class="key" href="/node/`)
			b.WriteString(h)
			b.WriteString(`">`)
			b.WriteString(shortHex(h))
			b.WriteString(`</a>`)
		}
		b.WriteString(`</td>`)
	}
	for i := range recs {
		r := &recs[i]
		h := strconv.FormatInt(r.Height, 10)
		kind := html.EscapeString(r.KindName)
		b.WriteString(`<tr><td><a href="/block/`)
		b.WriteString(h)
		b.WriteString(`">`)
		b.WriteString(h)
		b.WriteString(`</a></td><td><span class="kind k-`)
		b.WriteString(kind)
		b.WriteString(`">`)
		b.WriteString(kind)
		b.WriteString(`</span></td>`)
		node(r.Subject)
		node(r.Counterparty)
		b.WriteString(`<td>`)
		b.WriteString(html.EscapeString(summary(r.Event)))
		if r.TxIndex != ledger.ConsensusTxIndex {
			b.WriteString(` · <a href="/tx/`)
			b.WriteString(r.TxHash.String())
			b.WriteString(`">tx</a>`)
		} else {
			b.WriteString(` · <span class="muted">by the ledger</span>`)
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString(`</tbody></table></div>`)
	return template.HTML(b.String())
}

// scoresList draws a trust page's list of scores with their reasons, in Go for the same reason
// as eventsTable. Monikers and reasons are escaped.
func scoresList(rows []scoreRow) template.HTML {
	if len(rows) == 0 {
		return `<p class="muted">Nobody known.</p>`
	}
	size := 32
	for _, r := range rows {
		size += 400 + len(r.Moniker)
		for _, reason := range r.Reasons {
			size += 16 + len(reason) + len(reason)/8 // room for a few escapes
		}
	}
	var b strings.Builder
	b.Grow(size)
	var num [32]byte
	b.WriteString(`<ol class="scores">`)
	for _, r := range rows {
		k := r.Score.Subject.String()
		b.WriteString(`<li><div class="score"><a class="key" href="/node/`)
		b.WriteString(k)
		b.WriteString(`">`)
		if r.Moniker != "" {
			escapeTo(&b, r.Moniker)
		} else {
			b.WriteString(shortHex(k))
		}
		b.WriteString(`</a> <span class="num">`)
		b.Write(strconv.AppendFloat(num[:0], r.Score.Score, 'f', 3, 64))
		b.WriteString(`</span> <span class="muted">confidence `)
		b.Write(strconv.AppendFloat(num[:0], 100*r.Score.Confidence, 'f', 1, 64))
		b.WriteString(`% · `)
		escapeTo(&b, r.Score.Status)
		b.WriteString(`</span></div><ul class="reasons">`)
		for _, reason := range r.Reasons {
			b.WriteString(`<li>`)
			escapeTo(&b, reason)
			b.WriteString(`</li>`)
		}
		b.WriteString(`</ul></li>`)
	}
	b.WriteString(`</ol>`)
	return template.HTML(b.String())
}

// escapeTo writes s to b escaped as html/template escapes text; a string with nothing to escape
// (most of them) is written as it is, without a copy.
func escapeTo(b *strings.Builder, s string) {
	if strings.IndexAny(s, "<>&'\"\x00") < 0 {
		b.WriteString(s)
		return
	}
	b.WriteString(template.HTMLEscapeString(s))
}
