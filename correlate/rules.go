package correlate

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// RuleFunc is an extra rule the engine runs on every snapshot, for rules
// that live elsewhere (e.g. path triangulation: "provider green but path
// red"). It must be pure like the rest of the engine.
type RuleFunc func(*Snapshot) []Finding

// ruleState is what the rules remember between refreshes so findings do
// not flicker: which symptoms are active (hysteresis: a symptom opens at
// SymptomZ and stays open down to KeepZ) and which suspect led last time.
type ruleState struct {
	active map[string]bool
	top    map[string]string
}

func newRuleState() *ruleState {
	return &ruleState{active: map[string]bool{}, top: map[string]string{}}
}

// maxRanked bounds the symptoms ranked per refresh, worst first.
const maxRanked = 20

// detect runs every rule over one snapshot.
func detect(snap *Snapshot, r *Ranker, st *ruleState, extra []RuleFunc) []Finding {
	var out []Finding
	nodes := nodeFindings(snap)
	out = append(out, eventFindings(snap, nodes)...)
	out = append(out, nodes...)
	out = append(out, sourceFindings(snap)...)
	if snap.N > 0 && snap.Step > 0 {
		out = append(out, symptomFindings(snap, r, st)...)
		out = append(out, coldFindings(snap, r)...)
		out = append(out, failoverFindings(snap, r)...)
	}
	out = append(out, flappingFindings(snap)...)
	out = append(out, alertFindings(snap, out)...)
	for _, f := range extra {
		out = append(out, f(snap)...)
	}
	SortFindings(out)
	return out
}

type activeSymptom struct {
	idx int
	a   Anomaly
	b   Baseline
}

// symptomFindings ranks suspects for every active external symptom and
// turns each ranking into a suspects, gap and (for errors) bottleneck
// finding.
func symptomFindings(snap *Snapshot, r *Ranker, st *ruleState) []Finding {
	o := r.Opt
	w := LiveWindow(snap, o)
	if w.To-w.From < 1 {
		return nil
	}
	recent := int(o.GapAfter / snap.Step)
	var act, off []activeSymptom // off: was active last time, is not now
	now := map[string]bool{}
	for i := range snap.Series {
		s := &snap.Series[i]
		if s.Role != sources.RoleSymptom {
			continue
		}
		b := r.Cache.Get(snap, s, w.BaseFrom, w.BaseTo, nil)
		if !b.Valid(o.MinPoints) {
			continue
		}
		a := ScoreWindow(s.Values, w.From, w.To, &b, HarmfulDirection(&s.SeriesMeta), o.Score, nil)
		// it opens on a sustained move still going on, and stays open
		// only while the symptom is away from its baseline: once back,
		// the finding closes (after the engine's ResolveAfter)
		open := func(a *Anomaly) bool {
			return (a.Sustained >= o.SymptomZ && a.LastHit >= w.To-1-recent || st.active[s.Key]) && a.Last >= o.KeepZ
		}
		on := open(&a)
		if gb := b; !on && b.Steady < b.Spread {
			// away from how it usually is: read against the steady
			// spread, which past deep excursions do not widen (as Rank)
			gb.Spread = gb.Steady
			if ga := ScoreWindow(s.Values, w.From, w.To, &gb, HarmfulDirection(&s.SeriesMeta), o.Score, nil); open(&ga) {
				on, a = true, ga
			}
		}
		if on {
			now[s.Key] = true
			act = append(act, activeSymptom{i, a, b})
		} else if st.active[s.Key] {
			off = append(off, activeSymptom{i, a, b})
		}
	}
	// a group stays open while any of its members is: a backend whose
	// own errors calmed a moment before its servers' keeps its finding,
	// rather than each server opening one of its own as things recover
	if len(off) > 0 {
		n := len(act)
		for k := 0; k < n; k++ {
			if j := parentOf(snap, off, snap.Series[act[k].idx].SeriesMeta); j >= 0 && !now[snap.Series[off[j].idx].Key] {
				now[snap.Series[off[j].idx].Key] = true
				act = append(act, off[j])
			}
		}
	}
	st.active = now
	sort.Slice(act, func(i, j int) bool {
		if act[i].a.Sustained != act[j].a.Sustained {
			return act[i].a.Sustained > act[j].a.Sustained
		}
		return snap.Series[act[i].idx].Key < snap.Series[act[j].idx].Key
	})
	if len(act) > maxRanked {
		act = act[:maxRanked]
	}
	var out []Finding
	tops := map[string]string{}
	// one finding per symptom, then the members of an aggregate (a
	// backend's servers) that blame the same thing fold into the
	// aggregate's finding
	main := make([]int, len(act)) // index into out of each symptom's finding
	bn := make([]int, len(act))   // … and of its bottleneck finding, -1 if none
	for k, as := range act {
		rk := r.Rank(snap, as.idx, w)
		rk.Active = true
		main[k], bn[k] = len(out), -1
		if rk.Gap || len(rk.Suspects) == 0 && len(rk.Effects) == 0 {
			out = append(out, gapFinding(snap, rk))
		} else {
			f := suspectsFinding(snap, rk, st.top[rk.Symptom.Key])
			if len(rk.Suspects) > 0 {
				tops[rk.Symptom.Key] = rk.Suspects[0].Key
			}
			out = append(out, f)
		}
		if f, ok := bottleneckFinding(snap, r, rk); ok {
			bn[k] = len(out)
			out = append(out, f)
		}
	}
	st.top = tops
	return foldMembers(snap, act, [][]int{main, bn}, out)
}

