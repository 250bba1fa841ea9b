package ui

// A minimal shell so the program runs end to end; the full shell (tabs,
// header, graphs, help) replaces this file.

import (
	"fmt"
	"math"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/themes"
)

// StoreReader is what the UI reads from the store.
type StoreReader interface {
	Snapshot(from, until time.Time, filter correlate.Filter) *correlate.Snapshot
	Step() time.Duration
	Now() time.Time
}

// Options configure the app.
type Options struct {
	Store        StoreReader
	Findings     func() []correlate.Finding
	Theme        *themes.Theme
	ASCII        bool
	Mode         string
	Views        []View
	Window       time.Duration
	Logf         func(string, ...any)
	KeyOverrides map[string][]string
}

// DataMsg tells the app that the store or the findings changed.
type DataMsg struct{}

// App is the root model.
type App struct {
	opt  Options
	snap *correlate.Snapshot
	w, h int
}

// New makes the app.
func New(opt Options) *App {
	if opt.Window <= 0 {
		opt.Window = 15 * time.Minute
	}
	if opt.Theme == nil {
		opt.Theme = themes.Dark()
	}
	return &App{opt: opt}
}

func (a *App) Init() tea.Cmd { return nil }

func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		a.w, a.h = m.Width, m.Height
	case DataMsg:
		now := a.opt.Store.Now()
		a.snap = a.opt.Store.Snapshot(now.Add(-a.opt.Window), now, nil)
	case tea.KeyPressMsg:
		if m.String() == "q" || m.String() == "ctrl+c" {
			return a, tea.Quit
		}
	}
	return a, nil
}

func (a *App) View() tea.View {
	var b strings.Builder
	fmt.Fprintf(&b, "opsview — %s\n", a.opt.Mode)
	if a.snap != nil {
		for _, st := range a.snap.Status {
			fmt.Fprintf(&b, "%-12s %s\n", st.Source, st.Health)
		}
		for _, s := range a.snap.Series {
			v, _ := s.Last()
			if !math.IsNaN(v) {
				fmt.Fprintf(&b, "%-50s %8.1f %s\n", s.Key, v, s.Unit)
			}
		}
	}
	v := tea.NewView(b.String())
	v.AltScreen = true
	return v
}
