// Package correlate is opsview's engine: the aligned store every source
// feeds, and pure functions of its snapshots (baselines, anomaly scores,
// ranking, rules, findings). It does no I/O and starts no goroutines.
package correlate

import (
	"fmt"
	"maps"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// StoreDefaults is o with its zero fields set to the store's defaults.
func StoreDefaults(o StoreOptions) StoreOptions {
	o.defaults()
	return o
}

// StoreOptions size the store. Memory is bounded by MaxSeries × Retention/Step.
type StoreOptions struct {
	Step        time.Duration // common clock step; default 5s
	Retention   time.Duration // history kept per series; default 24h
	MaxSeries   int           // default 50,000; new series beyond it are dropped and counted
	MaxEvents   int           // default 10,000; the oldest closed events go first
	PathHistory int           // traces kept per (vantage, target); default 360
}

func (o *StoreOptions) defaults() {
	if o.Step <= 0 {
		o.Step = 5 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 24 * time.Hour
	}
	if o.Retention < o.Step {
		o.Retention = o.Step
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 50000
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 10000
	}
	if o.PathHistory <= 0 {
		o.PathHistory = 360
	}
}

// SeriesMeta is what the store knows about a series besides its values.
type SeriesMeta struct {
	Key    string // source + "/" + series ID: unique in the store
	Source string
	Name   string
	Labels map[string]string
	Unit   string
	Role   sources.Role
	Layer  sources.Layer
	Node   string
	Kind   sources.SeriesKind
	Harm   sources.Harm // which way it hurts, as its source or a rule said
	// Measure is what it measures (errors, latency, …), as its source, a
	// rule or its name said when it arrived.
	Measure sources.Measure
}

// Store holds everything the sources returned, bounded: series as ring
// buffers on one clock, events, path traces, node states and statuses.
// Writers (Apply) and readers (Snapshot) share an RWMutex; readers copy out
// only the window they ask for, so the engine and the UI never wait on each
// other for longer than a copy.
type Store struct {
	opt      StoreOptions
	maxSlots int

	mu      sync.RWMutex
	version uint64
	now     time.Time
	series  map[string]*ring
	// byHash finds a series from its source, name and labels without
	// building its key: one poll of 10,000 series would otherwise make
	// 30,000 allocations for keys that already exist
	byHash  map[uint64]*ring
	order   []*ring // in order of first appearance
	dropped int     // series refused because of MaxSeries
	// droppedBy counts them by source; pollDrops those of the poll under
	// way, said in the source's status when the poll's last batch comes
	droppedBy map[string]int
	pollDrops map[string]int
	bytes     int64 // held by the series: values and metadata
	events    map[string]*sources.Event
	evOrder   []string
	paths     map[string]*pathRing
	pathKeys  []string
	nodes     map[string][]sources.NodeState
	status    map[string]sources.Status
	srcOrder  []string
	deps      []sources.Dependency
	// tracked is the last snapshot SnapshotInto made of every series:
	// the rings' dirty marks say what changed since it was taken, so the
	// next one into its memory copies only that (see SnapshotInto)
	tracked *Snapshot
	gen     uint64 // bumped by Reset: a tracked snapshot of before is stale
	// seqs are, by source, the rings of its last poll in its order and
	// those of this poll so far: a source sends its series in the same
	// order every time, so the ring at the same place is tried first
	seqs map[string]*ringSeq
}

// ringSeq is one source's rings in the order of its batches (nil for a
// series the store refused).
type ringSeq struct{ last, cur []*ring }

// NewStore makes an empty store.
func NewStore(opt StoreOptions) *Store {
	opt.defaults()
	slots := int(opt.Retention / opt.Step)
	if slots < 1 {
		slots = 1
	}
	return &Store{
		opt:       opt,
		maxSlots:  slots,
		series:    map[string]*ring{},
		byHash:    map[uint64]*ring{},
		droppedBy: map[string]int{},
		pollDrops: map[string]int{},
		events:    map[string]*sources.Event{},
		paths:     map[string]*pathRing{},
		nodes:     map[string][]sources.NodeState{},
		status:    map[string]sources.Status{},
	}
}

// Step is the store's clock step.
func (s *Store) Step() time.Duration { return s.opt.Step }

// Retention is how far back the store keeps data.
func (s *Store) Retention() time.Duration { return s.opt.Retention }

// SetDependencies records the node dependencies from the config.
func (s *Store) SetDependencies(d []sources.Dependency) {
	s.mu.Lock()
	s.deps = append([]sources.Dependency(nil), d...)
	s.version++
	s.mu.Unlock()
}

// Version increases with every change; a reader can skip work when it has
// not moved.
func (s *Store) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Now is the newest time the store has seen (a batch's At, or a point).
func (s *Store) Now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.now
}

// Bucket returns the bucket number of t on the store's clock.
func (s *Store) Bucket(t time.Time) int64 { return bucketOf(t, s.opt.Step) }

func bucketOf(t time.Time, step time.Duration) int64 {
	n := t.UnixNano()
	b := n / int64(step)
	if n < 0 && n%int64(step) != 0 {
		b--
	}
	return b
}

// Apply stores one batch.
func (s *Store) Apply(b *sources.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	if b.At.After(s.now) {
		s.now = b.At
	}
	if len(b.Series) > 0 {
		seq := s.seqs[b.Source]
		if seq == nil {
			if s.seqs == nil {
				s.seqs = map[string]*ringSeq{}
			}
			seq = &ringSeq{}
			s.seqs[b.Source] = seq
		}
		for i := range b.Series {
			in := &b.Series[i]
			var r *ring
			if j := len(seq.cur); j < len(seq.last) {
				// the same series at the same place, in the same map
				if x := seq.last[j]; x != nil && x.meta.Name == in.Name && sameMap(x.meta.Labels, in.Labels) {
					r = x
				}
			}
			seq.cur = append(seq.cur, s.applySeries(b.Source, in, r))
		}
		if !b.Partial {
			seq.last, seq.cur = seq.cur, seq.last[:0]
		}
	}
	for i := range b.Events {
		s.applyEvent(b.Source, b.Events[i])
	}
	for i := range b.Paths {
		s.applyPath(b.Source, b.Paths[i])
	}
	if b.Nodes != nil {
		ns := append([]sources.NodeState(nil), b.Nodes...)
		for i := range ns {
			ns[i].Source = b.Source
		}
		s.nodes[b.Source] = ns
	}
	if b.Source != "" {
		s.seen(b.Source)
		// a batch without a status (the engine's own events) adds no source
		// to the status list
		if b.Status.Health != sources.HealthUnknown || b.Status.Source != "" {
			st := b.Status
			if st.Source == "" {
				st.Source = b.Source
			}
			if n := s.pollDrops[b.Source]; n > 0 {
				note := fmt.Sprintf("%d new series dropped: the store holds store.max_series (%d)", n, s.opt.MaxSeries)
				st.Detail = strings.TrimPrefix(st.Detail+"; "+note, "; ")
				delete(s.pollDrops, b.Source)
			}
			s.status[b.Source] = st
		}
	}
}

// seen keeps the order in which sources first appeared.
func (s *Store) seen(src string) {
	for _, x := range s.srcOrder {
		if x == src {
			return
		}
	}
	s.srcOrder = append(s.srcOrder, src)
}

// SetStatus records a source's status without data (a failed poll).
func (s *Store) SetStatus(st sources.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.seen(st.Source)
	s.status[st.Source] = st
}

// seriesHash identifies source, name and labels: the series' Hash (worked
// out here when its source or the classifier did not) with its source's.
func (s *Store) seriesHash(source string, in *sources.Series) uint64 {
	if in.Hash == 0 {
		in.Hash = sources.SeriesHash(in.Name, in.Labels)
	}
	return in.Hash ^ sources.SourceHash(source)*0x9e3779b97f4a7c15
}

// applySeries stores one series of source (its ring r when the caller
// knows it) and returns its ring, nil when the store refused it.
func (s *Store) applySeries(source string, in *sources.Series, r *ring) *ring {
	var hash uint64
	if r == nil {
		hash = s.seriesHash(source, in)
		r = s.byHash[hash]
		if r != nil && (r.meta.Source != source || r.meta.Name != in.Name || !sameLabels(r.meta.Labels, in.Labels)) {
			r = nil // another series with the same hash: go by the key
		}
	}
	in.Hash = 0 // this process's: not for a recording of the batch
	var key string
	if r == nil {
		key = source + "/" + in.ID()
		r = s.series[key]
		if r != nil && s.byHash[hash] == nil {
			s.byHash[hash] = r
		}
	}
	if r == nil {
		if len(s.series) >= s.opt.MaxSeries {
			s.dropped++
			s.droppedBy[source]++
			s.pollDrops[source]++
			return nil
		}
		r = &ring{dirty: math.MaxInt64, gone: math.MinInt64, meta: SeriesMeta{
			Key: key, Source: source, Name: in.Name, Labels: in.Labels,
			Unit: in.Unit, Role: in.Role, Layer: in.Layer, Node: in.Node, Kind: in.Kind, Harm: in.Harm, Measure: in.Measure,
		}}
		s.bytes += metaBytes(&r.meta)
		s.series[key] = r
		if s.byHash[hash] == nil {
			s.byHash[hash] = r
		}
		s.order = append(s.order, r)
	} else {
		// a later batch may carry better metadata (rules changed, unit
		// learned); written only when it differs, so that a snapshot
		// knows which series' metadata to copy again
		m := &r.meta
		if !sameMap(m.Labels, in.Labels) {
			// equal labels in another map: keep the newer, which the
			// next batch is likelier to bring again (then no comparing)
			m.Labels, r.metaDirty = in.Labels, true
		}
		if in.Unit != "" && in.Unit != m.Unit || in.Role != sources.RoleUnknown && in.Role != m.Role ||
			in.Layer != sources.LayerUnknown && in.Layer != m.Layer || in.Node != "" && in.Node != m.Node ||
			in.Kind != sources.SeriesUnknown && in.Kind != m.Kind || in.Measure != 0 && in.Measure != m.Measure ||
			in.Harm != sources.HarmUnset && in.Harm != m.Harm {
			r.metaDirty = true
			if in.Unit != "" {
				m.Unit = in.Unit
			}
			if in.Role != sources.RoleUnknown {
				m.Role = in.Role
			}
			if in.Layer != sources.LayerUnknown {
				m.Layer = in.Layer
			}
			if in.Node != "" {
				m.Node = in.Node
			}
			if in.Kind != sources.SeriesUnknown {
				m.Kind = in.Kind
			}
			if in.Measure != 0 {
				m.Measure = in.Measure
			}
			if in.Harm != sources.HarmUnset {
				m.Harm = in.Harm
			}
		}
	}
	held := cap(r.vals)
	for _, p := range in.Points {
		r.put(bucketOf(p.T, s.opt.Step), p.V, s.maxSlots)
		if p.T.After(s.now) {
			s.now = p.T
		}
	}
	s.bytes += int64(cap(r.vals)-held) * 4
	return r
}

// metaBytes estimates what a series' metadata holds: its strings, its
// labels (a map's entries cost about 3 words each beyond their strings)
// and the ring's own fields and index entries.
func metaBytes(m *SeriesMeta) int64 {
	n := len(m.Key) + len(m.Name) + len(m.Unit) + len(m.Node) + 400
	for k, v := range m.Labels {
		n += len(k) + len(v) + 48
	}
	return int64(n)
}

// StoreStats is what the store holds against its budget.
type StoreStats struct {
	Series    int
	MaxSeries int
	Bytes     int64          // values and metadata of the series, estimated
	Dropped   int            // new series refused since the start, for MaxSeries
	DroppedBy map[string]int // the same by source
}

// Stats says how much the store holds.
func (s *Store) Stats() StoreStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.statsLocked()
}

