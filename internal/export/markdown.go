// Package export writes a recording as a postmortem document: the window,
// the incidents (findings that share a cause, one headline each), the
// sources, one timeline of events, findings and notes that keeps only
// what was new, the findings with their evidence, and small ASCII charts
// of the key series.
//
// It judges the recording with the same session as live and the replay
// (app.Judge: the recording's settings, its opening, one Step per batch),
// so the document says what the screen said. It must not
// read the wall clock or anything outside the recording: the same file
// gives the same document, byte for byte.
package export

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/guptarohit/asciigraph"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
)

// Options shape the document.
type Options struct {
	// Title of the document; "Postmortem timeline: <file name>" when empty.
	Title string
	// MaxCharts bounds the charts (default 6); ChartWidth and ChartHeight
	// size each one (default 60 × 8).
	MaxCharts   int
	ChartWidth  int
	ChartHeight int
	// Location for times (UTC when nil).
	Location *time.Location
}

func (o *Options) defaults(rec *replay.Recording) {
	if o.MaxCharts <= 0 {
		o.MaxCharts = 6
	}
	if o.ChartWidth <= 0 {
		o.ChartWidth = 60
	}
	if o.ChartHeight <= 0 {
		o.ChartHeight = 8
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Title == "" {
		name := "recording"
		if rec.Path != "" {
			name = filepath.Base(rec.Path)
		}
		o.Title = "Postmortem timeline: " + name
	}
}

// Markdown writes the postmortem timeline of rec to w.
func Markdown(w io.Writer, rec *replay.Recording, opts Options) error {
	opts.defaults(rec)
	tl, err := judge(rec)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	d := &doc{opt: opts, rec: rec, tl: tl}
	d.header()
	d.incidents()
	d.sources()
	d.timeline()
	d.findings()
	d.notes()
	d.charts()
	_, err = io.WriteString(w, d.b.String())
	if err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	return nil
}

type doc struct {
	opt  Options
	rec  *replay.Recording
	tl   *timeline
	b    strings.Builder
	incs []correlate.Incident // the recording's incidents; see told
}

// told is the recording's incidents: its findings that share a cause
// while open together, worst first.
func (d *doc) told() []correlate.Incident {
	if d.incs == nil {
		d.incs = correlate.Incidents(d.tl.Findings)
	}
	return d.incs
}

// timeline is what the document tells: the recording's sources and
// events, and the session's judgement of it.
type timeline struct {
	*replay.Summary
	Changes  []correlate.Change  // the findings timeline
	Findings []correlate.Finding // every finding, in the order they opened
	Store    *correlate.Store    // after the last batch
}

func judge(rec *replay.Recording) (*timeline, error) {
	sm, err := replay.Summarize(rec)
	if err != nil {
		return nil, err
	}
	sess, err := app.Judge(rec)
	if err != nil {
		return nil, err
	}
	return &timeline{Summary: sm, Changes: sess.Changes(), Findings: sess.History(), Store: sess.Store()}, nil
}

func (d *doc) p(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

func (d *doc) ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(d.opt.Location).Format("2006-01-02 15:04:05")
}

func (d *doc) clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(d.opt.Location).Format("15:04:05")
}

func (d *doc) zone() string { return d.opt.Location.String() }

func (d *doc) header() {
	d.p("# %s\n\n", cell(d.opt.Title))
	from, until := d.tl.From, d.tl.Until
	d.p("- **Window:** %s → %s %s (%s)\n", d.ts(from), d.ts(until), d.zone(), until.Sub(from))
	h := d.rec.Header
	d.p("- **Recorded:** %s %s", d.ts(h.Created), d.zone())
	if h.Producer != "" {
		d.p(" by %s", cell(h.Producer))
	}
	d.p("\n- **Contents:** %s from %s, %s, %s in %s, %s\n", count(d.rec.Len(), "batch"), count(len(d.tl.Sources), "source"),
		count(len(d.tl.Events), "event"), count(len(d.tl.Findings), "finding"), count(len(d.told()), "incident"), count(len(d.rec.Annotations), "note"))
	if d.rec.Warning != nil {
		d.p("- **Warning:** %s\n", cell(d.rec.Warning.Error()))
	}
	for i, err := range d.tl.Skipped {
		if i == maxSkippedTold {
			d.p("- **Warning:** %d more damaged batches were skipped\n", len(d.tl.Skipped)-i)
			break
		}
		d.p("- **Warning:** %s\n", cell(err.Error()))
	}
	d.p("\n")
}

