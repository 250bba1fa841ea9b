package ui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// Store is what the app reads: a window of the aligned store.
// *correlate.Store satisfies it.
type Store interface {
	Snapshot(from, until time.Time, filter correlate.Filter) *correlate.Snapshot
	Step() time.Duration
	Now() time.Time
}

// snapshotMeta is a Store that can take a window's metadata alone and
// copy a series' values when a view first draws it (*correlate.Store
// can): at 10,000 series a 15-minute window is 7 MB of values, of which
// a screen draws a dozen series. The screen refreshes into the memory of
// the snapshot it showed (a frame once drawn reads it no more).
type snapshotMeta interface {
	SnapshotMeta(old *correlate.Snapshot, from, until time.Time, filter correlate.Filter) *correlate.Snapshot
}

// StoreReader is the earlier name of Store.
type StoreReader = Store

// Options configure the app.
type Options struct {
	Store Store
	// Findings returns the engine's current findings; it must be safe to
	// call from the UI goroutine. May be nil.
	Findings func() []correlate.Finding
	// FindingsAt returns the findings that were active at the instant at (opened at or
	// before it, not resolved by then); the zero time means now. May be nil: then
	// Findings is used for every instant.
	FindingsAt func(at time.Time) []correlate.Finding
	// Paths returns the engine's latest path verdicts (what its path rule concluded);
	// the Paths view draws these and never triangulates itself. May be nil: no verdicts.
	Paths func() []correlate.PathVerdict
	// Unusual returns the engine's unusual flags (where a symptom began
	// doing something it had not done lately); the Graphs view marks them
	// on the symptom's chart. May be nil: no marks.
	Unusual func() []correlate.Unusual
	// Clock, when set, says the program replays a recording: the header shows
	// "REPLAY 10×" (or "REPLAY ❚❚" paused) and the replay clock instead of LIVE.
	Clock func() Clock
	// Warming returns what the engine cannot judge yet for want of a
	// baseline (see correlate.Session.Warming). May be nil.
	Warming func() []correlate.Warming
	// Changes returns the findings timeline (openings, updates, closings),
	// oldest first; the Events view shows it beside the sources' events.
	// May be nil.
	Changes func() []correlate.Change
	Theme   *themes.Theme // nil: dark
	ASCII   bool          // no braille, no box drawing
	// Mode is shown in the header: "live", "demo (no config)", "replay".
	// It may be shortened or left out when the header is short of room.
	Mode string
	// ClockNote, when set, follows the header's clock: what the clock is
	// when it is not the wall clock ("demo clock" for scenario time).
	ClockNote string
	// Warning, when set, is said in the header after the clock and never
	// left out, only shortened ("recording cut short: the recorder
	// stopped mid-write"): what a person must not miss about the run.
	Warning string
	// Window is the initial visible span (default 15m).
	Window time.Duration
	// KeyOverrides remaps actions (see Actions) to other keys.
	KeyOverrides map[string][]string
	// Location is the time zone of clocks and axes (default time.Local).
	Location *time.Location
	// Logf receives the app's log lines; never the screen. May be nil.
	Logf func(string, ...any)
	// OnKey lets the mode (replay, recording) take keys the active view
	// did not; ModeKeys lists them for help. OnKey must not block.
	OnKey    func(tea.KeyPressMsg, *Context) (handled bool, cmd tea.Cmd)
	ModeKeys []key.Binding
	// Updates, when set, signals new data (instead of the caller sending
	// DataMsg through its program): used where the program is not the
	// caller's to hold, as in a session served over SSH.
	Updates <-chan struct{}
	// OnPosition, when set, hears every change of view, cursor, window or
	// filter (a pairing session publishes it for others to follow).
	OnPosition func(Position)
	// Browse and AddSeries, when set, give the Graphs view a series picker
	// (`a`): Browse lists the children of a path ("" for the sources),
	// AddSeries starts polling a leaf. Both are called from commands, never
	// Update.
	Browse    func(ctx context.Context, path string) ([]sources.BrowseNode, error)
	AddSeries func(id string) error
	// Badge, when set, is shown in the header after LIVE/PAUSED (e.g.
	// "● REC"); it must be cheap and safe to call from the UI goroutine.
	Badge func() string
}

// DataMsg tells the app the store changed. The program's wiring sends it
// (program.Send) after applying batches; the app then takes a snapshot.
type DataMsg struct{}

// Windows are the zoom steps of `[` and `]`.
var Windows = []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// Minimum terminal size.
const (
	MinWidth  = 80
	MinHeight = 20
)

// App is the root model: header, tabs, the active view, footer, help and
// filter. It redraws only on data, a key or a resize, and caches the frame
// in between.
type App struct {
	opt   Options
	keys  KeyMap
	views []View
	tab   int

	w, h    int
	window  time.Duration
	paused  bool
	until   time.Time // start of the newest visible bucket
	cursor  time.Time // zero: live
	liveNow time.Time // the store's newest time, followed while paused

	filter    string
	filtering bool
	prompt    *PromptMsg // asking for one line of text (an annotation)
	published Position   // last position handed to OnPosition
	input     textinput.Model
	help      bool
	helpOff   int // first line of help shown when it scrolls

	snap      *correlate.Snapshot
	findings  []correlate.Finding // active at the instant shown
	incidents []correlate.Incident
	shownAt   time.Time // the instant findings were taken at (zero: now)
	paths     []correlate.PathVerdict
	clock     Clock // the replay's clock as last read (zero without one)
	changes   []correlate.Change
	unusual   []correlate.Unusual

	frame  string
	dirty  bool
	frames atomic.Int64 // frames built, for tests and benchmarks
}

