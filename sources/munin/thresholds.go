package munin

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// reading is a fetched value of a field with a warning or critical
// threshold.
type reading struct {
	id, name, unit string
	graph          string
	field          Field
	v              float64
	at             time.Time
}

// crossing is a field outside its threshold: its event, and the graph
// and field it is of.
type crossing struct {
	ev           *sources.Event
	graph, field string
}

// state is munin's verdict on a reading: "CRITICAL", "WARNING" or ""
// (inside both ranges), with the threshold it crossed.
func (r *reading) state() (string, sources.Severity, Range) {
	switch {
	case r.field.Critical.Outside(r.v):
		return "CRITICAL", sources.SevCritical, r.field.Critical
	case r.field.Warning.Outside(r.v):
		return "WARNING", sources.SevWarning, r.field.Warning
	}
	return "", sources.SevOK, Range{}
}

// judge turns the readings of one fetch into alert events, as munin's
// own munin-limits does: a field outside its critical range is
// CRITICAL, else outside its warning range WARNING. A crossing is one
// event from the fetch that saw it until the one back inside (its state
// may change meanwhile); an unknown value ("U") leaves it as it was.
// Open events are said again at every fetch.
func (n *node) judge(rs []reading, now time.Time) []sources.Event {
	var out []sources.Event
	seen := make(map[string]bool, len(rs))
	for i := range rs {
		r := &rs[i]
		seen[r.id] = true
		var ev *sources.Event
		if c, ok := n.alerts[r.id]; ok {
			ev = c.ev
		}
		word, sev, crossed := r.state()
		switch {
		case word == "" && !math.IsNaN(r.v): // back inside
			if ev != nil {
				ev.End, ev.Updated = r.at, r.at
				ev.Text += fmt.Sprintf("\nback at %s", value(r.v, r.unit))
				out = append(out, *ev)
				delete(n.alerts, r.id)
			}
			continue
		case word == "": // unknown: as it was
			if ev != nil {
				out = append(out, *ev)
			}
			continue
		}
		if ev == nil {
			ev = &sources.Event{ID: n.host + "/" + r.name + "@" + strconv.FormatInt(r.at.Unix(), 10), Kind: sources.EventAlert,
				Start: r.at, Layer: sources.LayerHost, Node: n.host, Labels: map[string]string{"node": n.host, "field": r.name}}
			n.alerts[r.id] = crossing{ev: ev, graph: r.graph, field: r.field.Name}
		}
		ev.Severity, ev.Updated = sev, r.at
		ev.Alert = &sources.Alert{Origin: sources.OriginInternal, System: "munin", Check: r.name, State: word, Hard: true}
		ev.Title = fmt.Sprintf("%s %s on %s", r.name, word, n.host)
		ev.Text = fmt.Sprintf("%s is %s, outside its %s range %s (munin-node's threshold)", label(r), value(r.v, r.unit), strings.ToLower(word), crossed)
		out = append(out, *ev)
	}
	// a field not fetched this time (its plugin failed): as it was; one
	// no longer configured is forgotten, and the source closes its event
	ids := make([]string, 0, len(n.alerts))
	for id, c := range n.alerts {
		if g := n.graphs[c.graph]; g == nil || g.has(c.field) == nil {
			delete(n.alerts, id)
		} else if !seen[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, *n.alerts[id].ev)
	}
	return out
}

// openAlerts are the node's crossings as they were last seen.
func (n *node) openAlerts() []sources.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.judge(nil, time.Time{})
}

func openCount(evs []sources.Event) int {
	c := 0
	for i := range evs {
		if evs[i].Open() {
			c++
		}
	}
	return c
}

func label(r *reading) string {
	if l := sources.Clean(r.field.Label); l != "" && l != r.field.Name {
		return r.name + " (" + l + ")"
	}
	return r.name
}

func value(v float64, unit string) string {
	s := strconv.FormatFloat(v, 'g', 4, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}
