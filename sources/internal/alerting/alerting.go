// Package alerting is what opsview's alert sources (Nagios, Icinga 2,
// Alertmanager) share: the options every one of them takes (origin,
// layer), Nagios' state words and what they weigh, and one way to turn a
// check's state into an alert event. It must not know any protocol or
// file format: those live in the sources.
package alerting

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// Options are the keys every alert source takes. The yaml tags let a
// source embed them inline in its own options.
type Options struct {
	// Origin says whether the source's alerts look from outside or
	// inside; internal unless said.
	Origin string `yaml:"origin"`
	// Layer is the layer of a host no entry of Layers names (default
	// "host" for Nagios and Icinga).
	Layer string `yaml:"layer"`
	// Layers give hosts their layer by name: layer → globs over the host
	// name, e.g. {db: ["db-*"], app: ["app-*", "web*"]}.
	Layers map[string][]string `yaml:"layers"`
}

// Settings are Options checked and ready to use.
type Settings struct {
	Origin sources.AlertOrigin
	Layer  sources.Layer
	globs  []layerGlob
}

type layerGlob struct {
	layer sources.Layer
	glob  string
}

// Settings checks the options; def is the layer of a host no glob names
// when the config says none.
func (o Options) Settings(def sources.Layer) (Settings, error) {
	st := Settings{Origin: sources.OriginInternal, Layer: def}
	if o.Origin != "" {
		org, ok := sources.ParseAlertOrigin(o.Origin)
		if !ok || org == sources.OriginUnknown {
			return st, fmt.Errorf("origin %q: use internal or external", o.Origin)
		}
		st.Origin = org
	}
	if o.Layer != "" {
		l, ok := sources.ParseLayer(o.Layer)
		if !ok {
			return st, fmt.Errorf("layer %q: use one of %s", o.Layer, layerList())
		}
		st.Layer = l
	}
	names := make([]string, 0, len(o.Layers))
	for name := range o.Layers {
		names = append(names, name)
	}
	sort.Strings(names) // the first glob that matches wins: the same one every run
	for _, name := range names {
		l, ok := sources.ParseLayer(name)
		if !ok || l == sources.LayerUnknown {
			return st, fmt.Errorf("layers: %q is not a layer: use one of %s", name, layerList())
		}
		for _, g := range o.Layers[name] {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				return st, fmt.Errorf("layers: %s: bad glob %q", name, g)
			}
			st.globs = append(st.globs, layerGlob{l, g})
		}
	}
	return st, nil
}

func layerList() string {
	var s []string
	for _, l := range sources.Layers {
		s = append(s, string(l))
	}
	return strings.Join(s, ", ")
}

// LayerOf is the layer of a host: the first glob that names it, else the
// source's layer.
func (st *Settings) LayerOf(host string) sources.Layer {
	for _, g := range st.globs {
		if ok, _ := path.Match(g.glob, host); ok {
			return g.layer
		}
	}
	return st.Layer
}

// ServiceState is the word and severity of a Nagios or Icinga service
// state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. UNKNOWN (the check
// could not tell) weighs as a warning: opsview's own UNKNOWN exit code
// means that opsview could not look, not that a service is unknown.
func ServiceState(n int) (string, sources.Severity) {
	switch n {
	case 0:
		return "OK", sources.SevOK
	case 1:
		return "WARNING", sources.SevWarning
	case 2:
		return "CRITICAL", sources.SevCritical
	}
	return "UNKNOWN", sources.SevWarning
}

// HostState is the word and severity of a Nagios or Icinga host state: 0
// UP, 1 DOWN, 2 UNREACHABLE. An unreachable host is one behind a parent
// that is DOWN: the parent is the problem, so it weighs as a warning.
func HostState(n int) (string, sources.Severity) {
	switch n {
	case 0:
		return "UP", sources.SevOK
	case 1:
		return "DOWN", sources.SevCritical
	}
	return "UNREACHABLE", sources.SevWarning
}

// Check is one check's state as an alert source read it, cleaned of
// escape sequences by the source.
type Check struct {
	System   string // "nagios", "icinga2", "alertmanager"
	Host     string // the node: a host name
	Service  string // the service or alert name; "" for a host's own check
	State    string // the system's word: CRITICAL, DOWN, firing
	Severity sources.Severity
	Layer    sources.Layer
	Origin   sources.AlertOrigin
	Hard     bool
	// Attempt of MaxAttempts, for a SOFT state; 0 when not known.
	Attempt, MaxAttempts             int
	Acknowledged, Downtime, Flapping bool
	Output                           string // one line
	Long                             string // more lines, may be empty
	Start, End, Updated              time.Time
	Labels                           map[string]string
}

// Event is the check as an alert event with the given ID.
func (c *Check) Event(id string) sources.Event {
	ev := sources.Event{
		ID: id, Kind: sources.EventAlert, Start: c.Start, End: c.End, Updated: c.Updated,
		Severity: c.Severity, Layer: c.Layer, Node: c.Host, Title: c.Title(), Labels: c.Labels,
		Alert: &sources.Alert{Origin: c.Origin, System: c.System, Check: c.Service, State: c.State, Hard: c.Hard,
			Acknowledged: c.Acknowledged, Downtime: c.Downtime, Flapping: c.Flapping},
	}
	var text []string
	if c.Output != "" {
		text = append(text, c.Output)
	}
	if c.Long != "" {
		text = append(text, c.Long)
	}
	ev.Text = strings.Join(text, "\n")
	return ev
}

// Title is a line for people: "disk /var CRITICAL on db-1 (SOFT 1/3)",
// "db-1 DOWN".
func (c *Check) Title() string {
	t := c.Host + " " + c.State
	if c.Service != "" {
		t = c.Service + " " + c.State
		if c.Host != "" {
			t += " on " + c.Host
		}
	}
	if !c.Hard {
		t += " (SOFT"
		if c.Attempt > 0 && c.MaxAttempts > 0 {
			t += fmt.Sprintf(" %d/%d", c.Attempt, c.MaxAttempts)
		}
		t += ")"
	}
	return t
}

// Since is a Unix time in seconds as a time, the zero time for 0 or less
// (Nagios writes 0 for "never").
func Since(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// Count says n things: "1 problem", "3 problems".
func Count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
