package ui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Position is what a session shows: the view, the time under the cursor
// (zero when live), the window and the filter. Pairing sessions publish it
// and follow each other's.
type Position struct {
	View   string
	Cursor time.Time
	Window time.Duration
	Filter string
}

// PositionMsg makes the app show a position (following another engineer);
// Next, when set, runs afterwards (to wait for the next one).
type PositionMsg struct {
	Position
	Next tea.Cmd
}

// Position is what the app shows now.
func (a *App) Position() Position {
	return Position{View: a.views[a.tab].Name(), Cursor: a.cursor, Window: a.window, Filter: a.filter}
}

// follow shows p: the same view, cursor, window and filter.
func (a *App) follow(p Position) {
	for i, v := range a.views {
		if strings.EqualFold(v.Name(), p.View) {
			a.tab = i
		}
	}
	if p.Window > 0 {
		a.window = p.Window
	}
	a.filter = p.Filter
	a.cursor = p.Cursor
	a.refresh()
	a.dirty = true
}
