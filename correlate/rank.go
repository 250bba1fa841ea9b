package correlate

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// RankOptions tune the ranking of suspects for a symptom.
type RankOptions struct {
	// Window is the span searched for the symptom's onset and for moves
	// of the candidates; default 15 min.
	Window time.Duration
	// Baseline is the trailing span before the window the baselines come
	// from; default 4× Window (Netdata's rule), less if the snapshot is
	// shorter.
	Baseline time.Duration
	// Refresh is the grid the window's start moves on, so baselines stay
	// cached between refreshes; default 1 min.
	Refresh time.Duration
	// MaxLag is the ± number of steps searched for co-movement; default 10.
	MaxLag int
	// LeadLimit is how long before the symptom a cause may start; default 10 min.
	LeadLimit time.Duration
	// GapAfter is how long after the symptom's onset an internal move
	// still counts against a monitoring gap; default 2 min.
	GapAfter time.Duration
	// SymptomZ is the z a symptom must hold for Score.Sustain points to be
	// active; default 4. KeepZ keeps an active one active; default 2.
	SymptomZ, KeepZ float64
	MaxSuspects     int // default 5
	MaxEffects      int // default 10
	// LagCandidates is how many of the best candidates get the lag search; default 500.
	LagCandidates int
	// MinPoints is the fewest baseline points a series needs to be scored; default 10.
	MinPoints int
	// MinRequests is the fewest requests in a bucket for a share of
	// requests (availability, error share) to be read there; default 20.
	MinRequests float64
	Score       ScoreOptions
}

func (o *RankOptions) defaults() {
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Baseline <= 0 {
		o.Baseline = 4 * o.Window
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Minute
	}
	if o.MaxLag <= 0 {
		o.MaxLag = 10
	}
	if o.LeadLimit <= 0 {
		o.LeadLimit = 10 * time.Minute
	}
	if o.GapAfter <= 0 {
		o.GapAfter = 2 * time.Minute
	}
	if o.SymptomZ <= 0 {
		o.SymptomZ = 4
	}
	if o.KeepZ <= 0 {
		o.KeepZ = 2
	}
	if o.MaxSuspects <= 0 {
		o.MaxSuspects = 5
	}
	if o.MaxEffects <= 0 {
		o.MaxEffects = 10
	}
	if o.LagCandidates <= 0 {
		o.LagCandidates = 500
	}
	if o.MinPoints <= 0 {
		o.MinPoints = 10
	}
	if o.MinRequests <= 0 {
		o.MinRequests = 20
	}
	o.Score.defaults()
}

// Window is the part of a snapshot an analysis reads: the baseline
// buckets [BaseFrom, BaseTo) and the window [From, To), as indices into
// the snapshot. BaseTo == From in the usual case.
type Window struct {
	BaseFrom, BaseTo, From, To int
}

// LiveWindow places the window at the end of the snapshot, its start on
// the Refresh grid so a refresh a few seconds later reuses every cached
// baseline.
func LiveWindow(snap *Snapshot, o RankOptions) Window {
	o.defaults()
	step := snap.Step
	if step <= 0 || snap.N == 0 {
		return Window{}
	}
	to := snap.N
	if !snap.Now.IsZero() {
		if i := snap.Index(snap.Now) + 1; i > 0 && i < to {
			to = i
		}
	}
	h := int(o.Window / step)
	if h < o.Score.Sustain+1 {
		h = o.Score.Sustain + 1
	}
	g := int64(o.Refresh / step)
	if g < 1 {
		g = 1
	}
	b0 := bucketOf(snap.Start, step)
	abs := b0 + int64(to-h)
	abs = abs - ((abs%g)+g)%g
	from := int(abs - b0)
	if from < 0 {
		from = 0
	}
	bl := int(o.Baseline / step)
	baseFrom := from - bl
	if baseFrom < 0 {
		baseFrom = 0
	}
	return Window{BaseFrom: baseFrom, BaseTo: from, From: from, To: to}
}

// Candidate is one series scored against a symptom.
type Candidate struct {
	Index int // into Snapshot.Series
	Key   string
	Meta  *SeriesMeta
	Dir   Direction
	Base  Baseline
	Anomaly
	Moved bool // the move counts (z ≥ threshold, with an onset)
	// Lead is the steps from the candidate's onset to the symptom's; > 0:
	// it moved first. Both onsets are those of the excursions still going
	// then (ongoingOnset), not the first blip in the window.
	Lead int
	Lag  int     // lag of the best co-movement; > 0: the candidate leads
	R    float64 // correlation of levels at that lag, signed so that > 0 is "hurts together"
	// Overlap is the share of the symptom's anomalous buckets at which the
	// candidate was anomalous too (within MaxLag before): a move that
	// ended before the symptom began does not explain it.
	Overlap float64
	OnPath  bool // same node as the symptom, or one it depends on
	Deepest bool // none of its node's dependencies moved
	Score   float64
	Group   EvidenceKind // suspect, effect or quiet
	// Excluded says why the series was not scored: "stale", "too few
	// points", "no data in window", "no traffic"; "" when it was.
	Excluded string
}

// LayerCheck summarises the series checked in one layer.
type LayerCheck struct {
	Layer  sources.Layer
	Series int     // scored
	Moved  int     // that moved
	MaxZ   float64 // largest harmful peak z among them
	Stale  int     // excluded for data quality
}

