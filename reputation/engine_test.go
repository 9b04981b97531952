package reputation

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// auditsUntilDrop audits a fresh supplier with the failure pattern until ShouldDrop says so,
// checking after every audit; it returns the audit count, or -1 if never dropped within max.
func auditsUntilDrop(t *testing.T, trustedFor int, fails func(i int) bool, max int) int {
	o, s := node("observer"), node("supplier")
	e, _ := NewEngine(DefaultPolicy())
	h := &history{t: t}
	h.serve(o, s, trustedFor)
	for i := range h.recs {
		_ = e.Apply(&h.recs[i])
	}
	for i := 1; i <= max; i++ {
		h.recs = h.recs[:0]
		h.audit(o, s, !fails(i))
		_ = e.Apply(&h.recs[0])
		if dropOf(t, e.View(o), s).Drop {
			return i
		}
	}
	return -1
}

// TestDropTiming checks the anchor numbers of specs/trust.md §2.1 and the goals of issues 3 and 17.
func TestDropTiming(t *testing.T) {
	cases := []struct {
		name       string
		trustedFor int // passed audits before the pattern starts
		fails      func(i int) bool
		max        int
		min, hi    int // dropped within [min, hi]; hi -1: never
		comments   string
	}{
		{"fresh, fails every audit", 0, func(int) bool { return true }, 200, 6, 6, "ln(10^4)/ln(5): sixth failure"},
		{"fresh, fails 10%", 0, func(i int) bool { return i%10 == 0 }, 1000, 110, 110, "goal: within 1,000"},
		{"fresh, fails 2%", 0, func(i int) bool { return i%50 == 0 }, 5000, -1, -1, "goal: never wrongly dropped"},
		{"fresh, never fails", 0, func(int) bool { return false }, 2000, -1, -1, ""},
		{"fresh, three early failures", 0, func(i int) bool { return i <= 3 }, 2000, -1, -1, "the old probation prior dropped here (issue 17)"},
		{"trusted, turns bad", 1000, func(int) bool { return true }, 200, 6, 6, "goal: within 50; no credit carried into the test"},
		{"trusted, fails 10%", 1000, func(i int) bool { return i%10 == 0 }, 1000, 110, 110, "goal: within 1,000"},
		{"trusted, fails 2%", 1000, func(i int) bool { return i%50 == 0 }, 5000, -1, -1, "goal: never wrongly dropped"},
	}
	for _, c := range cases {
		got := auditsUntilDrop(t, c.trustedFor, c.fails, c.max)
		if c.hi == -1 {
			if got != -1 {
				t.Errorf("%s: dropped after %d audits, want never (%s)", c.name, got, c.comments)
			}
			continue
		}
		if got < c.min || got > c.hi {
			t.Errorf("%s: dropped after %d audits, want %d..%d (%s)", c.name, got, c.min, c.hi, c.comments)
		}
	}
}

func TestClaimsNeedCountersignedHistory(t *testing.T) {
	o, s, stranger, customer := node("o"), node("s"), node("stranger"), node("customer")
	h := &history{t: t}
	h.serve(o, s, 30)
	h.serve(o, customer, 30) // o trusts customer, so customer's claims are heard
	h.serve(o, stranger, 30) // ... and o trusts stranger too, but stranger never dealt with s
	for i := 0; i < 50; i++ {
		h.report(stranger, s)
	}
	e := h.engine(DefaultPolicy())
	sc := scoreOf(t, e.View(o), s)
	if len(sc.Ignored) != 1 || sc.Ignored[0].Node != stranger || sc.Ignored[0].Claims != 50 {
		t.Fatalf("ignored claims: %+v", sc.Ignored)
	}
	if sc.Recommendation != nil {
		t.Fatalf("a stranger's reports weighed: %+v", sc.Recommendation)
	}
	text := strings.Join(Explain(sc, DefaultPolicy(), nil, 3), "\n")
	if !strings.Contains(text, "50 claims by "+ShortName(stranger)+" carry no weight") {
		t.Errorf("explanation does not name the ignored claims:\n%s", text)
	}

	// The same reports from a customer with a contract count against s.
	h.contract(customer, s)
	for i := 0; i < 50; i++ {
		h.report(customer, s)
	}
	e = h.engine(DefaultPolicy())
	sc2 := scoreOf(t, e.View(o), s)
	if sc2.Recommendation == nil || sc2.Recommendation.Rate >= 0.96 || len(sc2.Ignored) != 1 {
		t.Fatalf("a related customer's 50 reports should weigh (recommended rate below 0.96): %+v", sc2.Recommendation)
	}
	// They rank s lower but do not make it ineligible: o's own experience decides (§4.6).
	if !sc2.Eligible || sc2.Status != StatusVetted || sc2.Score >= sc.Score {
		t.Fatalf("others' unproven claims: status %s, eligible %v, score %.4f (was %.4f): want eligible, ranked lower",
			sc2.Status, sc2.Eligible, sc2.Score, sc.Score)
	}
}