func (s *Store) statsLocked() StoreStats {
	st := StoreStats{Series: len(s.series), MaxSeries: s.opt.MaxSeries, Bytes: s.bytes, Dropped: s.dropped}
	if len(s.droppedBy) > 0 {
		st.DroppedBy = maps.Clone(s.droppedBy)
	}
	return st
}

// sameLabels is sources.SameLabels: at once when both are the same map
// (the classifier hands on the map a series was first seen with).
func sameLabels(a, b map[string]string) bool { return sources.SameLabels(a, b) }

// sameMap reports whether a and b are one map (sources.SameMap).
func sameMap(a, b map[string]string) bool { return sources.SameMap(a, b) }

func (s *Store) applyEvent(source string, e sources.Event) {
	if e.Source == "" {
		e.Source = source
	}
	key := e.Source + "/" + e.ID
	if old, ok := s.events[key]; ok {
		if e.Start.IsZero() {
			e.Start = old.Start
		}
		*old = e
		return
	}
	ev := e
	s.events[key] = &ev
	s.evOrder = append(s.evOrder, key)
	if len(s.evOrder) > s.opt.MaxEvents {
		s.trimEvents()
	}
}

// trimEvents drops the oldest closed events first, then the oldest open ones.
func (s *Store) trimEvents() {
	excess := len(s.evOrder) - s.opt.MaxEvents
	keep := s.evOrder[:0]
	for _, k := range s.evOrder {
		if excess > 0 && !s.events[k].Open() {
			delete(s.events, k)
			excess--
			continue
		}
		keep = append(keep, k)
	}
	for excess > 0 && len(keep) > 0 {
		delete(s.events, keep[0])
		keep = keep[1:]
		excess--
	}
	s.evOrder = append([]string(nil), keep...)
}

