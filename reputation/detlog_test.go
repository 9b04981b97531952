package reputation

import (
	"math"
	"testing"
)

// TestDetLog checks the platform-independent logarithm against math.Log (T-4).
func TestDetLog(t *testing.T) {
	for _, x := range []float64{1e-9, 0.02, 0.1, 0.5, 0.7071, 0.9, 0.918, 1, 1.5, 2, 5, 10, 1e4, 1e12} {
		if got, want := detLog(x), math.Log(x); math.Abs(got-want) > 1e-15*math.Max(1, math.Abs(want)) {
			t.Errorf("detLog(%v) = %.17g, math.Log = %.17g", x, got, want)
		}
	}
}