// maxSkippedTold bounds the lines about damaged batches: the first few
// say where the damage is, a count says the rest.
const maxSkippedTold = 5

// incidents tells each incident first: its headline, when it began and
// ended, what its findings share, and the findings under it.
func (d *doc) incidents() {
	d.p("## Incidents\n\n")
	incs := d.told()
	if len(incs) == 0 {
		d.p("None: the engine raised no findings.\n\n")
		return
	}
	byID := map[string][]*correlate.Finding{} // a finding that reopened is there once per opening
	for i := range d.tl.Findings {
		f := &d.tl.Findings[i]
		byID[f.ID] = append(byID[f.ID], f)
	}
	for _, inc := range incs {
		d.p("### %s: %s\n\n", strings.ToUpper(inc.Severity.String()), cell(inc.Summary()))
		d.p("- **Since:** %s", d.clock(inc.Since))
		if inc.Until.IsZero() {
			d.p(" · still open at the end of the recording\n")
		} else {
			d.p(" · **Until:** %s (after %s)\n", d.clock(inc.Until), inc.Until.Sub(inc.Since))
		}
		if shared := sharedCause(&inc); shared != "" {
			d.p("- **Shared cause:** %s\n", cell(shared))
		}
		d.p("- **Findings:**\n")
		for _, id := range inc.Findings {
			for _, f := range byID[id] {
				if f.Opened.Before(inc.Since) || (!inc.Until.IsZero() && f.Opened.After(inc.Until)) {
					continue // an opening of another incident
				}
				d.p("  - %s %s (%s)\n", strings.ToUpper(f.Severity.String()), cell(f.Title), d.span(f.Opened, f.Resolved))
			}
		}
		d.p("\n")
	}
}

// sharedCause says what an incident's findings have in common.
func sharedCause(inc *correlate.Incident) string {
	switch inc.Cause {
	case correlate.CauseSuspect:
		return "they blame the series " + inc.CauseKey
	case correlate.CauseGroup:
		return "one place, " + inc.CauseKey
	case correlate.CausePath:
		return "one network segment, " + inc.CauseKey
	}
	return ""
}

// span is "opened 13:44:20, resolved 13:47:00", or "… still open".
func (d *doc) span(opened, resolved time.Time) string {
	if resolved.IsZero() {
		return "opened " + d.clock(opened) + ", still open"
	}
	return "opened " + d.clock(opened) + ", resolved " + d.clock(resolved)
}

func (d *doc) sources() {
	d.p("## Sources\n\n")
	if len(d.tl.Sources) == 0 {
		d.p("No batches were recorded.\n\n")
		return
	}
	d.p("| Source | Type | Batches | First | Last | Failing polls |\n|---|---|---:|---|---|---:|\n")
	for _, s := range d.tl.Sources {
		d.p("| %s | %s | %d | %s | %s | %d |\n", cell(s.Name), cell(s.Type), s.Batches, d.clock(s.First), d.clock(s.Last), s.Failing)
	}
	d.p("\n")
}

// row is one line of the timeline. Rows about one thing (a source's
// event, an engine finding) share a key; fold keeps the ones that say
// something new about it.
type row struct {
	at       time.Time
	order    int    // among rows at one time: events, then findings, then notes
	key      string // what it is about; "" for a note, never folded
	ended    bool   // it says the thing ended
	severity string
	cause    string // what it says explains the thing: an event's title; a finding's cause (see findingRows)
	again    string // the word for its folded repeats: "repeated", "updated"
	source   string
	// what it says: verb ("finding opened: ", "update: ") and title
	verb  string
	title string
	// folded counts the rows after it that said nothing new, the last
	// of them at last.
	folded int
	last   time.Time
}

