package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// A finding that only mirrors a source's event is not listed a second
// time on the timeline.
func TestEngineEchoOfASourceEventIsShownOnce(t *testing.T) {
	at := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	c := &Context{Snap: &correlate.Snapshot{Start: at.Add(-time.Minute), Events: []sources.Event{
		{ID: "shop/1", Source: "checks", Start: at, Title: "check failing"},
	}}, Changes: []correlate.Change{
		{At: at, Kind: correlate.ChangeOpened, Finding: correlate.Finding{ID: "event/checks/shop/1", Rule: "event", Title: "check failing"}},
		{At: at, Kind: correlate.ChangeOpened, Finding: correlate.Finding{ID: "suspects/x", Rule: "suspects", Title: "5xx rose: likely db-1 iowait"}},
	}}
	got := eventList(c)
	if len(got) != 2 || got[0].ID == "finding/opened/event/checks/shop/1" || got[1].ID == "finding/opened/event/checks/shop/1" {
		t.Fatalf("%+v", got)
	}
}

// TestRecoveryIsNeverListedBeforeItsDown: HAProxy's times are whole
// seconds, so a server that goes DOWN and back UP within one has both
// events at one instant, as may the engine's resolution; newest first,
// the recovery and the resolution sit above the DOWN, never below it.
func TestRecoveryIsNeverListedBeforeItsDown(t *testing.T) {
	at := t0.Add(10 * time.Minute)
	snap := &correlate.Snapshot{Now: at, Start: t0, Step: step, N: 200, Events: []sources.Event{
		{ID: "lb-1/be_app/app3@lb-1/down/1763647800", Source: "lb-1", Kind: sources.EventState, Start: at, End: at, Severity: sources.SevWarning, Title: "server be_app/app3 DOWN"},
		{ID: "lb-1/be_app/app3@lb-1/up/1763647800", Source: "lb-1", Kind: sources.EventState, Start: at, End: at, Severity: sources.SevOK, Title: "server be_app/app3 DOWN → UP"},
	}}
	c := &Context{Theme: themes.Mono(), Symbols: themes.UnicodeSymbols, Snap: snap, Cursor: -1, Width: 100, Height: 10, Loc: time.UTC,
		Changes: []correlate.Change{{At: at, Kind: correlate.ChangeResolved, Finding: correlate.Finding{ID: "node/app3", Rule: "node-state", Title: "server app3 is DOWN"}}}}
	evs := eventList(c)
	pos := map[string]int{}
	for i, ev := range evs {
		pos[ev.Title] = i
	}
	down := pos["server be_app/app3 DOWN"]
	if pos["server be_app/app3 DOWN → UP"] > down || pos["resolved: server app3 is DOWN"] > down {
		for _, ev := range evs {
			t.Log(ev.Title)
		}
		t.Fatal("a recovery is listed below (before) its own DOWN")
	}
	if out := ansi.Strip(newEvents(&KeyMap{}).Render(c)); strings.Contains(out, "is DOWN (ended") || !strings.Contains(out, "resolved: server app3 is DOWN") {
		t.Errorf("a resolution repeats its own time:\n%s", out)
	}
}

// An engine row on the Overview keeps what changed and the finding's
// cause whole at 160 columns; what broke is shortened between them.
func TestOverviewEngineEventKeepsVerbAndCause(t *testing.T) {
	title := `app hrsp_5xx_rate{backend="be_app"} and www probe_success{instance="https://www.example.com/checkout/cart"} rose: likely db-1 cpu.iowait`
	ch := correlate.Change{At: t0.Add(15 * time.Minute), Kind: correlate.ChangeResolved, Finding: correlate.Finding{
		ID: "suspects/x", Rule: "suspects", Severity: sources.SevCritical, Title: title,
		Evidence: []correlate.Evidence{{Kind: correlate.EvSuspect, SeriesKey: "graphite/servers.db-1.cpu.iowait", Label: "db-1 cpu.iowait"}},
	}}
	a := newTestAppOpts(Options{Theme: themes.Mono(), Changes: func() []correlate.Change { return []correlate.Change{ch} }}, 160, 48, 240)
	var row string
	for _, l := range strings.Split(plain(a), "\n") {
		if strings.Contains(l, "resolved: app") {
			row = l
		}
	}
	if row == "" {
		t.Fatalf("no engine row on the Overview:\n%s", plain(a))
	}
	if !strings.Contains(row, "…: likely db-1 cpu.iowait") {
		t.Errorf("the row lost its cause or was not shortened before it:\n%s", row)
	}
	// an alert's cause after the arrow stays whole too
	ch.Kind = correlate.ChangeUpdated
	ch.Finding.Title = "HTTP check: www.example.com/checkout/cart returns 503 (from outside) ← Nagios: disk /var CRITICAL on db-1"
	ch.Finding.Evidence = []correlate.Evidence{{Kind: correlate.EvSuspect, Event: "nagios/db-1/disk", Label: "Nagios: disk /var CRITICAL on db-1"}}
	got := changeHead(&ch, 70)
	if !strings.HasPrefix(got, "updated: HTTP check") || !strings.HasSuffix(got, "… ← Nagios: disk /var CRITICAL on db-1") || ansi.StringWidth(got) > 70 {
		t.Errorf("changeHead = %q", got)
	}
	// a title that fits is said as it is
	if got := changeHead(&ch, 200); got != "updated: "+ch.Finding.Title {
		t.Errorf("changeHead = %q", got)
	}
}

// The Events view cuts an engine row as the Overview does: at 80 columns
// what changed and the cause stay whole.
func TestEventsEngineRowKeepsVerbAndCause(t *testing.T) {
	ch := correlate.Change{At: t0.Add(15 * time.Minute), Kind: correlate.ChangeUpdated, Finding: correlate.Finding{
		ID: "suspects/x", Rule: "suspects", Severity: sources.SevCritical, Title: `app hrsp_5xx_rate{backend="be_app"} rose (+4): likely db-1 cpu.iowait`,
		Evidence: []correlate.Evidence{{Kind: correlate.EvSuspect, SeriesKey: "graphite/servers.db-1.cpu.iowait", Label: "db-1 cpu.iowait"}},
	}}
	a := newTestAppOpts(Options{Theme: themes.Mono(), Changes: func() []correlate.Change { return []correlate.Change{ch} }}, 80, 24, 240)
	pressKeys(a, "3")
	var row string
	for _, l := range strings.Split(plain(a), "\n") {
		if strings.Contains(l, "updated: app") {
			row = l
		}
	}
	if !strings.Contains(row, "…: likely db-1 cpu.iowait") {
		t.Errorf("the engine row lost its cause:\n%s", plain(a))
	}
}
