package reputation

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// TestScenarioFiles runs the scripted histories of testdata/scenarios: each file builds a
// history line by line and states what the rules of specs/trust.md must answer at that point.
// The commands (names stand for node keys; NAME@NET gives a candidate a network):
//
//	policy KEY=VALUE...       set policy fields by their JSON names (before any event)
//	contract C S              C opens a contract with supplier S
//	pass C S [N]              C's audit of S passes, N times (default 1)
//	fail C S [N]              C's audit of S fails, unproven, N times
//	cycle C S PASSES FAILS N  N times: PASSES passed audits, then FAILS failed ones
//	prove C S                 C's failed audit of S with evidence (a proof, T-3)
//	pay X J [N]               X pays J, who acknowledges it, N times (evidence of J about X)
//	register X                X registers
//	expect O S FIELD=VALUE... O's score of S: status, eligible, vetted, avoided, drop (ShouldDrop),
//	                          rate (3 decimals), conflicts.R (recommender R's conflicts with O,
//	                          2 decimals, or none when R is not a recommender)
//	choose O N SLOT CANDS... = WANT...   O's choice of N among CANDS at slot SLOT: a number,
//	                          or the first slot of a kind for O: stranger (in the stranger
//	                          share), newcomer (in the newcomer budget only) or plain
//	explored O N FROM TO CANDS... = COUNT  over slots FROM..TO-1 (one-slot placements),
//	                          how many choices were unvetted (the newcomer budget)
//	review O AT GRACE SUPS... = FIRED...   one tick of O's supplier manager (View.Review) at
//	                          time AT (seconds) with grace GRACE: SUPS are O's suppliers, NAME!
//	                          one that did not answer this tick, NAME~ a spare (no shards);
//	                          silence carries from O's previous review; FIRED is who is fired
//	                          ("-": nobody), in order
//
// A failing expectation names the file and line.
func TestScenarioFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

func scenarioKey(name string) ledger.PubKey { return sha256.Sum256([]byte("scenario node " + name)) }

