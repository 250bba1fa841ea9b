package ui

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

func plain(a *App) string { return ansi.Strip(a.View().Content) }

func TestZoomStepsThroughTheWindows(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 80, 24, 240)
	if a.window != 15*time.Minute || a.snap.N != 180 {
		t.Fatalf("start: window %v, %d buckets; want 15m, 180", a.window, a.snap.N)
	}
	pressKeys(a, "[")
	if a.window != 5*time.Minute || a.snap.N != 60 {
		t.Fatalf("after [: window %v, %d buckets; want 5m, 60", a.window, a.snap.N)
	}
	pressKeys(a, "[") // already the narrowest
	if a.window != 5*time.Minute {
		t.Fatalf("[ below 5m gave %v", a.window)
	}
	if !strings.Contains(plain(a), "window 5m") {
		t.Fatal("header does not show the 5m window")
	}
	pressKeys(a, "]", "]", "]", "]", "]")
	if a.window != 24*time.Hour {
		t.Fatalf("after ] x5: window %v, want 24h", a.window)
	}
	// the fixture store keeps 2h: the snapshot is clamped to it
	if a.snap.N != int(2*time.Hour/step) {
		t.Fatalf("24h window over a 2h store: %d buckets", a.snap.N)
	}
	if !strings.Contains(plain(a), "window 24h") {
		t.Fatal("header does not show the 24h window")
	}
}

func TestPauseFreezesTheWindowWhileDataArrives(t *testing.T) {
	a, in := newTestApp(themes.Dark(), 80, 24, 200)
	pressKeys(a, "p")
	if !strings.Contains(plain(a), "PAUSED") {
		t.Fatal("header does not say PAUSED")
	}
	before := a.snap
	in.advance(20)
	a.Update(DataMsg{})
	if a.snap != before {
		t.Fatal("paused app took a new snapshot on data")
	}
	if in.store.Now().Equal(before.Now) {
		t.Fatal("the store did not move: the test proves nothing")
	}
	if !strings.Contains(plain(a), "PAUSED live +1m40s") {
		t.Fatalf("header does not say how far live has moved on:\n%s", plain(a))
	}
	pressKeys(a, "p")
	if !a.snap.Now.Equal(in.store.Now()) {
		t.Fatalf("after resume the snapshot is at %v, store at %v", a.snap.Now, in.store.Now())
	}
	if !strings.Contains(plain(a), "LIVE") {
		t.Fatal("header does not say LIVE after resume")
	}
}

func TestFilterAppliesOnEnterAndEscClears(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 80, 24, 240)
	pressKeys(a, "2", "/", "d", "b", "-", "1")
	if a.filter != "" {
		t.Fatalf("filter applied before Enter: %q", a.filter)
	}
	if !strings.Contains(plain(a), "/db-1") {
		t.Fatal("the filter input is not shown while typing")
	}
	pressKeys(a, "enter")
	if a.filter != "db-1" {
		t.Fatalf("filter %q, want db-1", a.filter)
	}
	if len(a.snap.Series) != 2 {
		t.Fatalf("filtered snapshot has %d series, want the 2 of db-1", len(a.snap.Series))
	}
	for _, s := range a.snap.Series {
		if !strings.Contains(s.Key, "db-1") {
			t.Fatalf("series %s passed the db-1 filter", s.Key)
		}
	}
	scr := plain(a)
	if !strings.Contains(scr, "/db-1") || strings.Contains(scr, "hrsp_5xx") {
		t.Fatalf("screen does not reflect the filter:\n%s", scr)
	}
	pressKeys(a, "/", "esc")
	if a.filter != "" || len(a.snap.Series) != 7 {
		t.Fatalf("esc in the filter left %q and %d series", a.filter, len(a.snap.Series))
	}
	// Esc outside the input also clears an applied filter
	pressKeys(a, "/", "x", "enter", "esc")
	if a.filter != "" {
		t.Fatalf("esc did not clear the filter %q", a.filter)
	}
	// a filter matching nothing says so
	pressKeys(a, "/", "n", "o", "p", "e", "enter")
	if !strings.Contains(plain(a), `no series match "nope"`) {
		t.Fatalf("empty filter result not explained:\n%s", plain(a))
	}
}

