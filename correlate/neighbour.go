package correlate

import "math"

// NeighbourOptions tune the neighbour detector.
type NeighbourOptions struct {
	// Dim is the length of the stretch of recent values compared (the
	// shape); default 19.
	Dim int
	// K is how many nearest past stretches a stretch is measured
	// against; default 27.
	K int
	// Train is how many past stretches a new one is compared with, and
	// how many recent scores it is ranked among; also the points before
	// the first alarm. Default 288 (a day of 5-minute points).
	Train int
	// Hold is how many points after an alarm raise no new one; default
	// Train/5.
	Hold int
	// Level is the rank among the recent scores that raises an alarm:
	// 1 means stranger than every one of them; default 1.
	Level float64
}

func (o *NeighbourOptions) defaults() {
	if o.Dim <= 0 {
		o.Dim = 19
	}
	if o.K <= 0 {
		o.K = 27
	}
	if o.Train <= 0 {
		o.Train = 288
	}
	if o.Train < o.Dim+o.K+2 {
		o.Train = o.Dim + o.K + 2
	}
	if o.Hold <= 0 {
		o.Hold = o.Train / 5
	}
	if o.Level <= 0 || o.Level > 1 {
		o.Level = 1
	}
}

// NeighbourDetector is the streaming "is this series doing something it
// has not done lately" flag: each new stretch of Dim values is compared
// with the stretches of the recent past (Train of them, the ones before
// the last Train), and its strangeness, the summed squared distance to
// its K nearest, is ranked among the strangeness of the last Train
// stretches (a conformal rank, as in Burnaev and Ishimtsev's KNN-CAD).
// The rank is calibrated for any series: 1 means stranger than
// everything of late, whatever the series' scale or shape, so one level
// serves every series without tuning. After an alarm it holds for Hold
// points: the onset is the news. It is causal and reads the values
// alone.
//
// The distances to the reference stretches are carried from one point to
// the next along their lag (one value enters each stretch, one leaves),
// so a point costs about Train operations rather than Train×Dim; every
// refreshEvery points, and whenever a large term leaves a small remainder,
// they are summed afresh, so rounding cannot build up.
type NeighbourDetector struct {
	o NeighbourOptions
	n int // values seen

	// hist holds the values from absolute index base on.
	hist []float64
	base int
	// the reference stretches end at t0…t1 (t1 < t0: none yet); the
	// stretches after them up to the newest are the ones being ranked
	t0, t1 int
	// dg[L] is the squared distance from the newest stretch to the
	// reference stretch L points before it, for L in lo…hi
	dg           []float64
	lo, hi       int
	sinceRefresh int
	// scores are the strangeness of the last Train stretches, a ring.
	scores []float64
	spos   int
	ready  bool
	hold   int
	best   []float64
}

// refreshEvery is how often the carried distances are summed afresh.
const refreshEvery = 64

// NewNeighbourDetector makes a detector.
func NewNeighbourDetector(o NeighbourOptions) *NeighbourDetector {
	o.defaults()
	return &NeighbourDetector{o: o, t0: o.Dim - 1, t1: o.Dim - 2, lo: 1, hi: 0}
}

// Options are the detector's options with the defaults filled in.
func (d *NeighbourDetector) Options() NeighbourOptions { return d.o }

// at is the value at absolute index i.
func (d *NeighbourDetector) at(i int) float64 { return d.hist[i-d.base] }

// dist is the squared distance between the stretches ending at a and b,
// given up once it reaches limit.
func (d *NeighbourDetector) dist(a, b int, limit float64) float64 {
	x := d.hist[a-d.o.Dim+1-d.base : a+1-d.base]
	y := d.hist[b-d.o.Dim+1-d.base : b+1-d.base]
	y = y[:len(x)]
	var s float64
	for i := range x {
		t := x[i] - y[i]
		s += t * t
		if s >= limit {
			break
		}
	}
	return s
}

func (d *NeighbourDetector) sumBest() float64 {
	var sum float64
	for _, v := range d.best {
		sum += v
	}
	return sum
}

// nearest keeps, for each of m stretches, its k smallest distances in
// ascending order as they come.
type nearest struct {
	k     int
	best  []float64 // row r: its k smallest, ascending
	held  []int
	worst []float64 // row r's largest kept once it holds k, +Inf before
}

