package reputation

import (
	"math/rand"
	"sort"
	"testing"
)

// sortedTypical is the definition of §4.5's typical mass by a sort: walk the masses from the
// largest down and return the one at which half the total is reached.
func sortedTypical(masses []float64) float64 {
	a := append([]float64(nil), masses...)
	total := 0.0
	for _, x := range a {
		total += x
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(a)))
	acc := 0.0
	for _, x := range a {
		if acc += x; acc >= total/2 {
			return x
		}
	}
	return 0
}

// TestWeightedMedian checks the quickselect against the sort it replaces (§4.5 typical mass),
// on tables of ties and edge cases and on random vectors.
func TestWeightedMedian(t *testing.T) {
	cases := []struct {
		name   string
		masses []float64
		want   float64
	}{
		{"empty", nil, 0},
		{"one", []float64{0.3}, 0.3},
		{"all equal", []float64{0.2, 0.2, 0.2, 0.2}, 0.2},
		{"one heavy node holds half", []float64{0.5, 0.1, 0.1, 0.1, 0.1, 0.1}, 0.5},
		{"one heavy node holds less than half", []float64{0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, 0.1},
		{"two levels", []float64{0.3, 0.3, 0.1, 0.1, 0.1, 0.1}, 0.3},
		{"many small, few large", []float64{0.01, 0.01, 0.01, 0.01, 0.2, 0.3, 0.45}, 0.3},
	}
	for _, c := range cases {
		a := append([]float64(nil), c.masses...)
		total := 0.0
		for _, x := range a {
			total += x
		}
		if got := weightedMedian(a, total/2); got != c.want {
			t.Errorf("%s: weightedMedian = %v, want %v", c.name, got, c.want)
		}
		if got := sortedTypical(c.masses); got != c.want {
			t.Errorf("%s: the sort's answer %v, want %v (the table is wrong)", c.name, got, c.want)
		}
	}
	rng := rand.New(rand.NewSource(17))
	for k := 0; k < 500; k++ {
		n := 1 + rng.Intn(300)
		masses := make([]float64, n)
		for i := range masses {
			switch rng.Intn(3) {
			case 0:
				masses[i] = float64(1+rng.Intn(5)) / 100 // many ties
			default:
				masses[i] = rng.ExpFloat64()
			}
		}
		// The same total both ways: the input order's sum, as typicalMass computes it.
		total := 0.0
		for _, x := range masses {
			total += x
		}
		want := sortedTypical(masses)
		got := weightedMedian(append([]float64(nil), masses...), total/2)
		if got != want {
			t.Fatalf("vector %d (%d masses): weightedMedian = %v, the sort gives %v", k, n, got, want)
		}
	}
}
