package ui

import (
	"math"
	"sort"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
)

// Charts are drawn here rather than with asciigraph: asciigraph joins the
// points across NaN, and a gap in the data must stay a gap on screen. In
// colour we draw braille (2×4 dots a cell), each series in its palette
// colour; in mono or --ascii each series gets its own marker character so
// the lines stay apart without colour.

// Markers tell series apart without colour.
var (
	asciiMarkers   = []string{"*", "+", "o", "x", "#", "@", "%", "&"}
	unicodeMarkers = []string{"●", "○", "◆", "◇", "■", "□", "▲", "△"}
)

// yLabelW is the width of the y-axis labels plus the axis.
const yLabelW = 8

// plotLine is one series of a chart.
type plotLine struct {
	vals     []float64 // one per bucket of the window
	style    lipgloss.Style
	marker   string  // marker mode
	baseline float64 // NaN: none
}

// chart is one panel: several series on one unit and one y scale.
type chart struct {
	lines   []plotLine
	unit    string
	width   int // including the y labels
	height  int // plot rows
	cursor  int // bucket index, -1 none
	n       int // buckets
	braille bool
	axis    lipgloss.Style
	faint   lipgloss.Style
	cur     lipgloss.Style
	ascii   bool
	notes   []int // bucket indices of annotations, drawn as faint marks
}

// columns reduces a series to one value per column: of the buckets a
// column covers, the one furthest from the series' mean, so that neither a
// short 5xx spike nor a short dip in a success rate is averaged away; NaN
// where all of them are NaN.
func columns(vals []float64, n, cols int) []float64 {
	out := make([]float64, cols)
	if n <= 0 || cols <= 0 {
		return out
	}
	var sum float64
	var cnt int
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum += v
			cnt++
		}
	}
	mean := sum / float64(max(cnt, 1))
	for x := 0; x < cols; x++ {
		a, b := span(x, n, cols)
		v := math.NaN()
		for i := a; i < b && i < len(vals); i++ {
			if !math.IsNaN(vals[i]) && (math.IsNaN(v) || math.Abs(vals[i]-mean) > math.Abs(v-mean)) {
				v = vals[i]
			}
		}
		out[x] = v
	}
	return out
}

// span is the range of buckets [a, b) that column x of cols covers.
func span(x, n, cols int) (int, int) {
	a := x * n / cols
	b := (x + 1) * n / cols
	if b <= a {
		b = a + 1
	}
	return a, b
}