// Ranking is the answer for one symptom.
type Ranking struct {
	Symptom  Candidate
	Active   bool // the symptom is anomalous now
	Window   Window
	Suspects []Candidate
	Effects  []Candidate
	Layers   []LayerCheck // every layer seen, outside in; quiet ones have Moved == 0
	Order    []Candidate  // the scored candidates, best first (at most 1000; for evaluation and the UI)
	Excluded []Candidate
	// Gap is true when the symptom is active and no internal series moved
	// between LeadLimit before and GapAfter after its onset.
	Gap bool
}

// maxOrder bounds Ranking.Order: the best this many candidates are kept.
const maxOrder = 1000

// Ranker ranks candidates for symptoms. It keeps the baseline cache and
// scratch space between queries, so it is not safe for concurrent use.
type Ranker struct {
	Opt      RankOptions
	Cache    *BaselineCache
	cands    []Candidate
	masks    map[string][]bool // node → buckets with no traffic
	lowMasks map[string][]bool // node → buckets with fewer than MinRequests
	bufA     []float64
}

// NewRanker makes a ranker with its own baseline cache.
func NewRanker(o RankOptions) *Ranker {
	o.defaults()
	return &Ranker{Opt: o, Cache: NewBaselineCache()}
}

// IsCandidate reports whether a series may explain a symptom: internal
// resources and traffic (and series of unknown role, which are most often
// internal graphs nobody classified).
func IsCandidate(m *SeriesMeta) bool {
	return m.Role == sources.RoleResource || m.Role == sources.RoleTraffic || m.Role == sources.RoleUnknown
}

// trafficMasks marks, per node, the buckets where the node's own traffic
// read zero: its other series say nothing there (an availability of 0 with
// no requests is no data, not an outage).
func (r *Ranker) trafficMasks(snap *Snapshot, w Window) map[string][]bool {
	for k := range r.masks {
		delete(r.masks, k)
	}
	for k := range r.lowMasks {
		delete(r.lowMasks, k)
	}
	if r.masks == nil {
		r.masks, r.lowMasks = map[string][]bool{}, map[string][]bool{}
	}
	type acc struct {
		sum  []float64
		seen []bool
	}
	var nodes map[string]*acc
	for i := range snap.Series {
		s := &snap.Series[i]
		if s.Role != sources.RoleTraffic || s.Node == "" || HarmfulDirection(&s.SeriesMeta) == Down {
			continue
		}
		if nodes == nil {
			nodes = map[string]*acc{}
		}
		a := nodes[s.Node]
		if a == nil {
			a = &acc{sum: make([]float64, snap.N), seen: make([]bool, snap.N)}
			nodes[s.Node] = a
		}
		// requests per bucket: a rate times the step, a count as is
		per := 1.0
		if strings.HasSuffix(s.Unit, "/s") {
			per = snap.Step.Seconds()
		}
		for t := w.BaseFrom; t < w.To; t++ {
			v := s.Values[t]
			if v == v {
				a.seen[t] = true
				if v > 0 {
					a.sum[t] += v * per
				}
			}
		}
	}
	for node, a := range nodes {
		var m, low []bool
		for t := w.BaseFrom; t < w.To; t++ {
			if !a.seen[t] {
				continue
			}
			if a.sum[t] <= 0 {
				if m == nil {
					m = make([]bool, snap.N)
				}
				m[t] = true
			}
			if a.sum[t] < r.Opt.MinRequests {
				if low == nil {
					low = make([]bool, snap.N)
				}
				low[t] = true
			}
		}
		if m != nil {
			r.masks[node] = m
		}
		if low != nil {
			r.lowMasks[node] = low
		}
	}
	return r.masks
}

// IsRequestRatio reports whether a series is a share of its node's
// requests (availability, error share, success rate).
func IsRequestRatio(m *SeriesMeta) bool {
	switch strings.ToLower(m.Unit) {
	case "%", "ratio", "", "percent":
		return m.Measure&(sources.MeasureErrors|sources.MeasureClientErrors|sources.MeasureSuccess) != 0
	}
	return false
}

// maskFor is the mask of buckets a series must not be read at: none for
// traffic (it is the gate); for a share of requests, the buckets with
// fewer than MinRequests requests; for the rest, the buckets with none.
func (r *Ranker) maskFor(m *SeriesMeta) []bool {
	return r.maskOf(m, IsRequestRatio(m))
}

// maskOf is maskFor with IsRequestRatio(m) already known.
func (r *Ranker) maskOf(m *SeriesMeta, ratio bool) []bool {
	if m.Role == sources.RoleTraffic || m.Node == "" {
		return nil
	}
	if ratio {
		if l := r.lowMasks[m.Node]; l != nil {
			return l
		}
	}
	if len(r.masks) == 0 {
		return nil
	}
	return r.masks[m.Node]
}

// depGraph answers "does node a depend on node b" over the snapshot's
// dependencies, transitively.
type depGraph struct {
	out map[string][]string
}

func newDepGraph(deps []sources.Dependency) depGraph {
	g := depGraph{out: map[string][]string{}}
	for _, d := range deps {
		g.out[d.From] = append(g.out[d.From], d.To)
	}
	return g
}

func (g depGraph) empty() bool { return len(g.out) == 0 }

