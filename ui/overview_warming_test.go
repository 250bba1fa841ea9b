package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/themes"
)

// Started a minute ago, nothing found: the Overview says what it cannot
// judge yet and until when, not "nothing wrong found"; once it can judge
// everything, it says nothing is wrong.
func TestOverviewSaysWhatStillWarmsUp(t *testing.T) {
	until := time.Date(2026, 3, 2, 10, 17, 0, 0, time.UTC)
	c := &Context{Theme: themes.Mono(), Symbols: themes.UnicodeSymbols, Snap: &correlate.Snapshot{}, Width: 100, Loc: time.UTC,
		Warming: []correlate.Warming{{Source: "lb-1\x1b[31m", Series: 42, Names: []string{"app econ", "app hrsp_5xx", "web ereq"}, Until: until}}}
	o := newOverview(nil)
	text := strings.Join(o.findings(c, 100, 6, false), "\n")
	if strings.Contains(text, "nothing wrong found") || !strings.Contains(text, "warming up") ||
		!strings.Contains(text, "lb-1: 42 symptoms (app econ, app hrsp_5xx, web ereq, …) until about 10:17") {
		t.Fatalf("%s", text)
	}
	if strings.Contains(text, "\x1b[31m") {
		t.Errorf("a source name's escape reached the screen: %q", text)
	}
	c.Warming = nil
	if text := strings.Join(o.findings(c, 100, 6, false), "\n"); !strings.Contains(text, "nothing wrong found") {
		t.Fatalf("%s", text)
	}
}

// The Findings view, empty while symptoms warm up, says the same.
func TestFindingsListSaysWhatStillWarmsUp(t *testing.T) {
	c := &Context{Theme: themes.Mono(), Symbols: themes.UnicodeSymbols, Snap: &correlate.Snapshot{}, Width: 100, Height: 10, Loc: time.UTC, Cursor: -1,
		Warming: []correlate.Warming{{Source: "lb-1", Series: 1, Names: []string{"app hrsp_5xx"}, Until: time.Date(2026, 3, 2, 10, 17, 0, 0, time.UTC)}}}
	text := NewFindings().Render(c)
	if strings.Contains(text, "nothing the engine can see is wrong") || !strings.Contains(text, "lb-1: 1 symptom (app hrsp_5xx) until about 10:17") {
		t.Fatalf("%s", text)
	}
	checkFrame(t, text, 100, 10)
}
