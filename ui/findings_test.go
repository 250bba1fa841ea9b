package ui

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// incident builds a store the way the sources feed it: field story 2 (the
// melting volume) with a few quiet series, and returns the engine's view
// of it after the refreshes of the last minutes.
func findingsIncident(t *testing.T) (*correlate.Snapshot, []correlate.Finding) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	step := 10 * time.Second
	start := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	n := 480
	st := correlate.NewStore(correlate.StoreOptions{Step: step, Retention: 2 * time.Hour})
	st.SetDependencies([]sources.Dependency{{From: "app", To: "db-1"}})
	mk := func(name, unit, node string, role sources.Role, layer sources.Layer, f func(i int) float64) sources.Series {
		s := sources.Series{Name: name, Unit: unit, Node: node, Role: role, Layer: layer}
		for i := 0; i < n; i++ {
			s.Points = append(s.Points, sources.Point{T: start.Add(time.Duration(i) * step), V: f(i)})
		}
		return s
	}
	series := []sources.Series{
		mk("hrsp_5xx", "%", "app", sources.RoleSymptom, sources.LayerLB, func(i int) float64 {
			v := 0.2 + 0.05*r.NormFloat64()
			if i >= 440 {
				v += 6
			}
			return math.Max(0, v)
		}),
		mk("cpu.iowait", "%", "db-1", sources.RoleResource, sources.LayerHost, func(i int) float64 {
			if i >= 436 {
				return 96 + r.Float64()
			}
			return 3 + 0.5*r.NormFloat64()
		}),
		mk("queries", "req/s", "db-1", sources.RoleTraffic, sources.LayerDB, func(i int) float64 {
			if i%97 == 5 {
				return math.NaN() // a gap: drawn blank, never as zero
			}
			return 200 + 10*r.NormFloat64()
		}),
		mk("cpu.user", "%", "app-1", sources.RoleResource, sources.LayerApp, func(i int) float64 { return 30 + 3*r.NormFloat64() }),
	}
	e := correlate.NewEngine(correlate.EngineOptions{})
	var snap *correlate.Snapshot
	var fs []correlate.Finding
	for end := 444; end <= n; end += 6 {
		b := &sources.Batch{Source: "lab", At: start.Add(time.Duration(end-1) * step)}
		for _, s := range series {
			c := s
			c.Points = s.Points[:end]
			b.Series = append(b.Series, c)
		}
		st.Apply(b)
		snap = st.Snapshot(start, start.Add(time.Duration(end-1)*step), nil)
		fs, _ = e.Evaluate(snap)
	}
	if len(fs) == 0 {
		t.Fatal("the engine raised nothing for the melting volume")
	}
	return snap, fs
}

func findingsCtx(theme *themes.Theme, snap *correlate.Snapshot, fs []correlate.Finding, w, h int) *Context {
	sym := themes.UnicodeSymbols
	return &Context{Theme: theme, Symbols: sym, Snap: snap, Findings: fs, Incidents: correlate.Incidents(fs), Cursor: -1, Window: time.Hour, Width: w, Height: h}
}

func findingsKey(code rune, text string) tea.KeyPressMsg {
	return tea.KeyPressMsg{Code: code, Text: text}
}

func TestFindingsGolden(t *testing.T) {
	snap, fs := findingsIncident(t)
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		for _, th := range []*themes.Theme{themes.Dark(), themes.Mono()} {
			c := findingsCtx(th, snap, fs, sz.w, sz.h)
			v := NewFindings()
			list := v.Render(c)
			checkFrame(t, list, sz.w, sz.h)
			golden(t, "findings_list_"+th.Name+"_"+sz.name, list)
			if h, _ := v.Update(findingsKey(tea.KeyEnter, ""), c); !h {
				t.Fatal("enter not handled")
			}
			ev := v.Render(c)
			checkFrame(t, ev, sz.w, sz.h)
			golden(t, "findings_evidence_"+th.Name+"_"+sz.name, ev)
			if h, _ := v.Update(findingsKey(tea.KeyEscape, ""), c); !h {
				t.Fatal("esc not handled")
			}
			if back := v.Render(c); back != list {
				t.Error("esc did not return to the same list")
			}
		}
	}
}