// parentOf finds, among the symptoms in set, the aggregate a symptom
// series c belongs to: same source and name, labels a strict subset of
// its own (a backend's 5xx for a server's 5xx); the closest if several.
func parentOf(snap *Snapshot, set []activeSymptom, c SeriesMeta) int {
	best, bestN := -1, -1
	for j := range set {
		p := &snap.Series[set[j].idx]
		if p.Key == c.Key || p.Source != c.Source || p.Name != c.Name || len(p.Labels) >= len(c.Labels) || len(p.Labels) <= bestN {
			continue
		}
		sub := true
		for lk, lv := range p.Labels {
			if c.Labels[lk] != lv {
				sub = false
				break
			}
		}
		if sub {
			best, bestN = j, len(p.Labels)
		}
	}
	return best
}

// foldMembers merges the finding of a member symptom into its active
// aggregate's finding of the same kind: one line for "the backend's
// errors rose, and on three of its servers", not four. A member that
// blames something else is named with what it blames, so nothing is
// lost and the list does not churn while the members' rankings settle. finds holds, per kind of finding, the index into out of each
// active symptom's finding of that kind (-1 for none).
func foldMembers(snap *Snapshot, act []activeSymptom, finds [][]int, out []Finding) []Finding {
	blamed := func(f *Finding) string {
		if f.Rule == "bottleneck" {
			return string(f.Layer)
		}
		for _, e := range f.Evidence {
			if e.Kind == EvSuspect {
				return e.SeriesKey
			}
		}
		return ""
	}
	parent := make([]int, len(act))
	for k := range act {
		parent[k] = parentOf(snap, act, snap.Series[act[k].idx].SeriesMeta)
	}
	drop := map[int]bool{}
	for _, idx := range finds {
		members := map[int][]int{} // aggregate's finding → members' act indices
		var order []int
		for k := range act {
			j := parent[k]
			if j < 0 || idx[k] < 0 || idx[j] < 0 {
				continue
			}
			drop[idx[k]] = true
			if members[idx[j]] == nil {
				order = append(order, idx[j])
			}
			members[idx[j]] = append(members[idx[j]], k)
		}
		for _, fi := range order {
			ks := members[fi]
			f := &out[fi]
			sort.Slice(ks, func(a, b int) bool { return snap.Series[act[ks[a]].idx].Key < snap.Series[act[ks[b]].idx].Key })
			var names []string
			for _, k := range ks {
				m := &out[idx[k]]
				for _, e := range m.Evidence {
					if e.Kind == EvSymptom {
						e.Kind = EvContext
						f.Evidence = append(f.Evidence, e)
						break
					}
				}
				name := snap.Series[act[k].idx].Node
				// a member that blames something else says so
				switch b := blamed(m); {
				case m.Rule == "gap" && f.Rule != "gap":
					name += " (no internal signal moved)"
				case m.Rule == "bottleneck" && b != blamed(f):
					if w, _, ok := strings.Cut(strings.TrimPrefix(m.Title, "bottleneck: "), " ("); ok {
						name += " (" + w + ")"
					}
				case m.Rule != "bottleneck" && b != "" && b != blamed(f):
					if s := snap.Find(b); s != nil {
						name += " (likely " + Label(&s.SeriesMeta) + ")"
					}
				}
				names = append(names, name)
				f.Grouped = append(f.Grouped, m.ID)
				if m.Severity > f.Severity {
					f.Severity = m.Severity
				}
			}
			if f.Rule == "bottleneck" {
				f.Title = strings.TrimSuffix(f.Title, ")") + fmt.Sprintf(" +%d)", len(ks))
			} else {
				f.Title = strings.Replace(f.Title, ":", fmt.Sprintf(" (+%d)", len(ks))+":", 1)
			}
			f.Explanation += fmt.Sprintf(" The same on %s (grouped here).", strings.Join(names, ", "))
		}
	}
	if len(drop) == 0 {
		return out
	}
	kept := out[:0]
	for i := range out {
		if !drop[i] {
			kept = append(kept, out[i])
		}
	}
	return kept
}

