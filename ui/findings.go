package ui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// Findings lists what the engine concluded at the instant shown: each
// incident's headline, worst first, with its findings under it. Enter
// opens a finding's evidence: the symptom's graph on top and the suspects'
// graphs below on one time axis, each with its baseline, score and lead
// or lag.
type Findings struct {
	sel    int // the selected finding, in the order of the list
	top    int // the first line of the list shown
	detail bool
	id     string // the finding the evidence screen shows
	// off is how far the evidence charts below the symptom are scrolled
	off int
	// excluded shows the series the engine could not check instead of
	// the charts; exOff scrolls that list
	excluded bool
	exOff    int
	keys     findingsKeys
}

type findingsKeys struct {
	Up, Down, Open, Back, Excluded key.Binding
}

// NewFindings makes the Findings view.
func NewFindings() View {
	return &Findings{keys: findingsKeys{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "evidence")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Excluded: key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "could not check")),
	}}
}

// Name is the tab label.
func (v *Findings) Name() string { return "Findings" }

// Keys lists the view's own keys.
func (v *Findings) Keys() []key.Binding {
	if v.detail {
		return []key.Binding{v.keys.Back, v.keys.Up, v.keys.Down, v.keys.Excluded}
	}
	return []key.Binding{v.keys.Up, v.keys.Down, v.keys.Open}
}

// Update moves the selection, opens and closes the evidence screen. The
// evidence screen closes by itself when its finding is not among those
// active at the instant shown.
func (v *Findings) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	f := v.shown(c)
	if v.detail && f == nil {
		v.detail = false
	}
	msg, ok := m.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	if f != nil {
		return v.evidenceKey(msg, c, f)
	}
	rows, fs := listRows(c)
	n := len(fs)
	switch {
	case key.Matches(msg, v.keys.Up):
		v.sel = clampSel(v.sel-1, n)
	case key.Matches(msg, v.keys.Down):
		v.sel = clampSel(v.sel+1, n)
	case key.Matches(msg, v.keys.Open):
		if n > 0 {
			v.sel = clampSel(v.sel, n)
			v.detail, v.id, v.off, v.excluded = true, fs[v.sel].ID, 0, false
		}
		return true, nil
	default:
		return false, nil
	}
	v.top = listTop(v.top, rows, v.sel, listHeight(c))
	return true, nil
}

// evidenceKey handles a key on the evidence screen of f.
func (v *Findings) evidenceKey(msg tea.KeyPressMsg, c *Context, f *correlate.Finding) (bool, tea.Cmd) {
	switch {
	case v.excluded && key.Matches(msg, v.keys.Back):
		v.excluded = false
	case key.Matches(msg, v.keys.Back):
		v.detail = false
	case key.Matches(msg, v.keys.Excluded):
		v.excluded, v.exOff = !v.excluded, 0
	case v.excluded && key.Matches(msg, v.keys.Down):
		_, _, most := v.evidence(c, f)
		v.exOff = min(v.exOff+1, most)
	case v.excluded && key.Matches(msg, v.keys.Up):
		v.exOff = max(v.exOff-1, 0)
	case key.Matches(msg, v.keys.Down):
		// the symptom stays on top; the charts below it scroll
		_, most, _ := v.evidence(c, f)
		v.off = min(v.off+1, most)
	case key.Matches(msg, v.keys.Up):
		v.off = max(v.off-1, 0)
	default:
		return false, nil
	}
	return true, nil
}

// shown is the finding the evidence screen shows, nil when the list shows.
func (v *Findings) shown(c *Context) *correlate.Finding {
	if !v.detail {
		return nil
	}
	for i := range c.Findings {
		if c.Findings[i].ID == v.id {
			return &c.Findings[i]
		}
	}
	return nil
}

func clampSel(i, n int) int { return max(min(i, n-1), 0) }

// Render draws the list or the evidence screen into c.Width × c.Height.
func (v *Findings) Render(c *Context) string {
	if f := v.shown(c); f != nil {
		lines, _, _ := v.evidence(c, f)
		return box(lines, c.Width, c.Height)
	}
	return box(v.renderList(c), c.Width, c.Height)
}

// listRow is one line of the list: an incident's headline, or one of the
// findings under it.
type listRow struct {
	inc   *correlate.Incident
	f     *correlate.Finding
	n     int  // the finding's place among the findings (what ↑/↓ select)
	head  int  // the line of its incident, -1 for none
	under bool // drawn indented, under an incident
	count int  // an incident's findings on the list
	// alert is what the monitoring system says of the alert a finding is
	// about, nil for other findings
	alert *sources.Alert
}

