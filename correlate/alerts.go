package correlate

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// The alert rules read the alerts of the monitoring systems the people
// already run (Nagios, Icinga, Alertmanager, external HTTP checks), as
// events of kind EventAlert with their typed Alert, and apply the field's
// rule of thumb: whenever an external alert fires, one or more internal
// alerts should fire too. If none does, internal alerting has a gap;
// if one does, the two are one incident and the internal alert is named
// as what explains it.
//
// AlertLead is how long before an external alert (or the window of an
// external symptom) an internal alert may have started and still count
// as firing with it: internal checks often see trouble first.
const AlertLead = 10 * time.Minute

// alertFindings runs the alert rules over a snapshot. found are the
// findings of the other rules so far: those about an external symptom
// get the internal alert that fired with them as evidence (and so join
// its incident), or a monitoring-gap finding of their own.
func alertFindings(snap *Snapshot, found []Finding) []Finding {
	var internal, external []*sources.Event
	for i := range snap.Events {
		ev := &snap.Events[i]
		if ev.Kind != sources.EventAlert || ev.Alert == nil {
			continue
		}
		if ev.Alert.Origin == sources.OriginExternal {
			external = append(external, ev)
		} else {
			internal = append(internal, ev)
		}
	}
	cov := alertCoverage(snap)
	var out []Finding
	for _, ev := range internal {
		if f, ok := internalAlertFinding(ev); ok {
			out = append(out, f)
		}
	}
	deps := newDepGraph(snap.Deps)
	for _, ev := range external {
		if !ev.Open() {
			continue
		}
		out = append(out, externalAlertFinding(snap, ev, explainingAlert(snap, internal, ev.Start, ev.Node, deps), cov))
	}
	// external symptoms the other rules found: one verdict per symptom
	done := map[string]bool{}
	for i := range found {
		f := &found[i]
		sym := f.Symptom()
		if sym == nil || !externalSymptom(snap, sym.SeriesKey) {
			continue
		}
		if cause := explainingAlert(snap, internal, sym.From, sym.Node, deps); cause != nil {
			firedWith(f, cause)
			continue
		}
		if done[sym.SeriesKey] || !cov.any() {
			continue
		}
		done[sym.SeriesKey] = true
		done[placeKey(sym.Layer, sym.Node)] = true
		out = append(out, symptomGapFinding(snap, sym, cov))
	}
	// external node states (a backend with no server UP): the same verdict
	nodes := map[string]*sources.NodeState{}
	for i := range snap.Nodes {
		if n := &snap.Nodes[i]; externalNode(n) {
			nodes[NodeFindingID(n.ID)] = n
		}
	}
	for i := range found {
		f := &found[i]
		n := nodes[f.ID]
		if f.Rule != "node-state" || n == nil {
			continue
		}
		if cause := explainingAlert(snap, internal, n.Since, n.Name, deps); cause != nil {
			firedWith(f, cause)
			continue
		}
		// one gap a place: a backend's 5xx and its no-server-UP are one thing failing
		place := placeKey(f.Layer, f.Node)
		if done[place] || !cov.any() {
			continue
		}
		done[place] = true
		out = append(out, nodeGapFinding(f, n, cov))
	}
	return out
}

// firedWith adds to an external symptom's finding the internal alert
// that fired with it: its evidence (so the two are one incident) and a
// sentence.
func firedWith(f *Finding, cause *sources.Event) {
	f.Evidence = append(f.Evidence, alertEvidence(cause, EvSuspect))
	f.Explanation = strings.TrimSpace(f.Explanation + " " + alertPhrase(cause) + " fired with it (since " + clock(cause.Start) + ").")
}

// externalNode reports whether a node's state is an external symptom: a
// load balancer's backend with no server UP (or DOWN) answers every
// request it gets with an error, as users meet it.
func externalNode(n *sources.NodeState) bool {
	if n.Kind != sources.NodeBackend || n.Severity < sources.SevWarning || n.Flapping {
		return false
	}
	return n.LB != nil && n.LB.Total > 0 && n.LB.Up == 0 || n.Class == sources.ClassDown
}

// nodeGapFinding: an external node state (f is its node-state finding)
// with no internal alert firing with it.
func nodeGapFinding(f *Finding, n *sources.NodeState, cov coverage) Finding {
	name := string(n.Kind) + " " + sources.Clean(n.Name)
	return Finding{
		ID: "alert-gap/" + f.ID, Rule: "alert-gap", Severity: sources.SevWarning, Layer: f.Layer, Node: f.Node,
		Title: fmt.Sprintf("monitoring gap: %s failing from outside, no internal alert fired (checked: %s)", name, cov.checked()),
		Explanation: fmt.Sprintf("%s since %s and no internal alert fired from %s before it until now. %s",
			f.Title, clock(n.Since), FormatDuration(AlertLead), cov.failingText()),
		Evidence: []Evidence{{Kind: EvContext, Layer: f.Layer, Node: f.Node, From: n.Since, Baseline: math.NaN(), Label: name, Text: f.Title}},
	}
}

