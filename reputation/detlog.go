package reputation

import "math"

// detLog is the natural logarithm computed with the same float64 operations on every platform
// (T-4): math.Log is assembly on some architectures and Go elsewhere, and the drop rule's
// constants must not differ in their last bit between two nodes. x = m·2^e with m in
// [√½, √2); ln m = 2·atanh(z), z = (m-1)/(m+1), |z| ≤ 0.172, summed to 1e-17. For x > 0 only.
func detLog(x float64) float64 {
	m, e := math.Frexp(x) // exact: m in [0.5, 1)
	if m < math.Sqrt2/2 {
		m, e = float64(m*2), e-1
	}
	z := (m - 1) / (m + 1)
	z2 := float64(z * z)
	sum, term := 0.0, z
	for k := 1; k <= 41; k += 2 {
		sum += term / float64(k)
		term = float64(term * z2)
	}
	return float64(2*sum) + float64(float64(e)*math.Ln2)
}
