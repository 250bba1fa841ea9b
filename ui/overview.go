package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// overviewView is the first screen: the sources' health, the incidents
// at the instant shown worst first, and sparklines of the key series
// (symptoms first, then resources).
type overviewView struct {
	keys *KeyMap
	sel  int // selected key series, -1 none
}

func newOverview(k *KeyMap) *overviewView { return &overviewView{keys: k, sel: -1} }

func (o *overviewView) Name() string { return "Overview" }

func (o *overviewView) Keys() []key.Binding {
	up, down, enter := o.keys.Up, o.keys.Down, o.keys.Enter
	up.SetHelp(up.Help().Key, "select")
	down.SetHelp(down.Help().Key, "select")
	enter.SetHelp(enter.Help().Key, "graphs")
	return []key.Binding{up, down, enter}
}

// Update moves the selection over the key series; Enter opens the Graphs
// view filtered to the selected series' node (or name).
func (o *overviewView) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	msg, ok := m.(tea.KeyPressMsg)
	if !ok || c.Snap == nil {
		return false, nil
	}
	ks := keySeries(c)
	switch {
	case key.Matches(msg, o.keys.Up):
		o.sel = max(o.sel-1, 0)
	case key.Matches(msg, o.keys.Down):
		o.sel = min(o.sel+1, len(ks)-1)
	case key.Matches(msg, o.keys.Enter) && o.sel >= 0 && o.sel < len(ks):
		s := ks[o.sel]
		f := s.Node
		if f == "" {
			f = s.Name
		}
		return true, Goto("Graphs", f)
	case key.Matches(msg, o.keys.Back) && o.sel >= 0:
		o.sel = -1
	default:
		return false, nil
	}
	return true, nil
}

func (o *overviewView) Render(c *Context) string {
	t := c.Theme
	if c.Snap == nil {
		return box([]string{"", t.Muted.Render("  waiting for data…")}, c.Width, c.Height)
	}
	if c.Width >= 140 {
		lw := c.Width * 9 / 20
		rw := c.Width - lw - 2
		srcN := min(len(c.Snap.Status), max(c.Height/2-2, 1))
		left := o.sources(c, lw, srcN)
		left = append(left, "")
		fN := min(max(incidentLines(c, true), 1), max(c.Height/3, 4))
		left = append(left, o.findings(c, lw, fN+1, true)...)
		if room := c.Height - len(left) - 1; room >= 3 {
			left = append(left, "")
			left = append(left, o.events(c, lw, room)...)
		}
		right := o.series(c, rw, c.Height)
		return box(hjoin(left, lw, right, rw, 2), c.Width, c.Height)
	}
	srcN := min(len(c.Snap.Status), 4)
	lines := o.sources(c, c.Width, srcN)
	fN := min(max(incidentLines(c, false), 1), 4)
	lines = append(lines, o.findings(c, c.Width, fN+1, false)...)
	lines = append(lines, o.series(c, c.Width, c.Height-len(lines))...)
	return box(lines, c.Width, c.Height)
}

// sources is a title and up to n rows: health, name, type, poll latency,
// and the last error (or the source's detail line).
func (o *overviewView) sources(c *Context, w, n int) []string {
	t := c.Theme
	sts := c.Snap.Status
	bad := 0
	for _, st := range sts {
		if st.Health != sources.HealthOK {
			bad++
		}
	}
	// how many are not ok is said when some rows are cut: else each
	// row's mark says it
	count := fmt.Sprintf(" %d", len(sts))
	if len(sts) > n {
		count += fmt.Sprintf(", %d not ok", bad)
	}
	if h := c.Snap.Held; c.Snap.Dropped == 0 && h.Series > 0 {
		// the memory budget in sight: what the store holds (the warning
		// below says it when the budget is spent)
		count += fmt.Sprintf(" · %d series, %s held", h.Series, heldSize(h.Bytes))
	}
	title := t.Title.Render(" Sources") + t.Muted.Render(count)
	if bad == 0 && len(sts) > n && len(sts) > 0 {
		// all well and not enough room for the table: one line that names
		// them all beats a table cut short
		names := make([]string, len(sts))
		for i := range sts {
			names[i] = clean(sts[i].Source)
		}
		line := "  " + healthMark(c, sources.HealthOK) + "  " + t.Base.Render(strings.Join(names, ", "))
		return []string{title, fit(line, w)}
	}
	if c.Snap.Dropped > 0 {
		title += "  " + t.Warning.Render(fmt.Sprintf("%s %d series dropped%s: the store holds store.max_series (%d series, %s)",
			c.Symbols.Warning, c.Snap.Dropped, droppedFrom(c.Snap.Held.DroppedBy), c.Snap.Held.Series, heldSize(c.Snap.Held.Bytes)))
	}
	out := []string{title}
	if len(sts) == 0 {
		return append(out, t.Muted.Render("  no sources yet"))
	}
	// in the sources' order when all fit, so a health flip changes a mark
	// and not the places of rows; else the worst first, so a failing
	// source is never cut off
	order := worstFirst(sts)
	if len(sts) <= n {
		for i := range order {
			order[i] = i
		}
	}
	nameW := 16
	if w >= 120 {
		nameW = 22
	}
	for k, i := range order {
		if k >= n {
			out[len(out)-1] += t.Muted.Render(fmt.Sprintf("  +%d more", len(sts)-n))
			break
		}
		st := &sts[i]
		lat := "—"
		if st.Latency > 0 {
			lat = shortDur(st.Latency.Round(1e6))
		}
		row := fmt.Sprintf("  %s %-*s %-10s %6s  ", padCells(healthMark(c, st.Health), 10), nameW, trunc(clean(st.Source), nameW), trunc(clean(st.Type), 10), lat)
		note := clean(st.Detail)
		if st.LastError != "" {
			times := ""
			if st.Failures > 1 {
				times = textFor(c, fmt.Sprintf(" (%d×)", st.Failures))
			}
			room := w - ansi.StringWidth(row)
			cause := causeFirst(clean(st.LastError), room-ansi.StringWidth(times))
			if strings.HasSuffix(cause, "…") { // the count gives way to the cause
				cause, times = causeFirst(clean(st.LastError), room), ""
			}
			note = t.Critical.Render(cause) + t.Muted.Render(times)
		}
		out = append(out, row+note)
	}
	return out
}

