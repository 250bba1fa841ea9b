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

// Noise on a quiet series must look quiet at 3 a.m.: 0.05 req/s of 5xx
// wobble stays on the floor, 20 req/s of 5xx stands up.
func TestQuietNoiseStaysFlatAndARiseStandsUp(t *testing.T) {
	noise := make([]float64, 60)
	for i := range noise {
		noise[i] = 0.02 + 0.06*float64(i%3)/2
	}
	s := &correlate.SnapSeries{SeriesMeta: correlate.SeriesMeta{Unit: "req/s"}, Values: noise}
	flat := sparkRows(noise, 30, 1, false, sparkSpan(s))[0]
	if strings.Trim(flat, "▁") != "" {
		t.Errorf("quiet noise drawn as %q", flat)
	}
	if stretched := sparkRows(noise, 30, 1, false, 0)[0]; !strings.Contains(stretched, "█") {
		t.Errorf("without a span the noise fills the height: %q", stretched)
	}
	rise := append(append([]float64{}, noise...), 20, 20, 20, 20, 20, 20, 20, 20, 20, 20)
	s.Values = rise
	if up := sparkRows(rise, 35, 1, false, sparkSpan(s))[0]; !strings.HasSuffix(up, "█") {
		t.Errorf("a real rise is not drawn up: %q", up)
	}
	if got := sparkSpan(&correlate.SnapSeries{SeriesMeta: correlate.SeriesMeta{Unit: "%"}}); got != 100 {
		t.Errorf("shares span %v", got)
	}
}

// All sources well and no room for the table: one line names them all.
func TestHealthySourcesFitOnOneLine(t *testing.T) {
	var sts []sources.Status
	for _, n := range []string{"lb-1", "graphite", "prometheus", "checks", "aws-status", "paths"} {
		sts = append(sts, sources.Status{Source: n, Health: sources.HealthOK})
	}
	c := &Context{Theme: themes.Mono(), Symbols: themes.UnicodeSymbols, Snap: &correlate.Snapshot{Status: sts}, Width: 80}
	o := newOverview(nil)
	lines := o.sources(c, 80, 3)
	if len(lines) != 2 || !strings.Contains(lines[1], "lb-1, graphite, prometheus, checks, aws-status, paths") {
		t.Fatalf("%q", lines)
	}
	sts[2].Health, sts[2].LastError = sources.HealthFailing, "refused"
	lines = o.sources(c, 80, 3)
	if len(lines) < 2 || !strings.Contains(lines[1], "prometheus") || !strings.Contains(lines[1], "refused") {
		t.Fatalf("a failing source must lead the table: %q", lines)
	}
}

// At 3 a.m. the cause belongs under what it explains: each active
// finding's symptom, then its first suspect, ahead of everything else.
func TestKeySeriesPutTheSuspectUnderItsSymptom(t *testing.T) {
	snap := &correlate.Snapshot{N: 1, Step: time.Second}
	for _, s := range []struct {
		key  string
		role sources.Role
	}{{"a/sym1", sources.RoleSymptom}, {"a/sym2", sources.RoleSymptom}, {"a/sym3", sources.RoleSymptom},
		{"b/res1", sources.RoleResource}, {"b/res2", sources.RoleResource}, {"b/res3", sources.RoleResource}} {
		snap.Series = append(snap.Series, correlate.SnapSeries{SeriesMeta: correlate.SeriesMeta{Key: s.key, Name: s.key, Role: s.role}, Values: []float64{1}})
	}
	c := &Context{Snap: snap, Findings: []correlate.Finding{{ID: "f", Severity: sources.SevWarning, Evidence: []correlate.Evidence{
		{Kind: correlate.EvSymptom, SeriesKey: "a/sym2"},
		{Kind: correlate.EvSuspect, SeriesKey: "b/res2"},
		{Kind: correlate.EvSuspect, SeriesKey: "b/res3"},
	}}}}
	var got []string
	for _, s := range keySeries(c) {
		got = append(got, s.Key)
	}
	if want := "a/sym2 b/res2 a/sym1 a/sym3 b/res3 b/res1"; strings.Join(got, " ") != want {
		t.Fatalf("order %q, want %q", strings.Join(got, " "), want)
	}
}

// TestOverviewKeepsTheVerbAndTheCause: finding titles are whole on the
// Overview at 160 columns (the count of a lone finding gives way first),
// and a failing source's row keeps the cause of its error, not the URL
// before it.
func TestOverviewKeepsTheVerbAndTheCause(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 160, 48, 240)
	scr := plain(a)
	for _, want := range []string{"5xx on be_app; iowait on db-1 moved 2m before", "5xx on be_api with no internal signal moving", "source graphite failing: context deadline exceeded"} {
		if !strings.Contains(scr, want) {
			t.Errorf("160x48: %q cut:\n%s", want, scr)
		}
	}
	a, _ = newTestApp(themes.Mono(), 80, 24, 240)
	if scr := plain(a); !strings.Contains(scr, "context deadline exceeded") {
		t.Errorf("80x24: the source's error lost its cause:\n%s", scr)
	}
	if got := causeFirst("GET http://graphite:8080/render: context deadline exceeded", 30); got != "…context deadline exceeded" {
		t.Errorf("causeFirst: %q", got)
	}
}

// TestWideOverviewIncidentKeepsItsCause: at 160 columns the Overview's
// incident column is narrower than a long headline; it says where it broke
// and the cause whole rather than "www probe_duration rose and app hrs…".
func TestWideOverviewIncidentKeepsItsCause(t *testing.T) {
	inc := correlate.Incident{Severity: sources.SevCritical, Headline: "www probe_duration rose and app hrsp_5xx rose: likely servers.db-1.cpu.iowait",
		Broke: "www probe_duration rose and app hrsp_5xx rose", Why: "likely servers.db-1.cpu.iowait", Where: "www and app", Since: t0}
	c := &Context{Theme: themes.Mono(), Symbols: themes.UnicodeSymbols}
	got := ansi.Strip(overviewIncident(c, &inc, 4, t0.Add(30*time.Second), 72))
	if !strings.Contains(got, "www and app: likely servers.db-1.cpu.iowait") || strings.Contains(got, "…") || ansi.StringWidth(got) > 72 {
		t.Fatalf("%q", got)
	}
}