// fold keeps, of rows in time order, the first about each thing, each
// that changes its severity or its cause, and its end; a row that says
// again what the last kept row about its thing said is counted on that
// row instead. Of the rows about one thing at one instant only the last
// words count: they are told in the first row. An end sent again says
// nothing and is dropped uncounted.
func fold(rows []row) []row {
	out := make([]row, 0, len(rows))
	lastKept := map[string]int{} // key → index in out
	for _, r := range rows {
		i, seen := lastKept[r.key]
		if seen && r.key != "" && !r.ended && !out[i].ended && out[i].at.Equal(r.at) {
			out[i].severity, out[i].cause, out[i].title = r.severity, r.cause, r.title
			continue
		}
		if r.key == "" || !seen || !sameNews(&out[i], &r) {
			if r.key != "" {
				lastKept[r.key] = len(out)
			}
			out = append(out, r)
			continue
		}
		if !r.ended {
			out[i].folded++
			out[i].last = r.at
		}
	}
	return out
}

// sameNews reports whether r says nothing that kept did not.
func sameNews(kept, r *row) bool {
	return kept.ended == r.ended && kept.severity == r.severity && kept.cause == r.cause
}

// eventRows are the sources' events as they were sent: each sending a row.
func (d *doc) eventRows() []row {
	var rows []row
	for _, le := range d.tl.EventLog {
		e := le.Event
		r := row{at: le.At, key: "event " + e.Source + "/" + e.ID, ended: !e.Open(), severity: e.Severity.String(),
			cause: e.Title, again: "repeated", source: e.Source, title: e.Title}
		switch {
		case le.First && !e.Open():
			r.title = e.Title + " (ended " + d.clock(e.End) + ")"
		case !le.First && !e.Open():
			r.severity = "ended"
		case !le.First:
			r.verb = "update: "
		}
		rows = append(rows, r)
	}
	return rows
}

// findingRows are the engine's changes to its findings: each a row. The
// replay's change events carry the finding's title, not its evidence:
// the title with its numbers masked (the count of folded servers, values
// that move every refresh) stands for its cause, which it names.
func (d *doc) findingRows() []row {
	var rows []row
	for _, c := range d.tl.Changes {
		f := &c.Finding
		sev := f.Severity.String()
		switch c.Kind {
		case correlate.ChangeResolved:
			sev = sources.SevOK.String()
		case correlate.ChangeGrouped:
			sev = sources.SevInfo.String()
		}
		// a change of cause is news; a count in the title moving is not
		cause := withoutNumbers(f.Title)
		if e := f.TopSuspect(); e != nil {
			cause = e.SeriesKey
		}
		rows = append(rows, row{at: c.At, order: 1, key: "finding " + f.ID, ended: c.Kind == correlate.ChangeResolved || c.Kind == correlate.ChangeGrouped,
			severity: sev, cause: cause, again: "updated", source: "engine",
			verb: "finding " + string(c.Kind) + ": ", title: f.Title})
	}
	return rows
}

// withoutNumbers is s with each run of digits as one "#".
func withoutNumbers(s string) string {
	var b strings.Builder
	digits := false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}

func (d *doc) timeline() {
	rows := append(d.eventRows(), d.findingRows()...)
	for _, a := range d.rec.Annotations {
		rows = append(rows, row{at: a.At, order: 2, severity: "note", source: a.Author, title: a.Text})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].at.Equal(rows[j].at) {
			return rows[i].at.Before(rows[j].at)
		}
		return rows[i].order < rows[j].order
	})
	rows = fold(rows)
	d.p("## Timeline\n\n")
	if len(rows) == 0 {
		d.p("Nothing happened: no events, findings or notes.\n\n")
		return
	}
	d.p("| Time (%s) | Severity | Source | What |\n|---|---|---|---|\n", d.zone())
	for _, r := range rows {
		what := r.verb + r.title
		if r.folded > 0 {
			what += fmt.Sprintf(" (%s %d×, until %s)", r.again, r.folded, d.clock(r.last))
		}
		d.p("| %s | %s | %s | %s |\n", d.clock(r.at), r.severity, cell(r.source), cell(what))
	}
	d.p("\n")
}