func TestFindingsEvidenceSaysWhatMovedFirst(t *testing.T) {
	snap, fs := findingsIncident(t)
	c := findingsCtx(themes.Mono(), snap, fs, 80, 24)
	v := NewFindings()
	v.Update(findingsKey(tea.KeyEnter, ""), c)
	plain := ansi.Strip(v.Render(c))
	for _, want := range []string{"likely db-1 cpu.iowait", "symptom app hrsp_5xx", "#1 db-1 cpu.iowait", "lead 40 s", "┄", "esc back"} {
		if !strings.Contains(plain, want) {
			t.Errorf("evidence screen lacks %q:\n%s", want, plain)
		}
	}
	// mono: severity is readable as a word, not a colour
	list := ansi.Strip(NewFindings().Render(c))
	if !strings.Contains(list, "▲ warning") && !strings.Contains(list, "✖ critical") {
		t.Errorf("list has no severity word:\n%s", list)
	}
}

func TestFindingsListOrderAndKeys(t *testing.T) {
	at := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	fs := []correlate.Finding{
		{ID: "a", Severity: sources.SevCritical, Title: "backend app has no server UP", Opened: at.Add(-3 * time.Minute)},
		{ID: "b", Severity: sources.SevWarning, Title: "monitoring gap: \x1b[31mred\x1b[0m 5xx rose and no internal signal moved", Opened: at.Add(-90 * time.Second)},
		{ID: "c", Severity: sources.SevInfo, Title: "could not check probe", Opened: at.Add(-2 * time.Hour)},
	}
	snap := &correlate.Snapshot{Now: at, Start: at.Add(-time.Hour), Step: 10 * time.Second, N: 360}
	c := findingsCtx(themes.Mono(), snap, fs, 80, 6)
	v := NewFindings()
	out := ansi.Strip(v.Render(c))
	checkFrame(t, v.Render(c), 80, 6)
	lines := strings.Split(out, "\n")
	// each finding under its incident's line (one each, for now)
	if !strings.HasPrefix(lines[1], " ✖ critical backend app has no server UP") || !strings.HasSuffix(lines[1], "for 3m · 1 finding") {
		t.Errorf("first incident %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "  >✖ critical") || !strings.HasSuffix(strings.TrimRight(lines[2], " "), "3m") {
		t.Errorf("first row %q", lines[2])
	}
	if strings.Contains(out, "\x1b[31m") || !strings.Contains(lines[4], "1m") {
		t.Errorf("escape from a title reached the screen, or age wrong: %q", lines[4])
	}
	v.Update(findingsKey(tea.KeyDown, ""), c)
	v.Update(findingsKey('j', "j"), c)
	v.Update(findingsKey('j', "j"), c) // stops at the last
	lines = strings.Split(ansi.Strip(v.Render(c)), "\n")
	if !strings.HasPrefix(lines[3], " ℹ info") || !strings.HasPrefix(lines[4], "  >ℹ info") || !strings.Contains(lines[4], "2h00m") {
		t.Errorf("the last incident and its finding after moving down: %q, %q", lines[3], lines[4])
	}
	if !strings.Contains(lines[5], "findings 2-3 of 3") {
		t.Errorf("no word of the findings out of view: %q", lines[5])
	}
	v.Update(findingsKey(tea.KeyEnter, ""), c)
	ev := ansi.Strip(v.Render(c))
	if !strings.Contains(ev, "could not check probe") || !strings.Contains(ev, "no series to draw") {
		t.Errorf("evidence of a finding without series:\n%s", ev)
	}
	// the finding resolves while its evidence is open: back to the list
	c.Findings = fs[:2]
	c.Incidents = correlate.Incidents(c.Findings)
	if out := ansi.Strip(v.Render(c)); !strings.HasPrefix(out, " Findings") {
		t.Errorf("evidence of a vanished finding still shown:\n%s", out)
	}
	if v.Update(DataMsg{}, c); v.(*Findings).detail {
		t.Error("the evidence screen stays open on the next message after its finding vanished")
	}
	// empty
	c.Findings = nil
	if out := ansi.Strip(NewFindings().Render(c)); !strings.Contains(out, "✔ ok") {
		t.Errorf("empty list:\n%s", out)
	}
}

func TestChartLeavesNoDataBlank(t *testing.T) {
	c := findingsCtx(themes.Mono(), nil, nil, 10, 3)
	vals := []float64{1, 2, math.NaN(), math.NaN(), 5, 0, 1, 2, 3, 4}
	rows := chartRows(c, vals, 1, 0.1, 10, 2, c.Theme.Base)
	bottom := []rune(ansi.Strip(rows[1]))
	if bottom[2] != ' ' && bottom[2] != '┄' || bottom[5] == ' ' {
		t.Fatalf("NaN drawn as a value or zero drawn as no data: %q", string(bottom))
	}
	c.ASCII = true
	for _, r := range chartRows(c, vals, 1, 0.1, 10, 2, c.Theme.Base) {
		for _, ch := range ansi.Strip(r) {
			if ch > 127 {
				t.Fatalf("non-ASCII %q in ASCII mode", ch)
			}
		}
	}
}

// A series that only fell (traffic) has its baseline at the top of the
// range: the baseline line must still be drawn.
func TestEvidenceChartDrawsABaselineAtTheTop(t *testing.T) {
	c := &Context{Theme: themes.Mono()}
	vals := make([]float64, 120)
	for i := range vals {
		vals[i] = 400 - float64(i%10)
	}
	for _, h := range []int{3, 5} {
		rows := chartRows(c, vals, 400, 20, 60, h, c.Theme.Base)
		if !strings.Contains(ansi.Strip(rows[0]), "┄") {
			t.Errorf("height %d: no baseline on the top row:\n%s", h, ansi.Strip(strings.Join(rows, "\n")))
		}
	}
}

// More evidence than fits at 80x24: the symptom stays on top and ↓/↑
// scroll the charts beneath it, with a line that says where one is.
func TestEvidenceScrollsBeneathThePinnedSymptom(t *testing.T) {
	snap, fs := findingsIncident(t)
	f := fs[0]
	var sus correlate.Evidence
	for _, e := range f.Evidence {
		if e.Kind == correlate.EvSuspect {
			sus = e
			break
		}
	}
	if sus.SeriesKey == "" {
		t.Fatal("fixture has no suspect")
	}
	var evs []correlate.Evidence
	for _, e := range f.Evidence {
		if e.Kind == correlate.EvSymptom {
			evs = append(evs, e)
		}
	}
	for i := 0; i < 6; i++ {
		evs = append(evs, sus)
	}
	f.Evidence = evs
	c := findingsCtx(themes.Mono(), snap, []correlate.Finding{f}, 80, 24)
	v := NewFindings()
	v.Update(findingsKey(tea.KeyEnter, ""), c)
	first := ansi.Strip(v.Render(c))
	checkFrame(t, v.Render(c), 80, 24)
	if !strings.Contains(first, "symptom ") || !strings.Contains(first, "#1 ") || !strings.Contains(first, "charts 1-") || !strings.Contains(first, "of 6 below the symptom") {
		t.Fatalf("first screen:\n%s", first)
	}
	if h, _ := v.Update(findingsKey('j', "j"), c); !h {
		t.Fatal("j not handled on the evidence screen")
	}
	second := ansi.Strip(v.Render(c))
	if !strings.Contains(second, "symptom ") || strings.Contains(second, "#1 ") || !strings.Contains(second, "#2 ") || !strings.Contains(second, "charts 2-") {
		t.Fatalf("after j the symptom stays and the charts move on by one:\n%s", second)
	}
	for i := 0; i < 20; i++ {
		v.Update(findingsKey('j', "j"), c)
	}
	last := ansi.Strip(v.Render(c))
	if !strings.Contains(last, "#6 ") || !strings.Contains(last, "-6 of 6") {
		t.Fatalf("scrolled to the end:\n%s", last)
	}
	for i := 0; i < 20; i++ {
		v.Update(findingsKey('k', "k"), c)
	}
	if back := ansi.Strip(v.Render(c)); back != first {
		t.Fatalf("scrolled back up:\n%s\nwant\n%s", back, first)
	}
}

// x on the evidence screen lists what the engine could not check, with
// the reason, escapes stripped; x again (or esc) goes back to the charts.
func TestEvidenceListsWhatCouldNotBeChecked(t *testing.T) {
	snap, fs := findingsIncident(t)
	f := fs[0]
	f.Evidence = append(append([]correlate.Evidence(nil), f.Evidence...),
		correlate.Evidence{Kind: correlate.EvExcluded, SeriesKey: "src/db-2/cpu.iowait", Text: "db-2 cpu.iowait: stale"},
		correlate.Evidence{Kind: correlate.EvExcluded, SeriesKey: "src/x/5xx", Text: "x \x1b[31mred\x1b[0m 5xx: no traffic"})
	c := findingsCtx(themes.Mono(), snap, []correlate.Finding{f}, 80, 24)
	v := NewFindings()
	v.Update(findingsKey(tea.KeyEnter, ""), c)
	charts := ansi.Strip(v.Render(c))
	if !strings.Contains(charts, "x 2 series could not be checked") || !strings.Contains(charts, "symptom ") {
		t.Fatalf("evidence screen does not offer the excluded list:\n%s", charts)
	}
	if h, _ := v.Update(findingsKey('x', "x"), c); !h {
		t.Fatal("x not handled")
	}
	raw := v.Render(c)
	list := ansi.Strip(raw)
	checkFrame(t, raw, 80, 24)
	for _, want := range []string{"could not check 2 series:", "db-2 cpu.iowait: stale", "x red 5xx: no traffic"} {
		if !strings.Contains(list, want) {
			t.Errorf("excluded list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(raw, "\x1b[31m") || strings.Contains(list, "symptom ") {
		t.Errorf("an escape reached the screen, or the charts are still there:\n%s", list)
	}
	v.Update(findingsKey(tea.KeyEscape, ""), c)
	if back := ansi.Strip(v.Render(c)); back != charts {
		t.Fatalf("esc from the list should go back to the charts:\n%s", back)
	}
}

// Findings that share a cause are one incident: its headline comes first,
// on the Findings view and on the Overview, with how long and how many;
// the findings follow under it.
func TestIncidentHeadlineComesBeforeItsFindings(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 240)
	incs := []correlate.Incident{
		{ID: "i1", Severity: sources.SevCritical, Headline: "db-1 volume saturated: 5xx on be_app and be_api", Since: t0.Add(13 * time.Minute), Findings: []string{"f1", "f2"}},
		{ID: "i2", Severity: sources.SevWarning, Headline: "graphite unreachable", Since: t0.Add(17 * time.Minute), Findings: []string{"f3"}},
	}
	c := a.context(21)
	c.Incidents = incs

	lines := strings.Split(ansi.Strip(NewFindings().Render(&c)), "\n")
	want := []string{
		" ✖ critical db-1 volume saturated: 5xx on be_app and be_api",
		"  >✖ critical 5xx on be_app",
		"   ▲ warning  5xx on be_api",
		" ▲ warning  graphite unreachable",
		"   ▲ warning  source graphite failing",
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i+1], w) {
			t.Errorf("Findings line %d: %q, want it to start %q", i+2, lines[i+1], w)
		}
	}
	if !strings.HasSuffix(lines[1], "for 6m · 2 findings") || !strings.Contains(lines[0], "3 active in 2 incidents") {
		t.Errorf("the incident does not say how long and how many: %q / %q", lines[0], lines[1])
	}

	over := ansi.Strip((&overviewView{keys: &a.keys, sel: -1}).Render(&c))
	i := strings.Index(over, "Incidents 2, 3 findings")
	j := strings.Index(over, "db-1 volume saturated")
	k := strings.Index(over, "graphite unreachable")
	// short of room the count gives way before the headline is cut
	if i < 0 || j < i || k < j || !strings.Contains(over, "db-1 volume saturated: 5xx on be_app and be_api") || !strings.Contains(over, "for 6m") || strings.Contains(over, "5xx on be_api with") {
		t.Errorf("Overview at 80x24: one line per incident, worst first:\n%s", over)
	}
	c.Width, c.Height = 160, 45
	wide := ansi.Strip((&overviewView{keys: &a.keys, sel: -1}).Render(&c))
	if j, k := strings.Index(wide, "db-1 volume saturated"), strings.Index(wide, "· 5xx on be_api with"); j < 0 || k < j {
		t.Errorf("Overview at 160 columns lists an incident's findings under it:\n%s", wide)
	}
}

// At 80 columns an incident's headline keeps its cause: what broke is
// shortened instead.
func TestNarrowIncidentHeadlineKeepsTheCause(t *testing.T) {
	inc := correlate.Incident{Headline: "www probe_duration rose and app hrsp_5xx rose and 2 more: likely servers.db-1.cpu.iowait",
		Broke: "www probe_duration rose and app hrsp_5xx rose and 2 more", Why: "likely servers.db-1.cpu.iowait"}
	got := incidentHead(&inc, 50)
	if ansi.StringWidth(got) > 50 || !strings.HasSuffix(got, ": likely servers.db-1.cpu.iowait") || !strings.HasPrefix(got, "www probe") {
		t.Fatalf("%q (%d cells)", got, ansi.StringWidth(got))
	}
	if got := incidentHead(&inc, 200); got != inc.Headline {
		t.Fatalf("wide: %q", got)
	}
}

// TestEvidenceExplanationIsWholeWhenThereIsRoom: the explanation of a
// finding says why the engine thinks so; at 80x24 it takes the lines it
// needs while the symptom's and the first suspect's charts fit.
func TestEvidenceExplanationIsWholeWhenThereIsRoom(t *testing.T) {
	snap, fs := findingsIncident(t)
	fs[0].Explanation = "db-1 cpu.iowait rose from 3.2 % to 62 %, 45 s before app hrsp_5xx rose. Also moved first: mysql.db-1.queries_per_second. 5 series moved after it: app jobs_queue_length, qcur, and 3 more, which the engine reads as effects of the same cause."
	c := findingsCtx(themes.Mono(), snap, fs, 80, 21)
	v := NewFindings()
	v.Update(findingsKey(tea.KeyEnter, ""), c)
	plain := ansi.Strip(v.Render(c))
	if !strings.Contains(plain, "same cause.") || !strings.Contains(plain, "symptom ") || !strings.Contains(plain, "#1 ") {
		t.Errorf("explanation cut, or the charts gone:\n%s", plain)
	}
}

// TestNarrowIncidentHeadlineNamesThePlacesOfWhatBroke: at 80 columns the
// headline says where it broke, whole ("www and app: likely …"), rather
// than a cut symptom name ("www probe_d…").
func TestNarrowIncidentHeadlineNamesThePlacesOfWhatBroke(t *testing.T) {
	sym := func(node, label string) correlate.Evidence {
		return correlate.Evidence{Kind: correlate.EvSymptom, Node: node, Layer: sources.LayerLB, Label: label, SeriesKey: "x/" + label, Score: 9, Value: 2, Baseline: 1}
	}
	sus := correlate.Evidence{Kind: correlate.EvSuspect, SeriesKey: "graphite/servers.db-1.cpu.iowait", Node: "db-1", Layer: sources.LayerDB, Label: "servers.db-1.cpu.iowait", Score: 40}
	fs := []correlate.Finding{
		{ID: "a", Rule: "suspects", Severity: sources.SevCritical, Title: "www probe_duration rose: likely servers.db-1.cpu.iowait", Node: "db-1", Evidence: []correlate.Evidence{sym("www", "www probe_duration"), sus}},
		{ID: "b", Rule: "suspects", Severity: sources.SevCritical, Title: "app hrsp_5xx rose: likely servers.db-1.cpu.iowait", Node: "db-1", Evidence: []correlate.Evidence{sym("app", "app hrsp_5xx"), sus}},
	}
	incs := correlate.Incidents(fs)
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	got := incidentHead(&incs[0], 50)
	if !strings.HasPrefix(got, "www and app") || !strings.HasSuffix(got, "servers.db-1.cpu.iowait") || strings.Contains(got, "…") {
		t.Fatalf("%q (headline %q)", got, incs[0].Headline)
	}
}