func runScenario(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	var e *Engine
	h := &history{t: t}
	engine := func() *Engine {
		if e == nil {
			var err error
			if e, err = NewEngine(pol); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		h.feed(e)
		return e
	}
	names := map[ledger.PubKey]string{}
	key := func(n string) ledger.PubKey {
		k := scenarioKey(n)
		names[k] = n
		return k
	}
	count := func(args []string, i int) int {
		if len(args) <= i {
			return 1
		}
		n, err := strconv.Atoi(args[i])
		if err != nil {
			t.Fatalf("%s: count %q: %v", path, args[i], err)
		}
		return n
	}
	candidates := func(list []string) []Candidate {
		var out []Candidate
		for _, c := range list {
			name, network, _ := strings.Cut(c, "@")
			if network == "" {
				network = name
			}
			out = append(out, Candidate{Node: key(name), Network: network})
		}
		return out
	}
	silent := map[ledger.PubKey]map[ledger.PubKey]int64{} // observer → supplier → silent since
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		at := fmt.Sprintf("%s:%d", path, line)
		need := func(n int) {
			if len(f) < n {
				t.Fatalf("%s: %q needs %d fields", at, text, n)
			}
		}
		switch cmd, args := f[0], f[1:]; cmd {
		case "policy":
			if e != nil {
				t.Fatalf("%s: policy after the first event", at)
			}
			m := map[string]any{}
			b, _ := json.Marshal(pol)
			_ = json.Unmarshal(b, &m)
			for _, kv := range args {
				k, v, _ := strings.Cut(kv, "=")
				x, err := strconv.ParseFloat(v, 64)
				if _, known := m[k]; !known || err != nil {
					t.Fatalf("%s: policy %q: unknown field or bad number", at, kv)
				}
				m[k] = x
			}
			b, _ = json.Marshal(m)
			if err := json.Unmarshal(b, &pol); err != nil {
				t.Fatalf("%s: %v", at, err)
			}
		case "contract":
			need(3)
			h.contract(key(args[0]), key(args[1]))
		case "pass", "fail":
			need(3)
			for i := 0; i < count(args, 2); i++ {
				h.audit(key(args[0]), key(args[1]), cmd == "pass")
			}
		case "cycle":
			need(6)
			passes, fails := count(args, 2), count(args, 3)
			for i := 0; i < count(args, 4); i++ {
				for k := 0; k < passes; k++ {
					h.audit(key(args[0]), key(args[1]), true)
				}
				for k := 0; k < fails; k++ {
					h.audit(key(args[0]), key(args[1]), false)
				}
			}
		case "pay":
			need(3)
			for i := 0; i < count(args, 2); i++ {
				h.payment(key(args[0]), key(args[1]))
			}
		case "prove":
			need(3)
			h.provenFailure(key(args[0]), key(args[1]))
		case "register":
			need(2)
			x := key(args[0])
			h.add(x, ledger.PubKey{}, x, &ledger.RegisterNode{PeerID: "p"})
		case "expect":
			need(4)
			v := engine().View(key(args[0]))
			s := scoreOf(t, v, key(args[1]))
			for _, kv := range args[2:] {
				k, want, _ := strings.Cut(kv, "=")
				var got string
				switch k {
				case "status":
					got = s.Status
				case "eligible":
					got = strconv.FormatBool(s.Eligible)
				case "vetted":
					got = strconv.FormatBool(s.Vetted)
				case "avoided":
					got = strconv.FormatBool(s.Avoided)
				case "drop":
					got = strconv.FormatBool(dropOf(t, v, key(args[1])).Drop)
				case "rate":
					got = strconv.FormatFloat(s.Rate, 'f', 3, 64)
				default:
					if r, ok := strings.CutPrefix(k, "conflicts."); ok {
						got = "none"
						for _, rec := range s.Recommenders {
							if rec.Node == key(r) {
								got = strconv.FormatFloat(rec.Conflicts, 'f', 2, 64)
							}
						}
						break
					}
					t.Fatalf("%s: unknown field %q", at, k)
				}
				if got != want {
					t.Errorf("%s: %s of %s: %s = %s, want %s (%s)", at, args[0], args[1], k, got, want, StatusText(s))
				}
			}
		case "review":
			need(6)
			eq := indexOf(args, "=")
			if eq < 3 {
				t.Fatalf("%s: review O AT GRACE SUPS... = FIRED...", at)
			}
			o := key(args[0])
			now, grace := int64(count(args, 1)), int64(count(args, 2))
			if silent[o] == nil {
				silent[o] = map[ledger.PubKey]int64{}
			}
			var hired []Hired
			for _, sup := range args[3:eq] {
				name := strings.TrimRight(sup, "!~")
				k := key(name)
				hired = append(hired, Hired{Supplier: k, Shards: map[bool]int{true: 0, false: 1}[strings.HasSuffix(sup, "~")],
					Answered: !strings.HasSuffix(sup, "!"), SilentSince: silent[o][k]})
			}
			ds, err := engine().View(o).Review(hired, now, grace)
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			var fired []string
			for _, d := range ds {
				silent[o][d.Supplier] = d.SilentSince
				if d.Fire {
					fired = append(fired, names[d.Supplier])
					delete(silent[o], d.Supplier)
				}
			}
			want := args[eq+1:]
			if len(want) == 1 && want[0] == "-" {
				want = nil
			}
			if strings.Join(fired, " ") != strings.Join(want, " ") {
				var why []string
				for _, d := range ds {
					why = append(why, names[d.Supplier]+": "+d.Reason)
				}
				t.Errorf("%s: %s fires [%s], want [%s]; %s", at, args[0], strings.Join(fired, " "), strings.Join(want, " "), strings.Join(why, "; "))
			}
		case "choose":
			need(6)
			eq := indexOf(args, "=")
			if eq < 3 {
				t.Fatalf("%s: choose O N SLOT CANDS... = WANT...", at)
			}
			slot := slotOf(t, at, pol, key(args[0]), args[2], count(args, 1))
			got := []string{}
			for _, c := range chooseOf(t, engine().View(key(args[0])), candidates(args[3:eq]), count(args, 1), slot) {
				got = append(got, names[c.Node])
			}
			if want := args[eq+1:]; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: chose %v, want %v", at, got, want)
			}
		case "explored":
			need(8)
			eq := indexOf(args, "=")
			from, to := count(args, 2), count(args, 3)
			v, cands, explored := engine().View(key(args[0])), candidates(args[4:eq]), 0
			for s := from; s < to; s++ {
				for _, c := range chooseOf(t, v, cands, count(args, 1), uint64(s)) {
					if c.Explored {
						explored++
					}
				}
			}
			if want := count(args, eq+1); explored != want {
				t.Errorf("%s: %d unvetted choices over slots %d..%d, want %d", at, explored, from, to-1, want)
			}
		default:
			t.Fatalf("%s: unknown command %q", at, cmd)
		}
	}
}

// slotOf resolves a slot argument for a placement of n: a number, or the first slot of a kind
// for observer o (the budget's slots follow the observer's phase, §5): a placement whose n
// slots include a stranger slot, include a newcomer slot but no stranger slot, or neither.
func slotOf(t *testing.T, at string, pol Policy, o ledger.PubKey, arg string, n int) uint64 {
	if n, err := strconv.ParseUint(arg, 10, 64); err == nil {
		return n
	}
	phase := binary.BigEndian.Uint64(o[:8])
	for s := uint64(0); s < 1000; s++ {
		stranger, newcomer := false, false
		for k := uint64(0); k < uint64(n); k++ {
			stranger = stranger || multipleOf(phase+s+k, pol.StrangerShare)
			newcomer = newcomer || multipleOf(phase+s+k, pol.ExplorationShare)
		}
		switch {
		case arg == "stranger" && stranger, arg == "newcomer" && newcomer && !stranger, arg == "plain" && !newcomer && !stranger:
			return s
		}
	}
	t.Fatalf("%s: no %q slot", at, arg)
	return 0
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