// New makes the app.
func New(opt Options) *App {
	if opt.Theme == nil {
		opt.Theme = themes.Dark()
	}
	if opt.Window <= 0 {
		opt.Window = 15 * time.Minute
	}
	if opt.Location == nil {
		opt.Location = time.Local
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	a := &App{opt: opt, keys: DefaultKeyMap(), window: opt.Window, dirty: true}
	a.readClock()
	if opt.ASCII {
		a.keys.asciiHelp()
	}
	if err := a.keys.Override(opt.KeyOverrides); err != nil {
		opt.Logf("ui: %v", err)
	}
	for _, mk := range registry {
		a.views = append(a.views, mk(&a.keys, &a.opt))
	}
	a.input = textinput.New()
	a.input.Prompt = "/"
	a.input.Placeholder = "series name"
	a.input.CharLimit = 80
	st := a.input.Styles()
	st.Cursor.Blink = false // a blinking cursor is a free-running tick
	st.Focused.Prompt = opt.Theme.Key
	st.Focused.Text = opt.Theme.Base
	st.Focused.Placeholder = opt.Theme.Muted
	a.input.SetStyles(st)
	a.refresh()
	return a
}

// Keys returns the app's keymap (after overrides).
func (a *App) Keys() KeyMap { return a.keys }

// Init implements tea.Model. There is no tick: the app waits for data,
// keys and resizes.
func (a *App) Init() tea.Cmd { return a.waitData() }

// waitData turns the next signal on Options.Updates into a DataMsg.
func (a *App) waitData() tea.Cmd {
	ch := a.opt.Updates
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		if _, ok := <-ch; !ok {
			return nil
		}
		return DataMsg{}
	}
}

// Update implements tea.Model.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := a.update(msg)
	if a.opt.OnPosition != nil {
		if p := a.Position(); p != a.published {
			a.published = p
			a.opt.OnPosition(p)
		}
	}
	return m, cmd
}

func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cursor := a.cursor
	cmd := a.take(msg)
	if !a.cursor.Equal(cursor) {
		a.loadFindings()
	}
	if a.readClock() {
		a.dirty = true
	}
	if _, key := msg.(tea.KeyPressMsg); !key {
		cmd = tea.Batch(cmd, a.broadcast(msg))
	}
	return a, cmd
}

// broadcast hands a message that is not a key to every view, after the
// shell has taken it in, so a view sees the new data, size or answer.
func (a *App) broadcast(msg tea.Msg) tea.Cmd {
	ctx := a.context(a.bodyHeight())
	var cmds []tea.Cmd
	for _, v := range a.views {
		c := ctx
		if handled, cmd := v.Update(msg, &c); handled {
			a.dirty = true
			cmds = append(cmds, cmd)
		}
	}
	return tea.Batch(cmds...)
}

// readClock reads the replay's clock; it reports a change.
func (a *App) readClock() bool {
	if a.opt.Clock == nil {
		return false
	}
	c := a.opt.Clock()
	if c == a.clock {
		return false
	}
	a.clock = c
	return true
}

// take is the shell's own part of a message.
func (a *App) take(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if msg.Width != a.w || msg.Height != a.h {
			a.w, a.h = msg.Width, msg.Height
			a.input.SetWidth(max(a.w-30, 10))
			a.dirty = true
		}
	case DataMsg:
		if a.paused && a.opt.Store != nil {
			// the window stays; the header says how far live has moved on
			if now := a.opt.Store.Now(); !now.Equal(a.liveNow) {
				a.liveNow = now
				a.dirty = true
			}
		}
		if !a.paused {
			oldW, oldF, oldP := windowOf(a.snap), a.findings, a.paths
			a.refresh()
			// a DataMsg with nothing new (same store version and window,
			// same findings and verdicts) builds no frame
			if oldW != windowOf(a.snap) || !sameFindings(oldF, a.findings) || !samePaths(oldP, a.paths) {
				a.dirty = true
			}
		}
		if a.opt.Updates != nil {
			return a.waitData()
		}
	case GotoMsg:
		a.gotoView(msg)
	case PositionMsg:
		a.follow(msg.Position)
		return msg.Next
	case PromptMsg:
		p := msg
		a.prompt = &p
		a.input.Prompt = clean(p.Label) + ": "
		a.input.Placeholder = ""
		a.input.Reset()
		a.input.CharLimit = 500
		a.dirty = true
		return a.input.Focus()
	case tea.KeyPressMsg:
		return a.key(msg)
	}
	return nil
}

