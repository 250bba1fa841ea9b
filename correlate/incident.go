package correlate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// CauseKind says what the findings of one incident share.
type CauseKind string

const (
	CauseSuspect CauseKind = "suspect" // the same top suspect series
	CauseGroup   CauseKind = "group"   // the same backend group or node
	CausePath    CauseKind = "path"    // the same path segment
	CauseAlert   CauseKind = "alert"   // an internal alert that fired with them (Nagios, Icinga, Alertmanager)
	CauseOwn     CauseKind = "own"     // a finding standing alone
)

// Incident is findings that share one cause, told as one headline: what
// broke, what explains it, since when, how many findings under it.
type Incident struct {
	ID       string // stable while the cause stays the same
	Severity sources.Severity
	Headline string // one line: what broke, and what explains it
	// Broke and Why are the two halves of a headline over several
	// findings ("app hrsp_5xx rose and …", "likely db-1 cpu.iowait"), so
	// a narrow screen can shorten what broke and keep the cause; a lone
	// finding's headline is its title, in Broke.
	Broke, Why string
	Cause      CauseKind
	CauseKey   string // the suspect's series key, the group's node, the segment
	Since      time.Time
	Updated    time.Time
	Findings   []string // IDs of the findings under it, worst first
	Layer      sources.Layer
	Node       string
	Explained  bool // an internal cause explains it (not only symptoms)
	// Until is when the last finding under it resolved; zero while any
	// of them is active.
	Until time.Time
	// Where is what broke said by place only ("www and app"), for a
	// screen too narrow for Broke; "" when a place has no name.
	Where string
}

// Incidents folds findings into incidents, worst first. Two findings are
// one incident when they share a cause key (causeKeys: the same top
// suspect, the same symptom, the same place or group, the same path
// segment) and were open at the same time; the incident is everything
// joined so, one finding to the next. For the active findings of one
// instant (as Session.Findings returns them) every pair was open at the
// same time; for every finding of a recording, the time rule keeps two
// outages of one cause an hour apart as two incidents.
func Incidents(fs []Finding) []Incident {
	groups := joinByCause(fs)
	out := make([]Incident, 0, len(groups))
	for _, members := range groups {
		out = append(out, incidentOf(fs, members))
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.ID < b.ID
	})
	uniqueIDs(out)
	return out
}

// causeKeys are what a finding can share with another of its incident:
//   - its top suspect series (two symptoms blaming db-1's iowait);
//   - its symptom series (the suspects, gap and bottleneck findings
//     about one symptom);
//   - the places it is about: its own node, the members folded into it
//     (a backend's servers), and the node of its top suspect (a server
//     DOWN is one with the errors that blame it);
//   - the path segment it blames;
//   - the alert it is about, and the internal alert that fired with it
//     (an external alert and the Nagios problem behind it).
func causeKeys(f *Finding) []string {
	var ks []string
	if a := f.Alert(); a != nil {
		ks = append(ks, "alert "+a.Event)
	}
	if a := f.AlertCause(); a != nil {
		ks = append(ks, "alert "+a.Event)
	}
	if s := f.TopSuspect(); s != nil {
		ks = append(ks, "suspect "+s.SeriesKey, placeKey(s.Layer, s.Node))
	}
	if s := f.Symptom(); s != nil {
		ks = append(ks, "symptom "+s.SeriesKey)
	}
	if f.Segment != "" {
		ks = append(ks, "segment "+f.Segment)
	}
	if f.Node != "" {
		ks = append(ks, placeKey(f.Layer, f.Node))
	}
	return append(ks, memberPlaces(f)...)
}

func placeKey(l sources.Layer, node string) string {
	if node == "" {
		return ""
	}
	return "place " + string(l) + "/" + node
}

// memberPlaces are the places of the members folded into a group
// finding: the series on the symptom's own layer that it shows beside
// its symptom (a backend's servers), nothing for a finding that folded
// none.
func memberPlaces(f *Finding) []string {
	sym := f.Symptom()
	if len(f.Grouped) == 0 || sym == nil {
		return nil
	}
	var out []string
	for _, e := range f.Evidence {
		if e.Kind == EvContext && e.SeriesKey != "" && e.Layer == sym.Layer && e.Node != sym.Node {
			out = append(out, placeKey(e.Layer, e.Node))
		}
	}
	return out
}

// openTogether reports whether two findings were open at some same
// instant (a finding not resolved is open to the end of time).
func openTogether(a, b *Finding) bool {
	return !a.Opened.After(until(b)) && !b.Opened.After(until(a))
}

var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func until(f *Finding) time.Time {
	if f.Resolved.IsZero() {
		return endOfTime
	}
	return f.Resolved
}

