package correlate

import (
	"time"

	"github.com/opsview/opsview/sources"
)

// CauseKind says what the findings of one incident share.
type CauseKind string

const (
	CauseSuspect CauseKind = "suspect" // the same top suspect series
	CauseGroup   CauseKind = "group"   // the same backend group or node
	CausePath    CauseKind = "path"    // the same path segment
	CauseOwn     CauseKind = "own"     // a finding standing alone
)

// Incident is findings that share one cause, told as one headline: what
// broke, what explains it, since when, how many findings under it.
type Incident struct {
	ID        string // stable while the cause stays the same
	Severity  sources.Severity
	Headline  string // one line: what broke, and what explains it
	Cause     CauseKind
	CauseKey  string // the suspect's series key, the group's node, the segment
	Since     time.Time
	Updated   time.Time
	Findings  []string // IDs of the findings under it, worst first
	Layer     sources.Layer
	Node      string
	Explained bool // an internal cause explains it (not only symptoms)
}

// Incidents folds findings into incidents, worst first. Findings must be
// the active findings of one instant (as Session.Findings returns them).
func Incidents(fs []Finding) []Incident {
	out := make([]Incident, 0, len(fs))
	for i := range fs {
		f := &fs[i]
		out = append(out, Incident{
			ID: "incident/" + f.ID, Severity: f.Severity, Headline: f.Title,
			Cause: CauseOwn, CauseKey: f.ID, Since: f.Opened, Updated: f.Updated,
			Findings: []string{f.ID}, Layer: f.Layer, Node: f.Node,
		})
	}
	return out
}