func (s *Store) applyPath(source string, t sources.PathTrace) {
	key := source + "/" + t.Vantage + "/" + t.Target
	pr := s.paths[key]
	if pr == nil {
		pr = &pathRing{source: source, vantage: t.Vantage, target: t.Target, buf: make([]sources.PathTrace, 0, 8)}
		s.paths[key] = pr
		s.pathKeys = append(s.pathKeys, key)
	}
	pr.add(t, s.opt.PathHistory)
	if t.At.After(s.now) {
		s.now = t.At
	}
}

// ring is one series' values on the common clock. It grows (doubling) up
// to the store's retention, so a new series costs little. Values are held
// as float32 (7 significant digits, half the memory: 10,000 series × 360
// buckets is 14 MB); sources send gauges and rates, not raw counters,
// so nothing needs more digits than that. Snapshots widen them back.
type ring struct {
	meta   SeriesMeta
	vals   []float32
	first  int64 // oldest bucket held
	last   int64 // newest bucket held
	filled bool
	// dirty is the oldest bucket written since the store's tracked
	// snapshot copied the ring, math.MaxInt64 when none; gone the newest
	// bucket let go for retention since, math.MinInt64 when none;
	// metaDirty says its metadata changed since
	dirty     int64
	gone      int64
	metaDirty bool
}

