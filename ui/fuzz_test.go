package ui

import (
	"math"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// FuzzScreens feeds names, units, texts and values from outside through
// every view: the frame keeps its size and no control character from the
// input reaches the terminal.
func FuzzScreens(f *testing.F) {
	f.Add("servers.db-1.cpu.iowait", "%", "Server be_app/app-3 is DOWN", "db-1", 87.5, 3.0)
	f.Add("evil\x1b]0;owned\x07", "ms\x1b[2J", "title\x1b[31mred\r\nnext", "n\u202eode", math.NaN(), math.Inf(1))
	f.Add("宽字符名前", "B/s", "😀 emoji title with wide runes", "ノード", -1e18, 1e-12)
	f.Add("", "", "", "", 0.0, math.Inf(-1))
	f.Fuzz(func(t *testing.T, name, unit, title, node string, v1, v2 float64) {
		st := correlate.NewStore(correlate.StoreOptions{Step: step})
		at := t0
		for i := 0; i < 30; i++ {
			at = t0.Add(time.Duration(i) * step)
			v := v1
			if i%2 == 1 {
				v = v2
			}
			st.Apply(&sources.Batch{Source: node, Type: unit, At: at,
				Series: []sources.Series{{Name: name, Labels: map[string]string{name: node}, Unit: unit, Role: sources.Role(i % 4), Node: node, Points: []sources.Point{{T: at, V: v}}}},
				Events: []sources.Event{{ID: title, Start: at, Severity: sources.Severity(i % 5), Title: title, Text: title + "\n" + name, Node: node}},
				Status: sources.Status{Health: sources.Health(i % 4), LastError: title, Detail: name}})
		}
		fs := []correlate.Finding{{ID: name, Title: title, Node: node, Severity: sources.SevCritical,
			Evidence: []correlate.Evidence{{SeriesKey: node + "/" + sources.SeriesID(name, map[string]string{name: node}), Baseline: v2}}}}
		a := New(Options{Store: st, Findings: func() []correlate.Finding { return fs }, Location: time.UTC, Theme: themes.Dark(), Mode: title})
		a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		a.Update(DataMsg{})
		for _, keys := range [][]string{{"1"}, {"2"}, {"2", "left"}, {"3"}, {"enter"}, {"?"}} {
			pressKeys(a, keys...)
			frame := a.View().Content
			checkFrame(t, frame, 80, 24)
			for _, bad := range []string{"\x07", "\r", "\x1b]", "\x1b[2J", "\u202e"} {
				if strings.Contains(frame, bad) {
					t.Fatalf("after %v the frame contains %q", keys, bad)
				}
			}
		}
	})
}