// listRows lays the list out: each incident's line, then its findings;
// findings that no incident names follow, unindented. fs is the findings
// in that order.
func listRows(c *Context) (rows []listRow, fs []*correlate.Finding) {
	byID := make(map[string]*correlate.Finding, len(c.Findings))
	for i := range c.Findings {
		byID[c.Findings[i].ID] = &c.Findings[i]
	}
	listed := map[string]bool{}
	for i := range c.Incidents {
		inc := &c.Incidents[i]
		head := len(rows)
		rows = append(rows, listRow{inc: inc, head: -1})
		for _, id := range inc.Findings {
			if f := byID[id]; f != nil && !listed[id] {
				listed[id] = true
				rows = append(rows, listRow{f: f, n: len(fs), head: head, under: true})
				fs = append(fs, f)
			}
		}
		if rows[head].count = len(rows) - head - 1; rows[head].count == 0 {
			rows = rows[:head] // none of its findings is shown
		}
	}
	for i := range c.Findings {
		if f := &c.Findings[i]; !listed[f.ID] {
			rows = append(rows, listRow{f: f, n: len(fs), head: -1})
			fs = append(fs, f)
		}
	}
	alerts := alertsByKey(c)
	for i := range rows {
		if f := rows[i].f; f != nil && f.Alert() != nil {
			rows[i].alert = alerts[f.Alert().Event]
		}
	}
	return rows, fs
}

// listHeight is how many lines of the list fit under its title.
func listHeight(c *Context) int { return max(c.Height-2, 1) }

// listTop is the first line shown so that the selected finding, and when
// it fits its incident's line, are in view; top is the last one shown.
func listTop(top int, rows []listRow, sel, h int) int {
	line := -1
	for i := range rows {
		if rows[i].f != nil && rows[i].n == sel {
			line = i
		}
	}
	if line < 0 {
		return 0
	}
	top = min(top, max(len(rows)-h, 0))
	if hd := rows[line].head; hd >= 0 && line-hd < h && hd < top {
		top = hd
	}
	if line < top {
		top = line
	}
	if line >= top+h {
		top = line - h + 1
	}
	return max(top, 0)
}

// seg is a run of text in one style.
type seg struct {
	text  string
	style lipgloss.Style
}

// join renders segments into one line of at most w cells, cutting the
// plain text (with "…") before styling so escapes are never cut.
func join(w int, segs ...seg) string {
	var b strings.Builder
	left := w
	for _, s := range segs {
		if left <= 0 {
			break
		}
		t := s.text
		if n := ansi.StringWidth(t); n > left {
			t = ansi.Truncate(t, left, "…")
		}
		left -= ansi.StringWidth(t)
		b.WriteString(s.style.Render(t))
	}
	return b.String()
}

func sevStyle(c *Context, s sources.Severity) (lipgloss.Style, string) {
	th, sy := c.Theme, c.Symbols
	switch s {
	case sources.SevCritical:
		return th.Critical, sy.Critical
	case sources.SevWarning:
		return th.Warning, sy.Warning
	case sources.SevInfo:
		return th.Info, sy.Info
	case sources.SevOK:
		return th.OK, sy.OK
	}
	return th.Unknown, sy.Unknown
}

// now is the clock the view measures ages against: the instant under the
// cursor, else the snapshot's newest time, else the newest update among
// the findings (never the wall clock, so a replay reads the same).
func now(c *Context) time.Time {
	if at := instant(c); !at.IsZero() {
		return at
	}
	if c.Snap != nil && !c.Snap.Now.IsZero() {
		return c.Snap.Now
	}
	var t time.Time
	for _, f := range c.Findings {
		if f.Updated.After(t) {
			t = f.Updated
		}
	}
	return t
}

