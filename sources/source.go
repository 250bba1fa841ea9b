package sources

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Request tells a source what one poll should cover. Sources with history
// (Graphite, Prometheus, CloudWatch) return points in [From, Until] at about
// Step; the first poll asks for the whole visible window (backfill), later
// ones only for what is new. Sources without history (HAProxy, probes)
// report their present state and ignore the window.
type Request struct {
	Now   time.Time
	From  time.Time
	Until time.Time
	Step  time.Duration
	// Backfill is true when the window is a backfill (first poll, or the
	// window widened), false for an incremental poll.
	Backfill bool
	// Emit, when set, takes parts of a large answer as the source reads
	// them (a backfill of 10,000 series): each part's series are stored
	// at once and judged with the batch Poll returns, which ends the
	// poll. A source may ignore it and return everything.
	Emit func(*Batch) `json:"-"`
}

// Source turns one protocol into batches of the data model. It must honour
// ctx: the scheduler cancels it at the source's timeout. It must not retry,
// back off or keep status: the scheduler does that for all sources.
type Source interface {
	Poll(ctx context.Context, req Request) (*Batch, error)
}

// Closer is implemented by sources that hold resources (connections,
// child processes) to release when opsview stops.
type Closer interface {
	Close() error
}

// Options is a source's own part of the configuration. Decode fills v (a
// pointer to a struct with `yaml` tags) strictly: an unknown key or a bad
// value is an error that names the file and line.
type Options interface {
	Decode(v any) error
	// Errorf makes an error pointing at the source's entry in the config,
	// for checks Decode cannot do (e.g. "socket or url is required").
	Errorf(format string, args ...any) error
}

// Env is what a factory may need from the process around it.
type Env struct {
	// Name of the source instance, from the config.
	Name string
	// Logf writes to opsview's log file, never to the screen.
	Logf func(format string, args ...any)
}

// Factory builds a source from its options.
type Factory func(env Env, opts Options) (Source, error)

// Kind describes one kind of source for `config example` and `--help`.
type Kind struct {
	Type    string
	Summary string
	// Example is a commented YAML snippet of one source entry of this type
	// (starting with "- name:"), used by `opsview config example`.
	Example string
	// History is true for sources that answer for past windows (Graphite,
	// Prometheus, CloudWatch): historical mode and check --compare use them.
	History bool
	New     Factory
}

// Decoding is the Factory of a source configured by an options struct O:
// it decodes the source's options and hands them to mk, and says mk's
// error with the source's type and name, at its line of the config.
func Decoding[O any, S Source](typ string, mk func(Env, O) (S, error)) Factory {
	return func(env Env, opts Options) (Source, error) {
		var o O
		if err := opts.Decode(&o); err != nil {
			return nil, err
		}
		s, err := mk(env, o)
		if err != nil {
			return nil, opts.Errorf("%s %q: %v", typ, env.Name, err)
		}
		return s, nil
	}
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register makes a kind of source available to the config. Packages call it
// from init.
func Register(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Type]; dup {
		panic(fmt.Sprintf("sources: type %q registered twice", k.Type))
	}
	kinds[k.Type] = k
}

// Lookup finds a registered kind of source.
func Lookup(typ string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[typ]
	return k, ok
}

// Kinds lists the registered kinds, sorted by type.
func Kinds() []Kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// PastAlerts is a source that can tell, from its own history, which of
// its alerts were open at a past instant (Nagios from its log): check
// --compare asks it.
type PastAlerts interface {
	AlertsAt(ctx context.Context, at time.Time) ([]Event, error)
}

// PollFunc adapts a function to the Source interface (handy in tests and
// for small sources).
type PollFunc func(ctx context.Context, req Request) (*Batch, error)

// Poll calls f.
func (f PollFunc) Poll(ctx context.Context, req Request) (*Batch, error) { return f(ctx, req) }

// Window returns the request's window with its gaps filled: the step
// (defaultStep when unset), until (Until, else Now, else the wall clock)
// and from (From, else 60 steps before until).
func (r Request) Window(defaultStep time.Duration) (from, until time.Time, step time.Duration) {
	step = r.Step
	if step <= 0 {
		step = defaultStep
	}
	until = r.Until
	if until.IsZero() {
		until = r.Now
	}
	if until.IsZero() {
		until = time.Now()
	}
	from = r.From
	if from.IsZero() {
		from = until.Add(-60 * step)
	}
	return from, until, step
}

// Browser is a source whose series can be browsed and added while opsview
// runs (the series picker): Graphite's metric tree, Prometheus' metric
// names.
type Browser interface {
	// Browse lists the children of path ("" for the root).
	Browse(ctx context.Context, path string) ([]BrowseNode, error)
	// AddSeries starts polling the series with the given ID (a leaf's ID).
	AddSeries(id string) error
}

// BrowseNode is one entry of a source's tree of series.
type BrowseNode struct {
	ID   string // full path, usable in AddSeries when Leaf
	Text string // last component, for display
	Leaf bool
}
