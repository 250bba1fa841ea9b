package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// graphsView draws external symptoms on top and internal resources below,
// on one shared time axis, several series per chart (one chart per role
// and unit), with a legend that shows every value at the time cursor.
// Where the sources can be browsed, `a` opens the series picker.
type graphsView struct {
	keys   *KeyMap
	scroll int  // first chart shown
	zoomed bool // the first chart shown takes the whole view
	src    browser
	picker *picker // the series picker, when open
	note   string  // a word on the last key (why `a` cannot add here), until the next key
}

func newGraphs(k *KeyMap, browse func(ctx context.Context, path string) ([]sources.BrowseNode, error), add func(id string) error) *graphsView {
	return &graphsView{keys: k, src: browser{browse: browse, add: add}}
}

func (g *graphsView) Name() string { return "Graphs" }

func (g *graphsView) Keys() []key.Binding {
	if g.picker != nil {
		return pickerKeys
	}
	up, down := g.keys.Up, g.keys.Down
	up.SetHelp(up.Help().Key, "prev chart")
	down.SetHelp(down.Help().Key, "next chart")
	zoom := g.keys.Zoom
	if g.zoomed {
		zoom.SetHelp(zoom.Help().Key, "all charts")
	}
	add := pickerKey
	if g.src.browse == nil {
		add.SetHelp(add.Help().Key, "add a series (needs a graphite or prometheus source)")
	}
	return []key.Binding{g.keys.Left, g.keys.Right, g.keys.Live, up, down, zoom, add}
}

func (g *graphsView) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	switch msg := m.(type) {
	case pickerItemsMsg, pickerAddedMsg:
		return g.pickerMsg(msg), nil
	case tea.KeyPressMsg:
		return g.key(msg, c)
	}
	return false, nil
}

func (g *graphsView) key(msg tea.KeyPressMsg, c *Context) (bool, tea.Cmd) {
	if g.picker != nil {
		return true, g.pickerKey(msg)
	}
	g.note = ""
	switch {
	case key.Matches(msg, pickerKey):
		if g.src.browse == nil {
			g.note = "no source of this run can list its series to add (a configured graphite or prometheus source can)"
			return true, nil
		}
		return true, g.openPicker()
	case key.Matches(msg, g.keys.Up):
		if g.scroll > 0 {
			g.scroll--
		}
		return true, nil
	case key.Matches(msg, g.keys.Down):
		if n := len(chartGroups(c)); g.scroll < n-1 {
			g.scroll++
		}
		return true, nil
	case key.Matches(msg, g.keys.Top):
		g.scroll = 0
		return true, nil
	case key.Matches(msg, g.keys.Zoom):
		g.zoomed = !g.zoomed
		return true, nil
	case key.Matches(msg, g.keys.Back) && g.zoomed:
		g.zoomed = false
		return true, nil
	}
	return false, nil
}

// chartGroup is the series of one chart.
type chartGroup struct {
	role   sources.Role
	unit   string
	series []*correlate.SnapSeries
	part   int // >0 when a role+unit is split over several charts
}

const maxPerChart = 6

var roleOrder = []sources.Role{sources.RoleSymptom, sources.RoleResource, sources.RoleTraffic, sources.RoleUnknown}

func roleTitle(r sources.Role) string {
	switch r {
	case sources.RoleSymptom:
		return "External symptoms"
	case sources.RoleResource:
		return "Internal resources"
	case sources.RoleTraffic:
		return "Traffic"
	}
	return "Other"
}

// chartGroups splits the snapshot's series into charts: symptoms first,
// then resources, traffic and the rest; one chart per unit, at most
// maxPerChart series each, in the store's order.
func chartGroups(c *Context) []chartGroup {
	if c.Snap == nil {
		return nil
	}
	var out []chartGroup
	for _, role := range roleOrder {
		var units []string
		by := map[string][]*correlate.SnapSeries{}
		for i := range c.Snap.Series {
			s := &c.Snap.Series[i]
			if s.Role != role || !matchFilter(c.Filter, s.Key, s.Node) {
				continue
			}
			if _, ok := by[s.Unit]; !ok {
				units = append(units, s.Unit)
			}
			by[s.Unit] = append(by[s.Unit], s)
		}
		for _, u := range units {
			ss := by[u]
			for part := 0; len(ss) > 0; part++ {
				n := min(len(ss), maxPerChart)
				out = append(out, chartGroup{role: role, unit: u, series: ss[:n], part: part})
				ss = ss[n:]
			}
		}
	}
	return out
}

