package correlate

import (
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// Warming is a source whose symptoms the ranking cannot judge yet: they
// have too few points before the window to make a baseline of their own
// (a load balancer's counters, which keep no history, for the first
// quarter of an hour). Until then only the rules that need no baseline
// (shares of errors, DOWN servers, states) speak for them.
type Warming struct {
	Source string
	Series int       // its symptom series without a baseline
	Names  []string  // up to three of their labels, sorted
	Until  time.Time // when the last of them will have one, about
}

// maxWarmingNames bounds Warming.Names.
const maxWarmingNames = 3

// warmingUp lists, source by source, the symptom series with data and no
// baseline in the live window of snap, and when each source's will have
// one: once MinPoints of its points (at its own interval) lie before the
// window's start, which moves on the Refresh grid.
func warmingUp(snap *Snapshot, o RankOptions) []Warming {
	o.defaults()
	if snap == nil || snap.N == 0 || snap.Step <= 0 {
		return nil
	}
	w := LiveWindow(snap, o)
	by := map[string]*Warming{}
	for i := range snap.Series {
		s := &snap.Series[i]
		if s.Role != sources.RoleSymptom {
			continue
		}
		n := 0
		for t := w.BaseTo - 1; t >= w.BaseFrom && n < o.MinPoints; t-- {
			if v := s.Values[t]; v == v {
				n++
			}
		}
		if n >= o.MinPoints {
			continue
		}
		first, last, pts := -1, -1, 0
		for t := 0; t < w.To && t < len(s.Values); t++ {
			if v := s.Values[t]; v == v {
				if first < 0 {
					first = t
				}
				last = t
				pts++
			}
		}
		if first < 0 {
			continue
		}
		native := 1.0 // its own interval, in steps
		if pts > 1 {
			native = float64(last-first) / float64(pts-1)
		}
		until := snap.Time(first).Add(o.Window + o.Refresh + time.Duration(float64(o.MinPoints)*native*float64(snap.Step)))
		wm := by[s.Source]
		if wm == nil {
			wm = &Warming{Source: s.Source}
			by[s.Source] = wm
		}
		wm.Series++
		if until.After(wm.Until) {
			wm.Until = until
		}
		// the first few names in order, without sorting them all
		name := Label(&s.SeriesMeta)
		k := sort.SearchStrings(wm.Names, name)
		if k < maxWarmingNames {
			wm.Names = append(wm.Names, "")
			copy(wm.Names[k+1:], wm.Names[k:])
			wm.Names[k] = name
			if len(wm.Names) > maxWarmingNames {
				wm.Names = wm.Names[:maxWarmingNames]
			}
		}
	}
	out := make([]Warming, 0, len(by))
	for _, wm := range by {
		out = append(out, *wm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}