func (a *App) gotoView(m GotoMsg) {
	for i, v := range a.views {
		if strings.EqualFold(v.Name(), m.View) {
			a.tab = i
		}
	}
	if m.Filter != "" {
		a.filter = m.Filter
	}
	if !m.At.IsZero() {
		a.cursor = m.At
	}
	a.refresh()
	a.dirty = true
}

func (a *App) key(msg tea.KeyPressMsg) tea.Cmd {
	k := &a.keys
	if msg.String() == "ctrl+c" {
		return tea.Quit
	}
	if a.help {
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help, k.Back):
			a.help = false
			a.dirty = true
		case a.helpKey(msg):
			a.dirty = true
		}
		return nil
	}
	if a.prompt != nil {
		switch msg.String() {
		case "enter", "esc":
			p := a.prompt
			text := strings.TrimSpace(a.input.Value())
			a.prompt = nil
			a.input.Blur()
			a.input.Reset()
			a.input.Prompt, a.input.Placeholder, a.input.CharLimit = "/", "series name", 80
			a.dirty = true
			if msg.String() == "enter" && text != "" && p.Submit != nil {
				return p.Submit(text)
			}
			return nil
		default:
			var cmd tea.Cmd
			a.input, cmd = a.input.Update(msg)
			a.dirty = true
			return cmd
		}
	}
	if a.filtering {
		switch msg.String() {
		case "enter":
			a.filter = strings.TrimSpace(a.input.Value())
			a.filtering = false
			a.input.Blur()
			a.refresh()
		case "esc":
			a.filter = ""
			a.filtering = false
			a.input.Blur()
			a.input.Reset()
			a.refresh()
		default:
			var cmd tea.Cmd
			a.input, cmd = a.input.Update(msg)
			a.dirty = true
			return cmd
		}
		a.dirty = true
		return nil
	}
	ctx := a.context(a.bodyHeight())
	if handled, cmd := a.views[a.tab].Update(msg, &ctx); handled {
		a.dirty = true
		return cmd
	}
	if a.opt.OnKey != nil {
		if handled, cmd := a.opt.OnKey(msg, &ctx); handled {
			a.dirty = true
			return cmd
		}
	}
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		a.help, a.helpOff = true, 0
	case key.Matches(msg, k.Pause):
		a.paused = !a.paused
		if !a.paused {
			a.refresh()
		}
	case key.Matches(msg, k.ZoomIn):
		a.zoom(-1)
	case key.Matches(msg, k.ZoomOut):
		a.zoom(+1)
	case key.Matches(msg, k.Filter):
		a.filtering = true
		a.input.SetValue(a.filter)
		a.input.CursorEnd()
		a.dirty = true
		return a.input.Focus()
	case key.Matches(msg, k.NextView):
		a.tab = (a.tab + 1) % len(a.views)
	case key.Matches(msg, k.PrevView):
		a.tab = (a.tab + len(a.views) - 1) % len(a.views)
	case key.Matches(msg, k.Views):
		n := int(msg.String()[0] - '1')
		if len(msg.String()) != 1 || n < 0 || n >= len(a.views) {
			return nil
		}
		a.tab = n
	case key.Matches(msg, k.Left):
		a.moveCursor(-1)
	case key.Matches(msg, k.Right):
		a.moveCursor(+1)
	case key.Matches(msg, k.Live):
		a.cursor = time.Time{}
	case key.Matches(msg, k.Back):
		switch {
		case a.filter != "":
			a.filter = ""
			a.input.Reset()
			a.refresh()
		case !a.cursor.IsZero():
			a.cursor = time.Time{}
		default:
			return nil
		}
	default:
		return nil // not ours: nothing changed, nothing to redraw
	}
	a.dirty = true
	return nil
}

func (a *App) zoom(dir int) {
	i := 0
	for j, w := range Windows {
		if w <= a.window {
			i = j
		}
	}
	i += dir
	if i < 0 || i >= len(Windows) {
		return
	}
	a.window = Windows[i]
	a.refresh()
}

// moveCursor moves the time cursor by one chart column's worth of buckets
// (at least one bucket).
func (a *App) moveCursor(dir int) {
	if a.snap == nil || a.snap.N == 0 {
		return
	}
	step := a.snap.Step
	per := a.snap.N / max(a.w-yLabelW, 1) // one chart cell
	if per < 1 {
		per = 1
	}
	last := a.snap.Time(a.snap.N - 1)
	cur := a.cursor
	if cur.IsZero() {
		cur = last
	}
	cur = cur.Add(time.Duration(dir*per) * step)
	switch {
	case !cur.Before(last) && dir > 0:
		a.cursor = time.Time{}
	case cur.Before(a.snap.Start):
		a.cursor = a.snap.Start
	default:
		a.cursor = cur
	}
}

