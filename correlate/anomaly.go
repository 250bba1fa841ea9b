package correlate

import (
	"math"

	"github.com/opsview/opsview/sources"
)

// Direction says which way a series hurts.
type Direction int8

const (
	Both Direction = 0  // either way is news (traffic)
	Up   Direction = 1  // latency, errors, iowait, queue length, loss
	Down Direction = -1 // availability, throughput, free space, success
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "both"
}

// HarmfulDirection is the direction in which a series hurts, as its source
// or a config rule said (Series.Harm); when neither did, traffic counts
// both ways and symptoms and resources hurt going up.
func HarmfulDirection(m *SeriesMeta) Direction {
	switch m.Harm {
	case sources.HarmUp:
		return Up
	case sources.HarmDown:
		return Down
	case sources.HarmBoth:
		return Both
	}
	if m.Role == sources.RoleTraffic {
		return Both
	}
	return Up
}

// harm is the z of v in the harmful direction (negative when it moved the
// harmless way).
func harm(z float64, d Direction) float64 {
	switch d {
	case Down:
		return -z
	case Both:
		if z < 0 {
			return -z
		}
	}
	return z
}

// ScoreOptions tune the per-series anomaly scores.
type ScoreOptions struct {
	Threshold float64 // robust z that counts as moved; default 3
	Sustain   int     // points in a row for an onset; default 3
	CusumK    float64 // CUSUM slack in robust units; default 0.5
	CusumH    float64 // CUSUM decision level; default 6
	Cap       float64 // z is capped here so one wild point cannot dominate; default 50
}

func (o *ScoreOptions) defaults() {
	if o.Threshold <= 0 {
		o.Threshold = 3
	}
	if o.Sustain <= 0 {
		o.Sustain = 3
	}
	if o.CusumK <= 0 {
		o.CusumK = 0.5
	}
	if o.CusumH <= 0 {
		o.CusumH = 6
	}
	if o.Cap <= 0 {
		o.Cap = 50
	}
}

// Anomaly kinds.
const (
	KindQuiet     = ""
	KindSpike     = "spike"     // isolated points only
	KindShift     = "shift"     // a level shift still in place at the end of the window
	KindSustained = "sustained" // held for a while, then recovered
	KindRepeated  = "repeated"  // several separate excursions (short outages, counted)
)

// Anomaly is how one series behaved over a window against its baseline,
// in its harmful direction.
type Anomaly struct {
	Peak      float64 // largest harmful z
	PeakAt    int     // snapshot index of the peak, -1 if none
	Sustained float64 // largest z held for Sustain points with data in a row
	Onset     int     // first index of the first sustained excursion, or the CUSUM change point; -1 if none
	ChangeAt  int     // CUSUM change point (level shift), -1 if none
	Kind      string
	Runs      int     // separate excursions above the threshold peaking at 2× it (each counted, however short)
	RunPoints int     // points in those excursions
	Points    int     // points with data in the window
	Last      float64 // harmful z of the newest point with data (NaN if none)
	Level     float64 // median of the window's values, in units
	PeakValue float64 // the most harmful value, in units (past the cap too: not the first to reach it)
	LastValue float64 // the newest value with data, in units (NaN if none)
	LastHit   int     // index of the newest point above the threshold, -1 if none
}

// Magnitude is the score the ranking starts from: the sustained z; for
// repeated short excursions (counted, not averaged away) half the peak,
// capped; a lone spike counts only by its sustained z.
func (a *Anomaly) Magnitude(threshold float64) float64 {
	if a.Sustained >= threshold {
		return a.Sustained
	}
	if a.Kind == KindRepeated {
		return math.Max(a.Sustained, math.Min(0.5*a.Peak, 3*threshold))
	}
	return math.Max(a.Sustained, 0)
}