// baselines maps series keys to the baseline the engine compared them
// with, from the findings' evidence.
func baselines(fs []correlate.Finding) map[string]float64 {
	m := map[string]float64{}
	for _, f := range fs {
		for _, e := range f.Evidence {
			if e.SeriesKey == "" || math.IsNaN(e.Baseline) {
				continue
			}
			if _, ok := m[e.SeriesKey]; !ok {
				m[e.SeriesKey] = e.Baseline
			}
		}
	}
	return m
}

func (g *graphsView) Render(c *Context) string {
	t := c.Theme
	if g.picker != nil {
		return g.renderPicker(c)
	}
	if c.Snap == nil {
		return box([]string{"", t.Muted.Render("  waiting for data…")}, c.Width, c.Height)
	}
	groups := chartGroups(c)
	if len(groups) == 0 {
		msg := "  no series in this window"
		if c.Filter != "" {
			msg = fmt.Sprintf("  no series match %q (esc clears the filter)", clean(c.Filter))
		}
		return box([]string{"", t.Muted.Render(msg)}, c.Width, c.Height)
	}
	scroll := min(g.scroll, len(groups)-1)
	avail := c.Height - 2 // time axis and status line
	const minPlot = 3
	maxLegend := 2
	if c.Height >= 40 {
		maxLegend = 3
	}
	base := baselines(c.Findings)
	notes := noteBuckets(c.Snap)
	alertsAt := alertBuckets(c.Snap)
	unusualAt := unusualBuckets(c)

	// legends first: they decide how many charts fit
	type laid struct {
		g      chartGroup
		legend []string
	}
	var shown []laid
	used := 0
	for i := scroll; i < len(groups); i++ {
		lg := g.legend(c, groups[i], maxLegend)
		need := len(lg) + minPlot
		if used+need > avail && len(shown) > 0 {
			break
		}
		shown = append(shown, laid{groups[i], lg})
		used += need
		if g.zoomed {
			break
		}
	}
	extra := max(avail-used, 0)
	var lines []string
	for i, l := range shown {
		rows := minPlot + extra/len(shown)
		if i < extra%len(shown) {
			rows++
		}
		rows = min(rows, avail-len(lines)-len(l.legend))
		if rows < 1 {
			break
		}
		lines = append(lines, l.legend...)
		ch := chart{
			unit: l.g.unit, width: c.Width, height: rows, cursor: c.Cursor, n: c.Snap.N,
			braille: useBraille(c, len(l.g.series)), ascii: c.ASCII,
			axis: t.Muted, faint: t.Faint, cur: t.Cursor, notes: notes,
		}
		ch.notes = append(append([]int(nil), notes...), l.g.alertMarks(alertsAt)...)
		ch.notes = append(ch.notes, l.g.unusualMarks(unusualAt)...)
		for si, s := range l.g.series {
			bl := math.NaN()
			if v, ok := base[s.Key]; ok {
				bl = v
			}
			ch.lines = append(ch.lines, plotLine{vals: c.Snap.Load(s), style: fg(lipgloss.NewStyle(), t.Color(si)), marker: marker(c, si), baseline: bl})
		}
		lines = append(lines, ch.render()...)
	}
	for len(lines) < avail {
		lines = append(lines, "")
	}
	lines = append(lines, timeAxis(c.Snap, c.Width, c.Window, c.Loc, t.Muted))
	lines = append(lines, g.status(c, scroll, len(shown), len(groups)))
	return box(lines, c.Width, c.Height)
}