// refresh takes a snapshot of the visible window. Memory only: the store
// copies under a read lock; nothing here does I/O.
func (a *App) refresh() {
	if a.opt.Store == nil {
		return
	}
	step := a.opt.Store.Step()
	if step <= 0 {
		return
	}
	if !a.paused || a.until.IsZero() {
		now := a.opt.Store.Now()
		if now.IsZero() {
			return
		}
		a.until = floorTime(now, step)
	}
	from := a.until.Add(-a.window + step)
	var f correlate.Filter
	if a.filter != "" {
		flt := a.filter
		f = func(m *correlate.SeriesMeta) bool { return matchFilter(flt, m.Key, m.Node) }
	}
	if sm, ok := a.opt.Store.(snapshotMeta); ok {
		a.snap = sm.SnapshotMeta(a.snap, from, a.until, f)
	} else {
		a.snap = a.opt.Store.Snapshot(from, a.until, f)
	}
	if !a.cursor.IsZero() && a.cursor.Before(a.snap.Start) {
		a.cursor = a.snap.Start
	}
	if a.opt.Paths != nil {
		a.paths = a.opt.Paths()
	}
	if a.opt.Changes != nil {
		a.changes = a.opt.Changes()
	}
	if a.opt.Unusual != nil {
		a.unusual = a.opt.Unusual()
	}
	a.loadFindings()
}

// shownInstant is the instant the screen shows: zero when live (now), the
// frozen newest time when paused, else the bucket under the cursor.
func (a *App) shownInstant() time.Time {
	if a.snap == nil || a.snap.N == 0 {
		return time.Time{}
	}
	if a.cursor.IsZero() {
		if a.paused {
			return a.snap.Now
		}
		return time.Time{}
	}
	c := a.context(0)
	return CursorTime(&c)
}

// loadFindings takes the findings active at the instant shown and folds
// them into incidents.
func (a *App) loadFindings() {
	at := a.shownInstant()
	var fs []correlate.Finding
	switch {
	case a.opt.FindingsAt != nil:
		fs = a.opt.FindingsAt(at)
	case a.opt.Findings != nil:
		fs = a.opt.Findings()
	}
	kept := make([]correlate.Finding, 0, len(fs))
	for i := range fs {
		if activeAt(&fs[i], at) {
			kept = append(kept, fs[i])
		}
	}
	correlate.SortFindings(kept)
	a.findings, a.shownAt = kept, at
	a.incidents = correlate.Incidents(kept)
}

// activeAt: opened at or before at and not resolved by then; with the
// zero time, not resolved. Findings only has the present's findings, so
// without FindingsAt a past instant loses those opened since, and cannot
// bring back those resolved since.
func activeAt(f *correlate.Finding, at time.Time) bool {
	if at.IsZero() {
		return f.Active()
	}
	return !f.Opened.After(at) && (f.Resolved.IsZero() || f.Resolved.After(at))
}

// window is what says a snapshot shows something new: the store's
// version and the window's place.
type window struct {
	taken      bool
	version    uint64
	start, now int64
	n          int
}

func windowOf(s *correlate.Snapshot) window {
	if s == nil {
		return window{}
	}
	return window{true, s.Version, s.Start.UnixNano(), s.Now.UnixNano(), s.N}
}

func sameFindings(a, b []correlate.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Severity != b[i].Severity || a[i].Title != b[i].Title || a[i].Active() != b[i].Active() {
			return false
		}
	}
	return true
}

func samePaths(a, b []correlate.PathVerdict) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Target != b[i].Target || a[i].Kind != b[i].Kind || a[i].Text != b[i].Text || a[i].Persistent != b[i].Persistent {
			return false
		}
	}
	return true
}

func floorTime(t time.Time, step time.Duration) time.Time {
	n := t.UnixNano()
	b := n / int64(step)
	if n < 0 && n%int64(step) != 0 {
		b--
	}
	return time.Unix(0, b*int64(step)).In(t.Location())
}

// context builds what the views draw from.
func (a *App) context(h int) Context {
	sym := themes.UnicodeSymbols
	if a.opt.ASCII {
		sym = themes.ASCIISymbols
	}
	c := Context{
		Theme: a.opt.Theme, Symbols: sym, ASCII: a.opt.ASCII,
		Snap: a.snap, Findings: a.findings, Incidents: a.incidents, Paths: a.paths, Changes: a.changes, Unusual: a.unusual, Cursor: -1,
		Window: a.window, Filter: a.filter, Paused: a.paused,
		Width: a.w, Height: h, Loc: a.opt.Location,
	}
	if a.opt.Warming != nil {
		c.Warming = a.opt.Warming()
	}
	if a.snap != nil && !a.cursor.IsZero() && a.snap.N > 0 {
		i := a.snap.Index(a.cursor)
		c.Cursor = min(max(i, 0), a.snap.N-1)
	}
	return c
}

func (a *App) bodyHeight() int { return max(a.h-3, 0) }

// View implements tea.Model. The frame is rebuilt only when something
// changed since the last one.
func (a *App) View() tea.View {
	if a.dirty {
		a.frame = a.render()
		a.dirty = false
		a.frames.Add(1)
	}
	v := tea.NewView(a.frame)
	v.AltScreen = true
	return v
}

// Frames is how many frames the app has built.
func (a *App) Frames() int { return int(a.frames.Load()) }