// envelope gives the lowest and highest value of the buckets each column
// covers (NaN, NaN where there is no data): a chart draws the whole range,
// so at 24h nothing that happened inside a column is hidden.
func envelope(vals []float64, n, cols int) (lo, hi []float64) {
	lo, hi = make([]float64, cols), make([]float64, cols)
	for x := 0; x < cols; x++ {
		a, b := span(x, n, cols)
		l, h := math.NaN(), math.NaN()
		for i := a; i < b && i < len(vals); i++ {
			v := vals[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if math.IsNaN(l) || v < l {
				l = v
			}
			if math.IsNaN(h) || v > h {
				h = v
			}
		}
		lo[x], hi[x] = l, h
	}
	return lo, hi
}

// scale returns the y range of a chart: from 0 (or the lowest value when
// negative) to a rounded maximum.
func scale(lines []plotLine) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, v := range l.vals {
			if v != v || math.IsInf(v, 0) { // NaN
				continue
			}
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
		if !math.IsNaN(l.baseline) && !math.IsInf(l.baseline, 0) {
			lo, hi = math.Min(lo, l.baseline), math.Max(hi, l.baseline)
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	if lo > 0 {
		lo = 0
	}
	hi = niceCeil(hi)
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

// niceCeil rounds up to a round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8
// times a power of ten), so the top label reads well and the line fills
// most of the height.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return v
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

type gridCell struct {
	mask  uint8 // braille dots
	owner int   // series index, -1 none
	base  bool  // a baseline passes here
}

// braille dot bits, by [row][col] within a cell
var dotBits = [4][2]uint8{{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}}

// render draws the chart: height lines of exactly width cells.
func (ch *chart) render() []string {
	pw := ch.width - yLabelW
	if pw < 2 || ch.height < 1 {
		return make([]string, max(ch.height, 0))
	}
	lo, hi := scale(ch.lines)
	xs, ys := pw, ch.height
	if ch.braille {
		xs, ys = pw*2, ch.height*4
	}
	grid := make([]gridCell, pw*ch.height)
	for i := range grid {
		grid[i].owner = -1
	}
	ydot := func(v float64) int {
		y := int(math.Round((v - lo) / (hi - lo) * float64(ys-1)))
		return min(max(y, 0), ys-1)
	}
	set := func(x, y, owner int) { // y counted from the bottom
		row := ch.height - 1 - y/(ys/ch.height)
		cx := x * pw / xs
		c := &grid[row*pw+cx]
		if ch.braille {
			c.mask |= dotBits[3-y%4][x%2]
		}
		c.owner = owner
	}
	for si, l := range ch.lines {
		if !math.IsNaN(l.baseline) && !math.IsInf(l.baseline, 0) {
			row := ch.height - 1 - ydot(l.baseline)/(ys/ch.height)
			for x := 0; x < pw; x++ {
				grid[row*pw+x].base = true
			}
		}
		los, his := envelope(l.vals, ch.n, xs)
		havePrev, pLo, pHi := false, 0, 0
		for x := range los {
			if math.IsNaN(los[x]) {
				havePrev = false // a gap stays a gap
				continue
			}
			a, b := ydot(los[x]), ydot(his[x])
			if !ch.braille {
				// one marker per cell: the value furthest from the middle
				// of the range is the one that matters, draw both ends
				set(x, a, si)
				set(x, b, si)
				continue
			}
			lo, hi := a, b
			if havePrev {
				// join to the previous column so the line reads as a line
				if pHi < lo {
					lo = pHi + 1
				}
				if pLo > hi {
					hi = pLo - 1
				}
			}
			for y := min(lo, a); y <= max(hi, b); y++ {
				set(x, y, si)
			}
			havePrev, pLo, pHi = true, a, b
		}
	}
	curCol := -1
	if ch.cursor >= 0 && ch.n > 0 {
		curCol = ch.cursor * pw / ch.n
	}
	vbar, tick := "│", "┤"
	cbar, bl, nbar := "│", "┈", "┊"
	if ch.ascii {
		vbar, tick, cbar, bl, nbar = "|", "|", "|", "-", ":"
	}
	noteCol := map[int]bool{}
	if ch.n > 0 {
		for _, i := range ch.notes {
			if i >= 0 && i < ch.n {
				noteCol[i*pw/ch.n] = true
			}
		}
	}
	labels := map[int]string{0: axisLabel(hi, ch.unit), ch.height - 1: axisLabel(lo, ch.unit)}
	// inner labels only on rows whose value is an exact fraction of the
	// range, so a label never shows a made-up 8.57M
	if span := ch.height - 1; span >= 4 {
		for _, d := range []int{4, 2, 3} {
			if span%d != 0 || span/d < 2 {
				continue
			}
			for k := 1; k < d; k++ {
				r := k * span / d
				labels[r] = axisLabel(hi-(hi-lo)*float64(k)/float64(d), ch.unit)
			}
			break
		}
	}
	out := make([]string, ch.height)
	var b strings.Builder
	for row := 0; row < ch.height; row++ {
		b.Reset()
		if lb, ok := labels[row]; ok {
			b.WriteString(ch.axis.Render(padLeft(trunc(lb, yLabelW-1), yLabelW-1) + tick))
		} else {
			b.WriteString(ch.axis.Render(strings.Repeat(" ", yLabelW-1) + vbar))
		}
		// runs of cells in the same style are rendered together
		runStyle, run := -3, strings.Builder{}
		flush := func() {
			if run.Len() == 0 {
				return
			}
			s := run.String()
			switch {
			case runStyle >= 0:
				b.WriteString(ch.lines[runStyle].style.Render(s))
			case runStyle == -2:
				b.WriteString(ch.cur.Render(s))
			case runStyle == -1:
				b.WriteString(ch.faint.Render(s))
			default:
				b.WriteString(s)
			}
			run.Reset()
		}
		for x := 0; x < pw; x++ {
			c := grid[row*pw+x]
			st, ch2 := -3, " "
			switch {
			case c.owner >= 0:
				st = c.owner
				if ch.braille {
					ch2 = string(rune(0x2800 + int(c.mask)))
				} else {
					ch2 = ch.lines[c.owner].marker
				}
			case x == curCol:
				st, ch2 = -2, cbar
			case c.base:
				st, ch2 = -1, bl
			case noteCol[x]:
				st, ch2 = -1, nbar
			}
			if st != runStyle {
				flush()
				runStyle = st
			}
			run.WriteString(ch2)
		}
		flush()
		out[row] = b.String()
	}
	return out
}

// axisLabel is a value on the y axis: short, the unit is in the title.
func axisLabel(v float64, unit string) string {
	switch unit {
	case "%", "ms", "s":
		return Human(v, unit)
	}
	return si(v)
}

func padLeft(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// timeAxis draws the shared time axis under the charts: labels at round
// times, so they move with the data rather than change in place.
func timeAxis(snap *correlate.Snapshot, width int, window time.Duration, loc *time.Location, st lipgloss.Style) string {
	pw := width - yLabelW
	if snap == nil || snap.N == 0 || pw < 2 {
		return ""
	}
	every := tickEvery(window, pw)
	line := []rune(strings.Repeat(" ", pw))
	last := -100
	start := snap.Start
	end := snap.Time(snap.N)
	t0 := start.Truncate(every)
	if t0.Before(start) {
		t0 = t0.Add(every)
	}
	format := "15:04"
	if every < time.Minute {
		format = "15:04:05"
	}
	for t := t0; t.Before(end); t = t.Add(every) {
		i := snap.Index(t)
		x := i * pw / snap.N
		lb := t.In(loc).Format(format)
		if x < last+len(lb)+2 || x+len(lb) > pw {
			continue
		}
		copy(line[x:], []rune(lb))
		last = x
	}
	return strings.Repeat(" ", yLabelW) + st.Render(string(line))
}

// tickEvery picks a round label interval that leaves room for the labels.
func tickEvery(window time.Duration, pw int) time.Duration {
	cands := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 12 * time.Hour}
	maxLabels := max(pw/9, 1)
	for _, c := range cands {
		if int(window/c) <= maxLabels {
			return c
		}
	}
	return 24 * time.Hour
}

// sparkRows draws values in w cells and rows lines, scaled from their own
// lowest to highest value (a sparkline shows the shape; the number beside
// it gives the level); gaps stay blank.
//
// minSpan is the smallest range the rows stand for: a series whose whole
// window moves less than that (noise around a quiet level) is drawn near
// its level instead of stretched to full height. 0 scales to the data.
func sparkRows(vals []float64, w, rows int, ascii bool, minSpan float64) []string {
	if w <= 0 || rows <= 0 {
		return make([]string, max(rows, 0))
	}
	levels := []rune("▁▂▃▄▅▆▇█")
	if ascii {
		levels = []rune("_.,-=+*#")
	}
	full := levels[len(levels)-1]
	col := columns(vals, len(vals), w)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range col {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if span := hi - lo; span < minSpan && !math.IsInf(lo, 0) {
		mid := (lo + hi) / 2
		nlo := mid - minSpan/2
		if lo >= 0 && nlo < 0 {
			nlo = 0 // a quiet rate or share sits at the bottom, not mid-air
		}
		lo, hi = nlo, nlo+minSpan
	}
	per := len(levels)
	grid := make([][]rune, rows)
	for r := range grid {
		grid[r] = []rune(strings.Repeat(" ", w))
	}
	for i, v := range col {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		// k is the height in steps of 1/per of a row, at least one step
		k := 1
		if hi > lo {
			k = 1 + int(math.Round((v-lo)/(hi-lo)*float64(rows*per-1)))
		}
		for r := 0; r < rows; r++ {
			fromBottom := rows - 1 - r
			h := k - fromBottom*per
			switch {
			case h >= per:
				grid[r][i] = full
			case h > 0:
				grid[r][i] = levels[h-1]
			}
		}
	}
	out := make([]string, rows)
	for r := range grid {
		out[r] = string(grid[r])
	}
	return out
}

// seriesLabel is the short name of a series for legends and lists:
// its name, its label values, and its node when not already in them.
func seriesLabel(m *correlate.SeriesMeta) string {
	s := m.Name
	if len(m.Labels) > 0 {
		keys := make([]string, 0, len(m.Labels))
		for k := range m.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = m.Labels[k]
		}
		s += "{" + strings.Join(vals, ",") + "}"
	}
	if m.Node != "" && !strings.Contains(s, m.Node) {
		s = m.Node + " " + s
	}
	return clean(s)
}
