package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// flapStart is the clock of the flapping fixture.
var flapStart = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

// flapDowns are app-2's DOWN spans in the flapping fixture, as offsets
// from flapStart: five in the last ten minutes, one of them shorter than
// a column, and a drain between two of them.
var flapDowns = [][2]time.Duration{
	{21 * time.Minute, 22*time.Minute + 30*time.Second},
	{24 * time.Minute, 24*time.Minute + 20*time.Second},
	{26 * time.Minute, 27 * time.Minute},
	{28*time.Minute + 30*time.Second, 29*time.Minute + 30*time.Second},
	{31 * time.Minute, 0}, // still DOWN
}

var flapDrain = 25 * time.Minute

// flappingServer feeds a store as the HAProxy source does while a server
// flaps: a DOWN event per DOWN span (ended when it came back), a point
// event for each return to UP and for a drain, and the server's node
// state with its flap count; it returns the engine's findings at the end.
func flappingServer(t *testing.T) (*correlate.Snapshot, []correlate.Finding) {
	t.Helper()
	step := 10 * time.Second
	st := correlate.NewStore(correlate.StoreOptions{Step: step, Retention: 2 * time.Hour})
	e := correlate.NewEngine(correlate.EngineOptions{})
	n := 33 * 6 // 33 minutes
	var snap *correlate.Snapshot
	var fs []correlate.Finding
	class, since, downs := sources.ClassUp, flapStart, []time.Time(nil)
	for i := 0; i < n; i++ {
		at := flapStart.Add(time.Duration(i) * step)
		b := &sources.Batch{Source: "lb-1", Type: "haproxy", At: at, Status: sources.Status{Health: sources.HealthOK, LastSuccess: at},
			Series: []sources.Series{{Name: "req_rate", Labels: map[string]string{"backend": "app"}, Unit: "req/s", Role: sources.RoleTraffic,
				Layer: sources.LayerLB, Node: "app", Points: []sources.Point{{T: at, V: 100}}}}}
		for k, d := range flapDowns {
			id := fmt.Sprintf("lb-1/app/app-2@lb-1/down/%d", k)
			if flapStart.Add(d[0]) == at {
				b.Events = append(b.Events, sources.Event{ID: id, Kind: sources.EventState, Start: at, Updated: at, Severity: sources.SevWarning,
					Layer: sources.LayerLB, Node: "app-2", Title: "server app/app-2 DOWN"})
				class, since, downs = sources.ClassDown, at, append(downs, at)
			}
			if d[1] > 0 && flapStart.Add(d[1]) == at {
				b.Events = append(b.Events,
					sources.Event{ID: id, Kind: sources.EventState, Start: flapStart.Add(d[0]), End: at, Updated: at, Severity: sources.SevWarning,
						Layer: sources.LayerLB, Node: "app-2", Title: "server app/app-2 DOWN"},
					sources.Event{ID: fmt.Sprintf("lb-1/app/app-2@lb-1/up/%d", k), Kind: sources.EventState, Start: at, End: at, Updated: at, Severity: sources.SevOK,
						Layer: sources.LayerLB, Node: "app-2", Title: "server app/app-2 DOWN → UP"})
				class, since = sources.ClassUp, at
			}
		}
		if flapStart.Add(flapDrain) == at {
			b.Events = append(b.Events, sources.Event{ID: "lb-1/app/app-2@lb-1/drain", Kind: sources.EventState, Start: at, End: at, Updated: at, Severity: sources.SevInfo,
				Layer: sources.LayerLB, Node: "app-2", Title: "server app/app-2 UP → DRAIN"})
			class, since = sources.ClassDrain, at
		}
		flaps := 0
		for _, d := range downs {
			if at.Sub(d) <= 10*time.Minute {
				flaps++
			}
		}
		word := map[sources.StateClass]string{sources.ClassUp: "UP", sources.ClassDown: "DOWN", sources.ClassDrain: "DRAIN"}[class]
		b.Nodes = []sources.NodeState{{Kind: sources.NodeServer, ID: "lb-1/app/app-2", Name: "app-2", Parent: "lb-1/app", Instance: "lb-1",
			Layer: sources.LayerLB, State: word, Class: class, Severity: sources.SevOK, Since: since,
			Flaps: flaps, FlapWindow: 10 * time.Minute, Flapping: flaps >= 3}}
		st.Apply(b)
		if i%6 == 5 || i == n-1 {
			snap = st.Snapshot(at.Add(-time.Hour), at, nil)
			fs, _ = e.Evaluate(snap)
		}
	}
	return snap, fs
}

