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
	Moved bool    // the move counts (z ≥ threshold, with an onset)
	Lead  int     // steps from the candidate's onset to the symptom's; > 0: it moved first
	Lag   int     // lag of the best co-movement; > 0: the candidate leads
	R     float64 // correlation of levels at that lag, signed so that > 0 is "hurts together"
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

// ratioWords mark series that are a share of requests (availability,
// error share): with too few requests in a bucket they are noise.
var ratioWords = []string{"avail", "success", "error", "5xx", "4xx", "fail"}

// IsRequestRatio reports whether a series is a share of its node's
// requests (availability, error share, success rate).
func IsRequestRatio(m *SeriesMeta) bool {
	switch strings.ToLower(m.Unit) {
	case "%", "ratio", "", "percent":
		return hasWord(m.Name, ratioWords)
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
// series at index sym over the window w.
func (r *Ranker) Rank(snap *Snapshot, sym int, w Window) *Ranking {
	o := r.Opt
	o.defaults()
	thr := o.Score.Threshold
	s := &snap.Series[sym]
	rk := &Ranking{Window: w}
	r.trafficMasks(snap, w)
	symMask := r.maskFor(&s.SeriesMeta)
	rk.Symptom = Candidate{Index: sym, Key: s.Key, Meta: &s.SeriesMeta, Dir: HarmfulDirection(&s.SeriesMeta)}
	if s.Role == sources.RoleTraffic {
		rk.Symptom.Dir = Up
		if HarmfulDirection(&s.SeriesMeta) == Down {
			rk.Symptom.Dir = Down
		}
	}
	rk.Symptom.Base = r.Cache.Get(snap, s, w.BaseFrom, w.BaseTo, symMask)
	if !rk.Symptom.Base.Valid(o.MinPoints) {
		rk.Symptom.Excluded = "too few points"
		return rk
	}
	rk.Symptom.Anomaly = ScoreWindow(s.Values, w.From, w.To, &rk.Symptom.Base, rk.Symptom.Dir, o.Score, symMask)
	ts := rk.Symptom.Onset
	if ts < 0 {
		ts = rk.Symptom.PeakAt
	}
	if ts < 0 {
		ts = w.To - 1
	}
	rk.Active = rk.Symptom.Sustained >= o.SymptomZ
	step := snap.Step
	if step <= 0 {
		step = time.Second
	}
	leadSteps := int(o.LeadLimit / step)
	gapSteps := int(o.GapAfter / step)
	if gapSteps < 1 {
		gapSteps = 1
	}

	deps := newDepGraph(snap.Deps)
	var symReach map[string]bool
	if !deps.empty() && s.Node != "" {
		symReach = deps.reach(s.Node)
	}

	// pass 1: baseline, quality gates and anomaly of every candidate; with
	// more candidates than get the lag search, quiet ones are found by a
	// cheap peak pass first
	prefilter := len(snap.Series) > o.LagCandidates
	cands := r.cands[:0]
	for i := range snap.Series {
		if i == sym {
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
		if !cd.Base.Valid(o.MinPoints) {
			cd.Excluded = "too few points"
			cands = append(cands, cd)
			continue
		}
		if prefilter {
			// one cheap pass: a series that never reaches the threshold
			// is quiet, and needs no onset, runs or CUSUM
			peak, pts, over := peakZ(c.Values, w.From, w.To, &cd.Base, cd.Dir, o.Score.Cap, thr, mask)
			// fewer points over the threshold than a sustained move needs,
			// and no peak high enough to count as an excursion: quiet
			if peak < thr || (over < o.Score.Sustain && peak < 2*thr) {
				cd.Anomaly = Anomaly{Peak: peak, Sustained: 0.5 * peak, Onset: -1, ChangeAt: -1, PeakAt: -1, LastHit: -1,
					Points: pts, Last: math.NaN(), Level: math.NaN(), PeakValue: math.NaN()}
			} else {
				cd.Anomaly = ScoreWindow(c.Values, w.From, w.To, &cd.Base, cd.Dir, o.Score, mask)
			}
		} else {
			cd.Anomaly = ScoreWindow(c.Values, w.From, w.To, &cd.Base, cd.Dir, o.Score, mask)
		}
		if cd.Points == 0 {
			cd.Excluded = "no data in window"
			if mask != nil {
				cd.Excluded = "no traffic"
			}
			cands = append(cands, cd)
			continue
		}
		// stale: nothing for 3 of its own steps at the end of the window
		native := (w.BaseTo - w.BaseFrom) / cd.Base.N
		if native < 1 {
			native = 1
		}
		last := w.To - 1
		for last >= w.From && (c.Values[last] != c.Values[last] || (mask != nil && mask[last])) {
			last--
		}
		if w.To-1-last > 3*native+1 {
			cd.Excluded = "stale"
			if mask != nil && last < w.To-1 && mask[w.To-1] {
				cd.Excluded = "no traffic"
			}
			cands = append(cands, cd)
			continue
		}
		m := cd.Magnitude(thr)
		cd.Moved = m >= thr && cd.Onset >= 0
		if cd.Onset >= 0 {
			cd.Lead = ts - cd.Onset
		}
		cd.Score = m
		cands = append(cands, cd)
	}
	r.cands = cands

	// pass 2: lag search for the best K, then the full score
	order := make([]int, 0, len(cands))
	for i := range cands {
		if cands[i].Excluded == "" {
			order = append(order, i)
		}
	}
	if len(order) > o.LagCandidates {
		// the best K by magnitude get the lag search; ties by key, so the
		// cut never depends on the selection's whims
		selectTop(order, o.LagCandidates, func(a, b int) bool {
			ca, cb := &cands[a], &cands[b]
			if ca.Score != cb.Score {
				return ca.Score > cb.Score
			}
			return ca.Key < cb.Key
		})
		for _, i := range order[o.LagCandidates:] {
			cands[i].Score *= 0.2 // never searched: no evidence of co-movement
		}
	}
	for n, i := range order {
		c := &cands[i]
		if n >= o.LagCandidates {
			break
		}
		c.Lag, c.R = r.bestLag(s.Values, snap.Series[c.Index].Values, ts, w, o.MaxLag, rk.Symptom.Dir, c.Dir)
		cmask := r.maskFor(c.Meta)
		c.Overlap = overlap(s.Values, snap.Series[c.Index].Values, ts, w.To, o.MaxLag, &rk.Symptom.Base, &c.Base,
			rk.Symptom.Dir, c.Dir, thr, symMask, cmask)
	}
	// which nodes moved in time to matter (for the deepest-anomalous
	// rule); traffic does not count: load flows down the call graph
	// (a caller's retries raise its callee's requests) while faults flow
	// up, so a dependency whose traffic moved is an effect, not a cause
	movedNodes := map[string][]int{} // node → its moved candidates
	for i := range cands {
		c := &cands[i]
		if c.Moved && c.Lead >= -1 && c.Lead <= leadSteps && c.Overlap >= 0.5 && c.Meta.Node != "" && c.Meta.Role != sources.RoleTraffic {
			movedNodes[c.Meta.Node] = append(movedNodes[c.Meta.Node], i)
		}
	}
	// a fault reaches a caller through every node between them, so a
	// dependency explains a candidate only along a chain of nodes that
	// moved too (or that have no series to say otherwise): a quiet node
	// in between breaks the chain (the PetShop paper's anomaly traversal)
	observed := map[string]bool{}
	for i := range cands {
		if c := &cands[i]; c.Excluded == "" && c.Meta.Role != sources.RoleTraffic {
			observed[c.Meta.Node] = true
		}
	}
	var seen map[string]bool
	var stack []string
	explainedBy := func(c *Candidate) bool {
		node := c.Meta.Node
		if seen == nil {
			seen = map[string]bool{}
		}
		clear(seen)
		seen[node] = true
		stack = append(stack[:0], node)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, m := range deps.out[n] {
				if seen[m] {
					continue
				}
				seen[m] = true
				moved := false
				for _, j := range movedNodes[m] {
					if c.Onset < 0 || cands[j].Onset <= c.Onset+1 {
						moved = true
						break
					}
				}
				if moved {
					return true
				}
				if !observed[m] {
					stack = append(stack, m)
				}
			}
		}
		return false
	}
	// load balancers and the edge reflect what is behind them: where the
	// graph does not say which backend an outer series fronts, a move in
	// an inner layer (app, database, host, …) on the symptom's path, no
	// later than the outer one's, explains it
	var inner []int
	for _, is := range movedNodes {
		for _, j := range is {
			if d := cands[j].Meta.Layer.Depth(); d >= 2 && d < len(sources.Layers) {
				inner = append(inner, j)
			}
		}
	}
	behindDeeper := func(c *Candidate) bool {
		if d := c.Meta.Layer.Depth(); d > 1 || c.Meta.Layer == sources.LayerUnknown {
			return false
		}
		for _, j := range inner {
			d := &cands[j]
			if (c.Onset < 0 || d.Onset <= c.Onset+1) && (deps.empty() || d.Meta.Node == s.Node || symReach[d.Meta.Node]) {
				return true
			}
		}
		return false
	}
	upstream := make([]bool, len(cands))
	for n, i := range order {
		c := &cands[i]
		if n >= o.LagCandidates {
			break
		}
		wt := 0.2
		switch {
		case c.Onset < 0:
		case c.Lead > leadSteps:
			wt = 0.3
		case c.Lead < 0:
			wt = 0.5 // after the symptom: more likely an effect
		case c.Lead == 0:
			wt = 0.7 // at the same time: as likely an effect as a cause
		default:
			wt = 1
		}
		wc := (0.6 + 0.4*math.Max(c.R, 0)) * (0.25 + 0.75*c.Overlap)
		wtopo := 1.0
		if node := c.Meta.Node; node != "" {
			if node == s.Node || symReach[node] {
				c.OnPath = true
				wtopo *= 1.5
			}
			if !deps.empty() {
				deep := !explainedBy(c) && !behindDeeper(c)
				if deep && c.Moved {
					c.Deepest = true
					wtopo *= 1.5
				}
				upstream[i] = c.Moved && !deep
			}
		}
		if deps.empty() && c.Moved && behindDeeper(c) {
			upstream[i] = true
		}
		if c.Meta.Layer != sources.LayerUnknown {
			wtopo *= 1 + 0.03*float64(c.Meta.Layer.Depth())
		}
		// beyond z 10, more z says little about cause: compress
		c.Score = 10 * math.Log1p(c.Score/10) * wt * wc * wtopo
	}
	// tiers: moved in time and deepest first (the suspects), then the
	// other moves, then the quiet
	tier := func(i int) int {
		c := &cands[i]
		switch {
		case c.Moved && c.Lead >= -1 && c.Lead <= leadSteps && !upstream[i]:
			return 0
		case c.Moved:
			return 1
		}
		return 2
	}
	tiers := make([]int8, len(cands))
	for _, i := range order {
		tiers[i] = int8(tier(i))
	}
	// only the best maxOrder are kept in order; the rest (quiet, mostly)
	// are counted, so they need no sorting
	rankLess := func(a, b int) bool {
		if ta, tb := tiers[a], tiers[b]; ta != tb {
			return ta < tb
		}
		return better(&cands[a], &cands[b])
	}
	top := order
	if len(top) > maxOrder {
		selectTop(order, maxOrder, rankLess)
		top = order[:maxOrder]
	}
	slices.SortFunc(top, func(a, b int) int {
		if rankLess(a, b) {
			return -1
		}
		if rankLess(b, a) {
			return 1
		}
		return 0
	})

	// group: suspects, effects, quiet layers
	var layerArr [8]*LayerCheck // by Layer.Depth; unknown last
	layerOf := func(l sources.Layer) *LayerCheck {
		d := l.Depth()
		if d >= len(layerArr) || (d == len(sources.Layers) && l != sources.LayerUnknown) {
			d = len(sources.Layers)
			l = sources.LayerUnknown
		}
		lc := layerArr[d]
		if lc == nil {
			lc = &LayerCheck{Layer: l}
			layerArr[d] = lc
		}
		return lc
	}
	for _, i := range order {
		c := &cands[i]
		lc := layerOf(c.Meta.Layer)
		lc.Series++
		if c.Peak > lc.MaxZ {
			lc.MaxZ = c.Peak
		}
		switch t := tiers[i]; {
		case t == 2:
			c.Group = EvQuiet
		case t == 0 && len(rk.Suspects) < o.MaxSuspects:
			lc.Moved++
			c.Group = EvSuspect
			rk.Suspects = append(rk.Suspects, *c)
		case c.Lead < -1 || upstream[i]:
			lc.Moved++
			c.Group = EvEffect
			if len(rk.Effects) < o.MaxEffects {
				rk.Effects = append(rk.Effects, *c)
			}
		default:
			lc.Moved++
			c.Group = EvContext
		}
	}
	rk.Gap = rk.Active
	for _, i := range order {
		c := &cands[i]
		if c.Moved && c.Lead >= -gapSteps && c.Lead <= leadSteps {
			rk.Gap = false
			break
		}
	}
	for i := range cands {
		if cands[i].Excluded != "" {
			layerOf(cands[i].Meta.Layer).Stale++
			rk.Excluded = append(rk.Excluded, cands[i])
		}
	}
	for _, lc := range layerArr {
		if lc != nil {
			rk.Layers = append(rk.Layers, *lc)
		}
	}
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
	return rk
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