func TestCursorShowsValuesAtThatInstantAndReturnsLive(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 240)
	pressKeys(a, "2")
	live := plain(a)
	if !strings.Contains(live, "40.1 req/s") || !strings.Contains(live, "newest 14:19:55") {
		t.Fatalf("live legend does not show the newest values:\n%s", live)
	}
	for i := 0; i < 40; i++ {
		pressKeys(a, "left")
	}
	ctx := a.context(a.bodyHeight())
	if ctx.Cursor < 0 {
		t.Fatal("left did not place the cursor")
	}
	at := a.snap.Time(ctx.Cursor)
	scr := plain(a)
	if !strings.Contains(scr, "cursor "+at.Format("15:04:05")) {
		t.Fatalf("status line does not show the cursor time %s:\n%s", at.Format("15:04:05"), scr)
	}
	// every legend value is the series' value at the cursor
	for _, s := range a.snap.Series {
		if s.Role != sources.RoleSymptom {
			continue
		}
		want := Human(s.Values[ctx.Cursor], s.Unit)
		if !strings.Contains(scr, seriesLabel(&s.SeriesMeta)+" "+want) {
			t.Errorf("legend lacks %s = %s at the cursor", seriesLabel(&s.SeriesMeta), want)
		}
	}
	if !strings.Contains(scr, "│") {
		t.Fatal("no cursor column drawn")
	}
	pressKeys(a, "right")
	if c2 := a.context(a.bodyHeight()); c2.Cursor <= ctx.Cursor {
		t.Fatalf("right did not move the cursor forward: %d -> %d", ctx.Cursor, c2.Cursor)
	}
	pressKeys(a, "end")
	if a.context(1).Cursor != -1 {
		t.Fatal("End did not return to live")
	}
	pressKeys(a, "left", "L")
	if a.context(1).Cursor != -1 {
		t.Fatal("L did not return to live")
	}
	// the cursor keeps its instant when the window moves on
	pressKeys(a, "left", "left")
	c := a.context(1)
	when := a.snap.Time(c.Cursor)
	in := a.opt.Store.(*correlate.Store)
	_ = in
	a.Update(DataMsg{})
	if got := a.snap.Time(a.context(1).Cursor); !got.Equal(when) {
		t.Fatalf("cursor moved from %v to %v on new data", when, got)
	}
}

func TestViewSwitchingByTabShiftTabAndDigits(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 80, 24, 100)
	steps := []struct {
		key  string
		want int
	}{{"tab", 1}, {"tab", 2}, {"shift+tab", 1}, {"1", 0}, {"shift+tab", 5}, {"tab", 0}, {"3", 2}, {"9", 2}, {"6", 5}, {"2", 1}}
	for _, s := range steps {
		pressKeys(a, s.key)
		if a.tab != s.want {
			t.Fatalf("after %s: view %d, want %d", s.key, a.tab, s.want)
		}
	}
	if !strings.Contains(plain(a), "External symptoms") {
		t.Fatal("Graphs view not shown on 2")
	}
}

func TestHelpListsEveryKeyFromTheKeymap(t *testing.T) {
	for _, view := range []string{"1", "2", "3"} {
		a, _ := newTestApp(themes.Mono(), 80, 24, 100)
		pressKeys(a, view, "?")
		scr := plain(a)
		km := a.Keys()
		all := append(km.Global(), a.views[a.tab].Keys()...)
		for _, k := range all {
			h := k.Help()
			// a long description wraps beside its key: its first word is on the key's line
			if !regexp.MustCompile(regexp.QuoteMeta(h.Key) + `\s+` + regexp.QuoteMeta(strings.Fields(h.Desc)[0])).MatchString(scr) {
				t.Errorf("view %s help lacks %q %q:\n%s", view, h.Key, h.Desc, scr)
			}
		}
		pressKeys(a, "esc")
		if a.help || strings.Contains(plain(a), "Global keys") {
			t.Fatal("esc did not close help")
		}
	}
}

func TestKeyOverridesRemapActions(t *testing.T) {
	var logged []string
	in := newIncident()
	in.advance(50)
	a := New(Options{Store: in.store, Location: time.UTC,
		KeyOverrides: map[string][]string{"pause": {"P"}, "nonsense": {"x"}},
		Logf:         func(f string, v ...any) { logged = append(logged, fmt.Sprintf(f, v...)) }})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	pressKeys(a, "p")
	if a.paused {
		t.Fatal("p still pauses after remapping pause to P")
	}
	pressKeys(a, "P")
	if !a.paused {
		t.Fatal("P does not pause")
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "nonsense") {
		t.Fatalf("unknown action not logged: %v", logged)
	}
	pressKeys(a, "?")
	if !regexp.MustCompile(`\n\s+P\s+pause`).MatchString(plain(a)) {
		t.Fatalf("help does not show the remapped key:\n%s", plain(a))
	}
}

func TestBelowMinimumSizeSaysWhatItNeedsAndRecovers(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 60, 15, 100)
	scr := plain(a)
	if !strings.Contains(scr, "need 80x20, have 60x15") {
		t.Fatalf("small terminal message missing:\n%s", scr)
	}
	checkFrame(t, a.View().Content, 60, 15)
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 19})
	if !strings.Contains(plain(a), "need 80x20, have 80x19") {
		t.Fatal("80x19 is below the minimum")
	}
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
	scr = plain(a)
	if strings.Contains(scr, "need 80x20") || !strings.Contains(scr, "Sources") {
		t.Fatalf("did not recover at 80x20:\n%s", scr)
	}
	checkFrame(t, a.View().Content, 80, 20)
}