func TestProofMakesIneligibleForEveryone(t *testing.T) {
	o, s, c, other := node("o"), node("s"), node("c"), node("other")
	h := &history{t: t}
	h.serve(o, s, 100)
	h.contract(c, s)
	h.provenFailure(c, s)
	e := h.engine(DefaultPolicy())
	for _, obs := range []ledger.PubKey{o, c, other} {
		sc := scoreOf(t, e.View(obs), s)
		if sc.Eligible || sc.Proof == nil || sc.Score != 0 || !dropOf(t, e.View(obs), s).Drop {
			t.Errorf("observer %s: %+v, want ineligible with proof", ShortName(obs), sc)
		}
	}
}

func TestTransitiveTrustAndNoPath(t *testing.T) {
	o, a, x, y := node("o"), node("a"), node("x"), node("y")
	h := &history{t: t}
	h.serve(o, a, 40) // o knows a is good
	h.serve(a, x, 40) // a knows x is good
	h.serve(y, x, 40) // y (unknown to o) also vouches for x
	e := h.engine(DefaultPolicy())
	v := e.View(o)
	sx := scoreOf(t, v, x)
	if sx.Score <= 0.5 || len(sx.Recommenders) != 1 || sx.Recommenders[0].Node != a || !sx.Vetted {
		t.Fatalf("o's view of x: %+v", sx)
	}
	if sy := scoreOf(t, v, y); sy.Score != 0 || sy.Confidence != 0 || sy.Status != StatusStranger {
		t.Errorf("o has no path to y's service, so y is a stranger scoring 0: %+v", sy)
	}
	// Personal: from y's viewpoint x is known directly, a not at all.
	if sa := scoreOf(t, e.View(y), a); sa.Score != 0 || sa.Status != StatusStranger {
		t.Errorf("y's view of a: %+v", sa)
	}
}

// TestDiscreditedRecommenderPassesLessMass (specs/trust.md §3, §4.3): a spy serves o well and
// vouches for two members of a collective; o tried one member and dropped it. The spy's record
// of that member contradicts o's verdict, so in o's PageRank the spy passes on only its
// credibility's share of its mass (1/31 at one pair's worth of conflict): the other member,
// whom only the spy vouches for, keeps about 1/31 of the mass it had, and the mass withheld
// returns to the restart (the vector still sums to 1).
func TestDiscreditedRecommenderPassesLessMass(t *testing.T) {
	o, spy, good, m1, m2 := node("o"), node("spy"), node("good"), node("m1"), node("m2")
	h := &history{t: t}
	h.serve(o, spy, 40)
	h.serve(o, good, 40)
	h.serve(spy, m1, 20)
	h.serve(spy, m2, 20)
	h.contract(o, m1)
	for i := 0; i < 10; i++ {
		h.audit(o, m1, false)
	}
	mass := func(p Policy) (map[ledger.PubKey]float64, float64) {
		v := h.engine(p).View(o)
		out, total := map[ledger.PubKey]float64{}, 0.0
		for _, k := range []ledger.PubKey{o, spy, good, m1, m2} {
			out[k] = scoreOf(t, v, k).Trust
			total += out[k]
		}
		return out, total
	}
	off := DefaultPolicy()
	off.ConflictPenalty = 0
	with, total := mass(DefaultPolicy())
	without, _ := mass(off)
	if math.Abs(total-1) > 1e-9 {
		t.Errorf("trust mass sums to %v, want 1", total)
	}
	if ratio := with[m2] / without[m2]; ratio > 1.0/25 || ratio < 1.0/40 {
		t.Errorf("m2's mass %.5f with the spy discredited, %.5f without: ratio %.4f, want about 1/31", with[m2], without[m2], ratio)
	}
	if with[spy] < without[spy]*0.99 || with[good] < without[good]*0.99 {
		t.Errorf("what o's own experience gives the spy (%.4f, was %.4f) and good (%.4f, was %.4f) should not fall", with[spy], without[spy], with[good], without[good])
	}
}