// Label names a series the way an operator says it: "db-1 cpu.iowait".
func Label(m *SeriesMeta) string {
	name := m.Name
	if len(m.Labels) > 0 {
		var parts []string
		for _, k := range []string{"backend", "server", "frontend", "instance", "mode", "device", "volume"} {
			if v, ok := m.Labels[k]; ok && v != m.Node {
				parts = append(parts, v)
			}
		}
		if len(parts) > 0 {
			name += " " + strings.Join(parts, "/")
		}
	}
	if m.Node == "" || strings.Contains(m.Name, m.Node) {
		return name
	}
	return m.Node + " " + name
}

// FormatValue prints a value with its unit, short: "96 %", "120 ms", "1.2k req/s".
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "no data"
	}
	a := math.Abs(v)
	var s string
	switch {
	case a >= 1e9:
		s = trimNum(v/1e9) + "G"
	case a >= 1e6:
		s = trimNum(v/1e6) + "M"
	case a >= 1e4:
		s = trimNum(v/1e3) + "k"
	default:
		s = trimNum(v)
	}
	if unit == "" || unit == "count" {
		return s
	}
	return s + " " + unit
}

func trimNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 10:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	}
	return fmt.Sprintf("%.2g", v)
}

// FormatDuration prints a lead or lag: "40 s", "3 min", "1 h 5 min".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		if s := int(d/time.Second) % 60; s != 0 {
			return fmt.Sprintf("%d min %d s", int(d/time.Minute), s)
		}
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d/time.Minute)%60)
}

func moveWord(c *Candidate) string {
	switch c.Dir {
	case Down:
		return "fell"
	case Up:
		return "rose"
	}
	if !math.IsNaN(c.PeakValue) && c.PeakValue < c.Base.Level {
		return "fell"
	}
	return "rose"
}

// Headline says in plain words what a suspect did relative to the symptom:
// "db-1 cpu.iowait rose from 3 % to 96 %, 40 s before hrsp_5xx rose on backend app".
func Headline(snap *Snapshot, c, sym *Candidate) string {
	when := "at the same time as"
	d := time.Duration(c.Lead) * snap.Step
	switch {
	case c.Lead > 0:
		when = FormatDuration(d) + " before"
	case c.Lead < 0 && c.Lead != math.MinInt32:
		when = FormatDuration(d) + " after"
	case c.Lead == math.MinInt32:
		when = "without a clear onset, around when"
	}
	return fmt.Sprintf("%s %s from %s to %s, %s %s %s",
		Label(c.Meta), moveWord(c), FormatValue(c.Base.Level, c.Meta.Unit), peakAndNow(&c.Anomaly, c.Meta.Unit),
		when, Label(sym.Meta), moveWord(sym))
}

// peakAndNow is the most harmful value of a move, and the newest where it
// reads differently: "96 %", "96 % (now 41 %)".
func peakAndNow(a *Anomaly, unit string) string {
	peak := FormatValue(a.PeakValue, unit)
	if math.IsNaN(a.LastValue) {
		return peak
	}
	if now := FormatValue(a.LastValue, unit); now != peak {
		return peak + " (now " + now + ")"
	}
	return peak
}

