package explorer

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// Charts and graphs are drawn here as inline SVG: no script, no remote asset. Every string that
// goes into them passes through esc; colours come from classes in style.css (the CSP allows no
// inline styles).

func esc(s string) string { return template.HTMLEscapeString(s) }

// activityChart is a stacked bar per minute: the events committed in it, by kind.
func activityChart(minutes []api.MinuteStats) template.HTML {
	const w, h, top, bottom, left = 720.0, 180.0, 10.0, 24.0, 40.0
	if len(minutes) == 0 {
		return template.HTML(`<p class="muted">No events yet.</p>`)
	}
	peak := uint64(1)
	for _, m := range minutes {
		var sum uint64
		for _, c := range m.Events {
			sum += c
		}
		peak = max(peak, sum)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="events per minute by kind">`, w, h)
	plotH := h - top - bottom
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="end">%d</text>`, left-4, top+8, peak)
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="end">0</text>`, left-4, h-bottom)
	fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, h-bottom, w, h-bottom)
	bw := (w - left) / float64(len(minutes))
	for i, m := range minutes {
		x := left + float64(i)*bw
		y := h - bottom
		for _, k := range ledger.AllKinds {
			c := m.Events[k.String()]
			if c == 0 {
				continue
			}
			bh := plotH * float64(c) / float64(peak)
			y -= bh
			fmt.Fprintf(&b, `<rect class="k-%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>`,
				k, x+0.5, y, math.Max(bw-1, 0.5), bh, k, c)
		}
	}
	first, last := minutes[0].Start, minutes[len(minutes)-1].Start
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f">%s</text>`, left, h-6, clock(first))
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="end">%s UTC</text>`, w, h-6, clock(last))
	b.WriteString(`</svg><ul class="legend">`)
	for _, k := range ledger.AllKinds {
		fmt.Fprintf(&b, `<li><span class="swatch k-%s"></span>%s</li>`, k, k)
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String())
}

func clock(unix int64) string {
	return fmt.Sprintf("%02d:%02d", (unix/3600)%24, (unix/60)%60)
}

// relationChart draws a relation's running totals over its events (oldest first): audits
// passed and failed and receipts, each as a line over the events' heights.
func relationChart(recs []ledger.EventRecord, a, b ledger.PubKey) template.HTML {
	if len(recs) == 0 {
		return ""
	}
	type series struct {
		class, label string
		pts          []float64
	}
	ss := []*series{{class: "s-pass", label: "audits passed"}, {class: "s-fail", label: "audits failed"}, {class: "s-rcpt", label: "receipts"}}
	var pass, fail, rcpt float64
	for _, r := range recs {
		switch ev := r.Event.(type) {
		case *ledger.AuditResult:
			if ev.Passed {
				pass++
			} else {
				fail++
			}
		case *ledger.StorageReceipt, *ledger.BandwidthReceipt:
			rcpt++
		}
		ss[0].pts, ss[1].pts, ss[2].pts = append(ss[0].pts, pass), append(ss[1].pts, fail), append(ss[2].pts, rcpt)
	}
	peak := math.Max(1, math.Max(pass, math.Max(fail, rcpt)))
	const w, h, top, bottom, left = 720.0, 160.0, 10.0, 22.0, 40.0
	lo, hi := recs[0].Height, recs[len(recs)-1].Height
	span := math.Max(1, float64(hi-lo))
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="running totals of the relation">`, w, h)
	fmt.Fprintf(&sb, `<line class="grid" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&sb, `<text class="axis" x="%.0f" y="%.0f" text-anchor="end">%.0f</text>`, left-4, top+8, peak)
	fmt.Fprintf(&sb, `<text class="axis" x="%.0f" y="%.0f">height %d</text>`, left, h-6, lo)
	fmt.Fprintf(&sb, `<text class="axis" x="%.0f" y="%.0f" text-anchor="end">height %d</text>`, w, h-6, hi)
	for _, s := range ss {
		var pts []string
		for i, v := range s.pts {
			x := left + (w-left)*float64(recs[i].Height-lo)/span
			y := h - bottom - (h-top-bottom)*v/peak
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&sb, `<polyline class="%s" points="%s"><title>%s: %.0f</title></polyline>`, s.class, strings.Join(pts, " "), s.label, s.pts[len(s.pts)-1])
	}
	sb.WriteString(`</svg><ul class="legend">`)
	for _, s := range ss {
		fmt.Fprintf(&sb, `<li><span class="swatch %s"></span>%s</li>`, s.class, s.label)
	}
	sb.WriteString(`</ul>`)
	return template.HTML(sb.String())
}

// graphPicture lays an ego graph out on rings, the centre in the middle, each hop on its own
// ring in the graph's order (strongest first), so one history draws the same picture every
// time. Every edge links to its relation, every node to its own trust view.
func graphPicture(g reputation.Graph, name func(ledger.PubKey) string) template.HTML {
	const size = 640.0
	c := size / 2
	pos := map[ledger.PubKey][2]float64{}
	byHop := map[int][]ledger.PubKey{}
	for _, n := range g.Nodes {
		byHop[n.Hop] = append(byHop[n.Hop], n.Node)
	}
	rings := map[int]float64{0: 0, 1: size * 0.22, 2: size * 0.44}
	for hop, ns := range byHop {
		for i, k := range ns {
			angle := 2*math.Pi*float64(i)/float64(len(ns)) - math.Pi/2
			if hop == 2 {
				angle += math.Pi / float64(len(ns)) // between the inner ring's spokes
			}
			pos[k] = [2]float64{c + rings[hop]*math.Cos(angle), c + rings[hop]*math.Sin(angle)}
		}
	}
	peak := 0.0
	for _, e := range g.Edges {
		peak = math.Max(peak, e.Weight)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="graph" viewBox="0 0 %.0f %.0f" role="img" aria-label="trust edges within two hops">`, size, size)
	for i := len(g.Edges) - 1; i >= 0; i-- { // strongest drawn last, on top
		e := g.Edges[i]
		p, q := pos[e.From], pos[e.To]
		width := 0.5 + 3.5*e.Weight/math.Max(peak, 1e-9)
		fmt.Fprintf(&b, `<a href="/relation/%s/%s"><line class="edge" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke-width="%.2f"><title>%s → %s: weight %.2f</title></line></a>`,
			e.From, e.To, p[0], p[1], q[0], q[1], width, esc(name(e.From)), esc(name(e.To)), e.Weight)
	}
	for _, n := range g.Nodes {
		p := pos[n.Node]
		r := 5.0
		if n.Hop == 0 {
			r = 9
		}
		fmt.Fprintf(&b, `<a href="/trust/%s"><circle class="hop%d" cx="%.1f" cy="%.1f" r="%.0f"><title>%s</title></circle></a>`,
			n.Node, n.Hop, p[0], p[1], r, esc(name(n.Node)))
		if n.Hop < 2 || len(byHop[2]) <= 40 {
			fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f">%s</text>`, p[0]+r+2, p[1]+4, esc(shorten(name(n.Node), 16)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
