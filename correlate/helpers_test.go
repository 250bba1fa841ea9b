package correlate

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/opsview/opsview/sources"
)

// t0 is the start of every constructed snapshot.
var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

// series builds one snapshot series.
type series struct {
	key, name, unit, node string
	role                  sources.Role
	layer                 sources.Layer
	vals                  []float64
}

func mkSnap(step time.Duration, n int, ss ...series) *Snapshot {
	snap := &Snapshot{Start: t0, Step: step, N: n, Now: t0.Add(time.Duration(n-1) * step)}
	for _, s := range ss {
		if len(s.vals) != n {
			panic("series " + s.key + " has the wrong length")
		}
		key := s.key
		if key == "" {
			key = "src/" + s.node + "/" + s.name
		}
		snap.Series = append(snap.Series, SnapSeries{
			SeriesMeta: SeriesMeta{Key: key, Source: "src", Name: s.name, Unit: s.unit, Role: s.role, Layer: s.layer, Node: s.node,
				Harm: sources.GuessHarm(s.name), Measure: sources.GuessMeasure(s.name)}, // as the scheduler classifies a series that does not say
			Values: s.vals,
		})
	}
	return snap
}

// noise returns n values around level with Gaussian noise of sd.
func noise(r *rand.Rand, n int, level, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = level + sd*r.NormFloat64()
	}
	return v
}

// step adds d to v from index at on.
func stepUp(v []float64, at int, d float64) []float64 {
	for i := at; i < len(v); i++ {
		v[i] += d
	}
	return v
}

// clamp keeps v within [lo, hi].
func clamp(v []float64, lo, hi float64) []float64 {
	for i := range v {
		v[i] = math.Max(lo, math.Min(hi, v[i]))
	}
	return v
}

func findFinding(fs []Finding, rule string) *Finding {
	for i := range fs {
		if fs[i].Rule == rule {
			return &fs[i]
		}
	}
	return nil
}

// rankLive ranks the candidates of snap against its first series over
// the live window, with the default options.
func rankLive(snap *Snapshot) *Ranking {
	return NewRanker(RankOptions{}).Rank(snap, 0, LiveWindow(snap, RankOptions{}))
}

// cutSnap is full as it was when only its first n buckets had arrived.
func cutSnap(full *Snapshot, n int) *Snapshot {
	s := *full
	s.N, s.Now = n, full.Time(n-1)
	s.Series = make([]SnapSeries, len(full.Series))
	for i := range full.Series {
		s.Series[i] = full.Series[i]
		s.Series[i].Values = full.Series[i].Values[:n]
	}
	return &s
}