func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d/time.Minute)%60)
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// renderList draws the title, then the incidents' lines with their
// findings under them, from the view's scroll line.
func (v *Findings) renderList(c *Context) []string {
	th := c.Theme
	w := c.Width
	rows, fs := listRows(c)
	at := instant(c)
	sum := fmt.Sprintf("  %d active", len(fs))
	if !at.IsZero() {
		sum += " at " + at.In(loc(c)).Format("15:04:05")
	}
	if len(c.Incidents) > 0 {
		sum += fmt.Sprintf(" in %d %s", len(c.Incidents), plural(len(c.Incidents), "incident"))
	}
	lines := []string{join(w, seg{" Findings", th.Title}, seg{sum + ", worst first", th.Muted})}
	if len(fs) == 0 && at.IsZero() && len(c.Warming) > 0 {
		return append(append(lines, ""), warmingLines(c, w, max(c.Height-len(lines)-1, 2))...)
	}
	if len(fs) == 0 {
		msg := " nothing the engine can see is wrong"
		if !at.IsZero() {
			msg = " nothing the engine saw was wrong at " + at.In(loc(c)).Format("15:04:05")
		}
		lines = append(lines, "", join(w, seg{" " + c.Symbols.OK + " ok ", th.OK}, seg{msg, th.Base}))
		return lines
	}
	sel := clampSel(v.sel, len(fs))
	h := listHeight(c)
	top := listTop(v.top, rows, sel, h)
	t := now(c)
	for i := top; i < len(rows) && i < top+h; i++ {
		r := &rows[i]
		if r.inc != nil {
			lines = append(lines, incidentRow(c, r.inc, r.count, t, w))
			continue
		}
		lines = append(lines, findingRow(c, r, r.n == sel, t, w))
	}
	if len(rows) > h {
		first, last := -1, -1
		for i := top; i < len(rows) && i < top+h; i++ {
			if rows[i].f != nil {
				if first < 0 {
					first = rows[i].n
				}
				last = rows[i].n
			}
		}
		lines = append(lines, join(w, seg{fmt.Sprintf(" findings %d-%d of %d", first+1, last+1, len(fs)), th.Muted}))
	}
	return lines
}

// incidentRow is an incident's line: severity, headline, how long it has
// been going on and how many findings it holds.
func incidentRow(c *Context, inc *correlate.Incident, n int, t time.Time, w int) string {
	th := c.Theme
	st, sym := sevStyle(c, inc.Severity)
	word := fmt.Sprintf("%-8s", inc.Severity.String())
	tail := fmt.Sprintf("  for %s%s%d %s", age(t.Sub(inc.Since)), c.dot(), n, plural(n, "finding"))
	hw := max(w-1-ansi.StringWidth(sym)-1-len(word)-1-ansi.StringWidth(tail), 1)
	head := incidentHead(inc, hw)
	head += strings.Repeat(" ", hw-ansi.StringWidth(head))
	return join(w, seg{" ", th.Base}, seg{sym + " " + word, st}, seg{" " + head, th.Title}, seg{tail, th.Muted})
}