func TestTinySizesNeverPanic(t *testing.T) {
	sizes := [][2]int{{0, 0}, {1, 1}, {20, 5}, {1, 100}, {300, 1}, {79, 20}, {80, 20}, {81, 21}, {250, 80}}
	for _, sz := range sizes {
		for _, keys := range [][]string{nil, {"2"}, {"3", "enter"}, {"?"}, {"/", "a"}, {"2", "left"}} {
			a, _ := newTestApp(themes.Dark(), sz[0], sz[1], 240)
			pressKeys(a, keys...)
			f := a.View().Content
			if sz[0] == 0 || sz[1] == 0 {
				if f != "" {
					t.Fatalf("%dx%d: frame %q, want empty", sz[0], sz[1], f)
				}
				continue
			}
			checkFrame(t, f, sz[0], sz[1])
		}
	}
	// no data at all, every view
	a := New(Options{Store: correlate.NewStore(correlate.StoreOptions{}), Location: time.UTC})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, k := range []string{"1", "2", "3", "left", "[", "enter", "down"} {
		pressKeys(a, k)
		checkFrame(t, a.View().Content, 80, 24)
	}
	if !strings.Contains(plain(a), "waiting for data") && !strings.Contains(plain(a), "no events") {
		t.Fatalf("empty store not explained:\n%s", plain(a))
	}
	// no store at all
	a = New(Options{})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.Update(DataMsg{})
	checkFrame(t, a.View().Content, 80, 24)
}

func TestEscapeSequencesInNamesAreNotWrittenRaw(t *testing.T) {
	st := correlate.NewStore(correlate.StoreOptions{Step: step})
	evil := "\x1b]0;owned\x07x\x1b[2J\x1b[31m"
	st.Apply(&sources.Batch{Source: "src" + evil, Type: "t" + evil, At: t0,
		Series: []sources.Series{{Name: "name" + evil, Labels: map[string]string{"l": "v" + evil}, Unit: "ms" + evil, Role: sources.RoleSymptom, Node: "n" + evil,
			Points: []sources.Point{{T: t0, V: 1}}}},
		Events: []sources.Event{{ID: "e", Start: t0, Severity: sources.SevCritical, Title: "title" + evil, Text: "text" + evil + "\nmore", Node: "n" + evil, Source: "s" + evil}},
		Status: sources.Status{Health: sources.HealthFailing, LastError: "err" + evil, Detail: "d" + evil},
	})
	fs := []correlate.Finding{{ID: "f", Severity: sources.SevCritical, Title: "f" + evil, Node: "n" + evil}}
	a := New(Options{Store: st, Findings: func() []correlate.Finding { return fs }, Location: time.UTC, Mode: "m" + evil})
	a.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	a.Update(DataMsg{})
	for _, keys := range [][]string{{"1"}, {"2"}, {"2", "left"}, {"3"}, {"enter"}, {"?"}} {
		pressKeys(a, keys...)
		f := a.View().Content
		for _, bad := range []string{"\x1b]0;", "\x07", "\x1b[2J", "owned\x07"} {
			if i := strings.Index(f, bad); i >= 0 {
				t.Logf("%q", f[max(i-80, 0):min(i+40, len(f))])
				t.Fatalf("after %v the frame contains %q", keys, bad)
			}
		}
		checkFrame(t, f, 160, 48)
	}
}

func TestNoFrameWithoutNewDataKeyOrResize(t *testing.T) {
	a, in := newTestApp(themes.Dark(), 80, 24, 100)
	a.View()
	n := a.Frames()
	for i := 0; i < 5; i++ {
		a.View()
	}
	a.Update(tea.KeyPressMsg{Code: 'z', Text: "z"}) // bound to nothing
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.View()
	if a.Frames() != n {
		t.Fatalf("%d frames built without data, a bound key or a resize", a.Frames()-n)
	}
	a.Update(DataMsg{}) // nothing new in the store
	a.View()
	if a.Frames() != n {
		t.Fatal("a DataMsg without new data built a frame")
	}
	in.advance(1)
	a.Update(DataMsg{})
	a.View()
	if a.Frames() != n+1 {
		t.Fatal("new data did not build a frame")
	}
}

func TestTimeAxisMovesInWholeBuckets(t *testing.T) {
	a, in := newTestApp(themes.Dark(), 80, 24, 200)
	pressKeys(a, "2")
	start := a.snap.Start
	body := func() string { return strings.Join(strings.Split(plain(a), "\n")[2:], "\n") }
	before := body()
	// a batch inside the same bucket: only labels may change
	at := in.at.Add(2 * time.Second)
	in.store.Apply(&sources.Batch{Source: "lb-1", At: at, Status: sources.Status{Health: sources.HealthOK, Latency: 12 * time.Millisecond, Detail: "2 backends"}})
	a.Update(DataMsg{})
	if !a.snap.Start.Equal(start) {
		t.Fatalf("window moved inside a bucket: %v -> %v", start, a.snap.Start)
	}
	if body() != before {
		t.Fatal("the graphs changed inside a bucket")
	}
	in.advance(1)
	a.Update(DataMsg{})
	if got := a.snap.Start.Sub(start); got != step {
		t.Fatalf("window moved by %v on the next bucket, want %v", got, step)
	}
}