func newNearest(m, k int) *nearest {
	n := &nearest{k: k, best: make([]float64, m*k), held: make([]int, m), worst: make([]float64, m)}
	for r := range n.worst {
		n.worst[r] = math.Inf(1)
	}
	return n
}

// keep offers distance v to row r.
func (n *nearest) keep(r int, v float64) {
	if v >= n.worst[r] {
		return
	}
	k := n.k
	row := n.best[r*k : r*k+k]
	h := n.held[r]
	if h == k {
		h--
	} else {
		n.held[r]++
	}
	i := h
	for ; i > 0 && row[i-1] > v; i-- {
		row[i] = row[i-1]
	}
	row[i] = v
	if n.held[r] == k {
		n.worst[r] = row[k-1]
	}
}

// scores are the sums of each row's kept distances, smallest first.
func (n *nearest) scores() []float64 {
	out := make([]float64, len(n.held))
	for r := range out {
		var sum float64
		for _, v := range n.best[r*n.k : r*n.k+n.held[r]] {
			sum += v
		}
		out[r] = sum
	}
	return out
}

// selfScores is the strangeness of each reference stretch t0…t1 among
// the others: the first Train scores to rank against. The distances of
// every pair are carried along their lag, as distances does for the
// newest stretch, so the Train² pairs cost about one step each rather
// than Dim. The stretches are taken in order: the distances from
// stretch j back to each earlier one come together, and j keeps the K
// smallest of them at once (a selection, no insertion each); each is
// also offered to the earlier stretch, which by then holds its K
// nearest among those before it, so few are close enough to be kept.
// The scores are those of selfScoresInsertion, bit for bit; a distance
// that overflows (values beyond ±1e154) is left to it, whose way with
// an infinite or not-a-number distance this does not repeat.
func (d *NeighbourDetector) selfScores() []float64 {
	m, k, dim := d.t1-d.t0+1, d.o.K, d.o.Dim
	if k > m-1 {
		k = m - 1
	}
	near := newNearest(m, k)
	carried := make([]float64, m) // carried[L]: from stretch j to j-L
	back := make([]float64, m)
	h, off, worst := d.hist, -d.base, near.worst
	finite := true
	for r := 1; r < m; r++ {
		j := d.t0 + r
		x, xd := h[j+off], h[j-dim+off]
		for L := 1; L <= r; L++ {
			var s float64
			// the step along lag L's pairs, which start at stretch
			// t0+L: summed afresh at its first and every refreshEvery
			if (r-L)%refreshEvery == 0 {
				s = d.dist(j, j-L, math.Inf(1))
			} else {
				i := j - L + off
				a := x - h[i]
				b := xd - h[i-dim]
				a, b = a*a, b*b
				s = carried[L] + (a - b)
				if b > 1e6*s {
					s = d.dist(j, j-L, math.Inf(1))
				}
			}
			carried[L] = s
			finite = finite && s <= math.MaxFloat64
			if s < worst[r-L] { // most are not: no call
				near.keep(r-L, s)
			}
		}
		// stretch j's distances to the earlier ones: the K smallest,
		// in order
		if r <= k {
			for L := 1; L <= r; L++ {
				near.keep(r, carried[L])
			}
			continue
		}
		b := nearestOf(back, carried[1:r+1], k, 1.25*worst[r-1])
		insertionSort(b)
		copy(near.best[r*k:r*k+k], b)
		near.held[r], near.worst[r] = k, b[k-1]
	}
	if !finite {
		return d.selfScoresInsertion()
	}
	return near.scores()
}

// nearestOf is the k smallest of vs (in some order), through buf (as
// long as vs): selected among those at most tau when there are k of
// them (the k smallest are then all there), else among all.
func nearestOf(buf, vs []float64, k int, tau float64) []float64 {
	n := 0
	for _, v := range vs {
		buf[n] = v
		if v <= tau {
			n++
		}
	}
	if n < k {
		n = copy(buf, vs)
	}
	selectK(buf[:n], k-1)
	return buf[:k]
}

func insertionSort(a []float64) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for ; j > 0 && a[j-1] > v; j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}