// activeFindings is the findings the shell chose (those active at the
// instant shown), worst first.
func activeFindings(fs []correlate.Finding) []correlate.Finding {
	out := append([]correlate.Finding(nil), fs...)
	correlate.SortFindings(out)
	return out
}

// overviewRows are the lines of the incidents: one per incident and per
// finding no incident holds; wide, an incident of several findings lists
// them under it too.
func overviewRows(c *Context, wide bool) (shown []listRow, incidents, findings int) {
	rows, fs := listRows(c)
	for _, r := range rows {
		if r.inc != nil || !r.under {
			incidents++
		}
		if r.inc != nil || !r.under || wide && rows[r.head].count > 1 {
			shown = append(shown, r)
		}
	}
	return shown, incidents, len(fs)
}

// incidentLines is how many lines the incidents would take.
func incidentLines(c *Context, wide bool) int {
	shown, _, _ := overviewRows(c, wide)
	return len(shown)
}

// findings is a title and the incidents at the instant shown, worst
// first, one line each, in h lines; wide, an incident of several findings
// lists them under it.
func (o *overviewView) findings(c *Context, w, h int, wide bool) []string {
	t := c.Theme
	shown, ni, nf := overviewRows(c, wide)
	title := t.Title.Render(" Incidents") + t.Muted.Render(fmt.Sprintf(" %d, %d %s", ni, nf, plural(nf, "finding")))
	at := instant(c)
	if !at.IsZero() {
		title += t.Muted.Render(" at " + at.In(loc(c)).Format("15:04:05"))
	}
	out := []string{title}
	if nf == 0 {
		if at.IsZero() && len(c.Warming) > 0 {
			return append(out, warmingLines(c, w, h-1)...)
		}
		msg := c.Symbols.OK + " nothing wrong found"
		if !at.IsZero() {
			msg = c.Symbols.OK + " nothing was wrong then"
		}
		return append(out, "  "+t.OK.Render(msg))
	}
	now := now(c)
	for i := range shown {
		r := &shown[i]
		if len(out) >= h {
			break
		}
		if len(out) == h-1 && i < len(shown)-1 {
			left := 0
			for _, r := range shown[i:] {
				if r.inc != nil || !r.under {
					left++
				}
			}
			out = append(out, t.Muted.Render(fmt.Sprintf("  +%d more (Findings view)", max(left, 1))))
			break
		}
		switch {
		case r.inc != nil:
			out = append(out, overviewIncident(c, r.inc, r.count, now, w))
		case r.under:
			out = append(out, fit("      "+t.Muted.Render(c.dot()[1:])+t.Base.Render(clean(r.f.Title)), w))
		default:
			where := ""
			if r.f.Node != "" {
				where = t.Muted.Render(c.dot() + clean(r.f.Node))
			}
			out = append(out, fit("  "+padCells(sevMark(c, r.f.Severity), 11)+" "+t.Base.Render(clean(r.f.Title))+where, w))
		}
	}
	return out
}