func TestGotoMsgSwitchesViewAndSetsFilter(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 80, 24, 240)
	at := t0.Add(15 * time.Minute)
	a.Update(GotoMsg{View: "graphs", Filter: "be_app", At: at})
	if a.tab != 1 || a.filter != "be_app" {
		t.Fatalf("goto: view %d filter %q", a.tab, a.filter)
	}
	if got := a.snap.Time(a.context(1).Cursor); !got.Equal(at) {
		t.Fatalf("cursor at %v, want %v", got, at)
	}
	if cmd := Goto("Events", ""); cmd != nil {
		a.Update(cmd())
	}
	if a.tab != 2 || a.filter != "be_app" {
		t.Fatalf("Goto(Events): view %d filter %q", a.tab, a.filter)
	}
}

func TestEventsScrollAndEnterShowsTheText(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 240)
	pressKeys(a, "3")
	scr := plain(a)
	lines := strings.Split(scr, "\n")
	var order []string
	for _, l := range lines {
		for _, w := range []string{"app-3 is DOWN", "HAProxy reloaded", "app-2 flapped"} {
			if strings.Contains(l, w) {
				order = append(order, w)
			}
		}
	}
	if strings.Join(order, ",") != "app-3 is DOWN,HAProxy reloaded,app-2 flapped" {
		t.Fatalf("events not newest first: %v", order)
	}
	if !strings.Contains(scr, "✖ critical") || !strings.Contains(scr, "ℹ info") || !strings.Contains(scr, "▲ warning") {
		t.Fatal("severity not shown as symbol and word")
	}
	pressKeys(a, "enter")
	if !strings.Contains(plain(a), "Layer7 check failed: HTTP status 503") || !strings.Contains(plain(a), "check duration 2001ms") {
		t.Fatalf("enter did not show the newest event's text:\n%s", plain(a))
	}
	pressKeys(a, "esc", "down", "down", "down", "enter")
	if !strings.Contains(plain(a), "(no text)") {
		t.Fatalf("the last event has no text and should say so:\n%s", plain(a))
	}
	pressKeys(a, "esc")
	if strings.Contains(plain(a), "(no text)") {
		t.Fatal("esc did not close the text")
	}
}

