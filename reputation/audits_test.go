package reputation

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestAuditSchedule checks specs/p2p.md P-12's audit schedule: the leaves a shard needs within
// the window catch the loss with the confidence asked, one fewer would not, and the interval
// spreads the audits of 16 leaves over the window.
func TestAuditSchedule(t *testing.T) {
	cases := []struct {
		loss, confidence float64
		window           time.Duration
		leaves           int
		interval         time.Duration
	}{
		{0.01, 0.95, 24 * time.Hour, 299, 24 * time.Hour / 19}, // the defaults: 75 min 47 s
		{0.01, 0.99, 24 * time.Hour, 459, 24 * time.Hour / 29},
		{0.1, 0.95, time.Hour, 29, time.Hour / 2},
		{0.5, 0.5, time.Hour, 1, time.Hour},
		{0.01, 0.95, 38 * time.Second, 299, 2 * time.Second}, // what the end-to-end test sets
	}
	for _, c := range cases {
		p := ManagerPolicy{AuditLoss: c.loss, AuditConfidence: c.confidence, AuditWindow: c.window, Grace: time.Hour}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		n := p.AuditLeaves()
		if n != c.leaves {
			t.Errorf("%+v: %d leaves, want %d", c, n, c.leaves)
		}
		if caught := 1 - math.Pow(1-c.loss, float64(n)); caught < c.confidence {
			t.Errorf("%+v: %d leaves catch with %v < %v", c, n, caught, c.confidence)
		}
		if n > 1 {
			if caught := 1 - math.Pow(1-c.loss, float64(n-1)); caught >= c.confidence {
				t.Errorf("%+v: %d leaves would do", c, n-1)
			}
		}
		if got := p.AuditInterval(16); got != c.interval {
			t.Errorf("%+v: interval %s, want %s", c, got, c.interval)
		}
		// Over one window, audits at that interval challenge at least the leaves needed.
		if audits := int(c.window / p.AuditInterval(16)); audits*16 < n {
			t.Errorf("%+v: %d audits of 16 leaves a window, fewer than %d leaves", c, audits, n)
		}
	}
}

func TestManagerPolicyValidate(t *testing.T) {
	d := DefaultManagerPolicy()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, edit := range []func(*ManagerPolicy){
		func(p *ManagerPolicy) { p.AuditLoss = 0 },
		func(p *ManagerPolicy) { p.AuditLoss = 1 },
		func(p *ManagerPolicy) { p.AuditConfidence = 1 },
		func(p *ManagerPolicy) { p.AuditWindow = time.Millisecond },
		func(p *ManagerPolicy) { p.Grace = -time.Second },
	} {
		p := d
		edit(&p)
		if err := p.Validate(); !errors.Is(err, ErrManagerPolicy) {
			t.Errorf("%+v: %v, want ErrManagerPolicy", p, err)
		}
	}
}

func TestDueAudits(t *testing.T) {
	const s = int64(time.Second)
	got := DueAudits([]int64{0, 10 * s, 8 * s, 9*s + 1}, 10*s, time.Second)
	if want := []int{0, 2}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("due %v, want %v", got, want)
	}
}