// overviewIncident is one incident in one line: severity, headline, how
// long it has been going on, how many findings it holds. Short of room,
// the line gives up first the count of findings, then the severity's
// word (its mark stays), and only then shortens the headline.
func overviewIncident(c *Context, inc *correlate.Incident, n int, now time.Time, w int) string {
	t := c.Theme
	full := fmt.Sprintf("  for %s%s%d %s", age(now.Sub(inc.Since)), c.dot(), n, plural(n, "finding"))
	// the count is said again by the rows under it (wide) and by the
	// Findings view: it goes first
	short := "  for " + age(now.Sub(inc.Since))
	mark, sym := padCells(sevMark(c, inc.Severity), 11), t.SevStyle(int(inc.Severity)).Render(sevSym(c, inc.Severity))
	type form struct{ mark, tail string }
	forms := []form{{mark, full}, {mark, short}, {sym, short}}
	heads := []string{clean(inc.Headline)}
	if inc.Where != "" && inc.Why != "" {
		heads = append(heads, clean(inc.HeadlineWith(inc.Where)))
	}
	line := func(f form, head string) string {
		hw := max(w-2-ansi.StringWidth(f.mark)-1-ansi.StringWidth(f.tail), 1)
		head += strings.Repeat(" ", max(hw-ansi.StringWidth(head), 0))
		return "  " + f.mark + " " + t.Base.Render(head) + t.Muted.Render(f.tail)
	}
	for _, h := range heads {
		for _, f := range forms {
			if 2+ansi.StringWidth(f.mark)+1+ansi.StringWidth(h)+ansi.StringWidth(f.tail) <= w {
				return line(f, h)
			}
		}
	}
	f := forms[len(forms)-1]
	return line(f, incidentHead(inc, max(w-2-ansi.StringWidth(f.mark)-1-ansi.StringWidth(f.tail), 1)))
}

// keySeries orders the series for the overview: first, finding by
// finding (worst first), each finding's symptom and its first suspect, so
// the cause sits under what it explains; then symptoms, resources and
// traffic, within a role those named by a finding first.
func keySeries(c *Context) []*correlate.SnapSeries {
	named := map[string]bool{}
	first := map[string]int{} // key → place among the findings' symptoms and first suspects
	for _, f := range activeFindings(c.Findings) {
		sus := false
		for _, e := range f.Evidence {
			named[e.SeriesKey] = true
			lead := e.Kind == correlate.EvSymptom || (e.Kind == correlate.EvSuspect && !sus)
			if e.Kind == correlate.EvSuspect {
				sus = true
			}
			if _, ok := first[e.SeriesKey]; lead && !ok && e.SeriesKey != "" {
				first[e.SeriesKey] = len(first)
			}
		}
	}
	rank := map[sources.Role]int{sources.RoleSymptom: 0, sources.RoleResource: 1, sources.RoleTraffic: 2, sources.RoleUnknown: 3}
	var out []*correlate.SnapSeries
	for i := range c.Snap.Series {
		s := &c.Snap.Series[i]
		if matchFilter(c.Filter, s.Key, s.Node) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		fa, oka := first[a.Key]
		fb, okb := first[b.Key]
		if oka || okb {
			return oka && (!okb || fa < fb)
		}
		if rank[a.Role] != rank[b.Role] {
			return rank[a.Role] < rank[b.Role]
		}
		return named[a.Key] && !named[b.Key]
	})
	return out
}

// series is a title and one sparkline per key series with its value at
// the cursor (the newest when live).
func (o *overviewView) series(c *Context, w, h int) []string {
	t := c.Theme
	ks := keySeries(c)
	sum := fmt.Sprintf(" %d, last %s", len(ks), shortDur(c.Window))
	if at := instant(c); !at.IsZero() {
		sum += ", values at " + at.In(loc(c)).Format("15:04:05")
	}
	out := []string{t.Title.Render(" Key series") + t.Muted.Render(sum)}
	if len(ks) == 0 {
		msg := "  no series yet"
		if c.Filter != "" {
			msg = fmt.Sprintf("  no series match %q", clean(c.Filter))
		}
		return append(out, t.Muted.Render(msg))
	}
	nameW := min(max(w/3, 16), 40)
	valW := 10
	roleW := 9
	sparkW := max(w-nameW-valW-roleW-6, 4)
	// spare height makes the sparklines taller, up to three rows each
	rows := min(max((h-1)/len(ks), 1), 3)
	indent := strings.Repeat(" ", 2+roleW+nameW+1)
	// keep the selected series in view
	start := 0
	if fit := max((h-2)/rows, 1); o.sel >= fit {
		start = o.sel - fit + 1
	}
	for i := start; i < len(ks); i++ {
		s := ks[i]
		if len(out)+rows > h {
			break
		}
		c.Snap.Load(s)
		if len(out)+rows > h-1 && i < len(ks)-1 {
			out = append(out, t.Muted.Render(fmt.Sprintf("  +%d more (Graphs view, / to filter)", len(ks)-i)))
			break
		}
		role := s.Role.String()
		rst := t.Muted
		switch s.Role {
		case sources.RoleSymptom:
			rst = fg(t.Base, t.SymptomColor)
		case sources.RoleResource:
			rst = fg(t.Base, t.ResourceColor)
		}
		v, _ := s.Last()
		if c.Cursor >= 0 && c.Cursor < len(s.Values) {
			v = s.Values[c.Cursor]
		}
		sp := sparkRows(s.Values, sparkW, rows, c.ASCII, sparkSpan(s))
		spst := fg(t.Base, t.Color(i))
		for r, line := range sp {
			if r > 0 {
				out = append(out, indent+spst.Render(line))
				continue
			}
			nst := t.Base
			if i == o.sel {
				nst = t.Selected
			}
			out = append(out, "  "+rst.Render(fmt.Sprintf("%-*s", roleW-1, role))+" "+
				nst.Render(fmt.Sprintf("%-*s", nameW, trunc(seriesLabel(&s.SeriesMeta), nameW)))+" "+
				spst.Render(line)+" "+t.Key.Render(padLeft(Human(v, s.Unit), valW)))
		}
	}
	return out
}

