package correlate

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// CompareOptions tune Compare.
type CompareOptions struct {
	// Recent is the span of "now" that is compared (default 15m).
	Recent time.Duration
	// MinZ is how many robust spreads the level must have moved (default 4).
	MinZ float64
	// MinRatio is the smallest relative change reported (default 0.5: half
	// again, or half gone).
	MinRatio float64
	// Max bounds the findings (default 10), largest moves first.
	Max int
}

// Compare says what is unusual now against the same time earlier (a day,
// a week): now holds the recent window, then the window `shift` earlier,
// with an hour or so of history before it. A series counts when its recent
// median sits MinZ robust spreads and MinRatio away from the median at the
// same time then. Findings are informational (rule "compare").
func Compare(now, then *Snapshot, shift time.Duration, opt CompareOptions) []Finding {
	if opt.Recent <= 0 {
		opt.Recent = 15 * time.Minute
	}
	if opt.MinZ <= 0 {
		opt.MinZ = 4
	}
	if opt.MinRatio <= 0 {
		opt.MinRatio = 0.5
	}
	if opt.Max <= 0 {
		opt.Max = 10
	}
	type move struct {
		f Finding
		z float64
	}
	var moves []move
	var scratch []float64
	recentFrom := now.Now.Add(-opt.Recent)
	byKey := make(map[string]*SnapSeries, len(then.Series))
	for i := range then.Series {
		byKey[then.Series[i].Key] = &then.Series[i]
	}
	for i := range now.Series {
		cur := &now.Series[i]
		old := byKey[cur.Key]
		if old == nil {
			continue
		}
		// the recent window now, and the same window then
		var recent, same []float64
		for j, v := range cur.Values {
			if t := now.Time(j); !t.Before(recentFrom) && !t.After(now.Now) {
				recent = append(recent, v)
			}
		}
		for j, v := range old.Values {
			if t := then.Time(j).Add(shift); !t.Before(recentFrom) && !t.After(now.Now) {
				same = append(same, v)
			}
		}
		nowB := RobustBaseline(recent, UnitFloor(cur.Unit), &scratch)
		thenB := RobustBaseline(same, UnitFloor(cur.Unit), &scratch)
		// the spread comes from all the history then, so a series that
		// is always noisy needs a bigger move
		hist := RobustBaseline(old.Values, UnitFloor(cur.Unit), &scratch)
		if nowB.N < 3 || thenB.N < 3 || !hist.Valid(3) {
			continue
		}
		spread := math.Max(hist.Spread, thenB.Spread)
		z := (nowB.Level - thenB.Level) / spread
		ratio := math.Abs(nowB.Level-thenB.Level) / math.Max(math.Abs(thenB.Level), UnitFloor(cur.Unit))
		if math.Abs(z) < opt.MinZ || ratio < opt.MinRatio {
			continue
		}
		word := "higher"
		if z < 0 {
			word = "lower"
		}
		name := sources.SeriesID(cur.Name, cur.Labels)
		moves = append(moves, move{z: math.Abs(z), f: Finding{
			ID:       "compare/" + shift.String() + "/" + cur.Key,
			Rule:     "compare",
			Severity: sources.SevInfo,
			Title: fmt.Sprintf("%s is %s than %s ago: %s now, %s then", name, word, shortDur(shift),
				level(nowB.Level, cur.Unit), level(thenB.Level, cur.Unit)),
			Explanation: fmt.Sprintf("median of the last %s against the same %s %s earlier; %.1f robust spreads", shortDur(opt.Recent), shortDur(opt.Recent), shortDur(shift), math.Abs(z)),
			Layer:       cur.Layer,
			Node:        cur.Node,
			Evidence: []Evidence{{Kind: EvContext, SeriesKey: cur.Key, Layer: cur.Layer, Node: cur.Node,
				From: recentFrom, Until: now.Now, Score: math.Abs(z), Baseline: thenB.Level, Spread: spread, Value: nowB.Level}},
		}})
	}
	sort.SliceStable(moves, func(i, j int) bool {
		if moves[i].z != moves[j].z {
			return moves[i].z > moves[j].z
		}
		return moves[i].f.ID < moves[j].f.ID
	})
	if len(moves) > opt.Max {
		moves = moves[:opt.Max]
	}
	out := make([]Finding, len(moves))
	for i, m := range moves {
		out[i] = m.f
	}
	return out
}

func shortDur(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func level(v float64, unit string) string {
	s := fmt.Sprintf("%.3g", v)
	if unit == "" {
		return s
	}
	if unit == "%" {
		return s + " %"
	}
	return s + " " + unit
}
