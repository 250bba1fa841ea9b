package correlate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// EngineOptions tune the engine.
type EngineOptions struct {
	// ResolveAfter is how long a finding must stay absent before it
	// resolves, so findings do not flicker.
	ResolveAfter time.Duration
	// Rank tunes the baselines, anomaly scores and suspect ranking.
	Rank RankOptions
	// Rules are extra rules run on every snapshot.
	Rules []RuleFunc
	// Paths judges the path traces (triangulation, "provider green but
	// path red") and keeps the verdicts for the Paths view.
	Paths bool
}

// Engine turns snapshots into findings and keeps them stable across
// refreshes: a finding opens, updates and resolves, and each change is
// returned as an event for the timeline. It holds state but does no I/O
// and starts no goroutines.
type Engine struct {
	opt    EngineOptions
	active map[string]*Finding
	absent map[string]time.Time
	closed []Finding
	ranker *Ranker
	state  *ruleState
	paths  []PathVerdict // of the last evaluation
	judge  *PathJudge    // remembers the open path verdicts
}

// NewEngine makes an engine.
func NewEngine(opt EngineOptions) *Engine {
	if opt.ResolveAfter <= 0 {
		opt.ResolveAfter = 30 * time.Second
	}
	return &Engine{opt: opt, active: map[string]*Finding{}, absent: map[string]time.Time{},
		ranker: NewRanker(opt.Rank), state: newRuleState(), judge: NewPathJudge(PathOptions{})}
}

// maxClosed bounds the resolved findings the engine remembers.
const maxClosed = 1000

// ChangeKind says how a finding changed between two evaluations.
type ChangeKind string

const (
	ChangeOpened   ChangeKind = "opened"
	ChangeUpdated  ChangeKind = "updated" // its severity or its words changed
	ChangeResolved ChangeKind = "resolved"
	ChangeGrouped  ChangeKind = "grouped" // folded into another finding
)

// Change is one finding opening, changing or closing: the engine's output
// for the timeline. It is kept apart from what the sources said.
type Change struct {
	At      time.Time // the evaluation's time (the store's newest time)
	Kind    ChangeKind
	Finding Finding // as it was at the change; Resolved set when it closed
	// Into is the title of the finding it was folded into (grouped).
	Into string
}

// Evaluate computes the findings for a snapshot. It returns the active
// findings (worst first) and what changed since the last call (opened,
// updated, resolved, grouped), ordered by finding ID so every run of the
// same batches gives the same timeline.
func (e *Engine) Evaluate(snap *Snapshot) ([]Finding, []Change) {
	now := snap.Now
	current := detect(snap, e.ranker, e.state, e.opt.Rules)
	if e.opt.Paths {
		e.paths = e.judge.Judge(snap)
		current = append(current, FindingsFromVerdicts(e.paths)...)
		SortFindings(current)
	}
	e.forgetBaselines(snap)
	var changes []Change
	seen := map[string]bool{}
	groupedInto := map[string]*Finding{} // member ID → the finding it is now part of
	for i := range current {
		for _, id := range current[i].Grouped {
			groupedInto[id] = &current[i]
		}
	}
	for _, f := range current {
		seen[f.ID] = true
		delete(e.absent, f.ID)
		if old, ok := e.active[f.ID]; ok {
			f.Opened = e.groupOpened(&f, old.Opened)
			f.Updated = now
			if f.Severity != old.Severity || f.Title != old.Title {
				changes = append(changes, Change{At: now, Kind: ChangeUpdated, Finding: f})
			}
			*old = f
			continue
		}
		// a group is as old as its oldest member that was open
		f.Opened, f.Updated = e.groupOpened(&f, now), now
		nf := f
		e.active[f.ID] = &nf
		changes = append(changes, Change{At: now, Kind: ChangeOpened, Finding: nf})
	}
	for id, f := range e.active {
		if seen[id] {
			continue
		}
		// folded into another finding: it closes at once, as grouped
		if g, ok := groupedInto[id]; ok {
			f.Resolved = now
			changes = append(changes, Change{At: now, Kind: ChangeGrouped, Finding: *f, Into: g.Title})
			e.close(id, f)
			continue
		}
		since, ok := e.absent[id]
		if !ok {
			e.absent[id] = now
			continue
		}
		if now.Sub(since) >= e.opt.ResolveAfter {
			f.Resolved = now
			changes = append(changes, Change{At: now, Kind: ChangeResolved, Finding: *f})
			e.close(id, f)
		}
	}
	out := make([]Finding, 0, len(e.active))
	for _, f := range e.active {
		out = append(out, *f)
	}
	SortFindings(out)
	// resolutions come out of a map walk: order every change so that the
	// timeline is the same on every run (replays compare equal to live)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Finding.ID < changes[j].Finding.ID })
	return out, changes
}

