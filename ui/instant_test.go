package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

func headerLine(a *App) string { return strings.Split(plain(a), "\n")[0] }

func TestHeaderSaysTheInstantAndHowFarBackInsteadOfLive(t *testing.T) {
	for _, ascii := range []bool{false, true} {
		a := newTestAppOpts(Options{Theme: themes.Mono(), ASCII: ascii}, 80, 24, 240)
		if h := headerLine(a); !strings.Contains(h, "LIVE") {
			t.Fatalf("following the newest data, the header does not say LIVE: %q", h)
		}
		pressKeys(a, "left", "left", "left")
		c := a.context(1)
		if c.Cursor < 0 {
			t.Fatal("left did not move the cursor")
		}
		at := a.snap.Time(c.Cursor)
		want := "◀ " + at.Format("15:04:05") + " −" + behind(a.snap.Time(a.snap.N-1).Sub(at))
		if ascii {
			want = "< " + at.Format("15:04:05") + " -" + behind(a.snap.Time(a.snap.N-1).Sub(at))
		}
		h := headerLine(a)
		if strings.Contains(h, "LIVE") || !strings.Contains(h, want) {
			t.Fatalf("ascii %v, cursor in the past: header %q, want %q and no LIVE", ascii, h, want)
		}
		checkFrame(t, a.View().Content, 80, 24)
		pressKeys(a, "end")
		if h := headerLine(a); !strings.Contains(h, "LIVE") || strings.Contains(h, want) {
			t.Fatalf("back to live: header %q", h)
		}
	}
	if got := behind(2*time.Minute + 5*time.Second); got != "2m05s" {
		t.Errorf("behind(2m5s) = %q", got)
	}
}

func TestHeaderInReplaySaysReplayAndTheReplayClockNotLive(t *testing.T) {
	clock := Clock{Replay: true, Playing: true, Speed: 10, At: t0.Add(18*time.Minute + 20*time.Second)}
	a := newTestAppOpts(Options{Theme: themes.Mono(), Clock: func() Clock { return clock }}, 80, 24, 240)
	h := headerLine(a)
	if strings.Contains(h, "LIVE") || !strings.Contains(h, "14:18:20 UTC  REPLAY 10×") {
		t.Fatalf("replaying at 10×: header %q", h)
	}
	clock.Playing = false
	frames := a.Frames()
	a.Update(DataMsg{}) // nothing new in the store; the clock alone changed
	if h := headerLine(a); !strings.Contains(h, "REPLAY ❚❚") || strings.Contains(h, "LIVE") || a.Frames() == frames {
		t.Fatalf("replay paused: header %q", h)
	}
	pressKeys(a, "left", "left")
	if h := headerLine(a); !strings.Contains(h, "REPLAY ❚❚") || !strings.Contains(h, "◀ ") {
		t.Fatalf("replay with the cursor back: header %q", h)
	}
	checkFrame(t, a.View().Content, 80, 24)

	asc := newTestAppOpts(Options{Theme: themes.Mono(), ASCII: true, Clock: func() Clock {
		return Clock{Replay: true, Playing: true, Speed: 2.5, At: t0}
	}}, 80, 24, 240)
	if h := headerLine(asc); !strings.Contains(h, "REPLAY 2.5x") {
		t.Fatalf("ascii replay header %q", h)
	}
}

// history is the engine's findings over the fixture's 20 minutes: the
// fixture's three (opened at 13, 14 and 17 minutes, still open) and one
// opened at 5 and resolved at 15 minutes.
func history() []correlate.Finding {
	return append(fixtureFindings(), correlate.Finding{ID: "f0", Rule: "flapping", Severity: sources.SevCritical,
		Title: "be_app flapped 6 times", Node: "be_app", Opened: t0.Add(5 * time.Minute), Resolved: t0.Add(15 * time.Minute)})
}

// findingsAt answers as the engine's history does: the findings opened
// at or before at and not resolved by then; now for the zero time.
func findingsAt(hist []correlate.Finding) func(time.Time) []correlate.Finding {
	return func(at time.Time) []correlate.Finding {
		var out []correlate.Finding
		for _, f := range hist {
			if at.IsZero() && f.Active() || !at.IsZero() && !f.Opened.After(at) && (f.Resolved.IsZero() || f.Resolved.After(at)) {
				out = append(out, f)
			}
		}
		return out
	}
}

func TestFindingsAtAPastCursorAreThoseActiveThen(t *testing.T) {
	a := newTestAppOpts(Options{Theme: themes.Mono(), FindingsAt: findingsAt(history())}, 80, 24, 240)
	pressKeys(a, "4")
	live := plain(a)
	if !strings.Contains(live, "source graphite failing") || strings.Contains(live, "be_app flapped") {
		t.Fatalf("live Findings shows what is open now:\n%s", live)
	}
	at := t0.Add(14*time.Minute + 30*time.Second)
	a.Update(GotoMsg{View: "Findings", At: at})
	then := plain(a)
	for _, want := range []string{"3 active at 14:14:30", "be_app flapped 6 times", "5xx on be_app", "5xx on be_api"} {
		if !strings.Contains(then, want) {
			t.Errorf("Findings at 14:14:30 lacks %q:\n%s", want, then)
		}
	}
	if strings.Contains(then, "source graphite failing") {
		t.Errorf("a finding opened at 14:17:00 is shown at 14:14:30:\n%s", then)
	}
	pressKeys(a, "1")
	over := plain(a)
	if !strings.Contains(over, "Incidents 3, 3 findings at 14:14:30") || !strings.Contains(over, "be_app flapped") || strings.Contains(over, "graphite failing") {
		t.Errorf("Overview at 14:14:30:\n%s", over)
	}
	pressKeys(a, "end")
	if now := plain(a); strings.Contains(now, "be_app flapped") || !strings.Contains(now, "graphite failing") || strings.Contains(now, " at 14:") {
		t.Errorf("back to live, the Overview still shows the past:\n%s", now)
	}
}

// Without FindingsAt the shell has only the present findings: at a past
// instant it still leaves out those opened since.
func TestWithoutHistoryAPastCursorLeavesOutFindingsOpenedSince(t *testing.T) {
	a := newTestAppOpts(Options{Theme: themes.Mono()}, 80, 24, 240)
	a.Update(GotoMsg{View: "Findings", At: t0.Add(14*time.Minute + 30*time.Second)})
	scr := plain(a)
	if strings.Contains(scr, "source graphite failing") || !strings.Contains(scr, "5xx on be_app") || !strings.Contains(scr, "2 active at 14:14:30") {
		t.Fatalf("Findings at 14:14:30 from the present findings:\n%s", scr)
	}
}