// TestSybilMassDoesNotGrowWithSybils: a sybil region behind one attack edge gets the same total
// trust mass with 100 and 1,000 identities that vouch for each other.
func TestSybilMassDoesNotGrowWithSybils(t *testing.T) {
	mass := func(nSybils int) (float64, float64) {
		h := &history{t: t}
		honest := make([]ledger.PubKey, 10)
		for i := range honest {
			honest[i] = node(fmt.Sprint("honest", i))
		}
		for i := range honest {
			h.serve(honest[i], honest[(i+1)%len(honest)], 30)
		}
		entry := node("entry")
		h.serve(honest[3], entry, 30) // the attack edge: entry served honest[3] well
		sybils := make([]ledger.PubKey, nSybils)
		for i := range sybils {
			sybils[i] = node(fmt.Sprint("sybil", i))
			h.serve(entry, sybils[i], 5)
			h.serve(sybils[i], entry, 5)
			h.serve(sybils[i], sybils[(i+1)%nSybils], 100) // volume among themselves
		}
		v := h.engine(DefaultPolicy()).View(honest[0])
		total, best := scoreOf(t, v, entry).Trust, 0.0
		for _, s := range sybils {
			sc := scoreOf(t, v, s)
			total += sc.Trust
			best = math.Max(best, sc.Score)
		}
		return total, best
	}
	m10, _ := mass(10)
	m100, best100 := mass(100)
	m1000, best1000 := mass(1000)
	if m100 > m10*1.0001 || m1000 > m100*1.0001 {
		t.Errorf("sybil region mass grew with its size: %.6f at 10, %.6f at 100, %.6f at 1000", m10, m100, m1000)
	}
	if best100 >= 0.97 || best1000 >= 0.97 {
		t.Errorf("a sybil reached the hire threshold: %.4f / %.4f", best100, best1000)
	}
}

// TestVolumeIsCapped: 10,000 receipts between colluders weigh like EdgeCap observations.
func TestVolumeIsCapped(t *testing.T) {
	build := func(receipts int) float64 {
		o, a, b := node("o"), node("a"), node("b")
		h := &history{t: t}
		h.serve(o, a, 30)
		h.contract(a, b)
		for i := 0; i < receipts; i++ {
			h.receipt(a, b)
		}
		return scoreOf(t, h.engine(DefaultPolicy()).View(o), b).Trust
	}
	if few, many := build(100), build(10000); math.Abs(few-many) > 1e-9 {
		t.Errorf("trust mass of b: %.9f with 100 receipts, %.9f with 10,000", few, many)
	}
}

// TestIncrementalEqualsFullRecomputation: random histories ingested block by block, with views
// computed (warm-started) between blocks, give the same scores as one engine over everything.
func TestIncrementalEqualsFullRecomputation(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewSource(seed))
		nodes := make([]ledger.PubKey, 40)
		for i := range nodes {
			nodes[i] = node(fmt.Sprint(seed, "n", i))
		}
		h := &history{t: t}
		for i := 0; i < 3000; i++ {
			a, b := nodes[rng.Intn(len(nodes))], nodes[rng.Intn(len(nodes))]
			if a == b {
				continue
			}
			switch rng.Intn(6) {
			case 0:
				h.contract(a, b)
			case 1, 2:
				h.audit(a, b, rng.Intn(10) > 0)
			case 3:
				h.receipt(a, b)
			case 4:
				h.report(a, b)
			case 5:
				if rng.Intn(50) == 0 {
					h.provenFailure(a, b)
				}
			}
		}
		observer := nodes[0]
		inc, _ := NewEngine(DefaultPolicy())
		for i := range h.recs {
			_ = inc.Apply(&h.recs[i])
			if i%100 == 99 {
				inc.View(observer)
			}
		}
		full := h.engine(DefaultPolicy())
		a, b := allOf(t, inc.View(observer)), allOf(t, full.View(observer))
		if len(a) != len(b) {
			t.Fatalf("seed %d: %d vs %d scores", seed, len(a), len(b))
		}
		for i := range a {
			if a[i].Subject != b[i].Subject || math.Abs(a[i].Score-b[i].Score) > 1e-9 || a[i].Eligible != b[i].Eligible {
				t.Fatalf("seed %d rank %d: incremental %+v, full %+v", seed, i, a[i], b[i])
			}
		}
	}
}