// Paths are the path verdicts of the last evaluation (with Options.Paths).
func (e *Engine) Paths() []PathVerdict { return e.paths }

// groupOpened is the opening time of f's oldest member that was open on
// its own, or t.
func (e *Engine) groupOpened(f *Finding, t time.Time) time.Time {
	for _, id := range f.Grouped {
		if m, ok := e.active[id]; ok && m.Opened.Before(t) {
			t = m.Opened
		}
	}
	return t
}

// close moves an active finding to the closed ones.
func (e *Engine) close(id string, f *Finding) {
	e.closed = append(e.closed, *f)
	if len(e.closed) > maxClosed {
		e.closed = append(e.closed[:0:0], e.closed[len(e.closed)-maxClosed:]...)
	}
	delete(e.active, id)
	delete(e.absent, id)
}

// SortFindings orders findings worst first, then oldest first, then by ID.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Severity != fs[j].Severity {
			return fs[i].Severity > fs[j].Severity
		}
		if !fs[i].Opened.Equal(fs[j].Opened) {
			return fs[i].Opened.Before(fs[j].Opened)
		}
		return fs[i].ID < fs[j].ID
	})
}

// Detect runs the rules over one snapshot, without memory of earlier ones
// and with the default options.
func Detect(snap *Snapshot) []Finding {
	return detect(snap, NewRanker(RankOptions{}), newRuleState(), nil)
}

// forgetBaselines drops cached baselines of series that left the
// snapshot, so the cache stays bounded by the store.
func (e *Engine) forgetBaselines(snap *Snapshot) {
	if e.ranker.Cache.Len() <= len(snap.Series) {
		return
	}
	keys := make(map[string]bool, len(snap.Series))
	for i := range snap.Series {
		keys[snap.Series[i].Key] = true
	}
	e.ranker.Cache.Forget(func(k string) bool { return keys[k] })
}

// nodeFindings: a watched thing in a bad state (a backend with no server
// UP, a server DOWN) is a finding in itself.
func nodeFindings(snap *Snapshot) []Finding {
	var out []Finding
	for _, n := range snap.Nodes {
		if n.Severity < sources.SevWarning {
			continue
		}
		title := fmt.Sprintf("%s %s is %s", n.Kind, n.Name, n.State)
		if s := n.Attrs["finding"]; s != "" {
			title = s
		}
		out = append(out, Finding{
			ID: "node/" + n.ID, Rule: "node-state", Severity: n.Severity, Title: title,
			Explanation: n.Attrs["detail"], Layer: n.Layer, Node: n.Name,
		})
	}
	return out
}

// eventFindings: open warning or critical events from the sources. An
// event about a node that is itself a finding in nodes (HAProxy says
// "server app-3 DOWN" as an event and as the server's state) adds its
// words to that finding instead of standing beside it.
func eventFindings(snap *Snapshot, nodes []Finding) []Finding {
	var out []Finding
events:
	for _, ev := range snap.Events {
		if !ev.Open() || ev.Severity < sources.SevWarning || IsFlappingEvent(&ev) {
			continue
		}
		for i := range nodes {
			if n := &nodes[i]; ev.Node != "" && n.Node == ev.Node && n.Layer == ev.Layer {
				add := ev.Title
				if ev.Text != "" {
					add += ": " + ev.Text
				}
				if !strings.Contains(n.Explanation, add) {
					n.Explanation = strings.TrimPrefix(n.Explanation+"; "+add, "; ")
				}
				if ev.Severity > n.Severity {
					n.Severity = ev.Severity
				}
				continue events
			}
		}
		out = append(out, Finding{
			ID: "event/" + ev.Source + "/" + ev.ID, Rule: "event", Severity: ev.Severity,
			Title: ev.Title, Explanation: ev.Text, Layer: ev.Layer, Node: ev.Node,
		})
	}
	return out
}

// sourceFindings: a source that cannot be read is a blind spot.
func sourceFindings(snap *Snapshot) []Finding {
	var out []Finding
	for _, st := range snap.Status {
		if st.Health != sources.HealthFailing {
			continue
		}
		out = append(out, Finding{
			ID: "source/" + st.Source, Rule: "source-failing", Severity: sources.SevWarning,
			Title:       fmt.Sprintf("source %s is failing", st.Source),
			Explanation: st.LastError,
		})
	}
	return out
}