// findingRow is a finding's line, under its incident when it has one.
func findingRow(c *Context, r *listRow, selected bool, t time.Time, w int) string {
	th := c.Theme
	f := r.f
	st, sym := sevStyle(c, f.Severity)
	indent := ""
	if r.under {
		indent = "  "
	}
	word := fmt.Sprintf("%-8s", f.Severity.String())
	ag := age(t.Sub(f.Opened))
	title := sources.Clean(f.Title)
	tw := max(w-len(indent)-1-ansi.StringWidth(sym)-1-len(word)-1-len(ag)-2, 1)
	if ansi.StringWidth(title) > tw {
		title = ansi.Truncate(title, tw, "…")
	}
	title += strings.Repeat(" ", tw-ansi.StringWidth(title))
	base, muted := th.Base, th.Muted
	if flap, _, held := alertMarks(c, r.alert); held {
		base = th.Muted // acknowledged or in downtime: shown, dimmed (its title says which)
	} else if flap != "" {
		title = flap + ansi.Truncate(title, max(tw-ansi.StringWidth(flap), 1), "")
	}
	mark := " "
	if selected {
		base, muted = th.Selected, th.Selected
		st = st.Inherit(th.Selected)
		mark = ">"
	}
	return join(w, seg{indent, th.Base}, seg{mark, base}, seg{sym + " " + word, st}, seg{" " + title + "  ", base}, seg{ag, muted})
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// loc is the Context's time zone, UTC when a test left it unset.
func loc(c *Context) *time.Location {
	if c.Loc == nil {
		return time.UTC
	}
	return c.Loc
}

// chartRows draws vals resampled to width columns as a bar chart of
// height rows. Values within the baseline band (base ± 3·spread) are
// drawn as the faint baseline line only, so what left the baseline stands
// out as bars. NaN (no data) is left blank, never drawn as zero.
func chartRows(c *Context, vals []float64, base, spread float64, width, height int, st lipgloss.Style) []string {
	if width < 1 || height < 1 {
		return nil
	}
	cols := make([]float64, width)
	n := len(vals)
	lo, hi := math.Inf(1), math.Inf(-1)
	for x := 0; x < width; x++ {
		a, b := x*n/width, (x+1)*n/width
		if b <= a {
			b = a + 1
		}
		m := math.NaN()
		for i := a; i < b && i < n; i++ {
			if v := vals[i]; !math.IsNaN(v) && (math.IsNaN(m) || v > m) {
				m = v // max per column: a short outage must not be averaged away
			}
		}
		cols[x] = m
		if !math.IsNaN(m) {
			lo, hi = math.Min(lo, m), math.Max(hi, m)
		}
	}
	if !math.IsNaN(base) {
		lo, hi = math.Min(lo, base), math.Max(hi, base)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if lo > 0 && lo < 0.25*hi {
		lo = 0 // bars from zero when zero is near
	}
	span := hi - lo
	if span <= 0 {
		span = 1
	}
	blocks := []rune(" ▁▂▃▄▅▆▇█")
	baseCh := "┄"
	if c.ASCII {
		blocks = []rune(" ..::||##")
		baseCh = "-"
	}
	baseRow := -1
	if !math.IsNaN(base) {
		// a baseline at the top of the range rounds to one row past the
		// chart: keep it on the top row
		baseRow = min(height-1, int(math.Round((base-lo)/span*float64(height*8-1)/8)))
	}
	out := make([]string, height)
	for r := 0; r < height; r++ { // r = 0 is the bottom row
		var b strings.Builder
		var run strings.Builder
		runFaint := false
		flush := func() {
			if run.Len() == 0 {
				return
			}
			if runFaint {
				b.WriteString(c.Theme.Faint.Render(run.String()))
			} else {
				b.WriteString(st.Render(run.String()))
			}
			run.Reset()
		}
		for x := 0; x < width; x++ {
			ch, faint := " ", false
			inBand := !math.IsNaN(base) && !math.IsNaN(cols[x]) && math.Abs(cols[x]-base) <= 3*spread
			if v := cols[x]; !math.IsNaN(v) && !inBand {
				eighths := int(math.Round((v - lo) / span * float64(height*8)))
				if eighths < 1 {
					eighths = 1 // a value at the floor still shows: it is data
				}
				switch k := eighths - r*8; {
				case k >= 8:
					ch = string(blocks[8])
				case k > 0:
					ch = string(blocks[k])
				}
			}
			if ch == " " && r == baseRow && !math.IsNaN(cols[x]) {
				ch, faint = baseCh, true
			}
			if faint != runFaint {
				flush()
				runFaint = faint
			}
			run.WriteString(ch)
		}
		flush()
		out[height-1-r] = b.String()
	}
	return out
}

// evidence draws the evidence screen of f, scrolled as far as the view
// says within what there is; it returns the lines and how far the charts
// and the list of what could not be checked can scroll.
func (v *Findings) evidence(c *Context, f *correlate.Finding) (out []string, maxOff, maxExOff int) {
	th := c.Theme
	w, h := c.Width, c.Height
	st, sym := sevStyle(c, f.Severity)
	lines := []string{join(w, seg{sym + " " + f.Severity.String() + " ", st}, seg{sources.Clean(f.Title), th.Title})}
	// the explanation says why the engine thinks so: it takes the lines
	// it needs, as long as the symptom's chart and the first suspect's
	// still fit under it (a chart, its title; the axis; a three-line
	// footer)
	gh0 := 3
	if h >= 40 {
		gh0 = 5
	}
	expl := max(2, h-1-2*(gh0+1)-1-3)
	for _, l := range wrap(sources.CleanText(f.Explanation), w, expl) {
		lines = append(lines, join(w, seg{l, th.Base}))
	}
	// the series to draw: the symptom, then suspects, then effects
	var evs []correlate.Evidence
	for _, kind := range []correlate.EvidenceKind{correlate.EvSymptom, correlate.EvSuspect, correlate.EvContext, correlate.EvEffect} {
		for _, e := range f.Evidence {
			if e.Kind == kind && e.SeriesKey != "" {
				evs = append(evs, e)
			}
		}
	}
	var quiet []string
	for _, e := range f.Evidence {
		if e.Kind == correlate.EvQuiet {
			quiet = append(quiet, sources.Clean(e.Text))
		}
	}
	var excl []string
	for _, e := range f.Evidence {
		if e.Kind == correlate.EvExcluded {
			excl = append(excl, sources.Clean(e.Text))
		}
	}
	footer := []string{}
	if len(quiet) > 0 {
		// what the engine checked and found still: two lines before a cut
		for i, l := range wrap("quiet: "+strings.Join(quiet, c.dot()), w, 2) {
			if i == 0 {
				l = strings.TrimPrefix(l, "quiet: ")
				footer = append(footer, join(w, seg{"quiet: ", th.Muted}, seg{l, th.Faint}))
				continue
			}
			footer = append(footer, join(w, seg{l, th.Faint}))
		}
	}
	if v.excluded {
		// the series the engine could not check, in place of the charts
		footer = append(footer, join(w, seg{"x", th.Key}, seg{" charts  ", th.Muted}, seg{"esc", th.Key}, seg{" back", th.Muted}))
		room := h - len(lines) - len(footer) - 1
		lines = append(lines, join(w, seg{fmt.Sprintf("could not check %d series:", len(excl)), th.Title}))
		if len(excl) == 0 {
			lines = append(lines, join(w, seg{"  none: every series was read", th.Muted}))
		}
		maxExOff = max(0, len(excl)-room)
		exOff := min(v.exOff, maxExOff)
		for i := exOff; i < len(excl) && i < exOff+room; i++ {
			lines = append(lines, join(w, seg{"  " + excl[i], th.Base}))
		}
		return append(padLines(lines, h-len(footer)), footer...), 0, maxExOff
	}
	back := []seg{{"esc", th.Key}, {" back", th.Muted}}
	if len(excl) > 0 {
		back = append(back, seg{"  x", th.Key}, seg{fmt.Sprintf(" %d series could not be checked", len(excl)), th.Muted})
	}
	footer = append(footer, join(w, back...))
	if c.Snap == nil || c.Snap.N == 0 || len(evs) == 0 {
		// a node's state changes need no series: its strip over the flap
		// window and as long again before it
		if c.Snap != nil && c.Snap.N > 0 {
			end := c.Snap.Index(now(c)) + 1
			b := min(c.Snap.N, max(end, 1))
			a := max(0, end-int(2*correlate.FlapWindow/c.Snap.Step))
			if b-a < 2 {
				a, b = 0, c.Snap.N
			}
			if strip := stateStrips(c, f.Node, a, b, w, h-len(lines)-len(footer)-2); strip != nil {
				lines = append(lines, "")
				lines = append(lines, strip...)
				lines = append(lines, evidenceAxis(c, a, b, w))
				return append(padLines(lines, h-len(footer)), footer...), 0, 0
			}
		}
		lines = append(lines, "", join(w, seg{"no series to draw for this finding", th.Muted}))
		return append(padLines(lines, h-len(footer)), footer...), 0, 0
	}
	chartW := w
	// one time axis: the symptom's window and as long again before it
	a, b := 0, c.Snap.N
	if sy := evs[0]; !sy.From.IsZero() && sy.Until.After(sy.From) {
		a = max(0, c.Snap.Index(sy.From.Add(-sy.Until.Sub(sy.From))))
		b = min(c.Snap.N, c.Snap.Index(sy.Until)+1)
		if b-a < 2 {
			a, b = 0, c.Snap.N
		}
	}
	room := h - len(lines) - len(footer) - 1 // one line for the time axis
	gh := 3
	if h >= 40 {
		gh = 5
	}
	per := gh + 1
	ng := room / per
	if ng < 1 {
		ng, gh = 1, max(1, room-1)
	}
	if ng > len(evs) {
		ng = len(evs)
	}
	// the symptom stays on top, the rest scroll beneath it
	maxOff = max(0, len(evs)-ng)
	off := min(v.off, maxOff)
	shown := append([]correlate.Evidence{evs[0]}, evs[1+off:]...)
	if maxOff > 0 {
		footer = append([]string{join(w, seg{fmt.Sprintf("charts %d-%d of %d below the symptom", off+1, off+ng-1, len(evs)-1), th.Muted},
			seg{"  " + keyName(c, "↑/↓") + " more", th.Key})}, footer...)
		if room := h - len(lines) - len(footer) - 1; room/per < ng {
			ng = max(1, room/per)
			maxOff = max(0, len(evs)-ng)
			off = min(off, maxOff)
			shown = append([]correlate.Evidence{evs[0]}, evs[1+off:]...)
		}
	}
	// the state of the finding's node over the same columns, above the
	// axis, in the lines the charts leave
	strip := stateStrips(c, f.Node, a, b, chartW, min(4, h-len(lines)-len(footer)-1-ng*per))
	for i := 0; i < ng; i++ {
		e := shown[i]
		s := c.Snap.Find(e.SeriesKey)
		var kindSt lipgloss.Style
		idx := i // the chart's place among all of them (a suspect's rank)
		if i > 0 {
			idx += off
		}
		tag := fmt.Sprintf("#%d", idx)
		switch e.Kind {
		case correlate.EvSymptom:
			kindSt, tag = th.Critical, "symptom"
		case correlate.EvEffect:
			kindSt, tag = th.Muted, "effect"
		case correlate.EvContext:
			kindSt, tag = th.Muted, "context"
		default:
			kindSt = th.Warning
		}
		name := e.SeriesKey
		unit := ""
		if s != nil {
			name = correlate.Label(&s.SeriesMeta)
			unit = s.Unit
		}
		info := textFor(c, fmt.Sprintf("  base %s → %s", correlate.FormatValue(e.Baseline, unit), correlate.FormatValue(e.Value, unit)))
		if e.Kind == correlate.EvSymptom {
			info += fmt.Sprintf("  z %.1f", e.Score)
		} else {
			info += fmt.Sprintf("  score %.1f", e.Score)
			switch {
			case e.Lead > 0:
				info += "  lead " + correlate.FormatDuration(e.Lead)
			case e.Lead < 0:
				info += "  lag " + correlate.FormatDuration(e.Lead)
			default:
				info += "  with it"
			}
		}
		lines = append(lines, join(w, seg{tag + " ", kindSt}, seg{sources.Clean(name), th.Base}, seg{info, th.Muted}))
		if s == nil {
			lines = append(lines, join(w, seg{"  (series no longer in view)", th.Faint}))
			continue
		}
		colour := th.Base
		if len(th.Palette) > 0 {
			colour = lipgloss.NewStyle().Foreground(th.Palette[idx%len(th.Palette)])
		}
		if th.Mono {
			colour = th.Base
		}
		lines = append(lines, chartRows(c, c.Snap.Load(s)[a:b], e.Baseline, e.Spread, chartW, gh, colour)...)
	}
	lines = append(lines, strip...)
	// one time axis for all
	lines = append(lines, evidenceAxis(c, a, b, chartW))
	return append(padLines(lines, h-len(footer)), footer...), maxOff, 0
}

// evidenceAxis is the one time axis under the charts of buckets [a, b) drawn
// in width columns.
func evidenceAxis(c *Context, a, b, width int) string {
	t0, t1 := c.Snap.Time(a), c.Snap.Time(b)
	l, r := t0.UTC().Format("15:04:05"), t1.UTC().Format("15:04:05")
	mid := fmt.Sprintf("%s per column", correlate.FormatDuration(time.Duration(int64(c.Snap.Step)*int64(b-a)/int64(max(width, 1)))))
	if c.Snap.Step*time.Duration(b-a) < time.Duration(width)*time.Second {
		mid = fmt.Sprintf("%d buckets of %s", b-a, correlate.FormatDuration(c.Snap.Step))
	}
	gap := width - len(l) - len(r) - ansi.StringWidth(mid)
	axis := l + strings.Repeat(" ", max(1, gap/2)) + mid + strings.Repeat(" ", max(1, gap-gap/2)) + r
	return join(width, seg{axis, c.Theme.Muted})
}

func padLines(lines []string, n int) []string {
	for len(lines) < n {
		lines = append(lines, "")
	}
	if len(lines) > n && n >= 0 {
		lines = lines[:n]
	}
	return lines
}

// alertsByKey are the alerts of the window's events by their key, for the
// rows of findings about them.
func alertsByKey(c *Context) map[string]*sources.Alert {
	if c.Snap == nil {
		return nil
	}
	var m map[string]*sources.Alert
	for i := range c.Snap.Events {
		ev := &c.Snap.Events[i]
		if ev.Alert == nil {
			continue
		}
		if m == nil {
			m = map[string]*sources.Alert{}
		}
		m[correlate.AlertKey(ev)] = ev.Alert
	}
	return m
}