func TestDeterministicOutput(t *testing.T) {
	h := &history{t: t}
	o := node("o")
	for i := 0; i < 20; i++ {
		h.serve(o, node(fmt.Sprint(i)), i)
		h.serve(node(fmt.Sprint(i)), node(fmt.Sprint(i+1)), 3)
	}
	out := func() string {
		b, _ := json.Marshal(allOf(t, h.engine(DefaultPolicy()).View(o)))
		return string(b)
	}
	if out() != out() {
		t.Fatal("same history, different output")
	}
}

func TestHistoryOutOfOrderIsRejected(t *testing.T) {
	e, _ := NewEngine(DefaultPolicy())
	_ = e.Apply(&ledger.EventRecord{Height: 5, Subject: node("a"), Event: &ledger.RegisterNode{}})
	if err := e.Apply(&ledger.EventRecord{Height: 4, Subject: node("b"), Event: &ledger.RegisterNode{}}); err == nil {
		t.Fatal("an older event was accepted")
	}
	if e.Nodes() != 1 {
		t.Fatalf("the rejected event changed the engine: %d nodes", e.Nodes())
	}
}

// TestDoubleSignReportIsProof: a double_signed_receipt report with (ledger-verified) evidence
// makes the accused ineligible for everyone, even when the reporter has no history with it.
func TestDoubleSignReportIsProof(t *testing.T) {
	o, s, stranger := node("o"), node("s"), node("stranger")
	h := &history{t: t}
	h.serve(o, s, 100)
	h.add(s, stranger, stranger, &ledger.MisbehaviorReport{Accused: s, Misconduct: ledger.MisconductDoubleSignedRcpt, Evidence: []byte("verified by the ledger")})
	e := h.engine(DefaultPolicy())
	if sc := scoreOf(t, e.View(o), s); sc.Eligible || sc.Proof == nil || !strings.Contains(sc.Reason, "conflicting receipts") {
		t.Fatalf("after a proven double signature: %+v", sc)
	}
}

// TestStaleViewRefuses is the sequence that used to panic with an index out of range: a view
// taken before a new node appears is asked afterwards. Every method of the stale view refuses
// with ErrStaleView; a new view answers, and matches one computed from scratch.
func TestStaleViewRefuses(t *testing.T) {
	a, b, c := node("a"), node("b"), node("c")
	h := &history{t: t}
	h.serve(a, b, 5)
	e := h.engine(DefaultPolicy())
	v := e.View(a)
	before := scoreOf(t, v, b)

	h.recs = h.recs[:0]
	h.serve(c, b, 5) // c is new to the engine, and now serves as a recommender of b
	h.feed(e)
	if !v.Stale() {
		t.Fatal("view not stale after new events")
	}
	if _, err := v.Score(b); !errors.Is(err, ErrStaleView) {
		t.Errorf("Score on a stale view: got %v, want ErrStaleView", err)
	}
	if _, err := v.All(); !errors.Is(err, ErrStaleView) {
		t.Errorf("All on a stale view: got %v, want ErrStaleView", err)
	}
	if _, err := v.Choose([]Candidate{{Node: b}}, 1, 0); !errors.Is(err, ErrStaleView) {
		t.Errorf("Choose on a stale view: got %v, want ErrStaleView", err)
	}
	if _, err := v.ShouldDrop(b); !errors.Is(err, ErrStaleView) {
		t.Errorf("ShouldDrop on a stale view: got %v, want ErrStaleView", err)
	}
	// A contract open alone (no observation) adds a node and a pair: it must stale views too.
	v = e.View(a)
	h.contract(node("d"), b)
	h.feed(e)
	if _, err := v.Score(b); !errors.Is(err, ErrStaleView) {
		t.Errorf("after a contract open: got %v, want ErrStaleView", err)
	}
	after := scoreOf(t, e.View(a), b)
	h2 := &history{t: t}
	h2.serve(a, b, 5)
	h2.serve(c, b, 5)
	h2.contract(node("d"), b)
	fresh := scoreOf(t, h2.engine(DefaultPolicy()).View(a), b)
	if math.Abs(after.Score-fresh.Score) > 1e-9 || after.Eligible != fresh.Eligible {
		t.Errorf("new view after the events: score %v eligible %v, from scratch %v %v", after.Score, after.Eligible, fresh.Score, fresh.Eligible)
	}
	if before.Subject != b {
		t.Errorf("first answer was about %s", before.Subject)
	}
}