func evidenceOf(snap *Snapshot, c *Candidate, kind EvidenceKind, w Window, sym *Candidate) Evidence {
	ev := Evidence{
		Kind: kind, SeriesKey: c.Key, Label: Label(c.Meta), Layer: c.Meta.Layer, Node: c.Meta.Node,
		From: snap.Time(w.From), Until: snap.Time(w.To),
		Score: c.Score, Baseline: c.Base.Level, Spread: c.Base.Spread, Value: c.PeakValue,
	}
	if c.Lead != math.MinInt32 {
		ev.Lead = time.Duration(c.Lead) * snap.Step
	}
	if kind == EvSymptom {
		ev.Score = c.Sustained
		ev.Text = fmt.Sprintf("%s %s from %s to %s (z %.1f, %s)", Label(c.Meta), moveWord(c),
			FormatValue(c.Base.Level, c.Meta.Unit), peakAndNow(&c.Anomaly, c.Meta.Unit), c.Sustained, kindText(c))
		return ev
	}
	ev.Text = Headline(snap, c, sym) + fmt.Sprintf(" (z %.1f, r %.2f at lag %d)", c.Peak, c.R, c.Lag)
	if c.Kind == KindRepeated {
		ev.Text += fmt.Sprintf("; %d separate excursions", c.Runs)
	}
	if !math.IsNaN(c.Base.Yesterday) {
		ev.Text += "; yesterday " + FormatValue(c.Base.Yesterday, c.Meta.Unit)
	}
	return ev
}

func kindText(c *Candidate) string {
	switch c.Kind {
	case KindRepeated:
		return fmt.Sprintf("%d separate excursions, %d points in all", c.Runs, c.RunPoints)
	case KindShift:
		return "level shift, still there"
	case KindSustained:
		return "sustained, recovered"
	case KindSpike:
		return "spike"
	}
	return "quiet"
}

func severityOf(a *Anomaly) sources.Severity {
	if a.Sustained >= 8 {
		return sources.SevCritical
	}
	return sources.SevWarning
}

// maxExcluded bounds the excluded series a finding lists.
const maxExcluded = 50

// excludedEvidence lists the series the ranking could not read, and why.
func excludedEvidence(snap *Snapshot, rk *Ranking) []Evidence {
	var out []Evidence
	for i := range rk.Excluded {
		if len(out) == maxExcluded {
			break
		}
		c := &rk.Excluded[i]
		out = append(out, Evidence{Kind: EvExcluded, SeriesKey: c.Key, Label: Label(c.Meta), Layer: c.Meta.Layer, Node: c.Meta.Node,
			From: snap.Time(rk.Window.From), Until: snap.Time(rk.Window.To), Baseline: math.NaN(),
			Text: Label(c.Meta) + ": " + c.Excluded})
	}
	return out
}

func quietEvidence(snap *Snapshot, rk *Ranking) []Evidence {
	var out []Evidence
	for _, lc := range rk.Layers {
		if lc.Moved > 0 {
			continue
		}
		name := string(lc.Layer)
		if name == "" {
			name = "unknown layer"
		}
		txt := fmt.Sprintf("%s: %d series checked, none moved (max z %.1f)", name, lc.Series, lc.MaxZ)
		if lc.Stale > 0 {
			txt += fmt.Sprintf("; %d could not be checked", lc.Stale)
		}
		out = append(out, Evidence{Kind: EvQuiet, Layer: lc.Layer, Score: lc.MaxZ,
			From: snap.Time(rk.Window.From), Until: snap.Time(rk.Window.To), Baseline: math.NaN(), Text: txt})
	}
	return out
}