// firstSlots is a new series' room, in buckets: 16 (64 bytes) covers its
// first minutes at a step of 10 s; the ring doubles as it fills. At
// 10,000 series 64 first slots held 1.9 MB more than the first minutes
// needed.
const firstSlots = 16

func (r *ring) put(b int64, v float64, maxSlots int) {
	if b < r.dirty {
		r.dirty = b
	}
	if !r.filled {
		n := firstSlots
		if n > maxSlots {
			n = maxSlots
		}
		r.vals = make([]float32, n)
		fillNaN32(r.vals)
		r.first, r.last, r.filled = b, b, true
		r.vals[r.slot(b)] = float32(v)
		return
	}
	switch {
	case b > r.last:
		span := b - r.first + 1
		if span > int64(len(r.vals)) && len(r.vals) < maxSlots {
			r.grow(span, maxSlots)
		}
		n := int64(len(r.vals))
		// clear the buckets skipped between last and b
		gap := b - r.last - 1
		if gap > n {
			gap = n
		}
		for i := int64(1); i <= gap; i++ {
			r.vals[r.slot(b-i)] = nan32
		}
		r.last = b
		if r.last-r.first+1 > n {
			r.first = r.last - n + 1
			// the oldest buckets are let go: a snapshot holding them
			// must read them as NaN now
			r.gone = r.first - 1
		}
	case b < r.first:
		span := r.last - b + 1
		if span > int64(len(r.vals)) {
			if len(r.vals) >= maxSlots {
				return // older than retention
			}
			r.grow(span, maxSlots)
			if span > int64(len(r.vals)) {
				return
			}
		}
		for x := b + 1; x < r.first; x++ {
			r.vals[r.slot(x)] = nan32
		}
		r.first = b
	}
	r.vals[r.slot(b)] = float32(v)
}

