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

// alertEvents are Nagios' problems of db-1: one to act on, one
// acknowledged, one in downtime, one flapping.
func alertEvents(at time.Time) []sources.Event {
	mk := func(id, check string, sev sources.Severity, a sources.Alert) sources.Event {
		a.Origin, a.System, a.Check, a.Hard = sources.OriginInternal, "nagios", check, true
		return sources.Event{ID: id, Source: "nagios", Kind: sources.EventAlert, Start: at, Severity: sev, Layer: sources.LayerDB,
			Node: "db-1", Title: check + " " + a.State + " on db-1", Alert: &a}
	}
	return []sources.Event{
		mk("disk", "disk /var", sources.SevCritical, sources.Alert{State: "CRITICAL"}),
		mk("swap", "swap", sources.SevWarning, sources.Alert{State: "WARNING", Acknowledged: true}),
		mk("backup", "backup", sources.SevCritical, sources.Alert{State: "CRITICAL", Downtime: true}),
		mk("ntp", "ntp", sources.SevWarning, sources.Alert{State: "OK", Flapping: true}),
	}
}

var km = DefaultKeyMap()

func alertCtx(ascii bool, w int) *Context {
	at := time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)
	snap := &correlate.Snapshot{Start: at.Add(-time.Hour), Now: at.Add(time.Minute), Step: 5 * time.Second, Events: alertEvents(at)}
	fs := correlate.Detect(snap)
	sym := themes.UnicodeSymbols
	if ascii {
		sym = themes.ASCIISymbols
	}
	return &Context{Theme: themes.Mono(), Symbols: sym, ASCII: ascii, Snap: snap, Findings: fs, Incidents: correlate.Incidents(fs),
		Cursor: -1, Window: time.Hour, Width: w, Height: 20, Loc: time.UTC}
}

func lineWith(t *testing.T, screen, word string) string {
	t.Helper()
	for _, l := range strings.Split(ansi.Strip(screen), "\n") {
		if strings.Contains(l, word) {
			return l
		}
	}
	t.Fatalf("no line with %q in\n%s", word, ansi.Strip(screen))
	return ""
}

func TestEventsSayAcknowledgedDowntimeAndFlappingAlertsInWords(t *testing.T) {
	c := alertCtx(false, 100)
	screen := newEvents(&km).Render(c)
	if l := lineWith(t, screen, "swap WARNING"); !strings.Contains(l, "swap WARNING on db-1 (acknowledged)") {
		t.Errorf("acknowledged: %q", l)
	}
	if l := lineWith(t, screen, "backup CRITICAL"); !strings.Contains(l, "backup CRITICAL on db-1 (in downtime)") {
		t.Errorf("downtime: %q", l)
	}
	if l := lineWith(t, screen, "ntp OK"); !strings.Contains(l, "⇅ ntp OK on db-1 flapping") {
		t.Errorf("flapping: %q", l)
	}
	if l := lineWith(t, screen, "disk /var"); strings.Contains(l, "acknowledged") || strings.Contains(l, "flapping") {
		t.Errorf("a plain problem: %q", l)
	}
	ascii := newEvents(&km).Render(alertCtx(true, 100))
	if l := lineWith(t, ascii, "ntp OK"); !strings.Contains(l, "~ ntp OK on db-1 flapping") {
		t.Errorf("ascii flapping: %q", l)
	}
}

func TestHeldAlertsAreDimmedInTheTimeline(t *testing.T) {
	c := alertCtx(false, 100)
	c.Theme = themes.Dark()
	screen := newEvents(&km).Render(c)
	var swap, disk string
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(ansi.Strip(l), "swap WARNING"):
			swap = l
		case strings.Contains(ansi.Strip(l), "disk /var CRITICAL"):
			disk = l
		}
	}
	muted := c.Theme.Muted.Render("swap WARNING on db-1 (acknowledged)")
	if !strings.Contains(swap, muted) || strings.Contains(disk, c.Theme.Muted.Render("disk /var CRITICAL on db-1")) {
		t.Fatalf("acknowledged dimmed, the rest not:\n%q\n%q", swap, disk)
	}
}

func TestFindingsMarkFlappingAndDimHeldAlerts(t *testing.T) {
	c := alertCtx(false, 100)
	c.Theme = themes.Dark()
	screen := NewFindings().Render(c)
	if l := lineWith(t, screen, "ntp OK"); !strings.Contains(l, "⇅ Nagios: ntp OK on db-1, flapping") {
		t.Errorf("flapping: %q", l)
	}
	var swap string
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(ansi.Strip(l), "swap WARNING") {
			swap = l
		}
	}
	r := c.Theme.Muted.Render("x")
	open := r[:strings.Index(r, "x")] // the muted style's opening sequence
	if !strings.Contains(swap, open+" Nagios: swap WARNING on db-1 (acknowledged)") {
		t.Errorf("acknowledged not dimmed: %q", swap)
	}
	var disk string
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(ansi.Strip(l), "disk /var CRITICAL") {
			disk = l
		}
	}
	if strings.Contains(disk, open+" Nagios: disk") {
		t.Errorf("a problem to act on is dimmed: %q", disk)
	}
}

func TestNarrowAlertHeadlineKeepsItsCause(t *testing.T) {
	inc := correlate.Incident{Cause: correlate.CauseAlert, Headline: "HTTP check: GET / 503 on www (from outside) ← Nagios: disk /var CRITICAL on db-1 since 13:40",
		Broke: "HTTP check: GET / 503 on www (from outside)", Why: "Nagios: disk /var CRITICAL on db-1 since 13:40"}
	got := incidentHead(&inc, 70)
	if ansi.StringWidth(got) > 70 || !strings.HasSuffix(got, " ← Nagios: disk /var CRITICAL on db-1 since 13:40") || !strings.HasPrefix(got, "HTTP check") {
		t.Fatalf("%q (%d cells)", got, ansi.StringWidth(got))
	}
}
