package correlate

import (
	"math"
	"sort"
	"time"
)

// PathJudge judges the path verdicts evaluation after evaluation and
// remembers, per target, the verdict it opened. That verdict holds while
// the evaluations are undecided, and a confident verdict that differs
// (another place, another kind, or every path clean) replaces it only
// once it has held for SwitchRounds probe rounds (CloseRounds for every
// path clean): a finding neither
// closes nor reopens while a fault holds, a lucky streak of probes does
// not close it, and its place keeps the name it opened with. The first
// verdict opens at once. The memory is the engine's (engineState), so a
// recording started in the middle of a fault replays the verdicts the
// live screen showed.
type PathJudge struct {
	opt  PathOptions
	open map[string]*PathMemo
}

// PathMemo is a verdict the judge holds open for a target: of its loss,
// or of its latency (Latency).
type PathMemo struct {
	Target     string
	Latency    bool
	Kind       VerdictKind
	Key        string
	Place      *Place
	Places     []Place
	Vantages   []string
	Exonerated bool
	Since      time.Time
	// Challenger is a confident verdict other than this one, Since when
	// it has held without a break.
	Challenger *PathMemo
}

// NewPathJudge makes a judge with no verdict open.
func NewPathJudge(opt PathOptions) *PathJudge {
	opt.defaults()
	return &PathJudge{opt: opt, open: map[string]*PathMemo{}}
}

// Judge judges every target of the snapshot's path histories.
func (j *PathJudge) Judge(snap *Snapshot) []PathVerdict {
	vs := pathVerdicts(snap, j.opt)
	byTarget := map[string][]PathHistory{}
	for _, h := range snap.Paths {
		byTarget[h.Target] = append(byTarget[h.Target], h)
	}
	for i := range vs {
		v := &vs[i]
		round := roundTime(byTarget[v.Target])
		j.hold(v, snap.Now, round)
		j.holdLatency(v, snap.Now, round)
		v.Text = verdictText(v)
	}
	for k, m := range j.open {
		if _, ok := byTarget[m.Target]; !ok {
			delete(j.open, k) // its traces left the store
		}
	}
	return vs
}

// roundTime is how long a probe round of a target takes: the time its
// traces span over the rounds they hold.
func roundTime(hs []PathHistory) time.Duration {
	var best time.Duration
	for _, h := range hs {
		n := len(h.Traces)
		if n < 2 {
			continue
		}
		rounds := 0
		for i := 1; i < n; i++ {
			rounds += max(h.Traces[i].Rounds, 1)
		}
		if d := h.Traces[n-1].At.Sub(h.Traces[0].At) / time.Duration(rounds); d > 0 && (best == 0 || d < best) {
			best = d
		}
	}
	if best == 0 {
		best = time.Second
	}
	return best
}

// decide reconciles a fresh verdict (as a memo; confident or not) with
// the one open under key k, and returns the memo to say instead of the
// fresh verdict (nil: say the fresh one) and whether it is held over an
// undecided or not yet proven one.
func (j *PathJudge) decide(k string, fresh *PathMemo, confident bool, now time.Time, round time.Duration) (say *PathMemo, held bool) {
	m := j.open[k]
	switch {
	case m == nil:
		if confident && fresh.Kind != VerdictNone {
			fresh.Since = now
			j.open[k] = fresh
			return fresh, false
		}
		return nil, false
	case confident && m.sameAs(fresh):
		if sharper(fresh.Place, m.Place) || m.Place == nil {
			// the segment narrowed as probes added up, or the flows now
			// tell the load balancer's branch: say it; the same place
			// named by another of its addresses, or wider by chance,
			// keeps the name it has
			m.Place = fresh.Place
		}
		m.Kind, m.Places, m.Vantages, m.Exonerated = fresh.Kind, fresh.Places, fresh.Vantages, fresh.Exonerated
		m.Challenger = nil
		return m, false
	case confident:
		if m.Challenger == nil || !m.Challenger.sameAs(fresh) {
			fresh.Since = now
			m.Challenger = fresh
		}
		after := time.Duration(j.opt.SwitchRounds) * round
		if fresh.Kind == VerdictNone {
			after = time.Duration(j.opt.CloseRounds) * round
		}
		if now.Sub(m.Challenger.Since) < after {
			return m, true
		}
		if fresh.Kind == VerdictNone {
			delete(j.open, k)
			return nil, false
		}
		fresh.Since = m.Challenger.Since
		j.open[k] = fresh
		return fresh, false
	default:
		m.Challenger = nil
		return m, true
	}
}