// reach returns every node a depends on, transitively, including a.
func (g depGraph) reach(a string) map[string]bool {
	seen := map[string]bool{a: true}
	stack := []string{a}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, m := range g.out[n] {
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	return seen
}

// Rank scores every candidate series of the snapshot against the symptom
// series at index sym over the window w, in the passes of §4.4 of the
// correlation notes: score the symptom and every candidate, search lags
// for the best K, weigh by time, co-movement and topology, then tier and
// group.
//
// Rank makes the query's slices and maps itself and the passes only
// fill them: made here, on Rank's frame, the small ones need no heap.
func (r *Ranker) Rank(snap *Snapshot, sym int, w Window) *Ranking {
	rk := &Ranking{Window: w}
	q := rankState{r: r, o: r.Opt, snap: snap, sym: sym, w: w, rk: rk}
	q.o.defaults()
	q.thr = q.o.Score.Threshold
	r.trafficMasks(snap, w)
	// score: the symptom, then every candidate
	if !q.scoreSymptom() {
		return rk
	}
	q.countSteps()
	q.scoreCandidates()
	// lag search, for the best K only
	q.order = q.pickLagCandidates(make([]int, 0, len(q.cands)))
	q.searchLags()
	// topology: which nodes moved, then every weight on the score
	q.deps = newDepGraph(snap.Deps)
	if s := &snap.Series[sym]; !q.deps.empty() && s.Node != "" {
		q.symReach = q.deps.reach(s.Node)
	}
	q.moved, q.observed = map[string][]int{}, map[string]bool{}
	q.traceMoves()
	q.upstream = make([]bool, len(q.cands))
	q.weigh()
	// tier, then group
	q.tiers = make([]int8, len(q.cands))
	q.tierAndSort()
	q.group()
	q.findGap()
	q.publish()
	return rk
}

// rankState is one query's working set: what the passes of Rank hand on
// to each other. The candidates are the ranker's scratch, kept between
// queries; the rest lives as long as the query. A pass may write through
// these fields but must not copy one of them (a slice, map or pointer)
// out of the state: escape analysis would then put them all on the heap.
type rankState struct {
	r    *Ranker
	o    RankOptions // r.Opt with the defaults filled in
	snap *Snapshot
	sym  int // the symptom's index in snap.Series
	w    Window
	rk   *Ranking
	thr  float64 // the z a move must reach (o.Score.Threshold)

	symMask             []bool // buckets the symptom must not be read at
	ts                  int    // the symptom's onset, else its peak, else the window's last bucket
	leadSteps, gapSteps int    // LeadLimit and GapAfter in steps
	// crossSteps is how far the symptom's onset was walked back before
	// its first point over the move threshold: a move that began by
	// then began with the symptom, not after it
	crossSteps int
	// riseSteps is how long the symptom took to rise, from its onset to
	// its peak, and at least MaxLag (what the lag search can confirm): a
	// longer lead needs stronger evidence
	riseSteps int

	cands    []Candidate // every candidate but the symptom, in snapshot order
	order    []int       // the scored ones (indices into cands); the first LagCandidates get the lag search
	upstream []bool      // by cands index: a move that a deeper one explains
	tiers    []int8      // by cands index: 0 suspect, 1 other move, 2 quiet
	layers   [8]*LayerCheck

	deps     depGraph
	symReach map[string]bool  // the symptom's node and every node it depends on; nil without a graph
	moved    map[string][]int // node → its candidates that moved in time to matter
	observed map[string]bool  // nodes with a scored series other than traffic
}

// scoreSymptom reads the symptom against its baseline: its harmful
// direction, its anomaly, the bucket the candidates' leads count from,
// and whether it is active now. False when its baseline has too few
// points to say anything.
func (q *rankState) scoreSymptom() bool {
	s, o, w, rk := &q.snap.Series[q.sym], &q.o, q.w, q.rk
	q.symMask = q.r.maskFor(&s.SeriesMeta)
	rk.Symptom = Candidate{Index: q.sym, Key: s.Key, Meta: &s.SeriesMeta, Dir: HarmfulDirection(&s.SeriesMeta)}
	if s.Role == sources.RoleTraffic {
		// traffic as a symptom hurts by rising, unless it is the kind that hurts by falling
		rk.Symptom.Dir = Up
		if HarmfulDirection(&s.SeriesMeta) == Down {
			rk.Symptom.Dir = Down
		}
	}
	rk.Symptom.Base = q.r.Cache.Get(q.snap, s, w.BaseFrom, w.BaseTo, q.symMask)
	if !rk.Symptom.Base.Valid(o.MinPoints) {
		rk.Symptom.Excluded = "too few points"
		return false
	}
	rk.Symptom.Anomaly = ScoreWindow(s.Values, w.From, w.To, &rk.Symptom.Base, rk.Symptom.Dir, o.Score, q.symMask)
	present := rk.Symptom.Anomaly
	if rk.Symptom.Onset >= 0 {
		// its present excursion (the latest), not an earlier burst
		if on := ongoingOnset(s.Values, w.From, w.To, w.To-1, w.To-w.From, &rk.Symptom.Base, rk.Symptom.Dir, o.Score, q.symMask); on >= 0 {
			rk.Symptom.Onset = on
			if on > w.From {
				present = ScoreWindow(s.Values, on, w.To, &rk.Symptom.Base, rk.Symptom.Dir, o.Score, q.symMask)
			}
		}
	}
	rk.Active = q.held(present)
	if b := rk.Symptom.Base; !rk.Active && b.Steady < b.Spread {
		// is it away from how it usually is: the same reading against
		// the steady spread, which rare deep excursions in the baseline
		// (past incidents) do not widen. Onset and leads stay on the
		// full spread.
		b.Spread = b.Steady
		rk.Active = q.held(presentExcursion(s.Values, w, &b, rk.Symptom.Dir, o.Score, q.symMask))
	}
	q.ts = rk.Symptom.Onset
	if q.ts < 0 {
		q.ts = rk.Symptom.PeakAt
	}
	if q.ts < 0 {
		q.ts = w.To - 1
	}
	if rk.Symptom.Onset >= 0 {
		b, d := &rk.Symptom.Base, rk.Symptom.Dir
		for i := q.ts; i < w.To; i++ {
			v := s.Values[i]
			if v != v || (q.symMask != nil && q.symMask[i]) {
				continue
			}
			if harm((v-b.Level)/b.Spread, d) >= o.Score.Threshold {
				q.crossSteps = i - q.ts
				break
			}
		}
	}
	return true
}

// held says whether the symptom's present excursion makes it anomalous
// now: it holds SymptomZ, not an earlier burst that is over (the
// candidates are read against the present one's onset).
func (q *rankState) held(present Anomaly) bool {
	o := &q.o
	return present.Sustained >= o.SymptomZ ||
		// or a point twice SymptomZ away with its neighbours still over
		// the move threshold: an excursion that is held, only not as
		// evenly as SymptomZ for Sustain points
		(present.Peak >= 2*o.SymptomZ && present.Sustained >= o.Score.Threshold)
}

// presentExcursion scores the excursion of vals still going at the end
// of the window (the whole window when there is none).
func presentExcursion(vals []float64, w Window, b *Baseline, d Direction, o ScoreOptions, mask []bool) Anomaly {
	a := ScoreWindow(vals, w.From, w.To, b, d, o, mask)
	if a.Onset >= 0 {
		if on := ongoingOnset(vals, w.From, w.To, w.To-1, w.To-w.From, b, d, o, mask); on > w.From {
			a = ScoreWindow(vals, on, w.To, b, d, o, mask)
		}
	}
	return a
}

// countSteps turns LeadLimit and GapAfter into buckets of the snapshot.
func (q *rankState) countSteps() {
	step := q.snap.Step
	if step <= 0 {
		step = time.Second
	}
	q.leadSteps = int(q.o.LeadLimit / step)
	q.gapSteps = int(q.o.GapAfter / step)
	if q.gapSteps < 1 {
		q.gapSteps = 1
	}
	q.riseSteps = q.o.MaxLag
	if sym := &q.rk.Symptom; sym.PeakAt > q.ts && sym.PeakAt-q.ts > q.riseSteps {
		q.riseSteps = sym.PeakAt - q.ts
	}
}

// scoreCandidates is the first pass: the baseline, the quality gates and
// the anomaly of every candidate. With more candidates than get the lag
// search, quiet ones are found by a cheap peak pass first.
func (q *rankState) scoreCandidates() {
	r, snap, w := q.r, q.snap, q.w
	prefilter := len(snap.Series) > q.o.LagCandidates
	cands := r.cands[:0]
	for i := range snap.Series {
		if i == q.sym {
			continue
		}
		c := &snap.Series[i]
		if !IsCandidate(&c.SeriesMeta) {
			continue
		}
		e := r.Cache.entry(c, i)
		cd := Candidate{Index: i, Key: c.Key, Meta: &c.SeriesMeta, Dir: e.dir, Lead: math.MinInt32}
		mask := r.maskOf(&c.SeriesMeta, e.ratio)
		cd.Base = r.Cache.baseline(e, snap, c, w.BaseFrom, w.BaseTo, mask)
		if cd.Base.Valid(q.o.MinPoints) {
			q.scoreMove(&cd, c.Values, mask, prefilter)
		} else {
			cd.Excluded = "too few points"
		}
		cands = append(cands, cd)
	}
	r.cands = cands
	q.cands = cands
}

// scoreMove scores one candidate with a usable baseline: its anomaly in
// the window, the gates on its data there, what its move is worth
// before the lag search (its magnitude) and how far it led the symptom.
func (q *rankState) scoreMove(cd *Candidate, vals []float64, mask []bool, prefilter bool) {
	thr := q.thr
	q.scoreWindow(cd, vals, mask, prefilter)
	if cd.Points == 0 {
		cd.Excluded = "no data in window"
		if mask != nil {
			cd.Excluded = "no traffic"
		}
		return
	}
	if cd.Excluded = q.staleness(cd, vals, mask); cd.Excluded != "" {
		return
	}
	if cd.Onset >= 0 {
		// the excursion still going at the symptom's onset, not the
		// first one in the window (a CUSUM change point stays)
		if on := ongoingOnset(vals, q.w.From, q.w.To, q.ts, q.o.MaxLag, &cd.Base, cd.Dir, q.o.Score, mask); on >= 0 {
			cd.Onset = on
		}
	}
	m := cd.Magnitude(thr)
	cd.Moved = m >= thr && cd.Onset >= 0
	if cd.Onset >= 0 {
		cd.Lead = q.ts - cd.Onset
	}
	cd.Score = m
}

// scoreWindow sets cd's anomaly over the window.
func (q *rankState) scoreWindow(cd *Candidate, vals []float64, mask []bool, prefilter bool) {
	w, o, thr := q.w, &q.o, q.thr
	if !prefilter {
		cd.Anomaly = ScoreWindow(vals, w.From, w.To, &cd.Base, cd.Dir, o.Score, mask)
		return
	}
	// one cheap pass: a series that never reaches the threshold is
	// quiet, and needs no onset, runs or CUSUM
	peak, pts, over := peakZ(vals, w.From, w.To, &cd.Base, cd.Dir, o.Score.Cap, thr, mask)
	// fewer points over the threshold than a sustained move needs, and
	// no peak high enough to count as an excursion: quiet
	if peak < thr || (over < o.Score.Sustain && peak < 2*thr) {
		cd.Anomaly = Anomaly{Peak: peak, Sustained: 0.5 * peak, Onset: -1, ChangeAt: -1, PeakAt: -1, LastHit: -1,
			Points: pts, Last: math.NaN(), Level: math.NaN(), PeakValue: math.NaN(), LastValue: math.NaN()}
	} else {
		cd.Anomaly = ScoreWindow(vals, w.From, w.To, &cd.Base, cd.Dir, o.Score, mask)
	}
}

// staleness says why a candidate cannot be read at the end of the
// window: "stale" when it has had nothing for 3 of its own steps, "no
// traffic" when its node's traffic stopped too; "" when it is fresh.
func (q *rankState) staleness(cd *Candidate, vals []float64, mask []bool) string {
	w := q.w
	native := (w.BaseTo - w.BaseFrom) / cd.Base.N
	if native < 1 {
		native = 1
	}
	last := w.To - 1
	for last >= w.From && (vals[last] != vals[last] || (mask != nil && mask[last])) {
		last--
	}
	if w.To-1-last > 3*native+1 {
		if mask != nil && last < w.To-1 && mask[w.To-1] {
			return "no traffic"
		}
		return "stale"
	}
	return ""
}

// pickLagCandidates appends the scored candidates to order and, when
// there are more than LagCandidates, puts the best K by magnitude first:
// only they get the lag search. Ties go by key, so the cut never
// depends on the selection's whims.
func (q *rankState) pickLagCandidates(order []int) []int {
	cands, k := q.cands, q.o.LagCandidates
	for i := range cands {
		if cands[i].Excluded == "" {
			order = append(order, i)
		}
	}
	if len(order) > k {
		selectTop(order, k, func(a, b int) bool {
			ca, cb := &cands[a], &cands[b]
			if ca.Score != cb.Score {
				return ca.Score > cb.Score
			}
			return ca.Key < cb.Key
		})
		for _, i := range order[k:] {
			cands[i].Score *= 0.2 // never searched: no evidence of co-movement
		}
	}
	return order
}

// searchLags finds, for each of the best K, the lag at which it moves
// most with the symptom and how much of the symptom's anomaly it
// overlaps.
func (q *rankState) searchLags() {
	s, sym, w, o := &q.snap.Series[q.sym], &q.rk.Symptom, q.w, &q.o
	for n, i := range q.order {
		c := &q.cands[i]
		if n >= o.LagCandidates {
			break
		}
		c.Lag, c.R = q.r.bestLag(s.Values, q.snap.Series[c.Index].Values, q.ts, w, o.MaxLag, sym.Dir, c.Dir)
		cmask := q.r.maskFor(c.Meta)
		c.Overlap = overlap(s.Values, q.snap.Series[c.Index].Values, q.ts, w.To, o.MaxLag, &sym.Base, &c.Base,
			sym.Dir, c.Dir, q.thr, q.symMask, cmask)
	}
}

// traceMoves finds which nodes moved in time to matter (for the
// deepest-anomalous rule) and which have series to say so. Traffic does
// not count: load flows down the call graph (a caller's retries raise
// its callee's requests) while faults flow up, so a dependency whose
// traffic moved is an effect, not a cause.
func (q *rankState) traceMoves() {
	cands := q.cands
	for i := range cands {
		c := &cands[i]
		if c.Moved && c.Lead >= -1-q.crossSteps && c.Lead <= q.leadSteps && c.Overlap >= 0.5 && c.Meta.Node != "" && c.Meta.Role != sources.RoleTraffic {
			q.moved[c.Meta.Node] = append(q.moved[c.Meta.Node], i)
		}
	}
	for i := range cands {
		if c := &cands[i]; c.Excluded == "" && c.Meta.Role != sources.RoleTraffic {
			q.observed[c.Meta.Node] = true
		}
	}
}

// weigh turns the magnitude of each of the best K into its score,
// z⁺ · w_time · w_comove · w_topo, compressed beyond z 10: more z says
// little more about cause.
func (q *rankState) weigh() {
	cands := q.cands
	// the moves in an inner layer (app, database, host, …), for the
	// load-balancer rule of behindDeeper
	var inner []int
	for _, is := range q.moved {
		for _, j := range is {
			if d := cands[j].Meta.Layer.Depth(); d >= 2 && d < len(sources.Layers) {
				inner = append(inner, j)
			}
		}
	}
	var walk chainWalk
	for n, i := range q.order {
		c := &cands[i]
		if n >= q.o.LagCandidates {
			break
		}
		wt := q.timeWeight(c)
		wc := (0.6 + 0.4*math.Max(c.R, 0)) * (0.25 + 0.75*c.Overlap)
		wtopo := q.topoWeight(i, c, inner, &walk)
		c.Score = 10 * math.Log1p(c.Score/10) * wt * wc * wtopo
	}
}

// timeWeight is w_time: a move before the symptom, within LeadLimit,
// counts in full, but one leading by longer than the symptom took to rise
// only when it also moved with the symptom (r ≥ 0.5, overlap ≥ 0.8); one
// with it or after it is as likely an effect.
func (q *rankState) timeWeight(c *Candidate) float64 {
	switch {
	case c.Onset < 0:
		return 0.2
	case c.Lead > q.leadSteps:
		return 0.3
	case c.Lead >= 0 && q.startSeen(q.sym, q.ts, &q.rk.Symptom.Base, q.rk.Symptom.Dir, q.symMask) &&
		!q.startSeen(c.Index, c.Onset, &c.Base, c.Dir, q.r.maskFor(c.Meta)):
		// it was already out at its first point in the window while
		// the symptom's own start is seen: how long it led is not
		// known, and it was out while the symptom was quiet
		return 0.5
	case c.Lead > q.riseSteps && (c.R < 0.5 || c.Overlap < 0.8):
		// it led by longer than the symptom took to rise, and did not
		// move with it: a lead that long needs the candidate to hold
		// through the symptom and move with it to count in full
		return 0.5
	case c.Lead < 0:
		return 0.5 // after the symptom: more likely an effect
	case c.Lead == 0:
		return 0.7 // at the same time: as likely an effect as a cause
	}
	return 1
}

// startSeen reports whether series i has a point with data in the
// window before on that is under the move threshold: the start of the
// excursion at on was seen, not already under way when the window began.
func (q *rankState) startSeen(i, on int, b *Baseline, d Direction, mask []bool) bool {
	vals := q.snap.Series[i].Values
	if b.Spread <= 0 || on > len(vals) {
		return false
	}
	for j := q.w.From; j < on; j++ {
		v := vals[j]
		if v != v || (mask != nil && mask[j]) {
			continue
		}
		if harm((v-b.Level)/b.Spread, d) < q.thr {
			return true
		}
	}
	return false
}

// topoWeight is w_topo: ×1.5 on the symptom's path, ×1.5 again for a
// move that nothing deeper explains (the deepest anomalous), a little
// more per layer inward. It marks OnPath and Deepest on c, and
// upstream[i] for a move that a deeper one explains.
func (q *rankState) topoWeight(i int, c *Candidate, inner []int, walk *chainWalk) float64 {
	symNode := q.snap.Series[q.sym].Node
	wtopo := 1.0
	if node := c.Meta.Node; node != "" {
		if node == symNode || q.symReach[node] {
			c.OnPath = true
			wtopo *= 1.5
		}
		if !q.deps.empty() {
			deep := !q.explainedBy(c, walk) && !q.behindDeeper(c, inner)
			if deep && c.Moved {
				c.Deepest = true
				wtopo *= 1.5
			}
			q.upstream[i] = c.Moved && !deep
		}
	}
	if q.deps.empty() && c.Moved && q.behindDeeper(c, inner) {
		q.upstream[i] = true
	}
	if c.Meta.Layer != sources.LayerUnknown {
		wtopo *= 1 + 0.03*float64(c.Meta.Layer.Depth())
	}
	return wtopo
}

// chainWalk is explainedBy's scratch, kept over one query.
type chainWalk struct {
	seen  map[string]bool
	stack []string
}

// explainedBy reports whether a dependency explains c. A fault reaches a
// caller through every node between them, so a dependency explains c
// only along a chain of nodes that moved too, no later than c (or that
// have no series to say otherwise): a quiet node in between breaks the
// chain (the PetShop paper's anomaly traversal).
func (q *rankState) explainedBy(c *Candidate, walk *chainWalk) bool {
	node := c.Meta.Node
	if walk.seen == nil {
		walk.seen = map[string]bool{}
	}
	seen := walk.seen
	clear(seen)
	seen[node] = true
	walk.stack = append(walk.stack[:0], node)
	for len(walk.stack) > 0 {
		n := walk.stack[len(walk.stack)-1]
		walk.stack = walk.stack[:len(walk.stack)-1]
		for _, m := range q.deps.out[n] {
			if seen[m] {
				continue
			}
			seen[m] = true
			moved := false
			for _, j := range q.moved[m] {
				if c.Onset < 0 || q.cands[j].Onset <= c.Onset+1 {
					moved = true
					break
				}
			}
			if moved {
				return true
			}
			if !q.observed[m] {
				walk.stack = append(walk.stack, m)
			}
		}
	}
	return false
}

// behindDeeper reports whether c, in an outer layer, reflects a move
// behind it. Load balancers and the edge reflect what is behind them:
// where the graph does not say which backend an outer series fronts, a
// move in an inner layer on the symptom's path, no later than the outer
// one's, explains it.
func (q *rankState) behindDeeper(c *Candidate, inner []int) bool {
	if d := c.Meta.Layer.Depth(); d > 1 || c.Meta.Layer == sources.LayerUnknown {
		return false
	}
	symNode := q.snap.Series[q.sym].Node
	for _, j := range inner {
		d := &q.cands[j]
		if (c.Onset < 0 || d.Onset <= c.Onset+1) && (q.deps.empty() || d.Meta.Node == symNode || q.symReach[d.Meta.Node]) {
			return true
		}
	}
	return false
}

// tierOf is a candidate's tier: moved in time and deepest first (the
// suspects), then the other moves, then the quiet.
func (q *rankState) tierOf(i int) int {
	c := &q.cands[i]
	switch {
	case c.Moved && c.Lead >= -1-q.crossSteps && c.Lead <= q.leadSteps && !q.upstream[i] && !q.ownTraffic(c):
		return 0
	case c.Moved:
		return 1
	}
	return 2
}

// ownTraffic reports whether c is the symptom's own traffic or a part of
// it, as its source tells it: a load balancer's 2xx falling as its 5xx
// rise, an HTTP check's connect time rising with its total time, are the
// symptom seen again, never its cause.
func (q *rankState) ownTraffic(c *Candidate) bool {
	s := &q.snap.Series[q.sym]
	return (c.Meta.Role == sources.RoleTraffic || c.Meta.Measure&sources.MeasurePart != 0) && c.Meta.Node == s.Node && c.Meta.Source == s.Source
}

// inner reports whether c is a series that can tell the symptom has an
// internal cause: of a layer deeper than the symptom's (either unknown:
// no telling), and not its own traffic. A load balancer's own health-check
// times moving with its 5xx are no internal signal: with nothing deeper
// moving, the internal alerting has a gap.
func (q *rankState) inner(c *Candidate) bool {
	s := &q.snap.Series[q.sym]
	if q.ownTraffic(c) {
		return false
	}
	if s.Layer == sources.LayerUnknown || c.Meta.Layer == sources.LayerUnknown {
		return true
	}
	return c.Meta.Layer.Depth() > s.Layer.Depth()
}

// rankLess is the ranking order: by tier, then better.
func (q *rankState) rankLess(a, b int) bool {
	if ta, tb := q.tiers[a], q.tiers[b]; ta != tb {
		return ta < tb
	}
	return better(&q.cands[a], &q.cands[b])
}

// tierAndSort puts the scored candidates in ranking order. Only the best
// maxOrder are sorted: the rest (quiet, mostly) are only counted.
func (q *rankState) tierAndSort() {
	for _, i := range q.order {
		q.tiers[i] = int8(q.tierOf(i))
	}
	top := q.order
	if len(top) > maxOrder {
		selectTop(q.order, maxOrder, q.rankLess)
		top = q.order[:maxOrder]
	}
	slices.SortFunc(top, func(a, b int) int {
		if q.rankLess(a, b) {
			return -1
		}
		if q.rankLess(b, a) {
			return 1
		}
		return 0
	})
}

// group sorts the ranked candidates into suspects, effects, context and
// quiet, as Datadog does, and counts each layer's series and moves.
func (q *rankState) group() {
	rk, cands := q.rk, q.cands
	for _, i := range q.order {
		c := &cands[i]
		lc := q.layerOf(c.Meta.Layer)
		lc.Series++
		if c.Peak > lc.MaxZ {
			lc.MaxZ = c.Peak
		}
		switch t := q.tiers[i]; {
		case t == 2:
			c.Group = EvQuiet
		case t == 0 && len(rk.Suspects) < q.o.MaxSuspects:
			lc.Moved++
			c.Group = EvSuspect
			rk.Suspects = append(rk.Suspects, *c)
		case c.Lead < -1-q.crossSteps || q.upstream[i]:
			lc.Moved++
			c.Group = EvEffect
			if len(rk.Effects) < q.o.MaxEffects {
				rk.Effects = append(rk.Effects, *c)
			}
		default:
			lc.Moved++
			c.Group = EvContext
		}
	}
}

// layerOf is the check of layer l, made on first use; unknown layers
// (and any past the known ones) share the last place.
func (q *rankState) layerOf(l sources.Layer) *LayerCheck {
	d := l.Depth()
	if d >= len(q.layers) || (d == len(sources.Layers) && l != sources.LayerUnknown) {
		d = len(sources.Layers)
		l = sources.LayerUnknown
	}
	if lc := q.layers[d]; lc != nil {
		return lc
	}
	lc := &LayerCheck{Layer: l}
	q.layers[d] = lc
	return lc
}

// findGap sets Gap: the symptom is active and no internal series moved
// between LeadLimit before and GapAfter after its onset.
func (q *rankState) findGap() {
	q.rk.Gap = q.rk.Active
	for _, i := range q.order {
		c := &q.cands[i]
		if c.Moved && c.Lead >= -q.gapSteps && c.Lead <= q.leadSteps && q.inner(c) {
			q.rk.Gap = false
			return
		}
	}
}

// publish writes the excluded candidates (counted as stale in their
// layer), the layers and the best maxOrder candidates into the ranking,
// and lets go of the snapshot.
func (q *rankState) publish() {
	rk, cands := q.rk, q.cands
	for i := range cands {
		if cands[i].Excluded != "" {
			q.layerOf(cands[i].Meta.Layer).Stale++
			rk.Excluded = append(rk.Excluded, cands[i])
		}
	}
	for _, lc := range q.layers {
		if lc != nil {
			rk.Layers = append(rk.Layers, *lc)
		}
	}
	order := q.order
	if len(order) > maxOrder {
		order = order[:maxOrder]
	}
	rk.Order = make([]Candidate, len(order))
	for n, i := range order {
		rk.Order[n] = cands[i]
	}
	// the scratch must not keep this snapshot alive until the next query
	// (its only references into it are the key and the description)
	for i := range cands {
		cands[i].Key, cands[i].Meta = "", nil
	}
}

// selectTop reorders idx so that its first k elements are the k best by
// less (in no particular order): Hoare's quickselect with a median-of-
// three pivot. less must be a strict total order for the result not to
// depend on the input order.
func selectTop(idx []int, k int, less func(a, b int) bool) {
	l, r := 0, len(idx)-1
	for r > l {
		m := l + (r-l)/2
		if less(idx[m], idx[l]) {
			idx[m], idx[l] = idx[l], idx[m]
		}
		if less(idx[r], idx[l]) {
			idx[r], idx[l] = idx[l], idx[r]
		}
		if less(idx[r], idx[m]) {
			idx[r], idx[m] = idx[m], idx[r]
		}
		p := idx[m]
		i, j := l, r
		for i <= j {
			for less(idx[i], p) {
				i++
			}
			for less(p, idx[j]) {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
				i++
				j--
			}
		}
		// [l, j] ≤ p ≤ [i, r]; the k-th place is in one of them
		switch {
		case k-1 <= j:
			r = j
		case k-1 >= i:
			l = i
		default:
			return
		}
	}
}

// better is the ranking order: score, then |r|, then the earlier onset,
// then the deeper layer, then the key, so ties never depend on map order.
func better(a, b *Candidate) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if ar, br := math.Abs(a.R), math.Abs(b.R); ar != br {
		return ar > br
	}
	if a.Lead != b.Lead {
		return a.Lead > b.Lead
	}
	if da, db := a.Meta.Layer.Depth(), b.Meta.Layer.Depth(); da != db {
		return da > db
	}
	return a.Key < b.Key
}

