// Package app wires opsview together: config → sources → scheduler →
// store → engine → consumers (the TUI, the check report, the recorder).
// It holds the one goroutine that runs the engine; nothing here draws or
// parses.
package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// Runtime is one running opsview: its sources and the session that judges
// what they return.
type Runtime struct {
	Session *correlate.Session
	Sched   *sources.Scheduler
	// MinFrame caps how often consumers are told of changes; default 100ms.
	MinFrame time.Duration

	Logf func(string, ...any)

	dirty   chan struct{}
	entries []sources.Entry

	tapMu sync.Mutex
	tap   func(*sources.Batch) // sees every batch after it was judged (the recorder)
}

// EngineWindow is how far back the engine looks: its 15-minute scoring
// window plus the hour of baseline behind it.
const EngineWindow = correlate.DefaultSessionWindow

// EngineOptions are the engine's settings in every mode (live, check,
// replay, export), so they all reach the same findings.
func EngineOptions() correlate.EngineOptions {
	return correlate.EngineOptions{Paths: true}
}

// Options build a runtime.
type Options struct {
	Entries  []sources.Entry
	Rules    sources.Rules
	Deps     []sources.Dependency
	Store    correlate.StoreOptions
	Backfill time.Duration
	From     time.Time // historical mode when Until is set
	Until    time.Time
	Now      func() time.Time
	Logf     func(string, ...any)
}

// SessionOptions are the session settings of a runtime's options.
func (o Options) SessionOptions() correlate.SessionOptions {
	return correlate.SessionOptions{Store: o.Store, Engine: EngineOptions(), Window: EngineWindow, Deps: o.Deps}
}

// New makes a runtime; nothing runs until Run.
func New(o Options) *Runtime {
	TuneGC()
	return newRuntime(o, correlate.NewSession(o.SessionOptions()))
}

func newRuntime(o Options, sess *correlate.Session) *Runtime {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	r := &Runtime{
		Session:  sess,
		MinFrame: 100 * time.Millisecond,
		Logf:     o.Logf,
		dirty:    make(chan struct{}, 1),
		entries:  o.Entries,
	}
	// statuses first, in config order, so the header lists sources as
	// configured and a source that never answers still shows
	for _, e := range o.Entries {
		sess.SetStatus(sources.Status{Source: e.Name, Type: e.Type, Health: sources.HealthUnknown})
	}
	r.Sched = sources.NewScheduler(o.Entries, sources.SchedulerOptions{
		Out: r.accept, Rules: o.Rules, Step: sess.Store().Step(), Backfill: o.Backfill,
		From: o.From, Until: o.Until, Now: o.Now, Logf: o.Logf,
	})
	return r
}

// Store is the session's store.
func (r *Runtime) Store() *correlate.Store { return r.Session.Store() }

// accept is the scheduler's Out: the session judges the batch, the
// recorder (if any) writes it, consumers are told.
func (r *Runtime) accept(b *sources.Batch) {
	r.Session.StepThen(b, r.tapped)
	TuneGC()
	r.signal()
}

func (r *Runtime) tapped(b *sources.Batch) {
	r.tapMu.Lock()
	if r.tap != nil {
		r.tap(b)
	}
	r.tapMu.Unlock()
}

func (r *Runtime) signal() {
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// Ingest judges a batch that did not come from the scheduler (a replay),
// as live would have after that batch.
func (r *Runtime) Ingest(b *sources.Batch) { r.accept(b) }

// Note stores a batch without judging it (a note on the timeline).
func (r *Runtime) Note(b *sources.Batch) {
	r.Session.Apply(b)
	TuneGC()
	r.signal()
}

// Record starts handing every judged batch to tap, after open has been
// given the session's present state (for a recording's opening) with no
// batch in between. Record(nil, nil) stops.
func (r *Runtime) Record(open func(*correlate.Opening) error, tap func(*sources.Batch)) error {
	if tap == nil {
		r.tapMu.Lock()
		r.tap = nil
		r.tapMu.Unlock()
		return nil
	}
	return r.Session.OpeningThen(func(o *correlate.Opening) error {
		if open != nil {
			if err := open(o); err != nil {
				return err
			}
		}
		r.tapMu.Lock()
		r.tap = tap
		r.tapMu.Unlock()
		return nil
	})
}

// Findings returns the session's active findings; safe from any goroutine.
func (r *Runtime) Findings() []correlate.Finding { return r.Session.Findings() }

// Run polls the sources until ctx ends. changed is called (from Run's
// goroutine, at most every MinFrame) after the session moved.
func (r *Runtime) Run(ctx context.Context, changed func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Sched.Run(ctx)
	}()
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.dirty:
		}
		if changed != nil {
			changed()
		}
		t := time.NewTimer(r.MinFrame)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Once backfills the sources that keep history and polls every source
// (twice, `sample` apart, so counters become rates), each batch judged as
// it comes: the check mode. It returns the findings.
func (r *Runtime) Once(ctx context.Context, sample time.Duration) []correlate.Finding {
	r.Sched.RunOnce(ctx, 2)
	if sample > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(sample):
			r.Sched.RunOnce(ctx, 2)
		}
	}
	// the session judges a bucket once, when its first batch comes: a
	// source answering later within the same second (the load balancer's
	// rates after Prometheus's answer) is stored, not judged, until the
	// next bucket, which a check never sees; judge what is there now
	r.Session.Evaluate()
	return r.Session.Findings()
}

// EntriesFromConfig builds the scheduler entries of a config.
func EntriesFromConfig(c *config.Config, logf func(string, ...any)) ([]sources.Entry, error) {
	var out []sources.Entry
	for _, s := range c.Sources {
		if s.Disabled {
			continue
		}
		kind, ok := sources.Lookup(s.Type)
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown source type %q", c.Path, s.Line, s.Type)
		}
		name := s.Name
		// what a source logs or fails with never holds a ${VAR}'s value
		srcLogf := func(f string, a ...any) { logf("%s: %s", name, c.Conceal(fmt.Sprintf(f, a...))) }
		src, err := kind.New(sources.Env{Name: s.Name, Logf: srcLogf}, s.Options)
		if err != nil {
			return nil, c.ConcealError(err)
		}
		out = append(out, sources.Entry{Name: s.Name, Type: s.Type, Source: src, Interval: s.Interval, Timeout: s.Timeout})
	}
	return out, nil
}

// Close releases every source that holds resources.
func Close(entries []sources.Entry) {
	for _, e := range entries {
		if c, ok := e.Source.(sources.Closer); ok {
			_ = c.Close()
		}
	}
}
