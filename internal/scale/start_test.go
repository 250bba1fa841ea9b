package scale

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/ui"
)

// demoStart is the demo's way to its first frame, step by step: the
// world, each source's first poll (an hour of backfill) classified and
// stored, the first judgement once all answered, and the first frame at
// 80x24. It returns the frame.
func demoStart(b *testing.B, step string) string {
	now := time.Now()
	w := demo.NewWorld(demo.NewClock(now, 0), 5*time.Second, func() time.Time { return now })
	if step == "world" {
		return ""
	}
	opt := app.Options{Deps: demo.Dependencies()}
	sess := correlate.NewSession(opt.SessionOptions())
	entries := w.Entries()
	for _, e := range entries {
		sess.SetStatus(sources.Status{Source: e.Name, Type: e.Type, Health: sources.HealthUnknown})
	}
	cl := sources.NewClassifier(DefaultRules())
	for _, e := range entries {
		batch, err := e.Source.Poll(context.Background(), sources.Request{Now: now, From: now.Add(-time.Hour), Until: now, Step: 5 * time.Second, Backfill: true})
		if err != nil {
			b.Fatal(err)
		}
		batch.Source, batch.Type = e.Name, e.Type
		batch.Status = sources.Status{Source: e.Name, Type: e.Type, Health: sources.HealthOK}
		cl.Apply(batch)
		sess.Step(batch)
	}
	if step == "backfill-and-judge" {
		return ""
	}
	a := ui.New(ui.Options{Store: sess.Store(), Findings: sess.Findings, Location: time.UTC})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.Update(ui.DataMsg{})
	return a.View().Content
}

// BenchmarkDemoStart: the steps of the demo's start to its first frame,
// each including the ones before it (package initialisers are not in it:
// GODEBUG=inittrace=1 opsview version shows them).
func BenchmarkDemoStart(b *testing.B) {
	for _, step := range []string{"world", "backfill-and-judge", "first-frame"} {
		b.Run(step, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if f := demoStart(b, step); step == "first-frame" && len(f) == 0 {
					b.Fatal("empty frame")
				}
			}
		})
	}
}
