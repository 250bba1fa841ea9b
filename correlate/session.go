package correlate

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// DefaultSessionWindow is how far back the engine looks: its 15-minute
// scoring window plus the hour of baseline behind it.
const DefaultSessionWindow = 75 * time.Minute

// SessionOptions configure a session. A recording keeps them, so a replay
// judges with the same settings as the live run that wrote it.
type SessionOptions struct {
	Store  StoreOptions
	Engine EngineOptions
	// Window is the span of every snapshot the engine judges, ending at
	// the store's newest time; DefaultSessionWindow when zero.
	Window time.Duration
	// Deps are the node dependencies from the config.
	Deps []sources.Dependency
	// MaxChanges bounds the findings timeline; 10,000 when zero.
	MaxChanges int
}

func (o *SessionOptions) defaults() {
	if o.Window <= 0 {
		o.Window = DefaultSessionWindow
	}
	if o.MaxChanges <= 0 {
		o.MaxChanges = 10000
	}
}

// Session is one incident's judgement: the store, the engine and the
// findings timeline. Live, record, replay, export, check and serve all
// drive it the same way, one Step per batch, which is what makes them
// tell the same story. The engine's changes are its output, kept here,
// never written back into the store. It does no I/O and starts no
// goroutines; every method is safe from any goroutine.
type Session struct {
	opt   SessionOptions
	store *Store

	step sync.Mutex // one Step at a time, in the order the batches come

	mu      sync.RWMutex
	engine  *Engine
	active  []Finding
	paths   []PathVerdict
	warm    []Warming
	unusual []Unusual
	changes []Change
	// history is every finding seen, in the order they opened, each as
	// last seen (Resolved set once closed); one that opens again is a
	// new entry, so a flapping finding shows every time it was open
	history []Finding
	open    map[string]int // finding ID → its entry in history while open
	// judged is the store's newest bucket at the last judgement, +1 (0:
	// never judged)
	judged int64
	snap   *Snapshot // the last judged, whose memory the next reuses
}

// NewSession makes an empty session.
func NewSession(opt SessionOptions) *Session {
	opt.defaults()
	s := &Session{opt: opt, store: NewStore(opt.Store)}
	s.store.SetDependencies(opt.Deps)
	s.resetLocked()
	return s
}

func (s *Session) resetLocked() {
	s.engine = NewEngine(s.opt.Engine)
	s.active, s.paths, s.changes, s.history, s.warm, s.unusual = nil, nil, nil, nil, nil, nil
	s.open = map[string]int{}
	s.judged = 0
	s.snap = nil
}

// Options are the session's settings (for a recording's header).
func (s *Session) Options() SessionOptions { return s.opt }

// Store is the session's store: the UI and the reports read snapshots of
// it; only the session writes to it.
func (s *Session) Store() *Store { return s.store }

// Apply stores a batch without judging it: a recording's opening state,
// a note. The next Step judges it with the rest.
func (s *Session) Apply(b *sources.Batch) {
	s.step.Lock()
	defer s.step.Unlock()
	s.store.Apply(b)
}

// SetStatus records a source's status before it ever answered.
func (s *Session) SetStatus(st sources.Status) { s.store.SetStatus(st) }

// Step stores one batch and judges the window ending at the store's
// newest time: the one call every mode makes per batch. It returns what
// changed. While a known source has not answered its first poll, the
// batch is only stored: judging the first source's backfill alone would
// open findings the next source's data changes at once (the scheduler
// reports a poll that fails or hangs as a batch too, so this ends).
// Batches within one bucket of the store's clock are judged once, when the
// clock reaches the bucket: the engine reads buckets, so judging ten probe
// rounds a second would only repeat itself. A batch with events or a
// source in trouble is judged at once. A part of a poll (Partial) is only
// stored: the poll's last batch is judged with it.
func (s *Session) Step(b *sources.Batch) []Change {
	return s.StepThen(b, nil)
}

// StepThen is Step, with then called after the batch is stored and judged
// and before the next batch is: a recorder writes the batch there, so
// the file holds the batches in the order they were judged.
func (s *Session) StepThen(b *sources.Batch, then func(*sources.Batch)) []Change {
	s.step.Lock()
	defer s.step.Unlock()
	s.store.Apply(b)
	var ch []Change
	if !b.Partial && s.store.Awaiting() == 0 && s.due(b) {
		ch = s.evaluate()
	}
	if then != nil {
		then(b)
	}
	return ch
}

// Evaluate judges the present store again without a new batch.
func (s *Session) Evaluate() []Change {
	s.step.Lock()
	defer s.step.Unlock()
	return s.evaluate()
}

