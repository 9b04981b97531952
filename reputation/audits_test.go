package reputation

import (
	"math"
	"testing"
)

// TestAuditSchedule checks specs/p2p.md P-12's audit schedule: the leaves a shard needs within
// the window catch the loss with the confidence asked, one fewer would not, and the interval
// spreads the audits of 16 leaves over the window.
func TestAuditSchedule(t *testing.T) {
	const day = 86400
	cases := []struct {
		loss, confidence float64
		window           int64
		leaves           int
		interval         int64
	}{
		{0.01, 0.95, day, 299, day / 19}, // the defaults: 75 min 47 s
		{0.01, 0.99, day, 459, day / 29},
		{0.1, 0.95, 3600, 29, 3600 / 2},
		{0.5, 0.5, 3600, 1, 3600},
		{0.01, 0.95, 38, 299, 2}, // what the end-to-end test sets
	}
	for _, c := range cases {
		n := AuditLeaves(c.loss, c.confidence)
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
		interval := AuditInterval(c.window, n, 16)
		if interval != c.interval {
			t.Errorf("%+v: interval %d, want %d", c, interval, c.interval)
		}
		// Over one window, audits at that interval challenge at least the leaves needed.
		if audits := int(c.window / interval); audits*16 < n {
			t.Errorf("%+v: %d audits of 16 leaves a window, fewer than %d leaves", c, audits, n)
		}
	}
}

func TestDueAudits(t *testing.T) {
	got := DueAudits([]int64{0, 10, 8, 9}, 10, 2)
	if want := []int{0, 2}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("due %v, want %v", got, want)
	}
}