func suspectsFinding(snap *Snapshot, rk *Ranking, prevTop string) Finding {
	sym := &rk.Symptom
	sus := rk.Suspects
	// no flicker: the suspect that led last time stays first while it is
	// within 20 % of the best score
	if prevTop != "" && len(sus) > 1 && sus[0].Key != prevTop {
		for i := 1; i < len(sus); i++ {
			if sus[i].Key == prevTop && sus[i].Score >= 0.8*sus[0].Score {
				sus = append([]Candidate{sus[i]}, append(append([]Candidate(nil), sus[:i]...), sus[i+1:]...)...)
				break
			}
		}
	}
	f := Finding{
		ID: "symptom/" + sym.Key, Rule: "suspects", Severity: severityOf(&sym.Anomaly),
		Layer: sym.Meta.Layer, Node: sym.Meta.Node,
	}
	f.Evidence = append(f.Evidence, evidenceOf(snap, sym, EvSymptom, rk.Window, sym))
	var text []string
	if len(sus) > 0 {
		top := &sus[0]
		f.Title = fmt.Sprintf("%s %s: likely %s", Label(sym.Meta), moveWord(sym), Label(top.Meta))
		text = append(text, Headline(snap, top, sym)+".")
		if len(sus) > 1 {
			var names []string
			for i := 1; i < len(sus); i++ {
				names = append(names, Label(sus[i].Meta))
			}
			text = append(text, "Also moved first: "+strings.Join(names, ", ")+".")
		}
	} else {
		f.Title = fmt.Sprintf("%s %s: only effects moved", Label(sym.Meta), moveWord(sym))
		text = append(text, "Internal series moved only after the symptom; none moved before it.")
	}
	for i := range sus {
		f.Evidence = append(f.Evidence, evidenceOf(snap, &sus[i], EvSuspect, rk.Window, sym))
	}
	for i := range rk.Effects {
		f.Evidence = append(f.Evidence, evidenceOf(snap, &rk.Effects[i], EvEffect, rk.Window, sym))
	}
	if len(rk.Effects) > 0 {
		text = append(text, fmt.Sprintf("%d series moved after it (effects).", len(rk.Effects)))
	}
	q := quietEvidence(snap, rk)
	if len(q) > 0 {
		var ls []string
		for _, e := range q {
			ls = append(ls, layerName(e.Layer))
		}
		text = append(text, "Checked and quiet: "+strings.Join(ls, ", ")+".")
	}
	f.Evidence = append(f.Evidence, q...)
	f.Evidence = append(f.Evidence, excludedEvidence(snap, rk)...)
	f.Explanation = strings.Join(text, " ")
	return f
}

func layerName(l sources.Layer) string {
	if l == "" {
		return "unknown layer"
	}
	return string(l)
}

