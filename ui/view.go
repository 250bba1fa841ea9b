// Package ui is opsview's terminal interface: the app shell (header, tabs,
// help, key handling) and one component per view. It draws what the store's
// snapshots and the engine's findings say; it does no I/O in Update or
// View, and never writes to stdout or stderr outside Bubble Tea.
package ui

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/themes"
)

// Context is what every view draws from. The shell fills it before each
// Update and Render; views must treat it as read-only.
type Context struct {
	Theme   *themes.Theme
	Symbols themes.Symbols
	ASCII   bool // no braille or box drawing

	// Snap is the current window of the store (nil before the first data).
	Snap *correlate.Snapshot
	// Findings are the engine's findings active at the cursor instant (now
	// when live), worst first; Incidents fold them by shared cause, worst
	// first. Views draw these as they are: the shell already chose them.
	Findings  []correlate.Finding
	Incidents []correlate.Incident
	// Warming is what the engine cannot judge yet for want of a
	// baseline, source by source (nil when it can judge everything).
	Warming []correlate.Warming
	// Paths are the engine's latest path verdicts, one per target.
	Paths []correlate.PathVerdict
	// Changes is the findings timeline, oldest first.
	Changes []correlate.Change
	// Unusual are the engine's unusual flags on symptom series.
	Unusual []correlate.Unusual

	// Cursor is the bucket index in Snap under the time cursor; -1 means
	// "follow the newest bucket" (live).
	Cursor int
	// Window is the visible time span (5m, 15m, 1h, 6h, 24h).
	Window time.Duration
	// Filter is the `/` filter text ("" = none); views that list series or
	// rows apply it to names.
	Filter string
	Paused bool
	// Loc is the time zone for clocks and axes (never nil when the shell
	// fills the Context).
	Loc *time.Location

	// Width and Height are the area the view may use (below the header and
	// above the footer). Render must return exactly Height lines, none wider
	// than Width cells.
	Width, Height int
}

// View is one screen of the app: Overview, Graphs, Events, Findings, Load
// balancers, Paths. Views keep their own selection and scroll state.
type View interface {
	// Name is the tab label, short ("Overview", "Graphs").
	Name() string
	// Keys lists the view's own keys for `?` help and the footer.
	Keys() []key.Binding
	// Update hears every message: key presses while the view is active
	// (before the shell's global keys), and every other message (data,
	// resizes, the view's own answers) whether active or not, after the
	// shell has taken it in. handled=false on a key lets the shell act on
	// it; handled=true on any message asks for a new frame.
	Update(msg tea.Msg, c *Context) (handled bool, cmd tea.Cmd)
	// Render draws the view into c.Width × c.Height. It changes no state:
	// the same view and Context draw the same screen.
	Render(c *Context) string
}

// registry is the one list of the app's views, in tab order: the tabs,
// the digit keys, Goto, help and the footer all read the views it makes.
var registry = []func(k *KeyMap, o *Options) View{
	func(k *KeyMap, _ *Options) View { return newOverview(k) },
	func(k *KeyMap, o *Options) View { return newGraphs(k, o.Browse, o.AddSeries) },
	func(k *KeyMap, _ *Options) View { return newEvents(k) },
	func(*KeyMap, *Options) View { return NewFindings() },
	func(*KeyMap, *Options) View { return NewLoadBalancers() },
	func(*KeyMap, *Options) View { return NewPaths() },
}

// Clock is the replay's clock: where a recording is played and how fast.
type Clock struct {
	Replay  bool // the program replays a recording
	Playing bool
	Speed   float64 // 1 is real time
	At      time.Time
}

// GotoMsg asks the shell to switch to the named view, optionally setting
// the series filter (e.g. from a backend row to its graphs).
type GotoMsg struct {
	View   string
	Filter string
	// At moves the time cursor there when not zero.
	At time.Time
}

// Goto is a command producing a GotoMsg.
func Goto(view, filter string) tea.Cmd {
	return func() tea.Msg { return GotoMsg{View: view, Filter: filter} }
}

// PromptMsg asks the user for one line of text in the footer (an
// annotation, say). Enter hands the text to Submit and runs the command it
// returns; Esc cancels.
type PromptMsg struct {
	Label  string
	Submit func(text string) tea.Cmd
}

// instant is the time the screen shows when the cursor is off the newest
// bucket, or the zero time when it follows it.
func instant(c *Context) time.Time {
	if c == nil || c.Cursor < 0 {
		return time.Time{}
	}
	return CursorTime(c)
}

// CursorTime is the time under the cursor in c (the newest bucket when
// live), or the zero time without data.
func CursorTime(c *Context) time.Time {
	if c == nil || c.Snap == nil || c.Snap.N == 0 {
		return time.Time{}
	}
	i := c.Cursor
	if i < 0 || i >= c.Snap.N {
		i = c.Snap.N - 1
	}
	return c.Snap.Time(i)
}
