package cli

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/internal/serve"
	"github.com/opsview/opsview/ui"
)

// f in a served session follows the first engineer's view and cursor.
func TestFollowKeyShowsTheFirstSessionsPosition(t *testing.T) {
	hub := serve.NewFollow()
	defer hub.Join("ana")()
	defer hub.Join("bo")()
	ana, bo := &pairing{hub: hub, id: "ana"}, &pairing{hub: hub, id: "bo"}
	at := time.Date(2026, 11, 20, 14, 3, 20, 0, time.UTC)
	ana.publish(ui.Position{View: "Graphs", Cursor: at, Window: time.Hour, Filter: "db-1"})

	handled, cmd := bo.key(tea.KeyPressMsg{Code: 'f', Text: "f"}, nil)
	if !handled || cmd == nil || bo.badge() != "following" {
		t.Fatalf("f: handled %v, badge %q", handled, bo.badge())
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no position arrived")
	}
	pm, ok := msg.(ui.PositionMsg)
	if !ok || pm.View != "Graphs" || !pm.Cursor.Equal(at) || pm.Window != time.Hour || pm.Filter != "db-1" || pm.Next == nil {
		t.Fatalf("got %#v", msg)
	}
	// f again stops following; the pending wait ends without a position
	next := make(chan tea.Msg, 1)
	go func() { next <- pm.Next() }()
	bo.key(tea.KeyPressMsg{Code: 'f', Text: "f"}, nil)
	select {
	case m := <-next:
		if m != nil {
			t.Errorf("after unfollow got %#v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end after unfollow")
	}
	if bo.badge() != "" {
		t.Errorf("badge %q after unfollow", bo.badge())
	}
}