func (a *App) render() string {
	w, h := a.w, a.h
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < MinWidth || h < MinHeight {
		msg := fmt.Sprintf("need %dx%d, have %dx%d", MinWidth, MinHeight, w, h)
		lines := make([]string, h)
		lines[h/2] = strings.Repeat(" ", max((w-len(msg))/2, 0)) + msg
		return box(lines, w, h)
	}
	bh := a.bodyHeight()
	ctx := a.context(bh)
	var body string
	if a.help {
		body = a.renderHelp(&ctx)
	} else {
		body = a.views[a.tab].Render(&ctx)
	}
	lines := make([]string, 0, h)
	lines = append(lines, a.header(&ctx)...)
	// a view that draws more or fewer lines than it was given must not
	// push the footer off the screen
	bl := splitLines(body)
	if len(bl) > bh {
		bl = bl[:bh]
	}
	for len(bl) < bh {
		bl = append(bl, "")
	}
	lines = append(lines, bl...)
	lines = append(lines, a.footer(&ctx))
	out := box(lines, w, h)
	if a.opt.ASCII {
		// what a view or a source still wrote outside ASCII, one cell for
		// one so the frame keeps its widths
		out = asciiCells.Replace(out)
	}
	return out
}

// asciiCells replaces, cell for cell, the signs outside ASCII that text
// may still hold under --ascii (a headline's ←, a source's ×, the … of a
// cut name, the — of no value).
var asciiCells = strings.NewReplacer("…", "~", "—", "-", "←", "<", "→", ">", "↑", "^", "↓", "v", "×", "x", "·", "-", "−", "-", "▸", ">", "▾", "v", "◀", "<", "▶", ">", "•", "*", "✔", "+", "✖", "X", "▲", "!", "▼", "v")

// worstFirst is the indexes of sts, the worst health first, else in the
// sources' order.
func worstFirst(sts []sources.Status) []int {
	order := make([]int, len(sts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return healthLevel(sts[order[i]].Health) > healthLevel(sts[order[j]].Health) })
	return order
}

// header is two lines: clock, live/paused, mode and the sources' health
// (in the sources' order when all fit, else the worst first, so a failing
// source is never the one cut off); then
// the tabs with the window and filter.
func (a *App) header(c *Context) []string {
	t := c.Theme
	hs := t.Header
	on := func(s lipgloss.Style) lipgloss.Style { return s.Inherit(hs) }
	sep := hs.Render("  ")
	clock := "--:--:--"
	switch {
	case a.clock.Replay && !a.clock.At.IsZero():
		clock = a.clock.At.In(a.opt.Location).Format("15:04:05 MST")
	case a.snap != nil:
		clock = a.snap.Now.In(a.opt.Location).Format("15:04:05 MST")
	}
	if n := clean(a.opt.ClockNote); n != "" {
		clock += " (" + n + ")"
	}
	fixed := hs.Render(" ") + hs.Render(clock) + sep + a.timeState(c)
	if a.opt.Badge != nil {
		if b := clean(a.opt.Badge()); b != "" {
			fixed += sep + on(t.Critical).Render(b)
		}
	}
	if warn := textFor(c, clean(a.opt.Warning)); warn != "" {
		// it takes what is left but for a sources count, and is cut
		// at its end: its first words say what happened
		room := max(c.Width-lipgloss.Width(fixed)-2-ansi.StringWidth(c.Symbols.Warning)-1-4, 10)
		fixed += sep + on(t.Warning).Render(c.Symbols.Warning+" "+trunc(warn, room))
	}
	var items []string
	var itemsW int
	var sts []sources.Status
	if a.snap != nil {
		sts = a.snap.Status
		for i := range sts {
			st := &sts[i]
			// the mark carries the colour, the name stays in the bar's: a
			// flip then rewrites one cell
			sym, name := healthSym(c.Symbols, st.Health), " "+trunc(clean(st.Source), 20)
			items = append(items, on(t.SevStyle(healthLevel(st.Health))).Render(sym)+hs.Render(name))
			itemsW += lipgloss.Width(sym+name) + 1
		}
	}
	mode := textFor(c, clean(a.opt.Mode))
	// the product name goes first when the line is short of room
	title := on(t.Title).Render(" opsview") + hs.Render(" ")
	room := c.Width - lipgloss.Width(fixed) - 2 - itemsW - 2
	if room >= lipgloss.Width(mode)+lipgloss.Width(title) {
		fixed = title + fixed
	} else if room < lipgloss.Width(mode) {
		mode = cutAtWord(mode, max(room, 12))
	}
	line := fixed
	if mode != "" {
		line += sep + on(t.Muted).Render(mode)
	}
	if len(items) > 0 {
		line += sep
		used := lipgloss.Width(line)
		if used+itemsW-1 > c.Width {
			// not all fit: the worst first, so a failing source is never
			// the one cut off; when all fit they keep the sources' order,
			// so a health flip changes a mark, not the places of names
			order := worstFirst(sts)
			sorted := make([]string, len(items))
			for k, i := range order {
				sorted[k] = items[i]
			}
			items = sorted
		}
		for i, it := range items {
			rest := len(items) - i - 1
			reserve := 0
			if rest > 0 {
				reserve = len(fmt.Sprintf("+%d", rest)) + 1
			}
			if used+lipgloss.Width(it)+reserve > c.Width {
				line += hs.Render(fmt.Sprintf("+%d", rest+1))
				break
			}
			line += it + hs.Render(" ")
			used += lipgloss.Width(it) + 1
		}
	}
	line = endCell(fitStyled(line, c.Width-1, hs), hs)

	// the right end says the window and the filter; when it and the tabs
	// do not fit, the padding goes first, then the labels' words, then the
	// filter's end; the names of the tabs not shown go last (the digits
	// stay), since they say where each key leads
	rights := []string{t.Muted.Render("window ") + t.Base.Render(shortDur(a.window))}
	if f := clean(a.filter); f != "" {
		rights = []string{t.Muted.Render("filter ") + t.Key.Render(trunc(f, 20)) + "  " + rights[0]}
		for n := min(ansi.StringWidth(f), 20); n >= 4; n-- {
			rights = append(rights, t.Key.Render("/"+trunc(f, n))+" "+t.Base.Render(shortDur(a.window)))
		}
	}
	tabLine := func(compact int) string {
		var tabs []string
		for i, v := range a.views {
			name := clean(v.Name())
			label := fmt.Sprintf("%d %s", i+1, name)
			if i >= 9 {
				label = name
			}
			if compact == 2 && i != a.tab && i < 9 {
				label = fmt.Sprintf("%d", i+1)
			}
			if compact == 0 {
				label = " " + label + " "
			}
			if i == a.tab {
				tabs = append(tabs, t.TabOn.Render(label))
			} else {
				tabs = append(tabs, t.TabOff.Render(label))
			}
		}
		if compact > 0 {
			return " " + strings.Join(tabs, " ")
		}
		return strings.Join(tabs, "")
	}
	tl, right := tabLine(2), rights[len(rights)-1]
fitting:
	for compact := 0; compact < 2; compact++ {
		for _, r := range rights {
			if l := tabLine(compact); lipgloss.Width(l)+lipgloss.Width(r)+2 <= c.Width {
				tl, right = l, r
				break fitting
			}
		}
	}
	if lipgloss.Width(tl)+lipgloss.Width(right)+2 > c.Width {
		right = rights[0]
	}
	gap := c.Width - lipgloss.Width(tl) - lipgloss.Width(right) - 1
	if gap >= 1 {
		tl += strings.Repeat(" ", gap) + right
	}
	return []string{line, fit(tl, c.Width)}
}