func (r *ring) slot(b int64) int {
	n := int64(len(r.vals))
	i := b % n
	if i < 0 {
		i += n
	}
	return int(i)
}

func (r *ring) grow(span int64, maxSlots int) {
	n := len(r.vals)
	for int64(n) < span && n < maxSlots {
		n *= 2
	}
	if n > maxSlots {
		n = maxSlots
	}
	nv := make([]float32, n)
	fillNaN32(nv)
	old := r.vals
	oldN := int64(len(old))
	for b := r.first; b <= r.last; b++ {
		i := b % oldN
		if i < 0 {
			i += oldN
		}
		j := b % int64(n)
		if j < 0 {
			j += int64(n)
		}
		nv[j] = old[i]
	}
	r.vals = nv
}

func fillNaN(v []float64) {
	nan := math.NaN()
	for i := range v {
		v[i] = nan
	}
}

var nan32 = float32(math.NaN())

func fillNaN32(v []float32) {
	for i := range v {
		v[i] = nan32
	}
}

type pathRing struct {
	source, vantage, target string
	buf                     []sources.PathTrace
	head                    int // next write position once full
}

func (p *pathRing) add(t sources.PathTrace, max int) {
	if len(p.buf) < max {
		p.buf = append(p.buf, t)
		return
	}
	p.buf[p.head] = t
	p.head = (p.head + 1) % max
}

// ordered returns the traces oldest first.
func (p *pathRing) ordered() []sources.PathTrace {
	out := make([]sources.PathTrace, 0, len(p.buf))
	out = append(out, p.buf[p.head:]...)
	out = append(out, p.buf[:p.head]...)
	return out
}

// Filter selects series for a snapshot; nil takes all.
type Filter func(*SeriesMeta) bool

// SnapSeries is one series in a snapshot: its metadata and one value per
// bucket of the window (NaN where there is no data).
type SnapSeries struct {
	SeriesMeta
	Values []float64

	lazy int // 1 + its ring's place in a SnapshotMeta's rings; 0 when Values were copied
}

// Last returns the newest value that is not NaN and its bucket index in
// the window, or NaN and -1.
func (s *SnapSeries) Last() (float64, int) {
	for i := len(s.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(s.Values[i]) {
			return s.Values[i], i
		}
	}
	return math.NaN(), -1
}

// PathHistory is the traces of one (vantage, target), oldest first.
type PathHistory struct {
	Source  string
	Vantage string
	Target  string
	Traces  []sources.PathTrace
}

// Latest is the newest trace.
func (p *PathHistory) Latest() *sources.PathTrace {
	if len(p.Traces) == 0 {
		return nil
	}
	return &p.Traces[len(p.Traces)-1]
}

// Snapshot is an immutable copy of a window of the store.
type Snapshot struct {
	Version uint64
	Now     time.Time // the newest time the store has seen
	Start   time.Time // time of the first bucket
	Step    time.Duration
	N       int // buckets in the window
	Series  []SnapSeries
	Events  []sources.Event // overlapping the window, by start time
	Paths   []PathHistory
	Nodes   []sources.NodeState
	Status  []sources.Status // in order of first appearance
	Deps    []sources.Dependency
	Dropped int // series refused for MaxSeries
	// Held is what the store holds against its budget (all of it, not
	// only the series the filter picked).
	Held StoreStats

	buf []float64 // every series' values, for SnapshotInto to reuse
	// where series i's values sit in buf: buf[i*stride+off:][:N]; the
	// slack beyond N lets the next snapshot of a later window slide
	// forward in place
	stride, off int
	b0          int64  // the window's first bucket
	gen         uint64 // the store's generation it was taken in

	// a SnapshotMeta's: the store and the rings its series' values are
	// copied from when first asked for (Load), into lazyBuf
	store   *Store
	rings   []*ring
	lazyBuf []float64
}

