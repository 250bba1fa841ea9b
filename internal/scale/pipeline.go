package scale

import (
	"context"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/graphite"
	"github.com/opsview/opsview/sources/prometheus"
)

// DefaultRules are the rules a configuration without rules of its own
// runs (the lead's defaults: Graphite trees, then node_exporter).
func DefaultRules() sources.Rules {
	return append(graphite.DefaultRules(), prometheus.DefaultRules()...)
}

// Pipeline is one source's poll → classify → store → engine cycle, as the
// scheduler and the runtime run it, on a clock the caller moves.
type Pipeline struct {
	Source   sources.Source
	Name     string
	Type     string
	Session  *correlate.Session
	classify func(*sources.Batch)
	last     time.Time
}

// NewPipeline wires src to a session with the default rules and the
// store settings of the runtime.
func NewPipeline(name, typ string, src sources.Source, store correlate.StoreOptions) *Pipeline {
	opt := app.Options{Store: store}
	rules := DefaultRules()
	return &Pipeline{
		Source: src, Name: name, Type: typ,
		Session:  correlate.NewSession(opt.SessionOptions()),
		classify: sources.NewClassifier(rules).Apply,
	}
}

// Prefill stores series without judging them (a store that starts full).
func (p *Pipeline) Prefill(series []sources.Series, at time.Time) {
	b := &sources.Batch{Source: p.Name, Type: p.Type, At: at, Series: series,
		Status: sources.Status{Source: p.Name, Type: p.Type, Health: sources.HealthOK}}
	p.classify(b)
	p.Session.Apply(b)
	app.TuneGC()
	p.last = at
}

// Poll runs one cycle at now and returns the batch's series count.
func (p *Pipeline) Poll(ctx context.Context, now time.Time, backfill time.Duration) (int, error) {
	req := sources.Request{Now: now, Until: now, Step: p.Session.Store().Step(), From: p.last}
	if p.last.IsZero() || backfill > 0 {
		req.From, req.Backfill = now.Add(-backfill), true
	}
	b, err := p.Source.Poll(ctx, req)
	if err != nil {
		return 0, err
	}
	b.Source, b.Type, b.At = p.Name, p.Type, now
	b.Status = sources.Status{Source: p.Name, Type: p.Type, Health: sources.HealthOK}
	p.classify(b)
	p.Session.Step(b)
	app.TuneGC()
	p.last = now
	return len(b.Series), nil
}