func TestHumanUnits(t *testing.T) {
	cases := []struct {
		v    float64
		unit string
		want string
	}{
		{12.345, "%", "12.3%"}, {0.5, "%", "0.5%"}, {250, "ms", "250ms"}, {1500, "ms", "1.5s"},
		{0.25, "s", "250ms"}, {7200, "s", "2h"}, {1234, "req/s", "1.23K req/s"}, {12, "req/s", "12 req/s"},
		{1.5e6, "B/s", "1.5MB/s"}, {2.5e9, "B", "2.5GB"}, {999, "", "999"}, {12000, "count", "12K"},
		{math.NaN(), "%", "—"}, {math.Inf(1), "ms", "+Inf"}, {0, "B/s", "0B/s"}, {-3.5, "", "-3.5"},
	}
	for _, c := range cases {
		if got := Human(c.v, c.unit); got != c.want {
			t.Errorf("Human(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

func TestGapsAreDrawnAsGaps(t *testing.T) {
	vals := make([]float64, 100)
	for i := range vals {
		vals[i] = 5
		if i >= 40 && i < 60 {
			vals[i] = math.NaN()
		}
	}
	for _, braille := range []bool{true, false} {
		ch := chart{lines: []plotLine{{vals: vals, marker: "*", baseline: math.NaN()}}, width: yLabelW + 50, height: 4, cursor: -1, n: 100, braille: braille}
		rows := ch.render()
		var joined []rune
		for x := 0; x < 50; x++ {
			col := ' '
			for _, r := range rows {
				rr := []rune(ansi.Strip(r))[yLabelW:]
				if rr[x] != ' ' {
					col = rr[x]
				}
			}
			joined = append(joined, col)
		}
		s := string(joined)
		if strings.TrimSpace(s[:0]) != "" || !strings.Contains(s, strings.Repeat(" ", 8)) {
			t.Fatalf("braille=%v: no gap in %q", braille, s)
		}
		// both sides of the gap have data
		if joined[10] == ' ' || joined[25] != ' ' || joined[45] == ' ' {
			t.Fatalf("braille=%v: wrong columns %q", braille, s)
		}
	}
	// the sparkline leaves the gap blank too
	sp := sparkRows(vals, 50, 1, false, 0)[0]
	if []rune(sp)[25] != ' ' || []rune(sp)[5] == ' ' {
		t.Fatalf("sparkline gap: %q", sp)
	}
}

func TestBaselineIsDrawnFaintly(t *testing.T) {
	vals := make([]float64, 60)
	for i := range vals {
		vals[i] = float64(i)
	}
	ch := chart{lines: []plotLine{{vals: vals, baseline: 10}}, width: yLabelW + 30, height: 6, cursor: -1, n: 60, braille: true,
		faint: themes.Dark().Faint}
	out := strings.Join(ch.render(), "\n")
	if !strings.Contains(ansi.Strip(out), "┈") {
		t.Fatalf("no baseline:\n%s", ansi.Strip(out))
	}
	ch.ascii, ch.braille = true, false
	if !strings.Contains(ansi.Strip(strings.Join(ch.render(), "\n")), "-") {
		t.Fatal("no ascii baseline")
	}
}

func TestStatusesAreReadableWithoutColour(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 240)
	scr := plain(a)
	for _, w := range []string{"✖ failing", "✔ ok", "✖ critical", "▲ warning", "● LIVE", "✖ graphite", "✔ lb-1"} {
		if !strings.Contains(scr, w) {
			t.Errorf("mono overview lacks %q", w)
		}
	}
	if strings.Contains(a.View().Content, "38;2;") {
		t.Fatal("mono frame has colour escapes")
	}
}

func TestZoomKeyGivesOneChartTheWholeView(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 80, 24, 240)
	pressKeys(a, "2", "down", "z")
	scr := plain(a)
	if strings.Count(scr, "▌") != 1 || !strings.Contains(scr, "▌External symptoms ms") {
		t.Fatalf("z did not zoom the second chart:\n%s", scr)
	}
	pressKeys(a, "esc")
	if strings.Count(plain(a), "▌") < 2 {
		t.Fatal("esc did not leave the zoomed chart")
	}
}

func TestWideWindowsHideNoSpikeOrDip(t *testing.T) {
	vals := make([]float64, 17280) // 24h at 5s
	for i := range vals {
		vals[i] = 99.9
	}
	vals[9000] = 0 // one failed probe round
	sp := sparkRows(vals, 60, 1, false, 0)[0]
	if !strings.ContainsRune(sp, '▁') {
		t.Fatalf("a one-bucket dip vanished from the sparkline: %q", sp)
	}
	ch := chart{lines: []plotLine{{vals: vals, baseline: math.NaN()}}, width: yLabelW + 60, height: 5, cursor: -1, n: len(vals), braille: true}
	rows := ch.render()
	bottom := ansi.Strip(rows[len(rows)-1])
	if strings.TrimSpace(bottom[len("     0┤"):]) == "" {
		t.Fatalf("a one-bucket dip vanished from the chart:\n%s", ansi.Strip(strings.Join(rows, "\n")))
	}
}

// fakeView stands for a view registered beside the others.
type fakeView struct {
	keys []string
	ctx  Context
	msgs []tea.Msg // every message it heard
}

// register adds v to the registry for the test.
func register(t *testing.T, v View) {
	t.Helper()
	old := registry
	registry = append(append([]func(*KeyMap, *Options) View(nil), registry...), func(*KeyMap, *Options) View { return v })
	t.Cleanup(func() { registry = old })
}

func (f *fakeView) Name() string { return "Fake\x1b[31m view" }
func (f *fakeView) Keys() []key.Binding {
	return []key.Binding{key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "expand"))}
}
func (f *fakeView) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	f.msgs = append(f.msgs, m)
	if msg, ok := m.(tea.KeyPressMsg); ok && msg.String() == "x" {
		f.keys = append(f.keys, "x")
		return true, Goto("graphs", "be_app")
	}
	return false, nil
}
func (f *fakeView) Render(c *Context) string {
	f.ctx = *c
	return "a line far too long for any terminal " + strings.Repeat("=", 400) + "\n" + strings.Repeat("more\n", 100)
}

func TestARegisteredViewGetsATabKeysAndAFittedArea(t *testing.T) {
	fv := &fakeView{}
	register(t, fv)
	a := newTestAppOpts(Options{Theme: themes.Mono()}, 80, 24, 240)
	pressKeys(a, "7")
	f := a.View().Content
	checkFrame(t, f, 80, 24)
	if !strings.Contains(ansi.Strip(f), "7 Fake view") {
		t.Fatalf("no tab for the extra view:\n%s", ansi.Strip(f))
	}
	if fv.ctx.Width != 80 || fv.ctx.Height != 21 || fv.ctx.Snap == nil || len(fv.ctx.Findings) != 3 || fv.ctx.Loc == nil {
		t.Fatalf("context: %dx%d snap %v findings %d", fv.ctx.Width, fv.ctx.Height, fv.ctx.Snap != nil, len(fv.ctx.Findings))
	}
	if !strings.Contains(ansi.Strip(f), "x expand") {
		t.Fatalf("the view's keys are not in the footer:\n%s", ansi.Strip(f))
	}
	_, cmd := a.Update(keyMsg("x"))
	if cmd == nil {
		t.Fatal("the view's command was dropped")
	}
	a.Update(cmd())
	if a.tab != 1 || a.filter != "be_app" {
		t.Fatalf("GotoMsg from the view: tab %d filter %q", a.tab, a.filter)
	}
}