// Time returns the start time of bucket i of the window.
func (s *Snapshot) Time(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

// Index returns the bucket index of t in the window (may be out of range).
func (s *Snapshot) Index(t time.Time) int {
	return int(bucketOf(t, s.Step) - bucketOf(s.Start, s.Step))
}

// Find returns the series with the given key, or nil.
func (s *Snapshot) Find(key string) *SnapSeries {
	for i := range s.Series {
		if s.Series[i].Key == key {
			return &s.Series[i]
		}
	}
	return nil
}

// Load returns the values of ss, a series of this snapshot, copying them
// from the store first if the snapshot was taken by SnapshotMeta without
// them; they stay in ss.Values for the snapshot's life. The window is the
// snapshot's; its buckets are as the store holds them when first asked
// for (a bucket still being written may have moved on since the snapshot
// was taken). A snapshot with lazy values has one reader: Load is not
// safe for concurrent use.
func (s *Snapshot) Load(ss *SnapSeries) []float64 {
	if ss.Values != nil || ss.lazy == 0 || s.store == nil {
		return ss.Values
	}
	n := s.N
	if cap(s.lazyBuf)-len(s.lazyBuf) < n {
		// a new backing: values handed out before keep the old one
		s.lazyBuf = make([]float64, 0, max(2*cap(s.lazyBuf), 16*n))
	}
	k := len(s.lazyBuf)
	vals := s.lazyBuf[k : k+n : k+n]
	s.lazyBuf = s.lazyBuf[:k+n]
	st := s.store
	st.mu.RLock()
	if s.gen == st.gen {
		s.rings[ss.lazy-1].copyWindow(s.b0, vals)
	} else {
		fillNaN(vals) // the store was reset since: nothing of then is held
	}
	st.mu.RUnlock()
	ss.Values = vals
	return vals
}

// Snapshot copies the window [from, until] (both rounded down to the step)
// of the series the filter selects, with the events overlapping it, the
// path histories, node states and statuses. All values share one
// allocation.
func (s *Store) Snapshot(from, until time.Time, filter Filter) *Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snapshot(nil, from, until, filter, false)
}

// SnapshotInto is Snapshot reusing old's memory (its series and values)
// when old is not nil: old must not be read any more. A reader that
// snapshots the same window again and again (the engine, every step)
// then allocates nothing for values: at 10,000 series × 360 buckets a
// snapshot is 29 MB. Without a filter it is also incremental: into the
// last such snapshot (old), of a window that starts and ends no earlier,
// it copies only the buckets that are new or were written since, and
// the metadata that changed; the rest is in place already.
func (s *Store) SnapshotInto(old *Snapshot, from, until time.Time, filter Filter) *Snapshot {
	if filter != nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.snapshot(old, from, until, filter, false)
	}
	// the rings' dirty marks are cleared as they are copied: a writer's
	// lock, though nothing the readers see changes
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(old, from, until, nil, true)
}

// SnapshotMeta is SnapshotInto for a reader that shows a few of many
// series at a time (the screen): the picked series' metadata, events,
// paths, nodes and statuses, but no values; Load copies a series' values
// when it is first drawn. At 10,000 series a 15-minute window is 7 MB of
// values, of which a screen draws a dozen series. old, when not nil, is
// an earlier SnapshotMeta whose memory is reused: it must not be read any
// more. A nil filter picks every series.
func (s *Store) SnapshotMeta(old *Snapshot, from, until time.Time, filter Filter) *Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if old != nil && old.store != s {
		old = nil
	}
	return s.snapshotOf(old, from, until, filter, false, true)
}

// snapSlack is how many buckets a tracked snapshot's series may slide
// forward in place before the next one copies everything again: a
// sixteenth of the window, at least 16 (6 % more memory than the values;
// an hour at 10 s copies everything every 22 buckets, under 4 minutes).
func snapSlack(n int) int { return max(16, n/16) }

// snapshot is Snapshot and SnapshotInto; with track, the result is the
// store's tracked snapshot and its rings' dirty marks are cleared.
func (s *Store) snapshot(old *Snapshot, from, until time.Time, filter Filter, track bool) *Snapshot {
	return s.snapshotOf(old, from, until, filter, track, false)
}

