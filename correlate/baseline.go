package correlate

import (
	"math"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// Baseline is what a series normally does: a robust level and spread from a
// trailing window, and the same window one day and one week earlier where
// the snapshot reaches that far back.
type Baseline struct {
	Level float64 // median of the window
	// Spread is the robust scale used for z: the largest of 1.4826·MAD,
	// 1.2533·mean |x−median| (so a series that is flat except for rare
	// excursions still has a scale), 1 % of |Level| and a floor for the
	// unit. It is > 0 whenever N > 0, so no score is ever +Inf.
	Spread float64
	// Steady is the spread of the series' usual variation: as Spread,
	// but the mean deviation leaves out the largest deviations (past
	// incidents in the baseline), so a series that is flat apart from a
	// few deep dips is not given the dips' scale. Steady ≤ Spread. The
	// symptom gate reads it: is the symptom away from how it usually is.
	Steady float64
	MAD    float64 // 1.4826·MAD before the floors (0 for a flat series)
	N      int     // points with data in the window; NaN is not data
	Lo, Hi float64 // smallest and largest value seen in the window
	// Yesterday and LastWeek are the medians over the same buckets 24 h
	// and 7 d earlier; NaN without that history.
	Yesterday float64
	LastWeek  float64
}

// Valid reports whether the baseline rests on at least min points.
func (b *Baseline) Valid(min int) bool { return b.N >= min && b.Spread > 0 }

// Z is the signed robust distance of v from the baseline.
func (b *Baseline) Z(v float64) float64 { return (v - b.Level) / b.Spread }

// UnitFloor is the smallest spread a series of this unit may have: a
// movement smaller than it is not a movement a person would care about
// (§4.2 of the correlation notes: 0.1 point for %, 1 ms, 1 req/s, one
// session, connection or queued request).
func UnitFloor(unit string) float64 {
	if isPercent(unit) {
		return 0.1
	}
	switch u := strings.ToLower(strings.TrimSpace(unit)); {
	case u == "ms":
		return 1
	case u == "s" || u == "seconds":
		return 0.001
	case u == "us" || u == "µs":
		return 1000
	case strings.HasSuffix(u, "/s") || u == "rps" || u == "qps":
		return 1
	case u == "b" || u == "bytes":
		return 1
	case countUnits[u]:
		return 1
	case u == "count" || u == "items":
		return 0.1
	case u == "ratio" || u == "fraction" || u == "0..1":
		return 0.001
	}
	return 1e-6
}

// countUnits are units of things counted one by one (open sessions,
// connections, queued requests, servers): one more is the least a count
// of them can move, so two sessions becoming three is z 1, not the
// z 50 that 1 % of a level of 2 would make it. "count" itself stays at a
// tenth: it is as often a mean over an interval (a disk's queue length).
var countUnits = map[string]bool{
	"sessions": true, "session": true, "conns": true, "conn": true, "connections": true, "connection": true,
	"requests": true, "request": true, "servers": true, "server": true, "hosts": true, "host": true,
	"processes": true, "procs": true, "threads": true, "jobs": true, "messages": true, "msgs": true,
}

// MaxBaselinePoints caps the points a baseline's median and MAD are taken
// over; longer windows are sampled evenly (the points with data).
const MaxBaselinePoints = 256

// RobustBaseline computes the median/MAD baseline of vals (NaN skipped)
// with the given absolute spread floor. scratch is reused between calls
// so a full refresh allocates nothing per series.
func RobustBaseline(vals []float64, floor float64, scratch *[]float64) Baseline {
	return robustBaseline(vals, floor, false, scratch)
}

// isPercent reports whether a unit is a percentage (bounded by 0 and 100).
func isPercent(unit string) bool {
	u := strings.ToLower(strings.TrimSpace(unit))
	return u == "%" || u == "percent"
}

// robustBaseline is RobustBaseline; percent says the series is a share
// bounded by 0 and 100, whose relative floor is taken from the nearer
// bound: availability at 99.9 % moves in tenths of a point (its error
// share is 0.1 %), so 1 % of its level (a whole point) would hide a
// tenfold rise in errors.
func robustBaseline(vals []float64, floor float64, percent bool, scratch *[]float64) Baseline {
	b := Baseline{Level: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), Yesterday: math.NaN(), LastWeek: math.NaN()}
	buf := (*scratch)[:0]
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v != v { // NaN: no data
			continue
		}
		buf = append(buf, v)
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	*scratch = buf
	b.N = len(buf)
	// a median of MaxBaselinePoints evenly spaced points is as good a
	// level as one of thousands, and keeps a full refresh cheap
	if len(buf) > MaxBaselinePoints {
		k := len(buf)
		for i := 0; i < MaxBaselinePoints; i++ {
			buf[i] = buf[i*k/MaxBaselinePoints]
		}
		buf = buf[:MaxBaselinePoints]
	}
	n := len(buf)
	if n == 0 {
		return b
	}
	b.Lo, b.Hi = lo, hi
	if len(buf) < b.N { // sampled: the sample's own range decides flatness
		lo, hi = buf[0], buf[0]
		for _, v := range buf[1:] {
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
	}
	var med float64
	if lo == hi {
		med = lo
	} else {
		med = median(buf)
	}
	b.Level = med
	var sad float64
	for i, v := range buf {
		d := v - med
		if d < 0 {
			d = -d
		}
		buf[i] = d
		sad += d
	}
	mad := 0.0
	if lo != hi {
		mad = median(buf)
	}
	b.MAD = 1.4826 * mad
	s, steady := b.MAD, b.MAD
	if m := 1.2533 * sad / float64(n); m > s {
		s = m
		// the mean deviation is over the MAD: maybe heavy tails, so the
		// steady spread leaves the largest deviations out (the rare
		// excursions); never over the full spread
		steady = math.Min(m, math.Max(steady, trimmedDeviation(buf, n/2, m)))
	}
	rel := math.Abs(med)
	if percent && med >= 0 && med <= 100 {
		rel = math.Min(med, 100-med)
	}
	b.Spread = spreadFloors(s, rel, floor)
	b.Steady = spreadFloors(steady, rel, floor)
	return b
}

// spreadFloors raises a spread to 1 % of rel (the level, or its distance
// to the nearer bound of a share) and to the unit's floor, and keeps it
// above 0.
func spreadFloors(s, rel, floor float64) float64 {
	if r := 0.01 * rel; r > s {
		s = r
	}
	if floor > s {
		s = floor
	}
	if s <= 0 {
		s = 1e-9
	}
	return s
}

// steadyTrim is the share of the largest deviations a steady spread
// leaves out: rare excursions, a few points in a hundred. steadyScale
// makes the mean of the rest a standard deviation for normal data: there
// the kept 98 % are |Z| < 2.326, whose mean is 0.7598.
const (
	steadyTrim  = 0.02
	steadyScale = 1 / 0.7598
)

// trimmedDeviation is the normal-consistent mean of the absolute
// deviations dev (reordered) without the largest steadyTrim of them, or
// all when that is not one whole point (full is their mean then). The
// first half of dev is at most the second's (the MAD's selection left it
// so).
func trimmedDeviation(dev []float64, half int, full float64) float64 {
	n := len(dev)
	k := n - int(float64(n)*steadyTrim)
	if k >= n || k <= half {
		return full
	}
	selectK(dev[half:], k-half)
	var sum float64
	for _, d := range dev[:k] {
		sum += d
	}
	return steadyScale * sum / float64(k)
}

// median reorders buf and returns its median (the mean of the two middle
// values for an even count).
func median(buf []float64) float64 {
	n := len(buf)
	k := n / 2
	m := selectK(buf, k)
	if n%2 == 1 {
		return m
	}
	// the lower middle is the largest of buf[:k] after selection
	lo := buf[0]
	for _, v := range buf[1:k] {
		if v > lo {
			lo = v
		}
	}
	return (lo + m) / 2
}

// selectK puts the k-th smallest value at buf[k] (quickselect with a
// median-of-three pivot) and returns it.
func selectK(a []float64, k int) float64 {
	l, r := 0, len(a)-1
	for r-l >= 16 {
		m := l + (r-l)/2
		if a[m] < a[l] {
			a[m], a[l] = a[l], a[m]
		}
		if a[r] < a[l] {
			a[r], a[l] = a[l], a[r]
		}
		if a[r] < a[m] {
			a[r], a[m] = a[m], a[r]
		}
		// pivot to the end, then Lomuto's partition without a branch on
		// the comparison (random data mispredicts half of them; this is
		// three to five times faster on a baseline's 256 points)
		a[m], a[r] = a[r], a[m]
		p := a[r]
		i := l
		for j := l; j < r; j++ {
			t := a[j]
			a[j] = a[i]
			a[i] = t
			d := 0
			if t < p {
				d = 1
			}
			i += d
		}
		a[i], a[r] = a[r], a[i]
		switch {
		case k < i:
			r = i - 1
		case k > i:
			l = i + 1
		default:
			return a[k]
		}
	}
	for i := l + 1; i <= r; i++ {
		v := a[i]
		j := i - 1
		for j >= l && a[j] > v {
			a[j+1] = a[j]
			j--
		}
		a[j+1] = v
	}
	return a[k]
}

// seasonalMedian is the median of vals[from-shift : to-shift] when the
// window reaches back that far, else NaN.
func seasonalMedian(vals []float64, from, to, shift int, scratch *[]float64) float64 {
	if shift <= 0 || from-shift < 0 {
		return math.NaN()
	}
	b := RobustBaseline(vals[from-shift:to-shift], 0, scratch)
	if b.N == 0 {
		return math.NaN()
	}
	return b.Level
}

// BaselineCache keeps each series' baseline keyed by its store key and the
// absolute bucket its window ends at, so refreshing the findings every few
// seconds recomputes a baseline only when its window moves (the engine
// moves it on a coarse grid). It holds one entry per series, with what
// the ranking derives from the series' description (its harmful
// direction, whether it is a share of requests, its layer's depth), and
// remembers where each series sat in the last snapshot, so a refresh
// finds its entries in order without hashing 10,000 keys.
type BaselineCache struct {
	index   map[string]int32 // key → ents
	ents    []cacheEntry
	byPos   []int32 // snapshot position → ents, -1 when unknown
	scratch []float64
	// Hits and Misses count baseline lookups, for tests and benchmarks.
	Hits, Misses int
}

type cacheEntry struct {
	key        string
	name, unit string
	role       sources.Role
	dir        Direction
	ratio      bool  // a share of requests (IsRequestRatio)
	depth      int8  // Layer.Depth
	mask       bool  // computed with a no-traffic mask
	valid      bool  // b is computed
	end        int64 // absolute bucket after the window
	n          int   // window length in buckets
	b          Baseline
}

// NewBaselineCache makes an empty cache.
func NewBaselineCache() *BaselineCache {
	return &BaselineCache{index: map[string]int32{}}
}

// Len is the number of cached baselines.
func (c *BaselineCache) Len() int { return len(c.ents) }

// Invalidate marks every baseline for recomputation (the descriptions
// stay).
func (c *BaselineCache) Invalidate() {
	for i := range c.ents {
		c.ents[i].valid = false
	}
}

// entry finds (or makes) the entry of series pos of the snapshot, pos < 0
// when the position is unknown.
func (c *BaselineCache) entry(s *SnapSeries, pos int) *cacheEntry {
	if pos >= 0 && pos < len(c.byPos) {
		if j := c.byPos[pos]; j >= 0 {
			if e := &c.ents[j]; e.key == s.Key && e.name == s.Name && e.unit == s.Unit && e.role == s.Role {
				return e
			}
		}
	}
	j, ok := c.index[s.Key]
	if !ok {
		j = int32(len(c.ents))
		c.ents = append(c.ents, cacheEntry{key: s.Key})
		c.index[s.Key] = j
	}
	e := &c.ents[j]
	if !ok || e.name != s.Name || e.unit != s.Unit || e.role != s.Role {
		*e = cacheEntry{key: s.Key, name: s.Name, unit: s.Unit, role: s.Role,
			dir: HarmfulDirection(&s.SeriesMeta), ratio: IsRequestRatio(&s.SeriesMeta), depth: int8(s.Layer.Depth())}
	}
	if pos >= 0 {
		for len(c.byPos) <= pos {
			c.byPos = append(c.byPos, -1)
		}
		c.byPos[pos] = j
	}
	return e
}

// baseline returns e's baseline over the snapshot buckets [from, to),
// computing it when the window moved.
func (c *BaselineCache) baseline(e *cacheEntry, snap *Snapshot, s *SnapSeries, from, to int, mask []bool) Baseline {
	end := bucketOf(snap.Start, snap.Step) + int64(to)
	if e.valid && e.end == end && e.n == to-from && e.mask == (mask != nil) {
		c.Hits++
		return e.b
	}
	c.Misses++
	e.b = computeBaseline(snap, s, from, to, mask, &c.scratch)
	e.valid, e.end, e.n, e.mask = true, end, to-from, mask != nil
	return e.b
}

// Get returns the baseline of s over the snapshot buckets [from, to),
// computing it on a miss. mask, when not nil, marks buckets whose values
// must be ignored (the node had no traffic).
func (c *BaselineCache) Get(snap *Snapshot, s *SnapSeries, from, to int, mask []bool) Baseline {
	return c.baseline(c.entry(s, -1), snap, s, from, to, mask)
}

// Forget drops the entries of series the keep function rejects (series
// that left the store).
func (c *BaselineCache) Forget(keep func(key string) bool) {
	ents := c.ents[:0]
	clear(c.index)
	for _, e := range c.ents {
		if keep(e.key) {
			c.index[e.key] = int32(len(ents))
			ents = append(ents, e)
		}
	}
	clear(c.ents[len(ents):])
	c.ents = ents
	for i := range c.byPos {
		c.byPos[i] = -1
	}
}

// ComputeBaseline is the uncached baseline of s over [from, to) of the
// snapshot, with the seasonal medians where the history reaches.
func ComputeBaseline(snap *Snapshot, s *SnapSeries, from, to int) Baseline {
	var scratch []float64
	return computeBaseline(snap, s, from, to, nil, &scratch)
}

func computeBaseline(snap *Snapshot, s *SnapSeries, from, to int, mask []bool, scratch *[]float64) Baseline {
	if from < 0 {
		from = 0
	}
	if to > len(s.Values) {
		to = len(s.Values)
	}
	if to <= from {
		return Baseline{Level: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), Yesterday: math.NaN(), LastWeek: math.NaN()}
	}
	vals := s.Values[from:to]
	if mask != nil {
		tmp := make([]float64, len(vals))
		for i, v := range vals {
			if mask[from+i] {
				v = math.NaN()
			}
			tmp[i] = v
		}
		vals = tmp
	}
	b := robustBaseline(vals, UnitFloor(s.Unit), isPercent(s.Unit), scratch)
	if snap != nil && snap.Step > 0 {
		day := int(24 * time.Hour / snap.Step)
		b.Yesterday = seasonalMedian(s.Values, from, to, day, scratch)
		b.LastWeek = seasonalMedian(s.Values, from, to, 7*day, scratch)
	}
	return b
}