// ScoreWindow scores vals[from:to] against b in direction d. mask, when
// not nil, hides buckets (no traffic). It reads each value once and
// allocates nothing.
func ScoreWindow(vals []float64, from, to int, b *Baseline, d Direction, o ScoreOptions, mask []bool) Anomaly {
	o.defaults()
	a := Anomaly{Onset: -1, ChangeAt: -1, PeakAt: -1, LastHit: -1, Peak: math.Inf(-1), Sustained: math.Inf(-1), Last: math.NaN(), Level: math.NaN(), PeakValue: math.NaN(), LastValue: math.NaN()}
	if b.Spread <= 0 || b.N == 0 {
		a.Peak, a.Sustained = 0, 0
		return a
	}
	if from < 0 {
		from = 0
	}
	if to > len(vals) {
		to = len(vals)
	}
	inv := 1 / b.Spread
	// a ring of the last Sustain harmful z values for the sustained score
	var ring [16]float64
	sus := o.Sustain
	if sus > len(ring) {
		sus = len(ring)
	}
	filled, pos := 0, 0
	// the last few (z, index) pairs, to walk an onset back
	type zi struct {
		z float64
		i int
	}
	var hist [8]zi
	for k := range hist {
		hist[k].i = -1
	}
	hpos := 0
	inRun := false
	runStart, runLen := -1, 0
	runPeak := 0.0
	endRun := func() {
		if inRun && runPeak >= 2*o.Threshold {
			a.Runs++
			a.RunPoints += runLen
		}
		inRun = false
	}
	var cs float64
	csZero := from - 1
	peakRaw := math.Inf(-1)
	for i := from; i < to; i++ {
		v := vals[i]
		if v != v || (mask != nil && mask[i]) {
			continue
		}
		a.Points++
		raw := harm((v-b.Level)*inv, d)
		z := raw
		if z > o.Cap {
			z = o.Cap
		}
		a.Last, a.LastValue = z, v
		if z > a.Peak {
			a.Peak, a.PeakAt = z, i
		}
		if raw > peakRaw {
			peakRaw, a.PeakValue = raw, v
		}
		ring[pos] = z
		pos = (pos + 1) % sus
		hist[hpos] = zi{z, i}
		hpos = (hpos + 1) % len(hist)
		if filled < sus {
			filled++
		}
		if filled == sus {
			m := ring[0]
			for _, x := range ring[1:sus] {
				if x < m {
					m = x
				}
			}
			if m > a.Sustained {
				a.Sustained = m
			}
		}
		// one-sided CUSUM on the harmful z, clipped so a single wild
		// point cannot raise an alarm by itself
		zc := z
		if zc > 10 {
			zc = 10
		}
		cs += zc - o.CusumK
		if cs <= 0 {
			cs, csZero = 0, i
		} else if cs >= o.CusumH && a.ChangeAt < 0 {
			a.ChangeAt = csZero + 1
		}
		if z >= o.Threshold {
			a.LastHit = i
			if !inRun {
				inRun = true
				runStart, runLen, runPeak = i, 0, 0
			}
			runLen++
			if z > runPeak {
				runPeak = z
			}
			if runLen == sus && a.Onset < 0 {
				// the run's onset, walked back over the points just
				// before it that were already above 1 (a ramp crosses
				// the threshold late), at most a few points
				a.Onset = runStart
				for k := 1; k < len(hist); k++ {
					h := hist[(hpos-1-k+2*len(hist))%len(hist)]
					if h.i >= runStart {
						continue
					}
					if h.i < 0 || h.z < 1 {
						break
					}
					a.Onset = h.i
				}
			}
		} else {
			endRun()
		}
	}
	stillIn := inRun
	endRun()
	if a.Points == 0 {
		a.Peak, a.Sustained = 0, 0
		return a
	}
	if math.IsInf(a.Sustained, -1) {
		a.Sustained = a.Peak
		if filled < sus {
			// fewer points than Sustain: the minimum of what there is
			m := ring[0]
			for _, x := range ring[1:filled] {
				if x < m {
					m = x
				}
			}
			a.Sustained = m
		}
	}
	if a.Onset < 0 && a.ChangeAt >= 0 && a.Sustained >= o.Threshold*0.5 {
		a.Onset = a.ChangeAt
	}
	th := o.Threshold
	switch {
	case a.Sustained >= th && stillIn:
		a.Kind = KindShift
	case a.Sustained >= th && a.Runs >= 3:
		a.Kind = KindRepeated
	case a.Sustained >= th:
		a.Kind = KindSustained
	case a.Runs >= 2:
		a.Kind = KindRepeated
	case a.Runs == 1 || a.Peak >= th:
		a.Kind = KindSpike
	default:
		a.Kind = KindQuiet
	}
	return a
}

// windowMedian is the median of vals[from:to] (NaN and masked skipped).
func windowMedian(vals []float64, from, to int, mask []bool, scratch *[]float64) float64 {
	buf := (*scratch)[:0]
	for i := from; i < to; i++ {
		v := vals[i]
		if v != v || (mask != nil && mask[i]) {
			continue
		}
		buf = append(buf, v)
	}
	*scratch = buf
	if len(buf) == 0 {
		return math.NaN()
	}
	return median(buf)
}