// timeState says which time the screen shows, in words that need no
// colour: LIVE only when it follows the newest data and nothing is
// replayed; else REPLAY with its speed, PAUSED, and, with the cursor in
// the past, the instant and how far it is behind the newest data.
func (a *App) timeState(c *Context) string {
	t := c.Theme
	on := func(s lipgloss.Style) lipgloss.Style { return s.Inherit(t.Header) }
	var parts []string
	if a.clock.Replay {
		parts = append(parts, on(t.Info).Render(replayLabel(a.clock, c.Symbols, c.ASCII)))
	}
	if a.paused {
		p := on(t.Warning).Render(c.Symbols.Paused + " PAUSED")
		if a.snap != nil && a.liveNow.After(a.snap.Now) {
			p += t.Header.Render(" live +" + shortDur(a.liveNow.Sub(a.snap.Now).Round(time.Second)))
		}
		parts = append(parts, p)
	}
	if c.Cursor >= 0 && c.Snap != nil && c.Snap.N > 0 {
		at := c.Snap.Time(c.Cursor)
		back := c.Snap.Time(c.Snap.N - 1).Sub(at)
		arrow, minus := "◀", "−"
		if c.ASCII {
			arrow, minus = "<", "-"
		}
		parts = append(parts, on(t.Cursor).Render(arrow+" "+at.In(c.Loc).Format("15:04:05")+" "+minus+behind(back)))
	}
	if len(parts) == 0 {
		return on(t.OK).Render(c.Symbols.Live + " LIVE")
	}
	return strings.Join(parts, t.Header.Render("  "))
}

// replayLabel is "REPLAY 10×" while a recording plays, "REPLAY ❚❚" while
// it is paused.
func replayLabel(k Clock, sym themes.Symbols, ascii bool) string {
	if !k.Playing {
		return "REPLAY " + sym.Paused
	}
	x := "×"
	if ascii {
		x = "x"
	}
	return "REPLAY " + strconv.FormatFloat(k.Speed, 'f', -1, 64) + x
}

// behind is a distance back in time the way a clock reads: 45s, 2m05s,
// 1h02m.
func behind(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d/time.Second)%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d/time.Minute)%60)
}

// fitStyled pads a line to w with the given style (a header background).
// endCell ends a bar with a concealed blank in the bar's style: it looks
// like the bar's other blanks, but the renderer cannot clear it with an
// erase to the end of the line. A line that ends in such a clearable
// blank is diffed by the renderer (ultraviolet's transformLine, from
// ncurses) with the changed range ending one cell past the last cell that
// changed, and a range that short is written whole: a health flip in the
// header then rewrote the unchanged cell after the mark, with the pen
// change to and from it (12-16 bytes of a 50-byte frame). With the last
// cell not clearable the renderer takes its other path, which ends the
// range at the last changed cell.
func endCell(s string, st lipgloss.Style) string {
	return s + "\x1b[8m" + st.Render(" ") + "\x1b[28m"
}