// events is a title and the newest events in h lines (wide layout only;
// the Events view has them all).
func (o *overviewView) events(c *Context, w, h int) []string {
	t := c.Theme
	evs := eventList(c)
	out := []string{t.Title.Render(" Recent events") + t.Muted.Render(fmt.Sprintf(" %d", len(evs)))}
	if len(evs) == 0 {
		return append(out, t.Muted.Render("  none in this window"))
	}
	for i := range evs {
		if len(out) >= h {
			break
		}
		ev := &evs[i]
		title := clean(ev.Title)
		if ch := changeOf(c, ev); ch != nil {
			// an engine row: its verb and the finding's cause stay whole
			title = changeHead(ch, max(w-2-11-1-8-1, 1))
		}
		out = append(out, fmt.Sprintf("  %s %s %s", padCells(sevMark(c, ev.Severity), 11),
			t.Muted.Render(ev.Start.In(c.Loc).Format("15:04:05")), t.Base.Render(title)))
	}
	return out
}

// sparkSpan is the smallest range a key series' sparkline stands for, so
// that noise on a quiet series looks quiet: shares on 0..100 %, otherwise
// ten of the unit's smallest meaningful steps (five items for counts) or
// the series' own level, whichever is larger: 0.05 req/s of 5xx noise stays
// flat, 2 req/s shows, 46 req/s fills it.
func sparkSpan(s *correlate.SnapSeries) float64 {
	if s.Unit == "%" {
		return 100
	}
	var sum float64
	n := 0
	for _, v := range s.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum += math.Abs(v)
			n++
		}
	}
	level := 0.0
	if n > 0 {
		level = sum / float64(n)
	}
	base := 10 * correlate.UnitFloor(s.Unit)
	if s.Unit == "" || s.Unit == "count" {
		base = 5
	}
	return math.Max(base, level)
}

// warmingLines say, while nothing is found, what the engine cannot judge
// yet for want of a baseline, and until when: "nothing wrong found" would
// claim more than it knows in the first quarter hour.
func warmingLines(c *Context, w, h int) []string {
	t := c.Theme
	out := []string{"  " + t.Info.Render("nothing found yet; still warming up (no baseline of their own):")}
	for i, wm := range c.Warming {
		if len(out) >= h {
			break
		}
		if len(out) == h-1 && i < len(c.Warming)-1 {
			out = append(out, t.Muted.Render(fmt.Sprintf("  +%d more sources", len(c.Warming)-i)))
			break
		}
		names := make([]string, len(wm.Names))
		for k, n := range wm.Names {
			names[k] = clean(n)
		}
		list := strings.Join(names, ", ")
		if wm.Series > len(names) {
			list += ", …"
		}
		line := fmt.Sprintf("  %s: %d %s (%s) until about %s", clean(wm.Source), wm.Series, plural(wm.Series, "symptom"),
			list, wm.Until.In(loc(c)).Format("15:04"))
		out = append(out, fit(t.Muted.Render(line), max(w, 0)))
	}
	return out
}

// droppedFrom names the sources whose new series the store refused,
// most first: " from prom" or " from prom, lb-1".
func droppedFrom(by map[string]int) string {
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if by[names[i]] != by[names[j]] {
			return by[names[i]] > by[names[j]]
		}
		return names[i] < names[j]
	})
	for i := range names {
		names[i] = clean(names[i])
	}
	if len(names) == 0 {
		return ""
	}
	return " from " + strings.Join(names, ", ")
}

// heldSize is bytes in MB, or kB under one.
func heldSize(b int64) string {
	if b < 1<<20 {
		return fmt.Sprintf("%d kB", b>>10)
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}
