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
	"github.com/opsview/opsview/sources/replay"
)

// Runtime is one running opsview: its sources, store and engine.
type Runtime struct {
	Store  *correlate.Store
	Sched  *sources.Scheduler
	Engine *correlate.Engine
	// EngineWindow is how far back the engine looks; default EngineWindow.
	EngineWindow time.Duration
	// MinFrame caps how often consumers are told of changes; default 100ms.
	MinFrame time.Duration

	Logf func(string, ...any)

	dirty   chan struct{}
	entries []sources.Entry

	mu       sync.RWMutex
	findings []correlate.Finding
	tapMu    sync.Mutex
	tap      func(*sources.Batch) // sees every batch after it was stored (the recorder)
}

// EngineWindow is how far back the engine looks: its 15-minute scoring
// window plus the hour of baseline behind it.
const EngineWindow = 75 * time.Minute

// NewEngine is the engine with every rule, the path triangulation among
// them.
func NewEngine() *correlate.Engine { return correlate.NewEngine(EngineOptions()) }

// EngineOptions are the engine's settings in every mode (live, check,
// replay, export), so they all reach the same findings.
func EngineOptions() correlate.EngineOptions {
	return correlate.EngineOptions{Rules: []correlate.RuleFunc{correlate.PathFindings}}
}

// EvalOptions are EngineOptions for evaluating a recording.
func EvalOptions() replay.EvalOptions {
	return replay.EvalOptions{Engine: EngineOptions(), Window: EngineWindow}
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

// New makes a runtime; nothing runs until Run.
func New(o Options) *Runtime {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	r := &Runtime{
		Store:        correlate.NewStore(o.Store),
		Engine:       NewEngine(),
		EngineWindow: EngineWindow,
		MinFrame:     100 * time.Millisecond,
		Logf:         o.Logf,
		dirty:        make(chan struct{}, 1),
		entries:      o.Entries,
	}
	r.Store.SetDependencies(o.Deps)
	// statuses first, in config order, so the header lists sources as
	// configured and a source that never answers still shows
	for _, e := range o.Entries {
		r.Store.SetStatus(sources.Status{Source: e.Name, Type: e.Type, Health: sources.HealthUnknown})
	}
	r.Sched = sources.NewScheduler(o.Entries, sources.SchedulerOptions{
		Out: r.accept, Rules: o.Rules, Step: r.Store.Step(), Backfill: o.Backfill,
		From: o.From, Until: o.Until, Now: o.Now, Logf: o.Logf,
	})
	return r
}

// accept is the scheduler's Out: store the batch, let the engine know.
func (r *Runtime) accept(b *sources.Batch) {
	r.Store.Apply(b)
	r.tapMu.Lock()
	if r.tap != nil {
		r.tap(b)
	}
	r.tapMu.Unlock()
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// Ingest stores a batch that did not come from the scheduler (a replay)
// and, when evaluate is set, runs the engine over it at once, as live
// would have after that batch.
func (r *Runtime) Ingest(b *sources.Batch, evaluate bool) {
	r.accept(b)
	if evaluate {
		r.Evaluate()
	}
}

// Restart empties the store and the engine (a replay seeking backwards).
func (r *Runtime) Restart() {
	r.Store.Reset()
	r.mu.Lock()
	r.Engine = NewEngine()
	r.findings = nil
	r.mu.Unlock()
}

// SetTap installs (or removes, with nil) the batch tap while running.
func (r *Runtime) SetTap(f func(*sources.Batch)) {
	r.tapMu.Lock()
	r.tap = f
	r.tapMu.Unlock()
}

// Findings returns the engine's latest findings; safe from any goroutine.
func (r *Runtime) Findings() []correlate.Finding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]correlate.Finding(nil), r.findings...)
}

// Evaluate runs the engine once over the present store and stores the
// findings; the engine's change events go onto the timeline.
func (r *Runtime) Evaluate() []correlate.Finding {
	now := r.Store.Now()
	snap := r.Store.Snapshot(now.Add(-r.EngineWindow), now, nil)
	r.mu.RLock()
	eng := r.Engine
	r.mu.RUnlock()
	fs, changes := eng.Evaluate(snap)
	if len(changes) > 0 {
		// no status: the engine is not a source, and stays out of the header
		r.Store.Apply(&sources.Batch{Source: correlate.EngineSource, At: now, Events: changes})
	}
	r.mu.Lock()
	r.findings = fs
	r.mu.Unlock()
	return fs
}

// Run polls the sources and runs the engine until ctx ends. changed is
// called (from Run's goroutine, at most every MinFrame) after the store
// and findings moved.
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
		r.Evaluate()
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

// Once polls every source once (twice, `sample` apart, so counters can
// become rates), evaluates, and returns the findings: the check mode.
func (r *Runtime) Once(ctx context.Context, sample time.Duration) []correlate.Finding {
	r.Sched.RunOnce(ctx, 2)
	if sample > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(sample):
			r.Sched.RunOnce(ctx, 2)
		}
	}
	return r.Evaluate()
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
		src, err := kind.New(sources.Env{Name: s.Name, Logf: func(f string, a ...any) { logf(name+": "+f, a...) }}, s.Options)
		if err != nil {
			return nil, err
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