// bestLag correlates the levels of the symptom and a candidate over
// [onset−2L, To) for lags −L..L and returns the lag with the highest
// correlation in the harmful orientation (> 0: the candidate leads).
func (r *Ranker) bestLag(sym, cand []float64, onset int, w Window, maxLag int, sd, cdir Direction) (int, float64) {
	lo := onset - 2*maxLag
	if lo < w.BaseFrom+maxLag {
		lo = w.BaseFrom + maxLag
	}
	hi := w.To
	if hi-lo < 4 {
		return 0, 0
	}
	sign := 1.0
	if sd == Down {
		sign = -sign
	}
	if cdir == Down {
		sign = -sign
	}
	bestL, bestR := 0, math.Inf(-1)
	for l := -maxLag; l <= maxLag; l++ {
		var n, sx, sy, sxx, syy, sxy float64
		for t := lo; t < hi; t++ {
			j := t - l
			if j < 0 || j >= len(cand) {
				continue
			}
			x, y := sym[t], cand[j]
			if x != x || y != y {
				continue
			}
			n++
			sx += x
			sy += y
			sxx += x * x
			syy += y * y
			sxy += x * y
		}
		if n < 4 {
			continue
		}
		vx := sxx - sx*sx/n
		vy := syy - sy*sy/n
		if vx <= 0 || vy <= 0 {
			continue
		}
		rr := (sxy - sx*sy/n) / math.Sqrt(vx*vy)
		if cdir == Both {
			rr = math.Abs(rr)
		} else {
			rr *= sign
		}
		// prefer the smaller |lag| on near-ties
		if rr > bestR+1e-9 || (math.Abs(rr-bestR) <= 1e-9 && abs(l) < abs(bestL)) {
			bestL, bestR = l, rr
		}
	}
	if math.IsInf(bestR, -1) {
		return 0, 0
	}
	return bestL, bestR
}