// due reports whether batch b, just stored, asks for a judgement.
func (s *Session) due(b *sources.Batch) bool {
	if s.judged != s.store.Bucket(s.store.Now())+1 {
		return true
	}
	return len(b.Events) > 0 || (b.Status.Health != sources.HealthOK && b.Status.Health != sources.HealthUnknown)
}

func (s *Session) evaluate() []Change {
	now := s.store.Now()
	s.judged = s.store.Bucket(now) + 1
	// the engine keeps nothing of a snapshot: the next one reuses it
	// and starts at the oldest data held: a store that began a minute
	// ago is not judged over an hour of NaN (10,000 series × 360 buckets)
	from := now.Add(-s.opt.Window)
	if old := s.store.Oldest(); old.After(from) {
		from = old
	}
	snap := s.store.SnapshotInto(s.snap, from, now, nil)
	s.snap = snap
	s.mu.Lock()
	defer s.mu.Unlock()
	active, changes := s.engine.Evaluate(snap)
	s.active = active
	s.paths = s.engine.Paths()
	s.warm = s.engine.Warming()
	s.unusual = s.engine.Unusual()
	s.record(active, changes)
	return changes
}

// record keeps the findings history and the bounded timeline.
func (s *Session) record(active []Finding, changes []Change) {
	for _, c := range changes {
		if c.Kind != ChangeResolved && c.Kind != ChangeGrouped {
			continue
		}
		if j, ok := s.open[c.Finding.ID]; ok {
			s.history[j].Resolved = c.Finding.Resolved
			delete(s.open, c.Finding.ID)
		}
	}
	for _, f := range active {
		if j, ok := s.open[f.ID]; ok {
			s.history[j] = f
			continue
		}
		s.open[f.ID] = len(s.history)
		s.history = append(s.history, f)
	}
	s.changes = append(s.changes, changes...)
	if over := len(s.changes) - s.opt.MaxChanges; over > 0 {
		s.changes = append(s.changes[:0:0], s.changes[over:]...)
	}
	if over := len(s.history) - s.opt.MaxChanges; over > 0 {
		s.history = append(s.history[:0:0], s.history[over:]...)
		for id, j := range s.open {
			s.open[id] = j - over
		}
	}
}

// Reset empties the store and the engine (a replay seeking backwards);
// the options and dependencies stay.
func (s *Session) Reset() {
	s.step.Lock()
	defer s.step.Unlock()
	s.store.Reset()
	s.mu.Lock()
	s.resetLocked()
	s.mu.Unlock()
}

// Findings are the active findings of the last evaluation, worst first.
func (s *Session) Findings() []Finding {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Finding(nil), s.active...)
}

// FindingsAt are the findings that were active at the instant t (opened
// at or before it, not resolved by then), worst first, each as last seen.
// The zero time means now.
func (s *Session) FindingsAt(t time.Time) []Finding {
	if t.IsZero() {
		return s.Findings()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Finding
	for _, f := range s.history {
		if f.Opened.After(t) || (!f.Resolved.IsZero() && !f.Resolved.After(t)) {
			continue
		}
		out = append(out, f)
	}
	SortFindings(out)
	return out
}

// History is every finding seen, in the order they opened, each as last
// seen; Resolved is set on those that closed.
func (s *Session) History() []Finding {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Finding(nil), s.history...)
}

// Changes is the findings timeline: every opening, update and closing,
// oldest first.
func (s *Session) Changes() []Change {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Change(nil), s.changes...)
}

// Paths are the engine's path verdicts of the last evaluation.
func (s *Session) Paths() []PathVerdict {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]PathVerdict(nil), s.paths...)
}

// Warming says, source by source, which symptoms the last judgement
// could not rank yet for want of a baseline of their own, and until
// when: what the screen shows instead of "nothing wrong found" while it
// warms up.
func (s *Session) Warming() []Warming {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Warming(nil), s.warm...)
}

// Unusual are the symptoms' unusual flags (NeighbourDetector alarms)
// inside the window of the last evaluation.
func (s *Session) Unusual() []Unusual {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Unusual(nil), s.unusual...)
}

// Incidents are the active findings told as incidents, worst first.
func (s *Session) Incidents() []Incident { return Incidents(s.Findings()) }

// Opening is what a recording starts with so that a replay judges from
// its first batch as the live run did: the store's window of every
// source, as batches, and the engine's memory.
type Opening struct {
	Batches []*sources.Batch
	Engine  []byte // the engine's state, for Restore
}

// maxOpeningSeries bounds the series of one opening batch, so no frame of
// a recording grows past its limit.
const maxOpeningSeries = 500

// Opening captures the session's present state (see Opening). Call it
// from the StepThen callback, or when no batch is being stepped.
func (s *Session) Opening() (*Opening, error) {
	s.step.Lock()
	defer s.step.Unlock()
	return s.opening()
}

