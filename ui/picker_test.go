package ui

import (
	"context"
	"fmt"
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
	_, cmd = a.Update(keyMsg("enter")) // choose "load": asks first
	feed(a, cmd)
	if len(added) != 0 || !strings.Contains(plain(a), "add graphite/servers.db-1.load and poll it from now on?") {
		t.Fatalf("enter added without asking (%q):\n%s", added, plain(a))
	}
	_, cmd = a.Update(keyMsg("y"))
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

// TestPickerTypedLettersFilterAndNeverAdd: typing /node_load over
// hundreds of names filters them; no letter acts as a command (l used to
// add go_gc_duration_seconds), and nothing is added without a yes.
func TestPickerTypedLettersFilterAndNeverAdd(t *testing.T) {
	var names []sources.BrowseNode
	for _, n := range []string{"go_gc_duration_seconds", "go_goroutines", "node_cpu_seconds_total", "node_load1", "node_load15", "node_load5", "process_open_fds"} {
		names = append(names, sources.BrowseNode{ID: "prometheus/" + n, Text: n, Leaf: true})
	}
	for i := range 300 {
		names = append(names, sources.BrowseNode{ID: fmt.Sprintf("prometheus/x_metric_%03d", i), Text: fmt.Sprintf("x_metric_%03d", i), Leaf: true})
	}
	var added []string
	in := newIncident()
	in.advance(20)
	a := newAppOver(in, Options{Theme: themes.Mono(),
		Browse: func(ctx context.Context, path string) ([]sources.BrowseNode, error) {
			if path == "" {
				return []sources.BrowseNode{{ID: "prometheus", Text: "prometheus"}}, nil
			}
			return names, nil
		},
		AddSeries: func(id string) error { added = append(added, id); return nil },
	}, 80, 24)
	pressKeys(a, "2")
	_, cmd := a.Update(keyMsg("a"))
	feed(a, cmd)
	_, cmd = a.Update(keyMsg("enter"))
	feed(a, cmd)
	for _, r := range "/node_load" {
		_, cmd = a.Update(keyMsg(string(r)))
		feed(a, cmd)
	}
	scr := plain(a)
	if len(added) != 0 || pickerOf(a) == nil {
		t.Fatalf("typing added %q or closed the picker:\n%s", added, scr)
	}
	if !strings.Contains(scr, "/node_load") || !strings.Contains(scr, "node_load15") || strings.Contains(scr, "go_gc_duration_seconds") || strings.Contains(scr, "node_cpu") {
		t.Fatalf("the filter does not keep only node_load*:\n%s", scr)
	}
	pressKeys(a, "down", "enter")
	if len(added) != 0 {
		t.Fatalf("added without asking: %q", added)
	}
	_, cmd = a.Update(keyMsg("n"))
	feed(a, cmd)
	if len(added) != 0 || !strings.Contains(plain(a), "not added") {
		t.Fatalf("n did not decline: %q\n%s", added, plain(a))
	}
	pressKeys(a, "enter")
	_, cmd = a.Update(keyMsg("y"))
	feed(a, cmd)
	if strings.Join(added, ",") != "prometheus/node_load15" {
		t.Fatalf("added %q, want the second node_load match", added)
	}
	pressKeys(a, "esc")
	if pickerOf(a) == nil || pickerOf(a).filter != "" {
		t.Fatal("esc should clear the filter first, then close")
	}
	pressKeys(a, "esc")
	if pickerOf(a) != nil {
		t.Fatal("second esc did not close the picker")
	}
}

// TestAddWithoutABrowsableSourceSaysWhy: in the demo `a` cannot add a
// series; it says so instead of doing nothing.
func TestAddWithoutABrowsableSourceSaysWhy(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 100)
	pressKeys(a, "2", "a")
	if !strings.Contains(plain(a), "no source of this run can list its series to add") {
		t.Fatalf("a says nothing:\n%s", plain(a))
	}
	pressKeys(a, "?")
	if !strings.Contains(plain(a), "add a series (needs a") {
		t.Fatalf("help does not say what a needs:\n%s", plain(a))
	}
}