// flappingEvidence opens the evidence of the flapping finding.
func flappingEvidence(t *testing.T, c *Context) string {
	t.Helper()
	v := NewFindings()
	i := -1
	_, shown := listRows(c)
	for k, f := range shown {
		if f.Rule == "flapping" {
			i = k
		}
	}
	if i < 0 {
		t.Fatalf("the engine raised no flapping finding: %+v", c.Findings)
	}
	for k := 0; k < i; k++ {
		v.Update(findingsKey(tea.KeyDown, ""), c)
	}
	if h, _ := v.Update(findingsKey(tea.KeyEnter, ""), c); !h {
		t.Fatal("enter not handled")
	}
	return v.Render(c)
}

func TestFlappingEvidenceGolden(t *testing.T) {
	snap, fs := flappingServer(t)
	t.Setenv("NO_COLOR", "1")
	noColor, err := themes.Choose("dark", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		for _, th := range []struct {
			name  string
			theme *themes.Theme
			ascii bool
		}{{"dark", themes.Dark(), false}, {"nocolor", noColor, false}, {"ascii", themes.Mono(), true}} {
			c := findingsCtx(th.theme, snap, fs, sz.w, sz.h)
			if c.ASCII = th.ascii; th.ascii {
				c.Symbols = themes.ASCIISymbols
			}
			ev := flappingEvidence(t, c)
			checkFrame(t, ev, sz.w, sz.h)
			golden(t, "findings_evidence_flapping_"+th.name+"_"+sz.name, ev)
			if th.ascii {
				for _, r := range ansi.Strip(ev) {
					if r > 0x7e && r != '—' && r != '…' && r != '→' {
						t.Fatalf("--ascii strip has %q", r)
					}
				}
			}
		}
	}
}

// TestFlappingEvidenceDrawsStateStrip: the evidence of a flapping server
// draws its state over time, one column per time of the axis: DOWN where
// it was DOWN (even for 20 s, less than a column), UP where it was UP.
func TestFlappingEvidenceDrawsStateStrip(t *testing.T) {
	snap, fs := flappingServer(t)
	c := findingsCtx(themes.Mono(), snap, fs, 80, 24)
	lines := strings.Split(ansi.Strip(flappingEvidence(t, c)), "\n")
	var legend, strip, axis = -1, -1, -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "state app-2"):
			legend, strip, axis = i, i+1, i+2
		}
	}
	if legend < 0 {
		t.Fatalf("no state strip in the evidence:\n%s", strings.Join(lines, "\n"))
	}
	for _, want := range []string{"█ UP", "░ DOWN", "▒ other", "5 DOWN in 20 min"} {
		if !strings.Contains(lines[legend], want) {
			t.Errorf("legend %q lacks %q", lines[legend], want)
		}
	}
	cells := []rune(lines[strip])
	if len(cells) != 80 {
		t.Fatalf("strip is %d columns, want 80 (the axis's): %q", len(cells), lines[strip])
	}
	// the axis: 20 minutes up to the newest time, one column per 15 s
	ax := lines[axis]
	t0, err := time.Parse("15:04:05", ax[:8])
	if err != nil {
		t.Fatalf("axis %q: %v", ax, err)
	}
	t1, _ := time.Parse("15:04:05", ax[len(ax)-8:])
	t0 = t0.AddDate(2026-t0.Year(), 2, 13)
	t1 = t1.AddDate(2026-t1.Year(), 2, 13)
	col := func(d time.Duration) rune {
		at := flapStart.Add(d)
		return cells[int(int64(at.Sub(t0))*80/int64(t1.Sub(t0)))]
	}
	for _, d := range flapDowns {
		if got := col(d[0] + 5*time.Second); got != '░' {
			t.Errorf("at +%s (DOWN) the strip shows %q: %q", d[0], got, lines[strip])
		}
	}
	for _, up := range []time.Duration{23 * time.Minute, 30 * time.Minute} {
		if got := col(up); got != '█' {
			t.Errorf("at +%s (UP) the strip shows %q: %q", up, got, lines[strip])
		}
	}
	if got := col(flapDrain + 30*time.Second); got != '▒' {
		t.Errorf("at +%s (DRAIN) the strip shows %q: %q", flapDrain, got, lines[strip])
	}
	if got := cells[79]; got != '░' {
		t.Errorf("now (still DOWN) the strip ends with %q", got)
	}
}