// peakZ is the largest harmful z over vals[from:to] and the number of
// points with data: the prefilter's single pass.
func peakZ(vals []float64, from, to int, b *Baseline, d Direction, capZ, thr float64, mask []bool) (float64, int, int) {
	if from < 0 {
		from = 0
	}
	if to > len(vals) {
		to = len(vals)
	}
	inv := 1 / b.Spread
	lvl := b.Level
	peak := math.Inf(-1)
	n, over := 0, 0
	sign := 1.0
	if d == Down {
		sign = -1
	}
	seg := vals[from:to]
	switch {
	case mask == nil && d != Both:
		// the common case, kept branch-light
		for _, v := range seg {
			if v != v {
				continue
			}
			n++
			z := sign * (v - lvl) * inv
			if z >= thr {
				over++
			}
			if z > peak {
				peak = z
			}
		}
	default:
		for k, v := range seg {
			if v != v || (mask != nil && mask[from+k]) {
				continue
			}
			n++
			z := sign * (v - lvl) * inv
			if d == Both && z < 0 {
				z = -z
			}
			if z >= thr {
				over++
			}
			if z > peak {
				peak = z
			}
		}
	}
	if n == 0 {
		return 0, 0, 0
	}
	return math.Min(peak, capZ), n, over
}

// overlap is the share of the symptom's anomalous buckets in [from, to)
// at which the candidate was anomalous at the same bucket or up to maxLag
// buckets before.
func overlap(sym, cand []float64, from, to, maxLag int, sb, cb *Baseline, sd, cd Direction, thr float64, smask, cmask []bool) float64 {
	if from < 0 {
		from = 0
	}
	var hits, n int
	for t := from; t < to; t++ {
		v := sym[t]
		if v != v || (smask != nil && smask[t]) || harm(sb.Z(v), sd) < thr {
			continue
		}
		n++
		for j := t; j >= t-maxLag && j >= 0; j-- {
			x := cand[j]
			if x != x || (cmask != nil && cmask[j]) {
				continue
			}
			if harm(cb.Z(x), cd) >= thr {
				hits++
				break
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hits) / float64(n)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