// externalSymptom reports whether a series is an external symptom (its
// typed role), the kind of thing an external alert is about.
func externalSymptom(snap *Snapshot, key string) bool {
	s := snap.Find(key)
	return s != nil && s.Role == sources.RoleSymptom
}

// internalAlertFinding is what an internal alert is worth. A Nagios user
// expects the check to count what still needs someone, as Nagios' own
// "unhandled problems" view and its notifications do: an unacknowledged
// HARD problem counts at its severity, and so does a flapping check
// (at least a warning: it keeps changing, whatever its state now). An
// acknowledged problem, one in scheduled downtime (a silenced or
// inhibited alert) and a SOFT state (it may still clear) are shown, at
// info, and do not count: a morning check that went CRITICAL for a disk
// someone already owns would teach people to ignore it.
func internalAlertFinding(ev *sources.Event) (Finding, bool) {
	a := ev.Alert
	if !ev.Open() || ev.Severity < sources.SevWarning && !a.Flapping {
		return Finding{}, false
	}
	f := Finding{
		ID: alertFindingID(ev), Rule: "alert", Severity: ev.Severity, Layer: ev.Layer, Node: ev.Node,
		Title:       alertPhrase(ev),
		Explanation: strings.TrimSpace(sources.CleanText(ev.Text)),
		Evidence:    []Evidence{alertEvidence(ev, EvAlert)},
	}
	var held []string
	switch {
	case a.Acknowledged:
		held = append(held, "acknowledged")
	case a.Downtime:
		held = append(held, downtimeWord(a))
	case !a.Hard:
		held = append(held, "SOFT, may still clear")
	}
	if a.Flapping {
		f.Title += ", flapping"
		f.Severity = max(f.Severity, sources.SevWarning)
	}
	if len(held) > 0 {
		f.Title += " (" + strings.Join(held, ", ") + ")"
		f.Severity = sources.SevInfo
	}
	since := "Since " + clock(ev.Start) + "."
	f.Explanation = strings.TrimSpace(since + " " + f.Explanation)
	return f, true
}

func downtimeWord(a *sources.Alert) string {
	if a.System == "alertmanager" {
		return "silenced or inhibited"
	}
	return "in downtime"
}

// externalAlertFinding is an external alert: explained by the internal
// alert that fired with it, or a monitoring gap when none did and some
// internal alerting was there to fire.
func externalAlertFinding(snap *Snapshot, ev, cause *sources.Event, cov coverage) Finding {
	f := Finding{
		ID: alertFindingID(ev), Rule: "alert", Severity: max(ev.Severity, sources.SevWarning), Layer: ev.Layer, Node: ev.Node,
		Title:    alertPhrase(ev) + " (from outside)",
		Evidence: []Evidence{alertEvidence(ev, EvAlert)},
	}
	text := strings.TrimSpace(sources.CleanText(ev.Text))
	switch {
	case cause != nil:
		f.Evidence = append(f.Evidence, alertEvidence(cause, EvSuspect))
		f.Explanation = strings.TrimSpace(fmt.Sprintf("Failing from outside since %s; %s fired with it (since %s). %s",
			clock(ev.Start), alertPhrase(cause), clock(cause.Start), text))
	case cov.any():
		f.Rule = "alert-gap"
		f.Title = fmt.Sprintf("monitoring gap: %s failing from outside, no internal alert fired (checked: %s)", alertSubject(ev), cov.checked())
		f.Explanation = strings.TrimSpace(fmt.Sprintf("%s has failed from outside since %s and no internal alert fired from %s before it until now. %s%s",
			alertSubject(ev), clock(ev.Start), FormatDuration(AlertLead), cov.failingText(), text))
	default:
		f.Explanation = strings.TrimSpace("Failing from outside since " + clock(ev.Start) + ". " + text)
	}
	return f
}

// symptomGapFinding: an external symptom series with no internal alert
// firing with it.
func symptomGapFinding(snap *Snapshot, sym *Evidence, cov coverage) Finding {
	name := orKey(sym.Label, sym.SeriesKey)
	ev := *sym
	return Finding{
		ID: "alert-gap/" + sym.SeriesKey, Rule: "alert-gap", Severity: sources.SevWarning, Layer: sym.Layer, Node: sym.Node,
		Title: fmt.Sprintf("monitoring gap: %s failing from outside, no internal alert fired (checked: %s)", name, cov.checked()),
		Explanation: fmt.Sprintf("%s is away from its baseline and no internal alert fired from %s before %s until now. %s",
			name, FormatDuration(AlertLead), clock(sym.From), cov.failingText()),
		Evidence: []Evidence{ev},
	}
}