// gapFinding: an external symptom fired and no internal signal moved
// between LeadLimit before and GapAfter after it: internal monitoring
// has a blind spot there (Dynatrace's "the chain splits at a component
// that does not alert", as a finding).
func gapFinding(snap *Snapshot, rk *Ranking) Finding {
	sym := &rk.Symptom
	f := Finding{
		ID: "gap/" + sym.Key, Rule: "gap", Severity: sources.SevWarning,
		Layer: sym.Meta.Layer, Node: sym.Meta.Node,
	}
	f.Evidence = append(f.Evidence, evidenceOf(snap, sym, EvSymptom, rk.Window, sym))
	checked := 0
	for _, lc := range rk.Layers {
		checked += lc.Series
	}
	var failing []string
	for _, st := range snap.Status {
		if st.Health == sources.HealthFailing {
			failing = append(failing, st.Source)
		}
	}
	if checked == 0 {
		f.Severity = sources.SevInfo
		f.Title = fmt.Sprintf("could not check %s: no internal series to compare with", Label(sym.Meta))
	} else {
		f.Title = fmt.Sprintf("monitoring gap: %s %s and no internal signal moved", Label(sym.Meta), moveWord(sym))
	}
	var parts []string
	for _, lc := range rk.Layers {
		parts = append(parts, fmt.Sprintf("%s: %d series, max z %.1f", layerName(lc.Layer), lc.Series, lc.MaxZ))
	}
	txt := fmt.Sprintf("%s %s at %s; nothing internal moved from %s before to %s after. Checked %s.",
		Label(sym.Meta), moveWord(sym), snap.Time(maxInt(sym.Onset, 0)).UTC().Format("15:04:05"),
		FormatDuration(10*time.Minute), FormatDuration(2*time.Minute), strings.Join(parts, "; "))
	if n := len(rk.Excluded); n > 0 {
		txt += fmt.Sprintf(" Could not check %d series (stale, no data or no traffic).", n)
	}
	if len(failing) > 0 {
		txt += " Failing sources: " + strings.Join(failing, ", ") + "."
	}
	f.Explanation = txt
	f.Evidence = append(f.Evidence, quietEvidence(snap, rk)...)
	f.Evidence = append(f.Evidence, excludedEvidence(snap, rk)...)
	return f
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// signedShift is the signed robust z of the window's median after the
// onset against the baseline: how far the level moved, either way.
func signedShift(snap *Snapshot, r *Ranker, s *SnapSeries, w Window, from int) (float64, Baseline) {
	b := r.Cache.Get(snap, s, w.BaseFrom, w.BaseTo, nil)
	if !b.Valid(r.Opt.MinPoints) {
		return math.NaN(), b
	}
	m := windowMedian(s.Values, from, w.To, nil, &r.bufA)
	return (m - b.Level) / b.Spread, b
}

// bottleneckFinding is the field rule for an error symptom: edge traffic
// down and errors up while database traffic also drops → the application
// layer (requests die before the DB), unless the database's queries per
// edge request fell by half or more (it cannot keep up); database
// traffic, latency or another database resource up → the database; edge
// traffic up first → load.
func bottleneckFinding(snap *Snapshot, r *Ranker, rk *Ranking) (Finding, bool) {
	sym := &rk.Symptom
	if sym.Meta.Measure&sources.MeasureErrors == 0 || sym.Dir != Up {
		return Finding{}, false
	}
	from := sym.Onset
	if from < rk.Window.From {
		from = rk.Window.From
	}
	thr := r.Opt.Score.Threshold
	type pick struct {
		s *SnapSeries
		z float64
		b Baseline
	}
	best := func(ok func(s *SnapSeries) bool) (p pick) {
		p.z = math.NaN()
		for i := range snap.Series {
			s := &snap.Series[i]
			if !ok(s) {
				continue
			}
			z, b := signedShift(snap, r, s, rk.Window, from)
			if math.IsNaN(z) {
				continue
			}
			if p.s == nil || math.Abs(z) > math.Abs(p.z) {
				p = pick{s, z, b}
			}
		}
		return p
	}
	edge := func(l sources.Layer) bool { return l == sources.LayerEdge || l == sources.LayerLB }
	// traffic here is a rate of requests or queries: sessions and
	// connections pile up when a backend is slow, which is not more load
	rate := func(s *SnapSeries) bool {
		u := strings.ToLower(s.Unit)
		return strings.HasSuffix(u, "/s") || u == "rps" || u == "qps"
	}
	T := best(func(s *SnapSeries) bool { return s.Role == sources.RoleTraffic && edge(s.Layer) && rate(s) })
	Q := best(func(s *SnapSeries) bool {
		return s.Role == sources.RoleTraffic && s.Layer == sources.LayerDB && rate(s)
	})
	// query latency: named so, or in seconds and not a replica's lag
	dbLatency := func(s *SnapSeries) bool {
		return s.Role == sources.RoleResource && s.Layer == sources.LayerDB &&
			(s.Measure&sources.MeasureLatency != 0 || ((s.Unit == "ms" || s.Unit == "s") && !IsReplicationLag(&s.SeriesMeta)))
	}
	D := best(dbLatency)
	// any other database resource that hurts going up (iowait, CPU, locks)
	R := best(func(s *SnapSeries) bool {
		return s.Role == sources.RoleResource && s.Layer == sources.LayerDB && !dbLatency(s) && HarmfulDirection(&s.SeriesMeta) == Up
	})
	if T.s == nil || (Q.s == nil && D.s == nil && R.s == nil) {
		return Finding{}, false
	}
	up := func(p pick) bool { return p.s != nil && p.z >= thr }
	down := func(p pick) bool { return p.s != nil && p.z <= -thr }
	// queries per edge request, before and in the window
	qt0, qt1 := math.NaN(), math.NaN()
	if T.s != nil && Q.s != nil && T.b.Level > 0 {
		mt := windowMedian(T.s.Values, from, rk.Window.To, nil, &r.bufA)
		mq := windowMedian(Q.s.Values, from, rk.Window.To, nil, &r.bufA)
		if mt > 0 {
			qt0, qt1 = Q.b.Level/T.b.Level, mq/mt
		}
	}
	var where, why string
	var layer sources.Layer
	switch {
	case up(Q) || up(D) || up(R):
		where, layer = "database", sources.LayerDB
		why = "database traffic, latency or load rose with the errors"
	case down(T) && down(Q) && qt1 < 0.5*qt0:
		where, layer = "database", sources.LayerDB
		why = "the database answered far fewer queries per edge request than before: it cannot keep up"
	case down(T) && down(Q):
		where, layer = "application layer", sources.LayerApp
		why = "edge traffic and database traffic both fell while errors rose: requests die before they reach the database"
	case up(T):
		where, layer = "load", sources.LayerEdge
		why = "edge traffic rose first and the errors followed"
	default:
		return Finding{}, false
	}
	f := Finding{
		ID: "bottleneck/" + sym.Key, Rule: "bottleneck", Severity: sources.SevWarning,
		Title: fmt.Sprintf("bottleneck: %s (%s)", where, Label(sym.Meta)), Layer: layer, Node: sym.Meta.Node,
	}
	desc := func(name string, p pick) string {
		if p.s == nil {
			return name + " not monitored"
		}
		m := windowMedian(p.s.Values, from, rk.Window.To, nil, &r.bufA)
		return fmt.Sprintf("%s %s %s → %s (z %+.1f)", name, Label(&p.s.SeriesMeta), FormatValue(p.b.Level, p.s.Unit), FormatValue(m, p.s.Unit), p.z)
	}
	ratio := ""
	if !math.IsNaN(qt1) {
		ratio = fmt.Sprintf(" DB queries per edge request: %.2f → %.2f.", qt0, qt1)
	}
	other := ""
	if up(R) {
		other = "; " + desc("DB load", R)
	}
	f.Explanation = fmt.Sprintf("%s. %s; %s; %s%s.%s", strings.ToUpper(why[:1])+why[1:],
		desc("edge traffic", T), desc("DB traffic", Q), desc("DB latency", D), other, ratio)
	f.Evidence = append(f.Evidence, evidenceOf(snap, sym, EvSymptom, rk.Window, sym))
	picks := []pick{T, Q, D}
	if up(R) {
		picks = append(picks, R)
	}
	for _, p := range picks {
		if p.s == nil {
			continue
		}
		f.Evidence = append(f.Evidence, Evidence{Kind: EvContext, SeriesKey: p.s.Key, Label: Label(&p.s.SeriesMeta), Layer: p.s.Layer, Node: p.s.Node,
			From: snap.Time(from), Until: snap.Time(rk.Window.To), Score: p.z, Baseline: p.b.Level, Spread: p.b.Spread,
			Value: windowMedian(p.s.Values, from, rk.Window.To, nil, &r.bufA), Text: desc(Label(&p.s.SeriesMeta), p)})
	}
	return f, true
}

// Flapping. Sources say a node flaps in one of these ways, and the engine
// reads all of them:
//   - an event of kind EventFlapping;
//   - a NodeState with Flapping set (and its Flaps counted in FlapWindow);
//   - state-change events (EventState) for one node: FlapCount or more of
//     them within FlapWindow make a flapping finding even when no source
//     says so, unless the node's source counts its flaps itself (its
//     NodeState has a FlapWindow): then its verdict stands.
const (
	FlapCount  = 4
	FlapWindow = 10 * time.Minute
)

func flappingFindings(snap *Snapshot) []Finding {
	byNode := map[string]*Finding{}
	var order []string
	add := func(node string, layer sources.Layer, sev sources.Severity, title, text string) {
		if f, ok := byNode[node]; ok {
			if sev > f.Severity {
				f.Severity = sev
			}
			if text != "" && !strings.Contains(f.Explanation, text) {
				f.Explanation = strings.TrimSpace(f.Explanation + " " + text)
			}
			return
		}
		if sev < sources.SevWarning {
			sev = sources.SevWarning
		}
		byNode[node] = &Finding{ID: "flapping/" + node, Rule: "flapping", Severity: sev, Title: title,
			Explanation: text, Layer: layer, Node: node}
		order = append(order, node)
	}
	// the node's own state first: its title stays the same whether or not
	// a flapping event is open at the moment
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		if !n.Flapping {
			continue
		}
		name := n.Name
		if name == "" {
			name = n.ID
		}
		text := fmt.Sprintf("%s %s is %s and flapping.", n.Kind, name, n.State)
		if n.Flaps > 0 && n.FlapWindow > 0 {
			text = fmt.Sprintf("%s %s is %s; it went DOWN %d times in %s.", n.Kind, name, n.State, n.Flaps, FormatDuration(n.FlapWindow))
		}
		add(name, n.Layer, n.Severity, fmt.Sprintf("%s %s is flapping", n.Kind, name), text)
	}
	for i := range snap.Events {
		ev := &snap.Events[i]
		if ev.Kind != sources.EventFlapping {
			continue
		}
		if !ev.Open() && snap.Now.Sub(ev.End) > FlapWindow {
			continue
		}
		node := ev.Node
		if node == "" {
			node = ev.ID
		}
		add(node, ev.Layer, ev.Severity, fmt.Sprintf("%s is flapping", node), sources.CleanText(ev.Title)+".")
	}
	// count state changes per node within FlapWindow
	judged := map[string]bool{}
	for i := range snap.Nodes {
		if snap.Nodes[i].FlapWindow > 0 {
			judged[snap.Nodes[i].Name] = true
		}
	}
	changes := map[string][]time.Time{}
	layers := map[string]sources.Layer{}
	for i := range snap.Events {
		ev := &snap.Events[i]
		if ev.Kind != sources.EventState || ev.Node == "" || judged[ev.Node] || snap.Now.Sub(ev.Start) > FlapWindow {
			continue
		}
		changes[ev.Node] = append(changes[ev.Node], ev.Start)
		layers[ev.Node] = ev.Layer
	}
	nodes := make([]string, 0, len(changes))
	for n := range changes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		ts := changes[n]
		if len(ts) >= FlapCount {
			add(n, layers[n], sources.SevWarning, fmt.Sprintf("%s is flapping", n),
				fmt.Sprintf("%d state changes in the last %s.", len(ts), FormatDuration(FlapWindow)))
		}
	}
	out := make([]Finding, 0, len(order))
	for _, n := range order {
		out = append(out, *byNode[n])
	}
	return out
}