func TestDroppedSeriesAreShown(t *testing.T) {
	st := correlate.NewStore(correlate.StoreOptions{Step: step, MaxSeries: 1})
	st.Apply(&sources.Batch{Source: "s", At: t0, Series: []sources.Series{
		{Name: "a", Points: []sources.Point{{T: t0, V: 1}}}, {Name: "b", Points: []sources.Point{{T: t0, V: 2}}}},
		Status: sources.Status{Health: sources.HealthOK}})
	a := New(Options{Store: st, Location: time.UTC, Theme: themes.Mono()})
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	a.Update(DataMsg{})
	if !strings.Contains(plain(a), "1 series dropped from s: the store holds store.max_series") {
		t.Fatalf("dropped series not shown:\n%s", plain(a))
	}
}

func TestTabsShrinkSoTheWindowStaysVisible(t *testing.T) {
	a := newTestAppOpts(Options{Theme: themes.Mono()}, 80, 24, 100)
	tabs := strings.Split(plain(a), "\n")[1]
	if !strings.Contains(tabs, "window 15m") || !strings.Contains(tabs, "1 Overview") || !strings.Contains(tabs, "6") {
		t.Fatalf("tab line at 80 columns: %q", tabs)
	}
	a.Update(tea.WindowSizeMsg{Width: 200, Height: 50})
	tabs = strings.Split(plain(a), "\n")[1]
	if !strings.Contains(tabs, " 5 Load balancers ") || !strings.Contains(tabs, " 6 Paths ") || !strings.Contains(tabs, "window 15m") {
		t.Fatalf("tab line at 200 columns: %q", tabs)
	}
}

// TestViewsRenderAnySizeTheyAreGiven: the shell never gives a view less
// than 80x17, but a view must not panic or overflow when it is.
func TestViewsRenderAnySizeTheyAreGiven(t *testing.T) {
	a, _ := newTestApp(themes.Dark(), 80, 24, 240)
	for _, v := range a.views {
		for _, open := range []bool{false, true} {
			if open {
				c := a.context(20)
				v.Update(keyMsg("enter"), &c)
				v.Update(keyMsg("z"), &c)
			}
			for _, sz := range [][2]int{{0, 0}, {1, 1}, {5, 2}, {10, 3}, {40, 8}, {300, 4}} {
				c := a.context(sz[1])
				c.Width = sz[0]
				out := v.Render(&c)
				if sz[1] == 0 {
					continue
				}
				lines := strings.Split(out, "\n")
				if len(lines) != sz[1] {
					t.Fatalf("%s at %dx%d: %d lines", v.Name(), sz[0], sz[1], len(lines))
				}
				for _, l := range lines {
					if w := ansi.StringWidth(l); w > sz[0] {
						t.Fatalf("%s at %dx%d: a line %d wide", v.Name(), sz[0], sz[1], w)
					}
				}
			}
		}
	}
}

func TestOverviewEnterOpensTheGraphsOfTheSelectedSeries(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 240)
	pressKeys(a, "down", "down") // a finding's symptom, then its suspect: the 2nd is db-1 iowait
	_, cmd := a.Update(keyMsg("enter"))
	if cmd == nil {
		t.Fatal("enter on a series did nothing")
	}
	a.Update(cmd())
	if a.tab != 1 || a.filter != "db-1" {
		t.Fatalf("enter: view %d filter %q, want Graphs filtered to db-1", a.tab, a.filter)
	}
	if !strings.Contains(plain(a), "servers.db-1.cpu.iowait") {
		t.Fatal("the graphs of db-1 are not shown")
	}
	// many presses past the end keep the last series selected and in view
	pressKeys(a, "esc", "1")
	for i := 0; i < 30; i++ {
		pressKeys(a, "down")
	}
	if !strings.Contains(plain(a), "req_rate{www}") {
		t.Fatal("the last series is not in view when selected")
	}
}