// selfScoresInsertion is selfScores taking the pairs lag by lag, each
// stretch keeping its K nearest in order as they come.
func (d *NeighbourDetector) selfScoresInsertion() []float64 {
	m, k, dim := d.t1-d.t0+1, d.o.K, d.o.Dim
	if k > m-1 {
		k = m - 1
	}
	near := newNearest(m, k)
	h, off := d.hist, -d.base
	for L := 1; L < m; L++ {
		var s float64
		for j, since := d.t0+L, 0; j <= d.t1; j++ {
			if since == 0 {
				s = d.dist(j, j-L, math.Inf(1))
			} else {
				a := h[j+off] - h[j-L+off]
				b := h[j-dim+off] - h[j-L-dim+off]
				a, b = a*a, b*b
				s += a - b
				if b > 1e6*s {
					s = d.dist(j, j-L, math.Inf(1))
				}
			}
			if since++; since == refreshEvery {
				since = 0
			}
			near.keep(j-d.t0, s)
			near.keep(j-L-d.t0, s)
		}
	}
	return near.scores()
}

// distances brings dg to the newest stretch e, carrying each lag's
// distance from the previous point where it can.
func (d *NeighbourDetector) distances(e int) {
	lo, hi := e-d.t1, e-d.t0
	for len(d.dg) <= hi {
		d.dg = append(d.dg, 0)
	}
	d.sinceRefresh++
	fresh := d.sinceRefresh >= refreshEvery
	if fresh {
		d.sinceRefresh = 0
	}
	dim := d.o.Dim
	h, dg := d.hist, d.dg
	x, xd := h[e-d.base], h[e-dim-d.base] // the newest stretch's ends
	for L := lo; L <= hi; L++ {
		if fresh || L < d.lo || L > d.hi {
			dg[L] = d.dist(e, e-L, math.Inf(1))
			continue
		}
		i := e - L - d.base
		a := x - h[i]
		b := xd - h[i-dim]
		a, b = a*a, b*b
		dg[L] += a - b
		if b > 1e6*dg[L] {
			// a large term left and what remains is small: its
			// rounding could be all that remains (a flat stretch
			// after a spike), so this one is summed afresh
			dg[L] = d.dist(e, e-L, math.Inf(1))
		}
	}
	d.lo, d.hi = lo, hi
}

// strangeness is the sum of the K smallest squared distances from the
// newest stretch to the reference stretches (there are always more than
// K of them: Train > Dim+K+1).
func (d *NeighbourDetector) strangeness(e int) float64 {
	d.distances(e)
	d.best = append(d.best[:0], d.dg[d.lo:d.hi+1]...)
	k := d.o.K
	if k > len(d.best) {
		k = len(d.best)
	}
	selectK(d.best, k-1) // the k smallest first, in some order
	d.best = d.best[:k]
	return d.sumBest()
}

// Next takes the next value and returns the stretch's rank in [0, 1]
// among the recent ones, 0 while learning and 0.5 while holding after
// an alarm. An alarm is a rank at or above Level. NaN (no data) returns
// 0 and leaves the state alone.
func (d *NeighbourDetector) Next(v float64) float64 {
	if v != v || math.IsInf(v, 0) {
		return 0
	}
	e := d.n
	d.n++
	d.hist = append(d.hist, v)
	tr := d.o.Train
	if d.n < d.o.Dim {
		return 0
	}
	if d.n < tr {
		d.t1 = e
		return 0
	}
	if !d.ready {
		d.ready = true
		d.scores = d.selfScores()
	}
	s := d.strangeness(e)
	below := 0
	for _, x := range d.scores {
		if x < s {
			below++
		}
	}
	rank := float64(below) / float64(len(d.scores))
	if d.n >= 2*tr && d.t1+1 < e {
		d.t0++
		d.t1++
	}
	d.scores[d.spos] = s
	d.spos = (d.spos + 1) % len(d.scores)
	d.trim()
	if d.hold > 0 {
		d.hold--
		return 0.5
	}
	if rank >= d.o.Level {
		d.hold = d.o.Hold
	}
	return rank
}

// trim drops the values no stretch needs any more: the oldest reference
// stretch and the value before it, which its carried distance drops next.
func (d *NeighbourDetector) trim() {
	first := d.t0 - d.o.Dim
	if drop := first - d.base; drop > len(d.hist)/2 && drop > 64 {
		d.hist = append(d.hist[:0], d.hist[drop:]...)
		d.base = first
	}
}