// IsReplicationLag reports whether a series measures how far a replica is behind.
func IsReplicationLag(m *SeriesMeta) bool { return m.Measure&sources.MeasureReplicationLag != 0 }

// failoverFindings: a server changed state or a source saw a failover
// while a replication-lag series was rising around the same time: traffic
// went to a replica that had not caught up (field story 3).
func failoverFindings(snap *Snapshot, r *Ranker) []Finding {
	type change struct {
		at          time.Time
		node, title string
	}
	var changes []change
	for i := range snap.Events {
		ev := &snap.Events[i]
		if ev.Kind == sources.EventState || ev.Kind == sources.EventFailover {
			changes = append(changes, change{ev.Start, ev.Node, sources.CleanText(ev.Title)})
		}
	}
	for _, n := range snap.Nodes {
		if n.Kind == sources.NodeServer && !n.Since.IsZero() && n.Severity >= sources.SevWarning {
			changes = append(changes, change{n.Since, n.Name, fmt.Sprintf("%s %s is %s", n.Kind, n.Name, n.State)})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	o := r.Opt
	w := LiveWindow(snap, o)
	if w.To-w.From < 1 {
		return nil
	}
	near := int(5 * time.Minute / snap.Step)
	var out []Finding
	for i := range snap.Series {
		s := &snap.Series[i]
		if !IsReplicationLag(&s.SeriesMeta) {
			continue
		}
		b := r.Cache.Get(snap, s, w.BaseFrom, w.BaseTo, nil)
		if !b.Valid(o.MinPoints) {
			continue
		}
		a := ScoreWindow(s.Values, w.From, w.To, &b, Up, o.Score, nil)
		if a.Sustained < o.Score.Threshold || a.Onset < 0 {
			continue
		}
		var hit *change
		for j := range changes {
			c := &changes[j]
			k := snap.Index(c.at)
			if k >= a.Onset-near && k <= a.Onset+near {
				if hit == nil || c.at.Before(hit.at) {
					hit = c
				}
			}
		}
		if hit == nil {
			continue
		}
		cur, _ := s.Last()
		f := Finding{
			ID: "failover/" + s.Key, Rule: "failover", Severity: sources.SevCritical,
			Title: fmt.Sprintf("failover onto a lagging replica: %s is %s behind", Label(&s.SeriesMeta), FormatValue(cur, s.Unit)),
			Layer: s.Layer, Node: s.Node,
		}
		d := snap.Time(a.Onset).Sub(hit.at)
		rel := "after"
		if d < 0 {
			rel = "before"
		}
		f.Explanation = fmt.Sprintf("%s at %s; %s %s that, %s rose from %s to %s.",
			hit.title, hit.at.UTC().Format("15:04:05"), FormatDuration(d), rel, Label(&s.SeriesMeta),
			FormatValue(b.Level, s.Unit), FormatValue(a.PeakValue, s.Unit))
		f.Evidence = append(f.Evidence, Evidence{Kind: EvSuspect, SeriesKey: s.Key, Label: Label(&s.SeriesMeta), Layer: s.Layer, Node: s.Node,
			From: snap.Time(w.From), Until: snap.Time(w.To), Score: a.Sustained, Baseline: b.Level, Spread: b.Spread,
			Value: a.PeakValue, Lead: -d, Text: f.Explanation})
		out = append(out, f)
	}
	return out
}
