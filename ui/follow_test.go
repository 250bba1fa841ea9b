package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/themes"
)

// Two engineers pairing: what the first does (view, cursor, zoom, filter)
// the second, following, sees.
func TestFollowingShowsTheLeadersPosition(t *testing.T) {
	var published []Position
	opt := Options{Theme: themes.Mono(), OnPosition: func(p Position) { published = append(published, p) }}
	in := newIncident()
	in.advance(40)
	leader := newAppOver(in, opt, 80, 24)
	follower := newAppOver(in, Options{Theme: themes.Mono()}, 120, 40)

	pressKeys(leader, "2", "left", "left", "]")
	if len(published) == 0 {
		t.Fatal("nothing published")
	}
	last := published[len(published)-1]
	if last.View != "Graphs" || last.Cursor.IsZero() || last.Window == follower.Position().Window {
		t.Fatalf("leader published %+v", last)
	}
	n := len(published)
	leader.Update(DataMsg{}) // no change of position: nothing new published
	if len(published) != n {
		t.Errorf("published again without a change: %+v", published[n:])
	}

	var next bool
	follower.Update(PositionMsg{Position: last, Next: func() tea.Msg { next = true; return nil }})
	got := follower.Position()
	if got.View != "Graphs" || !got.Cursor.Equal(last.Cursor) || got.Window != last.Window {
		t.Fatalf("follower shows %+v, leader %+v", got, last)
	}
	_, cmd := follower.Update(PositionMsg{Position: last, Next: func() tea.Msg { next = true; return nil }})
	if cmd == nil {
		t.Fatal("Next not returned")
	}
	cmd()
	if !next {
		t.Error("Next did not run")
	}
}