// TestStripCellsKeepAShortDown: a column shows the worst state its time
// held, never an average.
func TestStripCellsKeepAShortDown(t *testing.T) {
	at := flapStart
	spans := []stateSpan{
		{from: at, to: at.Add(61 * time.Second), cls: stripUp},
		{from: at.Add(61 * time.Second), to: at.Add(62 * time.Second), cls: stripDown},
		{from: at.Add(62 * time.Second), to: at.Add(10 * time.Minute), cls: stripUp},
	}
	cells := stripCells(spans, at, at.Add(10*time.Minute), 10)
	for x, c := range cells {
		want := stripUp
		if x == 1 {
			want = stripDown
		}
		if c != want {
			t.Errorf("column %d is %d, want %d", x, c, want)
		}
	}
}

// TestEvidenceChartsAndStripShareColumns: a finding with a chart whose
// node changed state draws the strip between the charts and the axis,
// over the same buckets as the charts.
func TestEvidenceChartsAndStripShareColumns(t *testing.T) {
	snap, _ := flappingServer(t)
	key := snap.Series[0].Key
	f := correlate.Finding{ID: "x", Rule: "suspects", Severity: sources.SevWarning, Title: "app-2 and its traffic", Node: "app-2",
		Opened: snap.Now, Updated: snap.Now, Evidence: []correlate.Evidence{{Kind: correlate.EvSymptom, SeriesKey: key,
			From: snap.Now.Add(-10 * time.Minute), Until: snap.Now, Baseline: 100, Spread: 1, Value: 100}}}
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		c := findingsCtx(themes.Mono(), snap, []correlate.Finding{f}, sz[0], sz[1])
		v := NewFindings()
		v.Update(findingsKey(tea.KeyEnter, ""), c)
		frame := v.Render(c)
		checkFrame(t, frame, sz[0], sz[1])
		lines := strings.Split(ansi.Strip(frame), "\n")
		chart, legend := -1, -1
		for i, l := range lines {
			if strings.HasPrefix(l, "symptom ") {
				chart = i
			}
			if strings.HasPrefix(l, "state app-2") {
				legend = i
			}
		}
		if chart < 0 || legend < chart {
			t.Fatalf("%dx%d: want the chart, then the strip:\n%s", sz[0], sz[1], strings.Join(lines, "\n"))
		}
		strip := []rune(lines[legend+1])
		if len(strip) != sz[0] || !strings.ContainsRune(lines[legend+1], '░') || !strings.ContainsRune(lines[legend+1], '█') {
			t.Errorf("%dx%d: strip %q is not %d columns of UP and DOWN", sz[0], sz[1], lines[legend+1], sz[0])
		}
		// the symptom's window and as long again before it
		if !strings.HasPrefix(lines[legend+2], "09:12:50") {
			t.Errorf("%dx%d: the axis under the strip is %q", sz[0], sz[1], lines[legend+2])
		}
	}
}

// TestBackendEvidenceDrawsItsServersStrips: the finding about a backend
// draws the strip of each of its servers that changed state.
func TestBackendEvidenceDrawsItsServersStrips(t *testing.T) {
	snap, _ := flappingServer(t)
	snap.Nodes = append(snap.Nodes,
		sources.NodeState{Kind: sources.NodeBackend, ID: "lb-1/app", Name: "app", Layer: sources.LayerLB, State: "UP", Class: sources.ClassUp, Severity: sources.SevWarning},
		sources.NodeState{Kind: sources.NodeServer, ID: "lb-1/app/app-1", Name: "app-1", Parent: "lb-1/app", Layer: sources.LayerLB, State: "UP", Class: sources.ClassUp})
	f := correlate.Finding{ID: "node/lb-1/app", Rule: "node-state", Severity: sources.SevWarning, Title: "backend app: 1 servers flapping", Node: "app",
		Opened: snap.Now, Updated: snap.Now}
	c := findingsCtx(themes.Mono(), snap, []correlate.Finding{f}, 80, 24)
	v := NewFindings()
	v.Update(findingsKey(tea.KeyEnter, ""), c)
	plain := ansi.Strip(v.Render(c))
	if !strings.Contains(plain, "state app-2") {
		t.Errorf("the backend's evidence lacks its flapping server's strip:\n%s", plain)
	}
	if strings.Contains(plain, "state app-1") {
		t.Errorf("a server that never changed state got a strip:\n%s", plain)
	}
}
