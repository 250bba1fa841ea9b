package correlate

import (
	"math"
	"sort"
	"time"
)

// PathJudge judges the path verdicts evaluation after evaluation and
// remembers, per target, the verdict it opened: that verdict holds until
// a confident one replaces it (a different place, or every path clean),
// so a finding neither closes nor reopens while a fault holds and its
// place keeps the name it opened with. The memory is the engine's
// (engineState), so a recording started in the middle of a fault replays
// the verdicts the live screen showed.
type PathJudge struct {
	opt  PathOptions
	open map[string]*PathMemo
}

// PathMemo is a verdict the judge holds open for a target.
type PathMemo struct {
	Target     string
	Kind       VerdictKind
	Key        string
	Place      *Place
	Places     []Place
	Vantages   []string
	Exonerated bool
	Since      time.Time
}

// NewPathJudge makes a judge with no verdict open.
func NewPathJudge(opt PathOptions) *PathJudge {
	opt.defaults()
	return &PathJudge{opt: opt, open: map[string]*PathMemo{}}
}

// Judge judges every target of the snapshot's path histories.
func (j *PathJudge) Judge(snap *Snapshot) []PathVerdict {
	vs := pathVerdicts(snap, j.opt)
	seen := make(map[string]bool, len(vs))
	for i := range vs {
		seen[vs[i].Target] = true
		j.hold(&vs[i], snap.Now)
	}
	for t := range j.open {
		if !seen[t] {
			delete(j.open, t) // its traces left the store
		}
	}
	return vs
}

// hold reconciles a fresh verdict with the one open for its target.
func (j *PathJudge) hold(v *PathVerdict, now time.Time) {
	m := j.open[v.Target]
	switch {
	case v.Confident && v.Kind == VerdictNone:
		delete(j.open, v.Target)
		v.Persistent, v.Since = true, now
	case v.Confident:
		if m == nil || !m.same(v) {
			m = &PathMemo{Target: v.Target, Key: verdictKey(v), Since: now}
			j.open[v.Target] = m
		}
		m.Kind, m.Place, m.Places, m.Vantages, m.Exonerated = v.Kind, v.Place, v.Places, v.Vantages, v.Exonerated
		v.Persistent, v.Key, v.Since = true, m.Key, m.Since
	case m != nil:
		m.apply(v)
	default:
		v.Persistent = false
	}
	v.Text = verdictText(v)
}

// verdictKey is the key of a new verdict's place.
func verdictKey(v *PathVerdict) string {
	if v.Place != nil {
		return segmentKey(v.Place)
	}
	return ""
}

// same reports whether a confident verdict is the open one again: the
// same kind, at the same place seen with any precision.
func (m *PathMemo) same(v *PathVerdict) bool {
	if m.Kind != v.Kind {
		return false
	}
	if m.Kind != VerdictMixed {
		return samePlace(m.Place, v.Place)
	}
	for i := range m.Places {
		for k := range v.Places {
			if samePlace(&m.Places[i], &v.Places[k]) {
				return true
			}
		}
	}
	return false
}

// apply makes an undecided evaluation say the open verdict, with the
// losses its vantages show now.
func (m *PathMemo) apply(v *PathVerdict) {
	v.Kind, v.Place, v.Places, v.Exonerated = m.Kind, m.Place, m.Places, m.Exonerated
	v.Vantages = append([]string(nil), m.Vantages...)
	sort.Strings(v.Vantages)
	v.LossMin, v.LossMax = 1, 0
	for _, p := range v.Paths {
		if containsKey(m.Vantages, p.Vantage) {
			v.LossMin, v.LossMax = math.Min(v.LossMin, p.Loss), math.Max(v.LossMax, p.Loss)
		}
	}
	if v.LossMin > v.LossMax {
		v.LossMin, v.LossMax = 0, 0
	}
	v.Persistent, v.Held, v.Key, v.Since = true, true, m.Key, m.Since
}

// memos are the open verdicts, by target, for the engine's state.
func (j *PathJudge) memos() []PathMemo {
	out := make([]PathMemo, 0, len(j.open))
	for _, m := range j.open {
		out = append(out, *m)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Target < out[b].Target })
	return out
}

func (j *PathJudge) restore(ms []PathMemo) {
	for i := range ms {
		m := ms[i]
		j.open[m.Target] = &m
	}
}