func fitStyled(s string, w int, st lipgloss.Style) string {
	sw := lipgloss.Width(s)
	if sw > w {
		return fit(s, w)
	}
	return s + st.Render(strings.Repeat(" ", w-sw))
}

// footer shows the active view's keys, then the global ones, cut to the
// width; while filtering it is the filter input.
func (a *App) footer(c *Context) string {
	t := c.Theme
	if a.prompt != nil {
		return fit(a.input.View()+"  "+t.Muted.Render("enter save, esc cancel"), c.Width)
	}
	if a.filtering {
		return fit(a.input.View()+"  "+t.Muted.Render("enter apply, esc clear"), c.Width)
	}
	var b strings.Builder
	used := 0
	add := func(k key.Binding) bool {
		if !k.Enabled() {
			return true
		}
		hp := k.Help()
		hp.Key = keyName(c, hp.Key)
		item := hp.Key + " " + hp.Desc
		n := len([]rune(item)) + 2
		if used+n > c.Width-1 {
			return false
		}
		b.WriteString(t.Key.Render(hp.Key) + " " + t.Muted.Render(hp.Desc) + "  ")
		used += n
		return true
	}
	var list []key.Binding
	if a.help {
		list = []key.Binding{a.keys.Back, a.keys.Quit}
		if len(a.helpLayout(c, c.Width-1, a.helpPage())) > a.helpPage() {
			list = append(list, a.keys.Down, a.keys.Up, a.keys.PageDn, a.keys.PageUp)
		}
	} else {
		// help first: whatever is cut off, ? still says where the rest is
		list = append(list, a.keys.Help)
		list = append(list, a.views[a.tab].Keys()...)
		list = append(list, a.keys.footerGlobal()...)
	}
	for _, k := range list {
		add(k) // a long one that does not fit may let a short one through
	}
	return fit(" "+b.String(), c.Width)
}

// helpBlock is one titled list of keys in help.
type helpBlock struct {
	title string
	keys  []key.Binding
}

// helpBlocks are help's lists: the active view's own keys first (what the
// reader is looking at), then the mode's (replay, recording), then the
// global ones, all generated from the keymaps.
func (a *App) helpBlocks() []helpBlock {
	v := a.views[a.tab]
	global := a.keys.Global()
	seen := map[key.Help]bool{}
	for _, g := range global {
		seen[g.Help()] = true
	}
	enabled := func(ks []key.Binding) []key.Binding {
		var out []key.Binding
		for _, k := range ks {
			if k.Enabled() && k.Help().Key != "" && !seen[k.Help()] {
				seen[k.Help()] = true
				out = append(out, k)
			}
		}
		return out
	}
	var out []helpBlock
	// the view's own keys, without the global ones it repeats for the footer
	own := enabled(v.Keys())
	if len(own) > 0 {
		out = append(out, helpBlock{clean(v.Name()) + " keys", own})
	}
	if mk := enabled(a.opt.ModeKeys); len(mk) > 0 {
		out = append(out, helpBlock{"Mode keys", mk})
	}
	var gl []key.Binding
	for _, k := range global {
		if k.Enabled() {
			gl = append(gl, k)
		}
	}
	return append(out, helpBlock{"Global keys", gl})
}

// helpLayout lays the help blocks out in w × h cells: in as few columns as
// fit the height, each key's description wrapped, never cut; when even
// three columns do not fit, one column that scrolls. It returns every line
// of the help (more than h when it scrolls).
func (a *App) helpLayout(c *Context, w, h int) []string {
	t := c.Theme
	blocks := a.helpBlocks()
	kw := 0
	for _, b := range blocks {
		for _, k := range b.keys {
			kw = max(kw, ansi.StringWidth(keyName(c, k.Help().Key)))
		}
	}
	kw = min(kw, 12)
	// entry lays one key out in cw cells: the key, then its description
	// wrapped beside it
	entry := func(k key.Binding, cw int) []string {
		hp := k.Help()
		name := keyName(c, hp.Key)
		dw := max(cw-kw-4, 8)
		desc := wrap(textFor(c, clean(hp.Desc)), dw, 6)
		if ansi.StringWidth(name) > kw { // a long remapped key gets its own line
			out := []string{"  " + t.Key.Render(name)}
			for _, d := range desc {
				out = append(out, "  "+strings.Repeat(" ", kw+2)+t.Base.Render(d))
			}
			return out
		}
		out := []string{"  " + t.Key.Render(name+strings.Repeat(" ", kw-ansi.StringWidth(name))) + "  " + t.Base.Render(first(desc))}
		for _, d := range desc[min(1, len(desc)):] {
			out = append(out, "  "+strings.Repeat(" ", kw+2)+t.Base.Render(d))
		}
		return out
	}
	// flow puts the blocks in columns of cw cells and at most h lines; a
	// block's title never ends a column and a key's lines stay together
	flow := func(cw int) [][]string {
		var cols [][]string
		var col []string
		put := func(unit []string, keepWith int) {
			if len(col)+len(unit)+keepWith > h && len(col) > 0 {
				cols = append(cols, col)
				col = nil
			}
			if len(col) == 0 && len(unit) == 1 && unit[0] == "" {
				return // no blank line at the top of a column
			}
			col = append(col, unit...)
		}
		for bi, b := range blocks {
			if bi > 0 {
				put([]string{""}, 0)
			}
			first := entry(b.keys[0], cw)
			put([]string{t.Title.Render(b.title)}, len(first))
			for i, k := range b.keys {
				e := first
				if i > 0 {
					e = entry(k, cw)
				}
				put(e, 0)
			}
		}
		if len(col) > 0 {
			cols = append(cols, col)
		}
		return cols
	}
	const gap = 3
	for n := 1; n <= 3; n++ {
		cw := (w - gap*(n-1)) / n
		if cw < kw+12 {
			break
		}
		cols := flow(cw)
		if len(cols) > n {
			continue
		}
		var lines []string
		for i, col := range cols {
			if i == 0 {
				lines = col
				continue
			}
			lines = hjoin(lines, (cw+gap)*i-gap, col, cw, gap)
		}
		return lines
	}
	return flow1(flow, w)
}