// OpeningThen captures the opening and calls then with it before any
// other batch is stepped: a recorder writes the opening there and starts
// taking batches, so nothing falls between the two.
func (s *Session) OpeningThen(then func(*Opening) error) error {
	s.step.Lock()
	defer s.step.Unlock()
	o, err := s.opening()
	if err != nil {
		return err
	}
	return then(o)
}

func (s *Session) opening() (*Opening, error) {
	now := s.store.Now()
	snap := s.store.Snapshot(now.Add(-s.opt.Window), now, nil)
	s.mu.RLock()
	state, err := s.engine.state2bytes(s.judged)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &Opening{Batches: OpeningBatches(snap), Engine: state}, nil
}

// Restore stores an opening's batches and gives the engine the memory it
// had (open findings, hysteresis), so the findings go on as they were.
func (s *Session) Restore(o *Opening) error {
	s.step.Lock()
	defer s.step.Unlock()
	for _, b := range o.Batches {
		s.store.Apply(b)
	}
	if len(o.Engine) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	judged, err := s.engine.restore(o.Engine)
	if err != nil {
		return err
	}
	s.judged = judged
	s.active = s.engine.activeSorted()
	s.paths = s.engine.Paths()
	s.record(s.active, nil)
	return nil
}

// OpeningBatches turns a snapshot into batches, one or more per source,
// that rebuild it in an empty store: every series' values at their bucket
// times, the events, path traces, node states and statuses.
func OpeningBatches(snap *Snapshot) []*sources.Batch {
	var out []*sources.Batch
	bySource := map[string]*sources.Batch{}
	get := func(src string) *sources.Batch {
		b := bySource[src]
		if b == nil || len(b.Series) >= maxOpeningSeries {
			b = &sources.Batch{Source: src, At: snap.Now}
			bySource[src] = b
			out = append(out, b)
		}
		return b
	}
	for _, st := range snap.Status {
		b := get(st.Source)
		b.Status, b.Type = st, st.Type
	}
	for _, n := range snap.Nodes {
		b := get(n.Source)
		b.Nodes = append(b.Nodes, n)
	}
	for i := range snap.Series {
		ss := &snap.Series[i]
		pts := make([]sources.Point, 0, len(ss.Values))
		for j, v := range ss.Values {
			if !math.IsNaN(v) {
				pts = append(pts, sources.Point{T: snap.Time(j), V: v})
			}
		}
		if len(pts) == 0 {
			continue
		}
		b := get(ss.Source)
		b.Series = append(b.Series, sources.Series{Name: ss.Name, Labels: ss.Labels, Unit: ss.Unit,
			Role: ss.Role, Layer: ss.Layer, Kind: ss.Kind, Harm: ss.Harm, Measure: ss.Measure, Node: ss.Node, Points: pts})
	}
	for _, ev := range snap.Events {
		b := get(ev.Source)
		b.Events = append(b.Events, ev)
	}
	for _, p := range snap.Paths {
		b := get(p.Source)
		b.Paths = append(b.Paths, p.Traces...)
	}
	return out
}

// engineState is what an engine remembers between evaluations.
type engineState struct {
	Judged     int64 // the session's last judged bucket, +1
	Active     []Finding
	Absent     map[string]time.Time
	RuleActive map[string]bool
	RuleTop    map[string]string
	Paths      []PathMemo    // the path verdicts held open
	Verdicts   []PathVerdict // the path verdicts last published, shown until the next judgement
}

func (e *Engine) state2bytes(judged int64) ([]byte, error) {
	st := engineState{Judged: judged, Active: e.activeSorted(), Absent: e.absent, RuleActive: e.state.active, RuleTop: e.state.top, Paths: e.judge.memos(), Verdicts: e.paths}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
		return nil, fmt.Errorf("engine state: %w", err)
	}
	return buf.Bytes(), nil
}

func (e *Engine) restore(b []byte) (judged int64, err error) {
	var st engineState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return 0, fmt.Errorf("engine state: %w", err)
	}
	for i := range st.Active {
		f := st.Active[i]
		e.active[f.ID] = &f
	}
	for k, v := range st.Absent {
		e.absent[k] = v
	}
	for k, v := range st.RuleActive {
		e.state.active[k] = v
	}
	for k, v := range st.RuleTop {
		e.state.top[k] = v
	}
	e.judge.restore(st.Paths)
	e.paths = st.Verdicts
	return st.Judged, nil
}

func (e *Engine) activeSorted() []Finding {
	out := make([]Finding, 0, len(e.active))
	for _, f := range e.active {
		out = append(out, *f)
	}
	SortFindings(out)
	return out
}
