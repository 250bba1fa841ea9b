package ui

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// A note made during a replay is marked on every chart at its moment.
func TestNotesAreMarkedOnEveryChart(t *testing.T) {
	in := newIncident()
	in.advance(60)
	a := newAppOver(in, Options{Theme: themes.Mono(), ASCII: true}, 100, 40)
	pressKeys(a, "2")
	before := plain(a)
	at := a.snap.Time(a.snap.N / 2)
	in.store.Apply(&sources.Batch{Source: "notes", Events: []sources.Event{{ID: "n1", Source: "notes", Start: at, End: at,
		Kind: sources.EventNote, Title: "note: volume replaced"}}})
	a.Update(DataMsg{})
	after := plain(a)
	if strings.Count(after, ":") <= strings.Count(before, ":") {
		t.Fatalf("no note mark drawn:\n%s", after)
	}
	// the mark is in the same column on every plot row of every chart
	col, rows := -1, 0
	for _, l := range strings.Split(after, "\n") {
		r := []rune(ansi.Strip(l))
		if len(r) <= yLabelW || r[yLabelW-1] != '|' {
			continue // not a plot row
		}
		for x := yLabelW; x < len(r); x++ {
			if r[x] == ':' {
				if col == -1 {
					col = x
				}
				if x == col {
					rows++
				}
				break
			}
		}
	}
	if rows < 12 {
		t.Errorf("the note mark crosses only %d plot rows", rows)
	}
}

// An alert's start and end are marked on the charts of its node only.
func TestAlertsAreMarkedOnTheChartsOfTheirNode(t *testing.T) {
	markedRows := func(ev sources.Event) int {
		in := newIncident()
		in.advance(60)
		a := newAppOver(in, Options{Theme: themes.Mono(), ASCII: true}, 100, 40)
		pressKeys(a, "2")
		at := a.snap.Time(a.snap.N / 2)
		ev.Start = at
		in.store.Apply(&sources.Batch{Source: "nagios", Events: []sources.Event{ev}})
		a.Update(DataMsg{})
		n := 0
		for _, l := range strings.Split(plain(a), "\n") {
			r := []rune(l)
			if len(r) > yLabelW && r[yLabelW-1] == '|' && strings.ContainsRune(string(r[yLabelW:]), ':') {
				n++
			}
		}
		return n
	}
	alert := sources.Event{ID: "disk", Source: "nagios", Kind: sources.EventAlert, Node: "db-1", Severity: sources.SevCritical,
		Title: "disk /var CRITICAL on db-1", Alert: &sources.Alert{System: "nagios", Check: "disk /var", State: "CRITICAL", Hard: true}}
	note := sources.Event{ID: "n1", Source: "notes", Kind: sources.EventNote, Title: "note"}
	onNode, everywhere := markedRows(alert), markedRows(note)
	if onNode == 0 || onNode >= everywhere {
		t.Fatalf("the alert marks %d plot rows, a note %d: the alert belongs on db-1's chart only", onNode, everywhere)
	}
	other := alert
	other.Node = "mail-9" // no chart of its own
	if n := markedRows(other); n != 0 {
		t.Fatalf("an alert on a node without a chart marks %d rows", n)
	}
}

// The engine's unusual flag on a series is marked on that series' chart
// only.
func TestUnusualFlagsAreMarkedOnTheirSeriesChart(t *testing.T) {
	var flags []correlate.Unusual
	in := newIncident()
	in.advance(60)
	a := newAppOver(in, Options{Theme: themes.Mono(), ASCII: true, Unusual: func() []correlate.Unusual { return flags }}, 100, 40)
	pressKeys(a, "2")
	markedRows := func() int {
		n := 0
		for _, l := range strings.Split(plain(a), "\n") {
			r := []rune(l)
			if len(r) > yLabelW && r[yLabelW-1] == '|' && strings.ContainsRune(string(r[yLabelW:]), ':') {
				n++
			}
		}
		return n
	}
	if n := markedRows(); n != 0 {
		t.Fatalf("%d plot rows marked before any flag", n)
	}
	flags = []correlate.Unusual{{Key: a.snap.Series[0].Key, At: a.snap.Time(a.snap.N - 10)}}
	in.advance(1) // the flags are read with new data
	a.Update(DataMsg{})
	one := markedRows()
	if one == 0 {
		t.Fatalf("no mark for the flag on %s:\n%s", flags[0].Key, plain(a))
	}
	// a note marks every chart: the flag's chart is only one of them
	in.store.Apply(&sources.Batch{Source: "notes", Events: []sources.Event{{ID: "n1", Source: "notes", Start: flags[0].At, End: flags[0].At,
		Kind: sources.EventNote, Title: "note"}}})
	flags = nil
	in.advance(1)
	a.Update(DataMsg{})
	if all := markedRows(); one >= all {
		t.Errorf("the flag marks %d plot rows, a note %d: it belongs on its series' chart only", one, all)
	}
}

// TestMonoLegendNamesEveryMarkTheChartDraws: without colour each series
// is drawn with its own mark; at 80 columns a chart of five series names
// all five marks in its legend (it used to list three and "+2" while the
// chart drew the other two's ■ and ◇).
func TestMonoLegendNamesEveryMarkTheChartDraws(t *testing.T) {
	st := correlate.NewStore(correlate.StoreOptions{Step: step, Retention: time.Hour})
	for i := 0; i < 180; i++ {
		at := t0.Add(time.Duration(i) * step)
		var ss []sources.Series
		for n := 1; n <= 5; n++ {
			v := float64(n) * math.Max(0, float64(i-120)) / 10
			ss = append(ss, sources.Series{Name: "hrsp_5xx", Labels: map[string]string{"backend": "app", "server": fmt.Sprintf("app-%d", n)}, Unit: "req/s",
				Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: fmt.Sprintf("app-%d", n), Points: []sources.Point{{T: at, V: v}}})
		}
		st.Apply(&sources.Batch{Source: "lb-1", Type: "haproxy", At: at, Series: ss, Status: sources.Status{Health: sources.HealthOK}})
	}
	a := New(Options{Store: st, Theme: themes.Mono(), Location: time.UTC})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.Update(DataMsg{})
	pressKeys(a, "2")
	lines := strings.Split(plain(a), "\n")
	var legend, chart strings.Builder
	inChart := false
	for _, l := range lines[2:] {
		switch {
		case strings.HasPrefix(l, "▌") && inChart:
			break
		case strings.Contains(l, "┤") || strings.Contains(l, "│"):
			inChart = true
			chart.WriteString(l)
			continue
		case !inChart:
			legend.WriteString(l + "\n")
			continue
		}
		if inChart {
			break
		}
	}
	drawn := 0
	for _, m := range unicodeMarkers[:5] {
		if !strings.Contains(chart.String(), m) {
			continue
		}
		drawn++
		if !regexp.MustCompile(regexp.QuoteMeta(m) + ` \S*app-\d\}`).MatchString(legend.String()) {
			t.Errorf("the chart draws %s but the legend names no series by it:\n%s", m, plain(a))
		}
	}
	if drawn < 2 {
		t.Fatalf("the chart draws %d marks:\n%s", drawn, plain(a))
	}
}