func marker(c *Context, i int) string {
	if c.ASCII {
		return asciiMarkers[i%len(asciiMarkers)]
	}
	return unicodeMarkers[i%len(unicodeMarkers)]
}

// useBraille: braille draws finer lines but tells series apart only by
// colour, so without colour it is used for charts of one series only.
func useBraille(c *Context, series int) bool {
	return !c.ASCII && (!c.Theme.Mono || series == 1)
}

// legendMark is the swatch before a series' name: a coloured bar, or the
// series' marker where there is no colour.
func legendMark(c *Context, i, series int) string {
	if !useBraille(c, series) {
		return marker(c, i)
	}
	return "━"
}

// legend is the chart's title and one entry per series with its value at
// the cursor (or its newest value when live).
func (g *graphsView) legend(c *Context, gr chartGroup, maxLines int) []string {
	t := c.Theme
	title := roleTitle(gr.role)
	if gr.part > 0 {
		title += fmt.Sprintf(" (%d)", gr.part+1)
	}
	unit := clean(gr.unit)
	if unit == "" {
		unit = "count"
	}
	tst := t.Title
	if gr.role == sources.RoleSymptom {
		tst = fg(t.Title, t.SymptomColor)
	} else if gr.role == sources.RoleResource {
		tst = fg(t.Title, t.ResourceColor)
	}
	bar := "▌"
	if c.ASCII {
		bar = ">" // "#" is a series marker
	}
	head := tst.Render(bar+title) + t.Muted.Render(" "+unit)
	// every series is named beside its mark: when the entries do not fit,
	// the names shorten before any entry is left out, since a mark drawn
	// on the chart that the legend does not name reads as nothing (or as
	// another series)
	full := max(c.Width/2-12, 12)
	for nameW := full; nameW >= 8; nameW -= 4 {
		if lines, ok := g.legendLines(c, gr, head, nameW, maxLines); ok {
			return lines
		}
	}
	lines, _ := g.legendLines(c, gr, head, 8, maxLines)
	return lines
}

// legendLines lays the legend out with names cut to nameW cells; ok is
// false when some series did not fit in maxLines (they are counted as
// "+N", with their marks when the chart draws marks).
func (g *graphsView) legendLines(c *Context, gr chartGroup, head string, nameW, maxLines int) (lines []string, ok bool) {
	t := c.Theme
	var labels []string
	for _, s := range gr.series {
		labels = append(labels, seriesLabel(&s.SeriesMeta))
	}
	shared := sharedPrefix(labels)
	cur := head
	curW := lipgloss.Width(head)
	for i, s := range gr.series {
		c.Snap.Load(s)
		var v float64
		if c.Cursor >= 0 && c.Cursor < len(s.Values) {
			v = s.Values[c.Cursor]
		} else {
			v, _ = s.Last()
		}
		name := trunc(seriesLabel(&s.SeriesMeta), nameW)
		if nameW < max(c.Width/2-12, 12) {
			// short of room the names lose what they share first
			name = truncMiddle(withoutPrefix(seriesLabel(&s.SeriesMeta), shared), nameW)
		}
		val := Human(v, s.Unit)
		entryW := lipgloss.Width(name) + len([]rune(val)) + 4
		entry := fg(lipgloss.NewStyle(), t.Color(i)).Render(legendMark(c, i, len(gr.series))) + " " + t.Base.Render(name) + " " + t.Key.Render(val)
		if curW+2+entryW > c.Width {
			if len(lines)+1 >= maxLines {
				more := fmt.Sprintf("  +%d", len(gr.series)-i)
				if !useBraille(c, len(gr.series)) {
					for j := i; j < len(gr.series); j++ {
						more += " " + marker(c, j)
					}
				}
				lines = append(lines, cur+t.Muted.Render(more))
				return lines, false
			}
			lines = append(lines, cur)
			cur, curW = "  ", 2
		} else {
			cur += "  "
			curW += 2
		}
		cur += entry
		curW += entryW
	}
	return append(lines, cur), true
}

