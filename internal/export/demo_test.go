package export

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/sources/replay"
)

// demoRecording is `opsview record -d 60s` of the built-in demo, on a
// clock of its own: the session's opening (the demo's settings and
// dependencies, every source still to answer), then every demo source
// polled once a second for a minute, the first poll with an hour of
// history, as the scheduler asks, each batch judged as it is written.
func demoRecording(t *testing.T) *replay.Recording {
	t.Helper()
	start := time.Date(2026, 12, 7, 14, 46, 41, 0, time.UTC)
	real := start
	world := demo.NewWorld(demo.NewClock(start, demo.DefaultSpeed), 5*time.Second, func() time.Time { return real })
	var buf bytes.Buffer
	w, err := replay.NewWriter(&buf, replay.Header{Created: start, Producer: "opsview test record"})
	if err != nil {
		t.Fatal(err)
	}
	opts := app.Options{Deps: demo.Dependencies(), Store: correlate.StoreOptions{Step: 5 * time.Second}}.SessionOptions()
	sess := correlate.NewSession(opts)
	for _, name := range demo.Names {
		sess.SetStatus(sources.Status{Source: name, Type: "demo"})
	}
	if err := sess.OpeningThen(func(op *correlate.Opening) error { return app.WriteOpening(w, opts, op) }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 60; i++ {
		real = start.Add(time.Duration(i) * time.Second)
		for _, name := range demo.Names {
			b := world.Batch(name, i == 0, time.Hour)
			b.Source, b.Type = name, "demo"
			b.Status = sources.Status{Source: name, Type: "demo", Health: sources.HealthOK, Detail: b.Status.Detail}
			sess.StepThen(b, func(b *sources.Batch) {
				if err := w.WriteBatch(b); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	return closeAndLoad(t, w, &buf)
}

// timelineRows are the rows of the document's timeline table.
func timelineRows(doc string) []string {
	_, tl, _ := strings.Cut(doc, "## Timeline\n")
	tl, _, _ = strings.Cut(tl, "\n## ")
	var rows []string
	for _, l := range strings.Split(tl, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| Time") {
			rows = append(rows, l)
		}
	}
	return rows
}

// A minute of the demo, sent again every poll, tells its story in a
// handful of rows: each event once, with how often it was sent again,
// and the engine's openings, changes of cause or severity and closings;
// and, as live did, it blames db-1's iowait for the app's 5xx.
func TestDemoTimelineTellsTheStoryInTwentyRows(t *testing.T) {
	rec := demoRecording(t)
	for _, tc := range []struct {
		name      string
		explained bool
	}{{"as recorded", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Markdown(&out, rec, Options{}); err != nil {
				t.Fatal(err)
			}
			doc := out.String()
			rows := timelineRows(doc)
			if len(rows) == 0 || len(rows) > 20 {
				t.Fatalf("%d timeline rows, want 1 to 20:\n%s", len(rows), strings.Join(rows, "\n"))
			}
			for _, ev := range []struct{ source, title string }{
				{"checks", "check https://shop.example.com/ failing"},
				{"lb-1", "app/app-3 is DOWN (L7STS)"},
			} {
				var sent []string
				for _, r := range rows {
					if strings.Contains(r, "| "+ev.source+" | "+ev.title) {
						sent = append(sent, r)
					}
				}
				folded := regexp.MustCompile(`\(repeated (\d+)×, until 13:48:30\) \|$`)
				m := folded.FindStringSubmatch(strings.Join(sent, ""))
				if len(sent) != 1 || m == nil || len(m[1]) < 2 {
					t.Errorf("%s: %d rows %q, want one that counts ten or more sendings until the end", ev.title, len(sent), sent)
				}
			}
			for _, r := range rows {
				if strings.Contains(r, "update:") {
					t.Errorf("an update that changed nothing is a row: %s", r)
				}
			}
			for _, want := range []string{"finding opened: check https://shop.example.com/ failing", "finding opened: server app-3 is DOWN",
				"finding opened: app hrsp_5xx rose: likely servers.db-1.cpu.iowait"} {
				if !strings.Contains(doc, want) {
					t.Errorf("timeline lacks %q", want)
				}
			}
			if strings.Index(doc, "## Incidents") > strings.Index(doc, "## Sources") {
				t.Error("the incidents do not come first")
			}
			_, incs, _ := strings.Cut(doc, "## Incidents\n")
			incs, _, _ = strings.Cut(incs, "\n## ")
			if got := strings.Contains(incs, ": likely "); got != tc.explained {
				t.Errorf("an incident explained by a suspect: %v, want %v:\n%s", got, tc.explained, incs)
			}
		})
	}
}