// flow1 is the help in one column of w cells, however long.
func flow1(flow func(int) [][]string, w int) []string {
	var out []string
	for _, col := range flow(w) {
		out = append(out, col...)
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// helpPage is the help's body height: the view area less its title line.
func (a *App) helpPage() int { return max(a.bodyHeight()-2, 1) }

// renderHelp draws help: every key of the active view, the mode and the
// app, in columns that fit, or scrolled by the help's own keys.
func (a *App) renderHelp(c *Context) string {
	t := c.Theme
	page := max(c.Height-2, 1)
	all := a.helpLayout(c, c.Width-1, page)
	// flow with an unbounded height gives the one-column text to scroll
	off := min(a.helpOff, max(len(all)-page, 0))
	title := t.Title.Render(" Help") + t.Muted.Render("  (esc or ? closes)")
	if len(all) > page {
		title += t.Muted.Render(fmt.Sprintf("  lines %d-%d of %d, ", off+1, min(off+page, len(all)), len(all))) +
			t.Key.Render(keyName(c, "↑↓")) + t.Muted.Render(" scroll")
	}
	lines := []string{title, ""}
	for _, l := range all[off:min(off+page, len(all))] {
		lines = append(lines, " "+l)
	}
	return box(lines, c.Width, c.Height)
}

// helpKey moves help's scroll; it reports whether the key was one of its.
func (a *App) helpKey(msg tea.KeyPressMsg) bool {
	k := &a.keys
	c := a.context(a.bodyHeight())
	total := len(a.helpLayout(&c, a.w-1, a.helpPage()))
	last := max(total-a.helpPage(), 0)
	switch {
	case key.Matches(msg, k.Up):
		a.helpOff--
	case key.Matches(msg, k.Down):
		a.helpOff++
	case key.Matches(msg, k.PageUp):
		a.helpOff -= a.helpPage()
	case key.Matches(msg, k.PageDn):
		a.helpOff += a.helpPage()
	case key.Matches(msg, k.Top):
		a.helpOff = 0
	default:
		return false
	}
	a.helpOff = min(max(a.helpOff, 0), last)
	return true
}

// arrowWords names the arrow keys for --ascii terminals, whichever view's
// keymap wrote them.
var arrowWords = strings.NewReplacer("↑", "up", "↓", "down", "←", "left", "→", "right")

// keyName is a key's name as the terminal can show it.
func keyName(c *Context, k string) string {
	if c.ASCII {
		return arrowWords.Replace(k)
	}
	return k
}

// asciiText spells in ASCII the few signs outside it that views and
// keymaps write in text (not in symbols, which themes.ASCIISymbols has).
var asciiText = strings.NewReplacer("←", "<-", "→", "->", "↑", "^", "↓", "v", "×", "x", "·", "-", "−", "-", "—", "-", "▸", ">", "▾", "v", "◀", "<", "▶", ">")

// textFor is text as the terminal can show it: ASCII under --ascii.
func textFor(c *Context, s string) string {
	if c.ASCII {
		return asciiText.Replace(s)
	}
	return s
}

// cutAtWord shortens s to at most n cells at a word boundary outside
// parentheses ("demo (no config)" → "demo"), so a label reads whole; with
// no boundary that fits, it is cut with an ellipsis.
func cutAtWord(s string, n int) string {
	if lipgloss.Width(s) <= n {
		return s
	}
	best := ""
	for i, r := range s {
		// a boundary inside parentheses would leave one open
		if r == ' ' && lipgloss.Width(s[:i]) <= n && strings.Count(s[:i], "(") == strings.Count(s[:i], ")") {
			best = strings.TrimRight(s[:i], " —-(,")
		}
	}
	if best != "" {
		return best
	}
	return trunc(s, n)
}
