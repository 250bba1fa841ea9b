package correlate

import (
	"time"

	"github.com/opsview/opsview/sources"
)

// EvidenceKind says what part a series plays in a finding.
type EvidenceKind string

const (
	EvSymptom EvidenceKind = "symptom" // the external symptom the finding is about
	EvSuspect EvidenceKind = "suspect" // a likely cause, ranked
	EvEffect  EvidenceKind = "effect"  // co-moving, but downstream of the symptom
	EvQuiet   EvidenceKind = "quiet"   // checked and quiet (a layer that did not move)
	EvContext EvidenceKind = "context" // anything else shown for orientation
	// EvExcluded is a series the ranking could not read (stale, no data in
	// the window, no traffic, too few points): what the engine could not
	// check, so nobody takes its silence for health.
	EvExcluded EvidenceKind = "excluded"
	// EvAlert is the alert a finding is about (Event names it); an alert
	// that explains another finding is its EvSuspect with Event set.
	EvAlert EvidenceKind = "alert"
)

// Evidence is one series (or event, or path) behind a finding.
type Evidence struct {
	Kind      EvidenceKind
	SeriesKey string // store key of the series, "" for non-series evidence
	Layer     sources.Layer
	Node      string
	From      time.Time // the window the score was computed over
	Until     time.Time
	Score     float64       // how far it moved, in robust units; higher is worse
	Baseline  float64       // the robust level it is compared with (NaN if none)
	Spread    float64       // the robust spread of the baseline (MAD-based)
	Value     float64       // the level in the window
	Lead      time.Duration // >0: it moved this long before the symptom
	Text      string        // one line in plain words
	// Label names the series as an operator says it ("db-1 cpu.iowait"),
	// or an alert ("Nagios: disk /var CRITICAL on db-1"); "" for other
	// evidence. Headlines quote it.
	Label string
	// Event names the alert event behind alert evidence ("source/id",
	// AlertKey); "" for other evidence.
	Event string
}

// Finding is something the engine concluded: what is wrong and why it
// thinks so. Its ID is stable across refreshes while the same thing stays
// wrong.
type Finding struct {
	ID          string
	Rule        string // which rule raised it: "gap", "bottleneck", "suspects", "flapping", …
	Severity    sources.Severity
	Title       string
	Explanation string
	Layer       sources.Layer
	Node        string
	Evidence    []Evidence
	// Grouped lists the IDs of findings folded into this one (a backend's
	// servers that blame the same thing): when one of them was open on
	// its own, it closes as grouped, not resolved.
	Grouped  []string
	Opened   time.Time
	Updated  time.Time
	Resolved time.Time // zero while active
	// Segment is the network place a path finding blames (the smallest
	// of its addresses, stable while vantages name it differently); ""
	// for other findings.
	Segment string
}

// Active reports whether the finding has not resolved.
func (f *Finding) Active() bool { return f.Resolved.IsZero() }

// TopSuspect is the series the finding blames first, nil when it blames
// none (a path finding's suspects are paths, not series).
func (f *Finding) TopSuspect() *Evidence {
	for i := range f.Evidence {
		if e := &f.Evidence[i]; e.Kind == EvSuspect && e.SeriesKey != "" {
			return e
		}
	}
	return nil
}

// AlertCause is the internal alert that fired with the finding's
// external alert or symptom, nil when none did.
func (f *Finding) AlertCause() *Evidence {
	for i := range f.Evidence {
		if e := &f.Evidence[i]; e.Kind == EvSuspect && e.Event != "" {
			return e
		}
	}
	return nil
}

// Alert is the alert the finding is about, nil for other findings.
func (f *Finding) Alert() *Evidence {
	for i := range f.Evidence {
		if e := &f.Evidence[i]; e.Kind == EvAlert && e.Event != "" {
			return e
		}
	}
	return nil
}

// Symptom is the external series the finding is about, nil when it is
// about a state, an event or a path.
func (f *Finding) Symptom() *Evidence {
	for i := range f.Evidence {
		if e := &f.Evidence[i]; e.Kind == EvSymptom && e.SeriesKey != "" {
			return e
		}
	}
	return nil
}
