package ui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// feed runs a command and hands its message to the app, as Bubble Tea
// would.
func feed(a *App, cmd tea.Cmd) {
	for cmd != nil {
		msg := cmd()
		if msg == nil {
			return
		}
		_, cmd = a.Update(msg)
	}
}

// pickerOf is the Graphs view's picker, nil when closed.
func pickerOf(a *App) *picker {
	for _, v := range a.views {
		if g, ok := v.(*graphsView); ok {
			return g.picker
		}
	}
	return nil
}

func TestPickerBrowsesTheTreeAndAddsASeries(t *testing.T) {
	tree := map[string][]sources.BrowseNode{
		"":                 {{ID: "graphite", Text: "graphite"}},
		"graphite":         {{ID: "graphite/servers", Text: "servers"}},
		"graphite/servers": {{ID: "graphite/servers.db-1", Text: "db-1"}},
		"graphite/servers.db-1": {
			{ID: "graphite/servers.db-1.load", Text: "load", Leaf: true},
			{ID: "graphite/servers.db-1.cpu\x1b[31m", Text: "cpu\x1b[31m", Leaf: true},
		},
	}
	var browsed []string
	var added []string
	in := newIncident()
	in.advance(20)
	a := newAppOver(in, Options{Theme: themes.Mono(),
		Browse: func(ctx context.Context, path string) ([]sources.BrowseNode, error) {
			browsed = append(browsed, path)
			return tree[path], nil
		},
		AddSeries: func(id string) error { added = append(added, id); return nil },
	}, 80, 24)

	_, cmd := a.Update(keyMsg("a")) // on Overview: not the picker
	if pickerOf(a) != nil {
		t.Fatal("a opened the picker outside Graphs")
	}
	feed(a, cmd)
	pressKeys(a, "2")
	_, cmd = a.Update(keyMsg("a"))
	feed(a, cmd)
	if pickerOf(a) == nil || !strings.Contains(plain(a), "Add a series") || !strings.Contains(plain(a), "graphite") {
		t.Fatalf("picker not shown:\n%s", plain(a))
	}
	for i := 0; i < 3; i++ { // graphite → servers → db-1
		_, cmd = a.Update(keyMsg("enter"))
		feed(a, cmd)
	}
	screen := plain(a)
	if !strings.Contains(screen, "graphite/servers.db-1") || !strings.Contains(screen, "load") {
		t.Fatalf("not at db-1:\n%s", screen)
	}
	if strings.Contains(a.View().Content, "\x1b[31m") {
		t.Error("an escape sequence from the tree reached the screen")
	}
	_, cmd = a.Update(keyMsg("enter")) // add "load"
	feed(a, cmd)
	if len(added) != 1 || added[0] != "graphite/servers.db-1.load" {
		t.Fatalf("added %q", added)
	}
	if !strings.Contains(plain(a), "added graphite/servers.db-1.load") {
		t.Errorf("no word of the add:\n%s", plain(a))
	}
	_, cmd = a.Update(keyMsg("left"))
	feed(a, cmd)
	if pickerOf(a).path != "graphite/servers" {
		t.Errorf("left went to %q", pickerOf(a).path)
	}
	a.Update(keyMsg("esc"))
	if pickerOf(a) != nil {
		t.Error("esc did not close the picker")
	}
	if strings.Join(browsed, "|") != "|graphite|graphite/servers|graphite/servers.db-1|graphite/servers" {
		t.Errorf("browsed %q", browsed)
	}
}