func TestHeaderLabelIsCutAtAWord(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"demo (no config)", 12, "demo"},
		{"demo (no config)", 16, "demo (no config)"},
		{"replay incident-2026-03-14.ovr", 12, "replay"},
		{"discovered-everything-here", 12, trunc("discovered-everything-here", 12)},
	} {
		if got := cutAtWord(c.in, c.n); got != c.want {
			t.Errorf("cutAtWord(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// replayModeKeys are keys a mode adds, as replay does: long descriptions
// that help must show whole.
var replayModeKeys = []key.Binding{
	key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "replay: note at the cursor (saved in the recording)")),
	key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "replay: play / pause")),
	key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "replay: faster / slower (1× to 60×)")),
	key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "replay: jump to the next event")),
	key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "replay: jump to the next finding")),
	key.NewBinding(key.WithKeys("<", ","), key.WithHelp("< >", "replay: back / forward 1 minute")),
	key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "record on / off (for replay and export)")),
}

// TestHelpShowsEveryKeyWholeAt80x24: at the smallest size, with a mode's
// long key list, every key of every view is on screen or reached by
// scrolling, beside its description, and no description is cut.
func TestHelpShowsEveryKeyWholeAt80x24(t *testing.T) {
	for i := range registry {
		a := newTestAppOpts(Options{Theme: themes.Mono(), ModeKeys: replayModeKeys}, 80, 24, 100)
		pressKeys(a, string(rune('1'+i)), "?")
		var seen strings.Builder
		for range 10 {
			scr := plain(a)
			checkFrame(t, a.View().Content, 80, 24)
			if strings.Contains(scr, "…") {
				t.Fatalf("help of view %d cuts a description:\n%s", i+1, scr)
			}
			seen.WriteString(scr)
			pressKeys(a, "pgdn")
		}
		all := append(append(a.views[a.tab].Keys(), replayModeKeys...), a.keys.Global()...)
		for _, k := range all {
			hp := k.Help()
			words := strings.Fields(hp.Desc)
			re := regexp.MustCompile(regexp.QuoteMeta(hp.Key) + `\s+` + regexp.QuoteMeta(words[0]))
			if !re.MatchString(seen.String()) || !strings.Contains(seen.String(), words[len(words)-1]) {
				t.Errorf("view %d: help never shows %q %q:\n%s", i+1, hp.Key, hp.Desc, seen.String())
			}
		}
	}
}

// TestHelpScrollsWhenColumnsDoNotFit: a key list longer than three columns
// hold scrolls, and the title says where the reader is.
func TestHelpScrollsWhenColumnsDoNotFit(t *testing.T) {
	var many []key.Binding
	for i := range 40 {
		many = append(many, key.NewBinding(key.WithKeys(fmt.Sprintf("f%d", i+1)), key.WithHelp(fmt.Sprintf("f%d", i+1), fmt.Sprintf("mode action number %d of the long list", i+1))))
	}
	a := newTestAppOpts(Options{Theme: themes.Mono(), ModeKeys: many}, 80, 20, 100)
	pressKeys(a, "?")
	if scr := plain(a); !strings.Contains(scr, "lines 1-15 of") || strings.Contains(scr, "f40 ") {
		t.Fatalf("help does not start at the top with a scroll note:\n%s", scr)
	}
	var seen strings.Builder
	for range 20 {
		pressKeys(a, "pgdn")
		seen.WriteString(plain(a))
	}
	if scr := plain(a); !strings.Contains(seen.String(), "f40 ") || !regexp.MustCompile(`esc\s+back`).MatchString(scr) {
		t.Fatalf("the end of help is not reached by scrolling:\n%s", scr)
	}
	pressKeys(a, "g")
	if scr := plain(a); !strings.Contains(scr, "lines 1-15 of") {
		t.Fatalf("g does not go back to the top:\n%s", scr)
	}
}

// TestFilterKeepsTheTabNames: at 80 columns a filter shortens its own
// label, never the names of the tabs.
func TestFilterKeepsTheTabNames(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 100)
	pressKeys(a, "/")
	for _, r := range "node_load" {
		pressKeys(a, string(r))
	}
	pressKeys(a, "enter")
	tabs := strings.Split(plain(a), "\n")[1]
	for _, v := range a.views {
		if !strings.Contains(tabs, v.Name()) {
			t.Errorf("tab %q gone with a filter: %q", v.Name(), tabs)
		}
	}
	if !strings.Contains(tabs, "/node_") || !strings.Contains(tabs, "15m") {
		t.Errorf("the filter or the window is not said: %q", tabs)
	}
}

// TestReplayCutShortIsSaidAt100Columns: a recording cut by a crash says
// so in the header at every width the app runs at, even where the mode
// gives way.
func TestReplayCutShortIsSaidAt100Columns(t *testing.T) {
	for _, w := range []int{80, 100, 160} {
		in := newIncident()
		in.advance(100)
		a := New(Options{Store: in.store, Theme: themes.Mono(), Location: time.UTC, Mode: "replay incident-2026-11-20.rec",
			Warning: "recording cut short: the recorder stopped mid-write; every frame before it replays",
			Clock:   func() Clock { return Clock{Replay: true, Playing: true, Speed: 10, At: t0.Add(5 * time.Minute)} }})
		a.Update(tea.WindowSizeMsg{Width: w, Height: 24})
		a.Update(DataMsg{})
		head := strings.Split(plain(a), "\n")[0]
		if !strings.Contains(head, "▲ recording cut short") {
			t.Errorf("%d columns: the header does not say the recording was cut short: %q", w, head)
		}
	}
}