func (d *doc) findings() {
	d.p("## Findings\n\n")
	if len(d.tl.Findings) == 0 {
		d.p("The engine raised no findings.\n\n")
		return
	}
	fs := append([]correlate.Finding(nil), d.tl.Findings...)
	correlate.SortFindings(fs)
	for _, f := range fs {
		d.p("### %s: %s\n\n", strings.ToUpper(f.Severity.String()), cell(f.Title))
		d.p("- **Rule:** %s", cell(f.Rule))
		if f.Layer != "" {
			d.p(" · **Layer:** %s", cell(string(f.Layer)))
		}
		if f.Node != "" {
			d.p(" · **Node:** %s", cell(f.Node))
		}
		d.p("\n- **Opened:** %s", d.clock(f.Opened))
		if f.Resolved.IsZero() {
			d.p(" · still active at the end of the recording\n")
		} else {
			d.p(" · **Resolved:** %s (after %s)\n", d.clock(f.Resolved), f.Resolved.Sub(f.Opened))
		}
		if f.Explanation != "" {
			d.p("- **Why:** %s\n", cell(f.Explanation))
		}
		// what the engine could not check is one line, not rows of evidence
		var shown []correlate.Evidence
		var excluded []string
		for _, e := range f.Evidence {
			if e.Kind == correlate.EvExcluded {
				excluded = append(excluded, e.Text)
				continue
			}
			shown = append(shown, e)
		}
		if len(excluded) > 0 {
			d.p("- **Could not check:** %s\n", cell(strings.Join(excluded, "; ")))
		}
		if len(shown) > 0 {
			d.p("\n| Evidence | Series | Window | Value | Baseline | Score | Lead | |\n|---|---|---|---:|---:|---:|---:|---|\n")
			for _, e := range shown {
				window := "—"
				if !e.From.IsZero() || !e.Until.IsZero() {
					window = d.clock(e.From) + "–" + d.clock(e.Until)
				}
				d.p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", e.Kind, cell(orDash(e.SeriesKey)),
					window, num(e.Value), num(e.Baseline), num(e.Score), leadText(e.Lead), cell(e.Text))
			}
		} else {
			d.p("- **Evidence:** the state or event itself\n")
		}
		d.p("\n")
	}
}

func (d *doc) notes() {
	d.p("## Notes\n\n")
	if len(d.rec.Annotations) == 0 {
		d.p("No notes were added.\n\n")
		return
	}
	for i, a := range d.rec.Annotations {
		author := a.Author
		if author == "" {
			author = "someone"
		}
		d.p("- **^%d %s** %s: %s\n", i+1, d.clock(a.At), cell(author), cell(a.Text))
	}
	d.p("\n")
}

// charts draws the key series: evidence of findings first, then symptom
// series, resources, traffic; within each, the ones that moved most.
func (d *doc) charts() {
	from, until := d.tl.From, d.tl.Until
	snap := d.tl.Store.Snapshot(from, until, nil)
	evidence := map[string]int{}
	for _, f := range d.tl.Findings {
		for _, e := range f.Evidence {
			if e.SeriesKey == "" || e.Kind == correlate.EvExcluded {
				continue // nothing to draw, or nothing that was read
			}
			rank := 1
			if e.Kind == correlate.EvSymptom {
				rank = 0
			}
			if r, ok := evidence[e.SeriesKey]; !ok || rank < r {
				evidence[e.SeriesKey] = rank
			}
		}
	}
	type cand struct {
		s     *correlate.SnapSeries
		group int
		move  float64
	}
	var cands []cand
	for i := range snap.Series {
		s := &snap.Series[i]
		lo, hi, n := minMax(s.Values)
		if n == 0 {
			continue
		}
		group := 10
		if r, ok := evidence[s.Key]; ok {
			group = r
		} else {
			switch s.Role {
			case sources.RoleSymptom:
				group = 2
			case sources.RoleResource:
				group = 3
			case sources.RoleTraffic:
				group = 4
			default:
				group = 5
			}
			if hi == lo {
				continue // a flat line explains nothing
			}
		}
		scale := math.Max(math.Abs(hi), math.Abs(lo))
		move := 0.0
		if scale > 0 {
			move = (hi - lo) / scale
		}
		cands = append(cands, cand{s, group, move})
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].group != cands[j].group {
			return cands[i].group < cands[j].group
		}
		if cands[i].move != cands[j].move {
			return cands[i].move > cands[j].move
		}
		return cands[i].s.Key < cands[j].s.Key
	})
	d.p("## Key series\n\n")
	if len(cands) == 0 {
		d.p("No series moved during the recording.\n")
		return
	}
	if len(cands) > d.opt.MaxCharts {
		cands = cands[:d.opt.MaxCharts]
	}
	for _, c := range cands {
		s := c.s
		vals, per := downsample(s.Values, d.opt.ChartWidth)
		unit := s.Unit
		if unit == "" {
			unit = "no unit"
		}
		d.p("### %s\n\n", cell(s.Key))
		lo, hi, _ := minMax(s.Values)
		d.p("%s, %s, layer %s; min %s, max %s.\n\n", cell(unit), s.Role, cell(orDash(string(s.Layer))), num(lo), num(hi))
		chart := plot(vals, d.opt.ChartHeight)
		d.p("```text\n%s\n", chart)
		if marks := d.noteMarks(chart, snap, per, len(vals)); marks != "" {
			d.p("%s\n", marks)
		}
		step := snap.Step * time.Duration(per)
		legend := ", ^n = note n"
		if len(d.rec.Annotations) == 0 {
			legend = ""
		}
		d.p("%s → %s %s, one column = %s, gaps = no data%s\n```\n\n", d.clock(snap.Start), d.clock(snap.Time(snap.N-1)), d.zone(), step, legend)
	}
}