func (g *graphsView) status(c *Context, scroll, shown, total int) string {
	t := c.Theme
	if g.note != "" {
		return t.Warning.Render(" " + g.note)
	}
	var parts []string
	if c.Cursor >= 0 {
		at := c.Snap.Time(c.Cursor).In(c.Loc)
		parts = append(parts, t.Cursor.Render("cursor "+at.Format("15:04:05")),
			t.Muted.Render(shortDur(c.Snap.Time(c.Snap.N-1).Sub(c.Snap.Time(c.Cursor)))+" ago"))
	} else {
		parts = append(parts, t.Muted.Render("newest "+c.Snap.Time(c.Snap.N-1).In(c.Loc).Format("15:04:05")))
	}
	parts = append(parts, t.Muted.Render("step "+shortDur(c.Snap.Step)))
	if shown < total {
		parts = append(parts, t.Muted.Render(fmt.Sprintf("charts %d-%d of %d (%s more)", scroll+1, scroll+shown, total, g.keys.Down.Help().Key)))
	}
	return " " + strings.Join(parts, t.Muted.Render(c.dot()))
}

// noteBuckets are the buckets of the annotations (events of kind note) in
// the window: every chart marks them.
func noteBuckets(snap *correlate.Snapshot) []int {
	var out []int
	for _, e := range snap.Events {
		if e.Kind != sources.EventNote {
			continue
		}
		if i := snap.Index(e.Start); i >= 0 && i < snap.N {
			out = append(out, i)
		}
	}
	return out
}

// alertBuckets are the buckets where an alert began or ended in the
// window, by the node it is about: the charts of that node mark them as
// they mark notes.
func alertBuckets(snap *correlate.Snapshot) map[string][]int {
	var out map[string][]int
	for i := range snap.Events {
		e := &snap.Events[i]
		if e.Kind != sources.EventAlert || e.Alert == nil || e.Node == "" {
			continue
		}
		for _, t := range []time.Time{e.Start, e.End} {
			if t.IsZero() {
				continue
			}
			if b := snap.Index(t); b >= 0 && b < snap.N {
				if out == nil {
					out = map[string][]int{}
				}
				out[e.Node] = append(out[e.Node], b)
			}
		}
	}
	return out
}

// unusualBuckets are the buckets of the engine's unusual flags in the
// window, by series key.
func unusualBuckets(c *Context) map[string][]int {
	var out map[string][]int
	for _, u := range c.Unusual {
		if b := c.Snap.Index(u.At); b >= 0 && b < c.Snap.N {
			if out == nil {
				out = map[string][]int{}
			}
			out[u.Key] = append(out[u.Key], b)
		}
	}
	return out
}

// unusualMarks are the unusual flags of the series the chart draws.
func (g chartGroup) unusualMarks(byKey map[string][]int) []int {
	var out []int
	for _, s := range g.series {
		out = append(out, byKey[s.Key]...)
	}
	return out
}

// alertMarks are the alert buckets of the nodes the chart draws.
func (g chartGroup) alertMarks(byNode map[string][]int) []int {
	if len(byNode) == 0 {
		return nil
	}
	var out []int
	seen := map[string]bool{}
	for _, s := range g.series {
		if !seen[s.Node] {
			seen[s.Node] = true
			out = append(out, byNode[s.Node]...)
		}
	}
	return out
}

// sharedPrefix is what every label starts with, up to the last
// separator in it ("hrsp_5xx{" of hrsp_5xx{app,app-1} and
// hrsp_5xx{app}); "" for one label or none shared.
func sharedPrefix(labels []string) string {
	if len(labels) < 2 {
		return ""
	}
	p := labels[0]
	for _, l := range labels[1:] {
		for !strings.HasPrefix(l, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndexAny(p, "{,._ /"); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// withoutPrefix is label with the shared prefix said as "…".
func withoutPrefix(label, prefix string) string {
	if prefix == "" || len(prefix) < 4 || !strings.HasPrefix(label, prefix) {
		return label
	}
	return "…" + label[len(prefix):]
}