// explainingAlert is the internal alert that fired with an external one
// that began at start on node: one open at some time since AlertLead
// before start. Where the config's dependencies say what node depends
// on, an alert on one of those comes first; then the worst, the deepest
// in the stack, the earliest. Nil when none fired.
func explainingAlert(snap *Snapshot, internal []*sources.Event, start time.Time, node string, deps depGraph) *sources.Event {
	from := start.Add(-AlertLead)
	var reach map[string]bool
	if !deps.empty() && node != "" {
		reach = deps.reach(node)
	}
	var best *sources.Event
	better := func(a, b *sources.Event) bool {
		if reach != nil && reach[a.Node] != reach[b.Node] {
			return reach[a.Node]
		}
		if a.Open() != b.Open() {
			return a.Open()
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if da, db := a.Layer.Depth(), b.Layer.Depth(); da != db && a.Layer != "" && b.Layer != "" {
			return da > db
		}
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		return a.Source+a.ID < b.Source+b.ID
	}
	for _, ev := range internal {
		if ev.Start.After(snap.Now) || !ev.Open() && ev.End.Before(from) {
			continue
		}
		if best == nil || better(ev, best) {
			best = ev
		}
	}
	return best
}

func alertFindingID(ev *sources.Event) string { return "alert/" + ev.Source + "/" + ev.ID }

// AlertKey names an alert event across sources, as alert evidence
// carries it.
func AlertKey(ev *sources.Event) string { return ev.Source + "/" + ev.ID }

func alertEvidence(ev *sources.Event, kind EvidenceKind) Evidence {
	return Evidence{Kind: kind, Event: AlertKey(ev), Label: alertPhrase(ev), Layer: ev.Layer, Node: ev.Node,
		From: ev.Start, Until: ev.End, Baseline: math.NaN(), Text: alertPhrase(ev) + " since " + clock(ev.Start)}
}

// systemNames are how people call the systems an Alert names.
var systemNames = map[string]string{"nagios": "Nagios", "icinga2": "Icinga 2", "alertmanager": "Alertmanager", "http": "HTTP check", "munin": "Munin"}

func systemName(s string) string {
	if n, ok := systemNames[s]; ok {
		return n
	}
	if s == "" {
		return "alert"
	}
	return sources.Clean(s)
}

// alertPhrase says an alert in the engine's words, from its typed
// fields: "Nagios: disk /var CRITICAL on db-1", "Nagios: host db-1 DOWN".
func alertPhrase(ev *sources.Event) string {
	a := ev.Alert
	return systemName(a.System) + ": " + alertSubjectState(ev)
}

func alertSubjectState(ev *sources.Event) string {
	a := ev.Alert
	check, node, state := sources.Clean(a.Check), sources.Clean(ev.Node), sources.Clean(a.State)
	switch {
	case check == "":
		return strings.TrimSpace("host " + node + " " + state)
	case node == "":
		return check + " " + state
	}
	return check + " " + state + " on " + node
}

// alertSubject is what an alert is about, without its state: "www",
// "https check on www".
func alertSubject(ev *sources.Event) string {
	check, node := sources.Clean(ev.Alert.Check), sources.Clean(ev.Node)
	switch {
	case node == "":
		return orKey(check, ev.ID)
	case check == "" || check == node:
		return node
	}
	return check + " on " + node
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format("15:04")
}

// coverage is what the internal alerting sources watched in their last
// poll, as they said it (Status.Watched), and which of them are failing.
type coverage struct {
	parts   []string // "Nagios 42 services"
	failing []string // source names
}

func alertCoverage(snap *Snapshot) coverage {
	var c coverage
	seen := map[string]int{}
	for _, st := range snap.Status {
		if st.Watched != nil && st.Watched.Origin != sources.OriginExternal {
			seen[st.Watched.System]++
		}
	}
	for _, st := range snap.Status {
		w := st.Watched
		if w == nil || w.Origin == sources.OriginExternal {
			continue
		}
		if st.Health == sources.HealthFailing {
			c.failing = append(c.failing, st.Source)
			continue
		}
		var n []string
		if w.Services > 0 || w.Hosts > 0 && w.Alerts == 0 {
			if w.Services == 0 {
				n = append(n, plural(w.Hosts, "host"))
			} else {
				n = append(n, plural(w.Services, cmp.Or(w.Checks, "service")))
			}
		}
		if w.Alerts > 0 || len(n) == 0 {
			n = append(n, plural(w.Alerts, "alert"))
		}
		part := w.System + " " + strings.Join(n, ", ")
		if seen[w.System] > 1 {
			part += " (" + st.Source + ")"
		}
		c.parts = append(c.parts, part) // in the order the sources first answered
	}
	return c
}

// any reports whether some internal alerting answered: without any,
// silence is not a gap.
func (c coverage) any() bool { return len(c.parts) > 0 }

func (c coverage) checked() string { return strings.Join(c.parts, ", ") }

func (c coverage) failingText() string {
	if len(c.failing) == 0 {
		return ""
	}
	return "Could not check " + strings.Join(c.failing, ", ") + " (failing). "
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