// TestDemoClockSaysItIsNotTheWallClock: the demo's clock is scenario
// time; the header says so beside it at 80 columns.
func TestDemoClockSaysItIsNotTheWallClock(t *testing.T) {
	a := newTestAppOpts(Options{Theme: themes.Mono(), ClockNote: "demo clock"}, 80, 24, 100)
	if head := strings.Split(plain(a), "\n")[0]; !strings.Contains(head, "14:08:15 UTC (demo clock)") {
		t.Fatalf("header: %q", head)
	}
}

// The Overview says how many series the store holds and their bytes, and
// follows the store as it grows.
func TestOverviewShowsSeriesAndBytesHeld(t *testing.T) {
	st := correlate.NewStore(correlate.StoreOptions{Step: step})
	a := New(Options{Store: st, Location: time.UTC, Theme: themes.Mono()})
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	for i, names := range [][]string{{"a", "b"}, {"c", "d", "e"}} {
		var ss []sources.Series
		for _, n := range names {
			ss = append(ss, sources.Series{Name: n, Points: []sources.Point{{T: t0, V: 1}}})
		}
		st.Apply(&sources.Batch{Source: "s", At: t0, Series: ss, Status: sources.Status{Health: sources.HealthOK}})
		a.Update(DataMsg{})
		h := st.Stats()
		want := fmt.Sprintf("%d series, %s held", h.Series, heldSize(h.Bytes))
		if h.Series != []int{2, 5}[i] || h.Bytes <= 0 || !strings.Contains(plain(a), want) {
			t.Fatalf("step %d: want %q (stats %+v) in:\n%s", i, want, h, plain(a))
		}
	}
}

// The screen's snapshot holds every series' metadata but copies the
// values of those a view draws only: at 10,000 series a window of all
// values is 7 MB a refresh. What is drawn equals a full snapshot's
// values, and a refresh reuses the memory of the snapshot it showed.
func TestRefreshCopiesOnlyTheSeriesDrawn(t *testing.T) {
	a, in := newTestApp(themes.Mono(), 100, 30, 60)
	at := in.store.Now()
	var extra []sources.Series
	for i := 0; i < 200; i++ {
		extra = append(extra, sources.Series{Name: fmt.Sprintf("servers.web-%03d.load", i), Unit: "count", Role: sources.RoleUnknown,
			Node: fmt.Sprintf("web-%03d", i), Points: []sources.Point{{T: at, V: float64(i)}}})
	}
	in.store.Apply(&sources.Batch{Source: "many", Type: "graphite", At: at, Series: extra})
	a.Update(DataMsg{})
	first := &a.snap.Series[0]
	in.advance(1)
	a.Update(DataMsg{})
	in.advance(1)
	a.Update(DataMsg{})
	if got := &a.snap.Series[0]; got != first {
		t.Errorf("a refreshed snapshot is in new memory, not the one shown's")
	}
	screen := ansi.Strip(a.render())
	want := in.store.Snapshot(a.snap.Start, a.until, nil)
	if a.snap.N != want.N || len(a.snap.Series) != len(want.Series) {
		t.Fatalf("refreshed %d buckets × %d series, a new snapshot %d × %d", a.snap.N, len(a.snap.Series), want.N, len(want.Series))
	}
	loaded := 0
	for i := range want.Series {
		s := &a.snap.Series[i]
		if s.Key != want.Series[i].Key {
			t.Fatalf("series %d: %s, a new snapshot has %s", i, s.Key, want.Series[i].Key)
		}
		if s.Values == nil {
			continue
		}
		loaded++
		if fmt.Sprint(s.Values) != fmt.Sprint(want.Series[i].Values) {
			t.Errorf("%s: drawn from %v, the store holds %v", s.Key, s.Values, want.Series[i].Values)
		}
	}
	if loaded == 0 || loaded > 30 {
		t.Errorf("%d of %d series' values copied for one Overview frame:\n%s", loaded, len(want.Series), screen)
	}
	if !strings.Contains(screen, "+") || !strings.Contains(screen, "more") {
		t.Errorf("the Overview does not say more series are held:\n%s", screen)
	}
	// a series scrolled to later is copied then, from the same window
	s := &a.snap.Series[len(a.snap.Series)-1]
	if s.Values != nil {
		t.Fatalf("%s was copied without being drawn", s.Key)
	}
	if got := a.snap.Load(s); fmt.Sprint(got) != fmt.Sprint(want.Series[len(want.Series)-1].Values) {
		t.Errorf("%s loaded later: %v, the store holds %v", s.Key, got, want.Series[len(want.Series)-1].Values)
	}
}