// snapshotOf is snapshot, with only the series' metadata when lazy.
func (s *Store) snapshotOf(old *Snapshot, from, until time.Time, filter Filter, track, lazy bool) *Snapshot {
	step := s.opt.Step
	b0, b1 := bucketOf(from, step), bucketOf(until, step)
	if b1 < b0 {
		b1 = b0
	}
	n := int(b1 - b0 + 1)
	if n > s.maxSlots {
		n = s.maxSlots
		b0 = b1 - int64(n) + 1
	}
	snap := &Snapshot{
		Version: s.version,
		Now:     s.now,
		Start:   time.Unix(0, b0*int64(step)),
		Step:    step,
		N:       n,
		Dropped: s.dropped,
		Held:    s.statsLocked(),
	}
	switch {
	case lazy:
		s.metaOnly(old, snap, b0, filter)
	case track && old != nil && old == s.tracked && old.gen == s.gen && b0 >= old.b0 && b1 >= old.b0+int64(old.N)-1 &&
		old.off+int(b0-old.b0)+n <= old.stride && old.stride*len(s.order) <= cap(old.buf):
		s.slide(old, snap, b0)
	default:
		s.copyAll(old, snap, b0, filter, track)
	}
	if track {
		snap.gen = s.gen
		s.tracked = snap
	}
	winStart, winEnd := snap.Start, snap.Start.Add(time.Duration(n)*step)
	for _, k := range s.evOrder {
		e := s.events[k]
		if e.Start.After(winEnd) {
			continue
		}
		if !e.Open() && e.End.Before(winStart) {
			continue
		}
		snap.Events = append(snap.Events, *e)
	}
	sort.SliceStable(snap.Events, func(i, j int) bool { return snap.Events[i].Start.Before(snap.Events[j].Start) })
	for _, k := range s.pathKeys {
		p := s.paths[k]
		snap.Paths = append(snap.Paths, PathHistory{Source: p.source, Vantage: p.vantage, Target: p.target, Traces: p.ordered()})
	}
	for _, src := range s.srcOrder {
		snap.Nodes = append(snap.Nodes, s.nodes[src]...)
		if st, ok := s.status[src]; ok {
			snap.Status = append(snap.Status, st)
		}
	}
	snap.Deps = append(snap.Deps, s.deps...)
	return snap
}

// metaOnly fills snap with the metadata of the series the filter picks
// and what Load needs to copy their values later, in old's memory.
func (s *Store) metaOnly(old, snap *Snapshot, b0 int64, filter Filter) {
	snap.store, snap.b0, snap.gen = s, b0, s.gen
	if old != nil {
		snap.rings, snap.Series, snap.lazyBuf = old.rings[:0], old.Series[:0], old.lazyBuf[:0]
	}
	for _, r := range s.order {
		if filter != nil && !filter(&r.meta) {
			continue
		}
		snap.rings = append(snap.rings, r)
		snap.Series = append(snap.Series, SnapSeries{SeriesMeta: r.meta, lazy: len(snap.rings)})
	}
}

// copyAll copies the window starting at bucket b0 of every series the
// filter picks into snap, in old's memory when it is large enough.
func (s *Store) copyAll(old, snap *Snapshot, b0 int64, filter Filter, track bool) {
	n := snap.N
	var picked []*ring
	if filter == nil {
		picked = s.order
	} else {
		picked = make([]*ring, 0, len(s.order))
		for _, r := range s.order {
			if filter(&r.meta) {
				picked = append(picked, r)
			}
		}
	}
	stride := n
	if track {
		stride += snapSlack(n)
	}
	var backing []float64
	switch {
	case old != nil && cap(old.buf) >= stride*len(picked):
		backing = old.buf[:stride*len(picked)]
	case track:
		// room for a few more series, so that one more does not mean a
		// new buffer and a whole copy on the next step
		backing = make([]float64, stride*len(picked), stride*(len(picked)+len(picked)/32+16))
	default:
		backing = make([]float64, stride*len(picked))
	}
	snap.buf, snap.stride, snap.off, snap.b0 = backing, stride, 0, b0
	if old != nil && cap(old.Series) >= len(picked) {
		snap.Series = old.Series[:len(picked)]
	} else {
		snap.Series = make([]SnapSeries, len(picked))
	}
	for i, r := range picked {
		vals := backing[i*stride : i*stride+n : i*stride+n]
		r.copyWindow(b0, vals)
		snap.Series[i] = SnapSeries{SeriesMeta: r.meta, Values: vals}
		if track {
			r.dirty, r.gone, r.metaDirty = math.MaxInt64, math.MinInt64, false
		}
	}
}

