package app

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
)

// The demo runs through the same scheduler, store and engine as real
// sources: after a moment every demo source is ok and the store is full.
func TestDemoFlowsThroughRuntime(t *testing.T) {
	real := time.Now()
	w := demo.NewWorld(demo.NewClock(real, 5), 5*time.Second, time.Now)
	rt := New(Options{Entries: w.Entries()})
	var changed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rt.Run(ctx, func() { changed.Add(1) }); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap := rt.Store().Snapshot(rt.Store().Now().Add(-time.Hour), rt.Store().Now(), nil)
		okCount := 0
		for _, st := range snap.Status {
			if st.Health == sources.HealthOK {
				okCount++
			}
		}
		if okCount == len(demo.Names) && len(snap.Series) > 20 && changed.Load() > 0 {
			// backfilled: the first frame already has an hour of history
			s := snap.Series[0]
			filled := 0
			for _, v := range s.Values {
				if v == v {
					filled++
				}
			}
			if filled < 600 {
				t.Errorf("only %d of %d buckets filled after backfill", filled, len(s.Values))
			}
			if snap.Status[0].Source != demo.Names[0] {
				t.Errorf("status order %v", snap.Status[0].Source)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not come up: %d ok, %d series", okCount, len(snap.Series))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
}

// A newcomer's first frame already tells the story: the demo starts
// inside the incident with its onset in the backfilled hour, and the
// engine's first evaluation names db-1's iowait.
func TestDemoFirstEvaluationHasTheFinding(t *testing.T) {
	real := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := demo.NewWorld(demo.NewClock(real, demo.DefaultSpeed), 5*time.Second, func() time.Time { return real })
	rt := New(Options{Entries: w.Entries(), Deps: demo.Dependencies(), Store: correlate.StoreOptions{Step: 5 * time.Second}})
	for _, name := range demo.Names {
		b := w.Batch(name, true, time.Hour)
		b.Source = name
		b.Status = sources.Status{Source: name, Health: sources.HealthOK}
		rt.Session.Apply(b)
	}
	rt.Session.Evaluate()
	var titles []string
	for _, f := range rt.Findings() {
		titles = append(titles, f.Title)
		if f.Rule == "suspects" && strings.Contains(f.Title, "hrsp_5xx") && strings.Contains(f.Title, "likely servers.db-1.cpu.iowait") {
			return
		}
	}
	t.Fatalf("first evaluation: %q; want the 5xx finding naming db-1 iowait", titles)
}
