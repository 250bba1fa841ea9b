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
	warm   []Warming     // of the last evaluation
	judge  *PathJudge    // remembers the open path verdicts
	flag   *flagger      // the symptoms' unusual flags
	since  time.Time     // the start of the last snapshot judged
}

// NewEngine makes an engine.
func NewEngine(opt EngineOptions) *Engine {
	if opt.ResolveAfter <= 0 {
		opt.ResolveAfter = 30 * time.Second
	}
	return &Engine{opt: opt, active: map[string]*Finding{}, absent: map[string]time.Time{},
		ranker: NewRanker(opt.Rank), state: newRuleState(), judge: NewPathJudge(PathOptions{}),
		flag: newFlagger(DefaultFlagOptions)}
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
	e.flag.feed(snap)
	e.since = snap.Start
	current := detect(snap, e.ranker, e.state, e.opt.Rules)
	e.warm = warmingUp(snap, e.ranker.Opt)
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
	// one voice per symptom: a symptom's "likely …" finding and its gap
	// finding ("no internal signal moved", "could not check") are two
	// answers to one question; the one judged now closes the other at
	// once, not after ResolveAfter beside it
	bySymptom := map[string]*Finding{}
	for i := range current {
		if s := current[i].Symptom(); s != nil && symptomVoice(&current[i]) {
			bySymptom[s.SeriesKey] = &current[i]
		}
	}
	for id, f := range e.active {
		if seen[id] {
			continue
		}
		if s := f.Symptom(); s != nil && symptomVoice(f) && bySymptom[s.SeriesKey] != nil {
			groupedInto[id] = bySymptom[s.SeriesKey]
		}
		// folded into another finding, or answered by one about the same
		// symptom: it closes at once, as grouped
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

// symptomVoice reports whether f is the engine's answer about its
// symptom: what explains it, or that nothing internal does.
func symptomVoice(f *Finding) bool { return f.Rule == "suspects" || f.Rule == "gap" }

// Paths are the path verdicts of the last evaluation (with Options.Paths).
func (e *Engine) Paths() []PathVerdict { return e.paths }

// Unusual are the symptoms' unusual flags inside the last snapshot judged.
func (e *Engine) Unusual() []Unusual { return e.flag.flags(e.since) }

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
// UP, a server DOWN) is a finding in itself. Its words are the engine's,
// from the node's figures; what its source said about it (the events of
// the node) joins the explanation in eventFindings.
func nodeFindings(snap *Snapshot) []Finding {
	var out []Finding
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		// a flapping node's state is told by its flapping finding: UP one
		// poll and DOWN the next, a finding of its own would churn
		if n.Severity < sources.SevWarning || n.Flapping {
			continue
		}
		out = append(out, Finding{
			ID: NodeFindingID(n.ID), Rule: "node-state", Severity: n.Severity, Title: nodeTitle(n),
			Layer: n.Layer, Node: n.Name,
		})
	}
	return out
}

// NodeFindingID is the ID of the finding about the node with this ID, for
// a view that shows it beside the node.
func NodeFindingID(nodeID string) string { return "node/" + nodeID }

// nodeTitle says what is wrong with a node: "backend app has no server UP
// (Active: 0/4)", "AWS says ec2 us-east-1 is degraded: …", else "server
// app-3 is DOWN" in its source's word.
func nodeTitle(n *sources.NodeState) string {
	if n.Provider != nil {
		return providerTitle(n)
	}
	if n.Kind == sources.NodeBackend && n.LB != nil {
		if t := backendTitle(n.Name, n.Class, n.LB); t != "" {
			return t
		}
	}
	return fmt.Sprintf("%s %s is %s", n.Kind, n.Name, n.State)
}

// backendTitle words a backend's servers: none UP (on any load balancer,
// for a fleet's sum), some DOWN, some flapping; "" when none of these.
func backendTitle(name string, class sources.StateClass, lb *sources.LBNode) string {
	fleet := ""
	if lb.Instances > 0 {
		fleet = fmt.Sprintf(" on %d LBs", lb.Instances)
	}
	switch {
	case lb.Total > 0 && lb.Up == 0 && lb.Instances > 0:
		return fmt.Sprintf("backend %s has no server UP on any LB (Active: 0/%d)", name, lb.Total)
	case lb.Total > 0 && lb.Up == 0:
		return fmt.Sprintf("backend %s has no server UP (Active: 0/%d)", name, lb.Total)
	case lb.Total == 0 && class == sources.ClassDown:
		return fmt.Sprintf("backend %s is DOWN", name)
	case lb.Down > 0:
		return fmt.Sprintf("backend %s: %d of %d servers DOWN%s", name, lb.Down, lb.Total, fleet)
	case lb.Flapping > 0:
		return fmt.Sprintf("backend %s: %d servers flapping%s", name, lb.Flapping, fleet)
	}
	return ""
}

// providerTitle words what a provider says of its service: "AWS says ec2
// us-east-1 has a disruption: Increased API Error Rates".
func providerTitle(n *sources.NodeState) string {
	p := n.Provider
	what := "is operating normally"
	switch {
	case n.Class == sources.ClassDown:
		what = "has a disruption"
	case n.Class == sources.ClassDegraded:
		what = "is degraded"
	case n.Severity == sources.SevInfo:
		what = "has an informational notice"
	case n.Class != sources.ClassUp:
		what = "is " + n.State
	}
	t := fmt.Sprintf("%s says %s %s", p.Provider, strings.TrimSpace(p.Service+" "+p.Region), what)
	if p.Event != "" {
		t += ": " + p.Event
	}
	return t
}

// eventFindings: open warning or critical events from the sources. An
// event about a node that is itself a finding in nodes (HAProxy says
// "server app-3 DOWN" as an event and as the server's state) adds its
// words to that finding instead of standing beside it.
func eventFindings(snap *Snapshot, nodes []Finding) []Finding {
	var out []Finding
	flapping := map[string]bool{} // nodes whose flapping finding tells their state changes
	for i := range snap.Nodes {
		if n := &snap.Nodes[i]; n.Flapping {
			flapping[n.Name] = true
		}
	}
events:
	for _, ev := range snap.Events {
		if !ev.Open() || ev.Severity < sources.SevWarning || ev.Kind == sources.EventFlapping || (ev.Node != "" && flapping[ev.Node]) {
			continue
		}
		if ev.Kind == sources.EventAlert && ev.Alert != nil {
			continue // a monitoring system's alert: the alert rules judge it (alerts.go)
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

// Warming is what the last evaluation could not judge yet for want of a
// baseline, source by source.
func (e *Engine) Warming() []Warming { return e.warm }