// joinByCause groups the indices of fs that share a cause key while open
// together, each group in the order of fs, groups by their first index.
func joinByCause(fs []Finding) [][]int {
	parent := make([]int, len(fs))
	for i := range parent {
		parent[i] = i
	}
	root := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	byKey := map[string][]int{}
	for i := range fs {
		for _, k := range causeKeys(&fs[i]) {
			if k == "" {
				continue
			}
			for _, j := range byKey[k] {
				if openTogether(&fs[i], &fs[j]) {
					if a, b := root(i), root(j); a != b {
						parent[max(a, b)] = min(a, b)
					}
				}
			}
			if l := byKey[k]; len(l) == 0 || l[len(l)-1] != i {
				byKey[k] = append(l, i)
			}
		}
	}
	var groups [][]int
	at := map[int]int{}
	for i := range fs {
		r := root(i)
		g, ok := at[r]
		if !ok {
			g = len(groups)
			at[r] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// incidentOf tells the findings fs[members] as one incident.
func incidentOf(fs []Finding, members []int) Incident {
	ms := make([]Finding, 0, len(members))
	for _, i := range members {
		ms = append(ms, fs[i])
	}
	SortFindings(ms) // worst first
	lead := &ms[0]
	inc := Incident{Severity: lead.Severity, Layer: lead.Layer, Node: lead.Node, Since: lead.Opened, Until: until(lead)}
	seen := map[string]bool{}
	for i := range ms {
		f := &ms[i]
		inc.Severity = max(inc.Severity, f.Severity)
		if f.Opened.Before(inc.Since) {
			inc.Since = f.Opened
		}
		if f.Updated.After(inc.Updated) {
			inc.Updated = f.Updated
		}
		if u := until(f); u.After(inc.Until) {
			inc.Until = u
		}
		if !seen[f.ID] {
			seen[f.ID] = true
			inc.Findings = append(inc.Findings, f.ID)
		}
	}
	if inc.Until.Equal(endOfTime) {
		inc.Until = time.Time{}
	}
	inc.Cause, inc.CauseKey = causeOf(ms)
	inc.Explained = inc.Cause == CauseSuspect || inc.Cause == CauseAlert
	inc.ID = "incident/" + string(inc.Cause) + "/" + inc.CauseKey
	if inc.Cause == CauseOwn {
		inc.ID = "incident/" + lead.ID
	}
	inc.Headline = headline(ms, &inc)
	return inc
}

// causeOf names what the findings ms (worst first) share: the top
// suspect most of them blame (the worst finding's on a tie), else the
// segment of the worst path finding, else the worst finding's place.
func causeOf(ms []Finding) (CauseKind, string) {
	if a := commonAlert(ms); a != nil {
		// what the monitoring the people run says is the cause comes
		// first: the series a suspect ranking blames stays in the findings
		return CauseAlert, a.Event
	}
	if s := commonSuspect(ms); s != nil {
		return CauseSuspect, s.SeriesKey
	}
	for i := range ms {
		if ms[i].Segment != "" {
			return CausePath, ms[i].Segment
		}
	}
	if len(ms) == 1 {
		return CauseOwn, ms[0].ID
	}
	for i := range ms {
		if ms[i].Node != "" {
			return CauseGroup, string(ms[i].Layer) + "/" + ms[i].Node
		}
	}
	return CauseGroup, ms[0].ID
}

// commonSuspect is the top suspect most findings of ms blame, the first
// one found on a tie; nil when none blames a series.
func commonSuspect(ms []Finding) *Evidence {
	count := map[string]int{}
	var best *Evidence
	for i := range ms {
		s := ms[i].TopSuspect()
		if s == nil {
			continue
		}
		count[s.SeriesKey]++
		if best == nil || count[s.SeriesKey] > count[best.SeriesKey] {
			best = s
		}
	}
	return best
}

// commonAlert is the internal alert most findings of ms say fired with
// them, the first one found on a tie; nil when none says one did.
func commonAlert(ms []Finding) *Evidence {
	count := map[string]int{}
	var best *Evidence
	for i := range ms {
		a := ms[i].AlertCause()
		if a == nil {
			continue
		}
		count[a.Event]++
		if best == nil || count[a.Event] > count[best.Event] {
			best = a
		}
	}
	return best
}

// headline says what broke and what explains it: "app hrsp_5xx rose and
// www probe_success fell: likely db-1 cpu.iowait", "HTTP check: www 503
// (from outside) ← Nagios: disk /var CRITICAL on db-1 since 13:40". A
// finding alone keeps its own title, which already says both.
func headline(ms []Finding, inc *Incident) string {
	if len(ms) == 1 {
		inc.Broke = ms[0].Title
		return inc.Broke
	}
	broke := ms
	if inc.Cause == CauseAlert {
		// the internal alert is the cause: it is said after the arrow, not
		// among what broke
		broke = nil
		for i := range ms {
			if a := ms[i].Alert(); a == nil || a.Event != inc.CauseKey {
				broke = append(broke, ms[i])
			}
		}
	}
	inc.Broke, inc.Why = whatBroke(broke), whatExplains(ms, inc)
	inc.Where = whereBroke(broke)
	return inc.HeadlineWith(inc.Broke)
}

// HeadlineWith is the headline with what broke said as broke (shortened
// for a narrow screen): broke, then the cause as the incident says it.
func (inc *Incident) HeadlineWith(broke string) string {
	switch {
	case inc.Why == "":
		return broke
	case inc.Cause == CauseAlert:
		return broke + " ← " + inc.Why
	}
	return broke + ": " + inc.Why
}

// Summary is the headline with since when and how many findings: "…:
// likely db-1 cpu.iowait (since 13:44:20, 4 findings)", for a report that
// has no columns of its own for them.
func (inc *Incident) Summary() string {
	var b strings.Builder
	b.WriteString(inc.Headline)
	n := len(inc.Findings)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	if inc.Since.IsZero() {
		fmt.Fprintf(&b, " (%d finding%s)", n, plural)
	} else {
		fmt.Fprintf(&b, " (since %s, %d finding%s)", inc.Since.UTC().Format("15:04:05"), n, plural)
	}
	return b.String()
}

// maxNamed bounds the things a headline names as broken.
const maxNamed = 2

// whatBroke names what the findings ms (worst first) say broke, one
// name per place (a backend's finding speaks for its servers, a check's
// event and its probe series for one site), the worst two and how many
// more.
func whatBroke(ms []Finding) string {
	var names []string
	covered := map[string]bool{}
	for i := range ms {
		f := &ms[i]
		places := findingPlaces(f)
		named := len(places) > 0
		for _, p := range places {
			named = named && covered[p]
		}
		if named {
			continue
		}
		for _, p := range append(places, memberPlaces(f)...) {
			covered[p] = true
		}
		if n := brokeName(f); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) > maxNamed {
		return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamed)
	}
	return strings.Join(names, " and ")
}

// whereBroke names the places of what broke (the symptoms' nodes, the
// paths' targets), the worst two and how many more; "" when one of them
// has no name.
func whereBroke(ms []Finding) string {
	var names []string
	for i := range ms {
		f := &ms[i]
		n := f.Node
		if s := f.Symptom(); s != nil {
			n = s.Node
		}
		if t := pathTarget(f); t != "" {
			n = t
		}
		if n == "" {
			return ""
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) > maxNamed {
		return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamed)
	}
	return strings.Join(names, " and ")
}

// findingPlaces are where a finding says something broke: its symptom's
// place and its own.
func findingPlaces(f *Finding) []string {
	var out []string
	if s := f.Symptom(); s != nil && s.Node != "" {
		out = append(out, placeKey(s.Layer, s.Node))
	}
	if t := pathTarget(f); t != "" {
		return append(out, placeKey(sources.LayerNetwork, t)) // its Node is the place it blames
	}
	if f.Node != "" {
		out = append(out, placeKey(f.Layer, f.Node))
	}
	return out
}

// brokeName is what one finding says broke: its symptom and which way
// it moved, the path it is about, or else its title.
func brokeName(f *Finding) string {
	if s := f.Symptom(); s != nil && s.Label != "" {
		return s.Label + " " + direction(s)
	}
	if t := pathTarget(f); t != "" {
		return "the path to " + t
	}
	return f.Title
}

// pathTarget is the target whose paths a path finding is about.
func pathTarget(f *Finding) string {
	if f.Segment == "" || len(f.Evidence) == 0 {
		return ""
	}
	return f.Evidence[0].Node
}

func direction(e *Evidence) string {
	if e.Value < e.Baseline {
		return "fell"
	}
	return "rose"
}

// whatExplains is the cause of an incident in words: the suspect, the
// path segment, or that no internal cause was found for its symptoms.
func whatExplains(ms []Finding, inc *Incident) string {
	switch inc.Cause {
	case CauseSuspect:
		for i := range ms {
			if s := ms[i].TopSuspect(); s != nil && s.SeriesKey == inc.CauseKey {
				return "likely " + orKey(s.Label, s.SeriesKey)
			}
		}
	case CausePath:
		return "likely the network at " + inc.CauseKey
	case CauseAlert:
		for i := range ms {
			if a := ms[i].AlertCause(); a != nil && a.Event == inc.CauseKey {
				return a.Text // "Nagios: disk /var CRITICAL on db-1 since 13:40", the engine's words
			}
		}
	}
	for i := range ms {
		if ms[i].Symptom() != nil {
			return "no internal cause found"
		}
	}
	return ""
}

func orKey(label, key string) string {
	if label == "" {
		return key
	}
	return label
}

// uniqueIDs keeps incident IDs apart when one cause made two incidents
// (a recording's two outages an hour apart): the ones listed after the
// first get "#2", "#3", …
func uniqueIDs(incs []Incident) {
	n := map[string]int{}
	for i := range incs {
		id := incs[i].ID
		n[id]++
		if n[id] > 1 {
			incs[i].ID = fmt.Sprintf("%s#%d", id, n[id])
		}
	}
}