// slide makes snap, of the window from b0, out of old, the tracked
// snapshot of a window that starts and ends no later, in its memory:
// each series' values move forward in its slot of the buffer, and only
// the buckets after old's window or written since old was taken are
// copied; series that arrived since are copied whole.
func (s *Store) slide(old, snap *Snapshot, b0 int64) {
	n, stride := snap.N, old.stride
	off := old.off + int(b0-old.b0)
	next := old.b0 + int64(old.N) // the first bucket old does not hold
	snap.buf, snap.stride, snap.off, snap.b0 = old.buf[:stride*len(s.order)], stride, off, b0
	if cap(old.Series) >= len(s.order) {
		snap.Series = old.Series[:len(s.order)]
	} else {
		snap.Series = append(old.Series, make([]SnapSeries, len(s.order)-len(old.Series))...)
	}
	for i, r := range s.order {
		vals := snap.buf[i*stride+off : i*stride+off+n : i*stride+off+n]
		if i >= len(old.Series) {
			r.copyWindow(b0, vals)
			snap.Series[i] = SnapSeries{SeriesMeta: r.meta, Values: vals}
		} else {
			from := min(next, r.dirty)
			if from < b0 || r.gone >= b0 {
				from = b0
			}
			r.copyWindow(from, vals[from-b0:])
			if r.metaDirty {
				snap.Series[i].SeriesMeta = r.meta
			}
			snap.Series[i].Values = vals
		}
		r.dirty, r.gone, r.metaDirty = math.MaxInt64, math.MinInt64, false
	}
}

func (r *ring) copyWindow(b0 int64, dst []float64) {
	if !r.filled {
		fillNaN(dst)
		return
	}
	lo, hi := b0, b0+int64(len(dst))-1
	if lo < r.first {
		lo = r.first
	}
	if hi > r.last {
		hi = r.last
	}
	if lo > hi {
		fillNaN(dst)
		return
	}
	// NaN only outside what the ring holds; the rest is copied
	fillNaN(dst[:lo-b0])
	fillNaN(dst[hi-b0+1:])
	n := int64(len(r.vals))
	for lo <= hi {
		// copy the run that does not wrap around the ring
		i := r.slot(lo)
		run := hi - lo + 1
		if rest := n - int64(i); run > rest {
			run = rest
		}
		d := dst[lo-b0 : lo-b0+run]
		for k, v := range r.vals[i : int64(i)+run] {
			d[k] = float64(v)
		}
		lo += run
	}
}

// Oldest is the start of the oldest bucket any series holds (zero when
// none holds one).
func (s *Store) Oldest() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var oldest int64
	found := false
	for _, r := range s.order {
		if r.filled && (!found || r.first < oldest) {
			oldest, found = r.first, true
		}
	}
	if !found {
		return time.Time{}
	}
	return time.Unix(0, oldest*int64(s.opt.Step))
}

// Awaiting is how many sources are known (from their status) but have not
// answered yet: not one poll, failed or not, has come back from them.
func (s *Store) Awaiting() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, st := range s.status {
		if st.Health == sources.HealthUnknown {
			n++
		}
	}
	return n
}

// SeriesCount is how many series the store holds.
func (s *Store) SeriesCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.series)
}

// Reset empties the store (a replay that seeks backwards starts over); the
// dependencies stay.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.now = time.Time{}
	s.series = map[string]*ring{}
	s.byHash = map[uint64]*ring{}
	s.order = nil
	s.dropped = 0
	s.droppedBy = map[string]int{}
	s.pollDrops = map[string]int{}
	s.bytes = 0
	s.events = map[string]*sources.Event{}
	s.evOrder = nil
	s.paths = map[string]*pathRing{}
	s.pathKeys = nil
	s.nodes = map[string][]sources.NodeState{}
	s.status = map[string]sources.Status{}
	s.srcOrder = nil
	s.tracked = nil
	s.gen++
	s.seqs = nil
}