// sharper reports whether place a says more than b: a segment of fewer
// hops, or a load balancer's branch where b names the balancer or none.
func sharper(a, b *Place) bool {
	if a == nil || b == nil {
		return false
	}
	return len(a.SegKeys) < len(b.SegKeys) ||
		(len(a.Balanced) == 1 && len(b.Balanced) != 1) ||
		(len(a.Balanced) > 1 && len(b.Balanced) == 0)
}

// hold reconciles a fresh loss verdict with the one open for its target.
func (j *PathJudge) hold(v *PathVerdict, now time.Time, round time.Duration) {
	fresh := &PathMemo{Target: v.Target, Kind: v.Kind, Key: verdictKey(v.Place), Place: v.Place, Places: v.Places,
		Vantages: v.Vantages, Exonerated: v.Exonerated}
	if v.Kind == VerdictMixed && len(v.Places) > 0 {
		fresh.Key = verdictKey(&v.Places[0])
	}
	say, held := j.decide(v.Target, fresh, v.Confident, now, round)
	if say == nil {
		v.Persistent = v.Confident
		if v.Confident {
			v.Since = now
		}
		return
	}
	say.apply(v)
	v.Held = held
}

// holdLatency reconciles a fresh latency verdict with the one open.
func (j *PathJudge) holdLatency(v *PathVerdict, now time.Time, round time.Duration) {
	fresh := &PathMemo{Target: v.Target, Latency: true, Kind: v.LatencyKind, Key: verdictKey(v.LatencyPlace),
		Place: v.LatencyPlace, Vantages: v.LatencyVants}
	say, held := j.decide(latencyKey(v.Target), fresh, v.LatencyConfident, now, round)
	if say == nil {
		v.LatencyPersistent = v.LatencyConfident
		return
	}
	v.LatencyKind, v.LatencyPlace = say.Kind, say.Place
	v.LatencyVants = append([]string(nil), say.Vantages...)
	v.LatencyPersistent, v.LatencyHeld, v.LatencyKey, v.LatencySince = true, held, say.Key, say.Since
}

// latencyKey is where a target's latency verdict is held.
func latencyKey(target string) string { return target + "\x00latency" }

// verdictKey is the key of a new verdict's place.
func verdictKey(p *Place) string {
	if p != nil {
		return segmentKey(p)
	}
	return ""
}

// sameAs reports whether two verdicts are one: the same kind, at the
// same place seen with any precision.
func (m *PathMemo) sameAs(o *PathMemo) bool {
	if m.Kind != o.Kind {
		return false
	}
	if m.Kind != VerdictMixed {
		return samePlace(m.Place, o.Place)
	}
	for i := range m.Places {
		for k := range o.Places {
			if samePlace(&m.Places[i], &o.Places[k]) {
				return true
			}
		}
	}
	return false
}

// apply makes an evaluation say this verdict, with the losses its
// vantages show now.
func (m *PathMemo) apply(v *PathVerdict) {
	v.Kind, v.Place, v.Places, v.Exonerated = m.Kind, m.Place, m.Places, m.Exonerated
	v.Vantages = append([]string(nil), m.Vantages...)
	sort.Strings(v.Vantages)
	v.LossMin, v.LossMax = 1, 0
	for _, p := range v.Paths {
		if containsKey(m.Vantages, p.Vantage) && !p.Good {
			v.LossMin, v.LossMax = math.Min(v.LossMin, p.Loss), math.Max(v.LossMax, p.Loss)
		}
	}
	if v.LossMin > v.LossMax {
		v.LossMin, v.LossMax = 0, 0
	}
	v.Persistent, v.Key, v.Since = true, m.Key, m.Since
}

// memos are the open verdicts, by target, for the engine's state.
func (j *PathJudge) memos() []PathMemo {
	out := make([]PathMemo, 0, len(j.open))
	for _, m := range j.open {
		out = append(out, *m)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Target != out[b].Target {
			return out[a].Target < out[b].Target
		}
		return !out[a].Latency
	})
	return out
}

func (j *PathJudge) restore(ms []PathMemo) {
	for i := range ms {
		m := ms[i]
		if m.Latency {
			j.open[latencyKey(m.Target)] = &m
		} else {
			j.open[m.Target] = &m
		}
	}
}
