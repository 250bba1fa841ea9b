package correlate

import "math"

// Statistics of probe loss: counts of lost probes out of sent ones.

// zTwo is the two-proportion z statistic of p1 (n1) above p2 (n2).
func zTwo(p1 float64, n1 int, p2 float64, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	p := (p1*float64(n1) + p2*float64(n2)) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		if p1 > p2 {
			return math.Inf(1)
		}
		return 0
	}
	return (p1 - p2) / se
}

// maxZ caps the z of a tail probability too small for float64.
const maxZ = 37

// binomUpperZ is how surprising k or more lost probes out of n are when
// the loss is p0: the exact binomial upper tail, told as a one-sided z.
// Small counts are the point: three lost echoes out of twenty say more
// than a normal approximation against zero allows (which needs about 40
// probes to call 25 % loss).
func binomUpperZ(k, n int, p0 float64) float64 {
	if n <= 0 || k <= 0 || float64(k) <= p0*float64(n) {
		return 0
	}
	if k > n {
		k = n
	}
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	// the first term, then the ratio of each term to the one before
	first := lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p0) + float64(n-k)*math.Log1p(-p0)
	sum, term := 0.0, 1.0
	for i := k; i <= n; i++ {
		sum += term
		term *= float64(n-i) / float64(i+1) * p0 / (1 - p0)
		if term < 1e-12*sum {
			break
		}
	}
	logP := first + math.Log(sum)
	if logP >= math.Log(0.5) {
		return 0
	}
	if logP < -700 {
		return maxZ
	}
	return math.Min(math.Sqrt2*math.Erfcinv(2*math.Exp(logP)), maxZ)
}

// binomLL is the log likelihood of l lost out of n at their own rate.
func binomLL(l, n int) float64 {
	if n <= 0 || l <= 0 || l >= n {
		return 0
	}
	p := float64(l) / float64(n)
	return float64(l)*math.Log(p) + float64(n-l)*math.Log1p(-p)
}

// splitZ is the likelihood-ratio statistic, told as a z, that the loss
// changed between a first stretch (l1 of n1 lost) and the stretch after
// it (l2 of n2): positive when the later loss is higher.
func splitZ(l1, n1, l2, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	d := binomLL(l1, n1) + binomLL(l2, n2) - binomLL(l1+l2, n1+n2)
	z := math.Sqrt(math.Max(2*d, 0))
	if float64(l2)/float64(n2) < float64(l1)/float64(n1) {
		z = -z
	}
	return z
}