// TestWarmStartCacheIsBounded: the engine keeps warm-start vectors for at most
// WarmStartObservers observers, evicting the least recently used one at a time.
func TestWarmStartCacheIsBounded(t *testing.T) {
	h := &history{t: t}
	n := WarmStartObservers + 10
	for i := 0; i < n; i++ {
		h.serve(node(fmt.Sprint("customer", i)), node("supplier"), 1)
	}
	e := h.engine(DefaultPolicy())
	for i := 0; i < n; i++ {
		e.View(node(fmt.Sprint("customer", i)))
		if got, want := e.warm.Len(), min(i+1, WarmStartObservers); got != want {
			t.Fatalf("after %d views: %d warm vectors, want %d", i+1, got, want)
		}
	}
	if e.warm.Contains(node("customer0")) || !e.warm.Contains(node(fmt.Sprint("customer", n-1))) {
		t.Error("eviction did not drop the least recently used observer first")
	}
}

// TestWarmStartBytes: with SetWarmStartBytes the engine keeps as many observers' vectors as fit
// (here all of them), and a warm-started view goes on converging where the last one stopped: on
// a ring, where MaxIterations stops a cold start about 10^-4 from the limit, a third view is
// within 10^-8 of it.
func TestWarmStartBytes(t *testing.T) {
	h := &history{t: t}
	n := 3 * WarmStartObservers
	for i := 0; i < n; i++ {
		h.serve(node(fmt.Sprint("customer", i)), node("supplier"), 1)
		h.serve(node("supplier"), node(fmt.Sprint("customer", (i+1)%n)), 1)
	}
	e := h.engine(DefaultPolicy())
	exact := DefaultPolicy()
	exact.MaxIterations = 5000
	limit := h.engine(exact)
	e.SetWarmStartBytes(1 << 20) // n+1 nodes: far more than n vectors fit
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			e.View(node(fmt.Sprint("customer", i)))
		}
	}
	if got := e.warm.Len(); got != n {
		t.Fatalf("%d warm vectors, want all %d observers'", got, n)
	}
	o := node("customer7")
	warmView, limitView := e.View(o), limit.View(o)
	for i := range warmView.t {
		if math.Abs(warmView.t[i]-limitView.t[i]) > 1e-8 {
			t.Fatalf("node %d: warm mass %v, the limit %v", i, warmView.t[i], limitView.t[i])
		}
	}
}

// TestRescoreKeepsTrustReadsEvidence: a rescored view answers (it is fresh), keeps the old
// PageRank mass (a node that appeared since has none), and reads the newest direct evidence.
func TestRescoreKeepsTrustReadsEvidence(t *testing.T) {
	a, b, c := node("a"), node("b"), node("c")
	h := &history{t: t}
	h.serve(a, b, 5)
	e := h.engine(DefaultPolicy())
	v := e.View(a)
	mass := scoreOf(t, v, b).Trust
	h.recs = h.recs[:0]
	h.serve(c, b, 3)
	for i := 0; i < 20; i++ {
		h.audit(a, b, false)
	}
	h.feed(e)
	r := e.Rescore(v)
	sb := scoreOf(t, r, b)
	if sb.Trust != mass {
		t.Errorf("rescored trust mass of b %v, want the old %v", sb.Trust, mass)
	}
	if sb.Direct == nil || sb.Direct.Counts.AuditsFailed != 20 || sb.Eligible {
		t.Errorf("rescored view does not read the new failures: %+v", sb.Direct)
	}
	if sc := scoreOf(t, r, c); sc.Trust != 0 {
		t.Errorf("a node new since the PageRank has mass %v, want 0", sc.Trust)
	}
}