// noteMarks is a line under a chart with ^n under the column of note n.
func (d *doc) noteMarks(chart string, snap *correlate.Snapshot, per, cols int) string {
	if len(d.rec.Annotations) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(chart, "\n")
	x0 := -1
	for i, r := range []rune(first) {
		if r == '┤' || r == '┼' {
			x0 = i + 1
			break
		}
	}
	if x0 < 0 {
		return ""
	}
	line := []rune(strings.Repeat(" ", x0+cols+8))
	next := 0 // first free column
	for i, a := range d.rec.Annotations {
		col := snap.Index(a.At) / per
		if col < 0 || col >= cols {
			continue
		}
		x := max(x0+col, next)
		mark := []rune(fmt.Sprintf("^%d", i+1))
		for x+len(mark) > len(line) {
			line = append(line, ' ')
		}
		copy(line[x:], mark)
		next = x + len(mark) + 1
	}
	return strings.TrimRight(string(line), " ")
}

// plot draws a chart; asciigraph leaves NaN as gaps but cannot scale a
// series that is NaN at both ends of its range, so those ends are checked.
func plot(vals []float64, height int) string {
	lo, hi, _ := minMax(vals)
	opts := []asciigraph.Option{asciigraph.Height(height), asciigraph.YAxisValueFormatter(func(v float64) string { return num(v) })}
	if lo == hi {
		// a flat line: give it a range so it sits in the middle
		opts = append(opts, asciigraph.LowerBound(lo-1), asciigraph.UpperBound(hi+1))
	}
	out := asciigraph.Plot(vals, opts...)
	lines := strings.Split(out, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

// downsample shrinks values to at most width columns, keeping each
// column's maximum: a short outage must stay visible, not be averaged away.
func downsample(vals []float64, width int) ([]float64, int) {
	if len(vals) <= width {
		return vals, 1
	}
	per := (len(vals) + width - 1) / width
	out := make([]float64, 0, width)
	for i := 0; i < len(vals); i += per {
		m := math.NaN()
		for _, v := range vals[i:min(i+per, len(vals))] {
			if !math.IsNaN(v) && (math.IsNaN(m) || v > m) {
				m = v
			}
		}
		out = append(out, m)
	}
	return out, per
}

func minMax(vals []float64) (lo, hi float64, n int) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		n++
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	return lo, hi, n
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func leadText(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return d.String()
}

// count is "1 finding", "2 findings", "3 batches".
func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "ch") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// cell makes outside text safe inside a Markdown table cell, heading or
// list item: no terminal escapes, one line, and nothing a wiki would
// render: HTML (<img onerror=…>) as entities, link and image brackets and
// code backticks escaped, and pipes and backslashes so a cell cannot end
// early.
func cell(s string) string {
	s = sources.Clean(s)
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.TrimSpace(markdownText.Replace(s))
}

var markdownText = strings.NewReplacer(
	`\`, `\\`, "|", `\|`,
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	"[", `\[`, "]", `\]`, "`", "\\`",
)
