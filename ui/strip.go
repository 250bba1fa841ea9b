package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// stripClass is a node's state as the strip draws it; a later class is
// worse, and a column shows the worst its span held.
type stripClass uint8

const (
	stripNone  stripClass = iota // nothing known
	stripUp                      // serving
	stripOther                   // drained, in maintenance, degraded
	stripDown                    // not serving
)

// stateSpan is a node's state from one time until another.
type stateSpan struct {
	from, to time.Time
	cls      stripClass
}

// eventClass is the state a state-change event tells: a DOWN span is a
// warning or worse, a return to service is OK, anything else (a drain,
// a maintenance) is told at info.
func eventClass(ev *sources.Event) stripClass {
	switch {
	case ev.Severity >= sources.SevWarning:
		return stripDown
	case ev.Severity == sources.SevOK:
		return stripUp
	}
	return stripOther
}

func nodeClass(c sources.StateClass) stripClass {
	switch c {
	case sources.ClassUp:
		return stripUp
	case sources.ClassDown:
		return stripDown
	case sources.ClassMaint, sources.ClassDrain, sources.ClassDegraded:
		return stripOther
	}
	return stripNone
}

// stripNode is the node state of the finding's node, nil when the
// snapshot has none: a server before any other node of that name.
func stripNode(snap *correlate.Snapshot, node string) *sources.NodeState {
	var found *sources.NodeState
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		if n.Name != node && n.ID != node {
			continue
		}
		if n.Kind == sources.NodeServer {
			return n
		}
		if found == nil {
			found = n
		}
	}
	return found
}

// nodeSpans are the spans of node's state up to end that the snapshot's
// state-change events tell, oldest first, followed by the node's current
// state since it holds it. None when no state-change event names node.
func nodeSpans(snap *correlate.Snapshot, node string, end time.Time) []stateSpan {
	var evs []*sources.Event
	for i := range snap.Events {
		ev := &snap.Events[i]
		if ev.Kind == sources.EventState && ev.Node == node && ev.Start.Before(end) {
			evs = append(evs, ev) // the snapshot keeps them by start time
		}
	}
	if len(evs) == 0 {
		return nil
	}
	cur := stripNode(snap, node)
	var since time.Time
	if cur != nil && nodeClass(cur.Class) != stripNone && cur.Since.Before(end) {
		since = cur.Since
	}
	spans := make([]stateSpan, 0, len(evs)+1)
	covered := evs[0].Start
	for i, ev := range evs {
		to := end
		if i+1 < len(evs) {
			to = evs[i+1].Start
		} else if !since.IsZero() && since.After(ev.Start) {
			to = since // the current state took over
		}
		if !ev.Open() && ev.End.After(ev.Start) && ev.End.Before(to) {
			to = ev.End // a span that ended: what came next is not told
		}
		spans = append(spans, stateSpan{from: ev.Start, to: to, cls: eventClass(ev)})
		if to.After(covered) {
			covered = to
		}
	}
	if covered.Before(end) && cur != nil && nodeClass(cur.Class) != stripNone {
		from := covered
		if since.After(from) {
			from = since
		}
		spans = append(spans, stateSpan{from: from, to: end, cls: nodeClass(cur.Class)})
	}
	return spans
}

// stripCells gives each of width columns over [t0, t1) the worst state
// its time held, so a DOWN shorter than a column still shows.
func stripCells(spans []stateSpan, t0, t1 time.Time, width int) []stripClass {
	cells := make([]stripClass, width)
	d := t1.Sub(t0)
	for x := range cells {
		c0 := t0.Add(time.Duration(int64(d) * int64(x) / int64(width)))
		c1 := t0.Add(time.Duration(int64(d) * int64(x+1) / int64(width)))
		for _, s := range spans {
			if s.from.Before(c1) && s.to.After(c0) && s.cls > cells[x] {
				cells[x] = s.cls
			}
		}
	}
	return cells
}

// stateStrip draws the state of f's node over the buckets [a, b) of the
// snapshot as two lines, a legend and the strip, one column for each of
// the charts' columns; nil when no state-change event names the node.
func stateStrip(c *Context, node string, a, b, width int) []string {
	if c.Snap == nil || node == "" || width < 1 || b <= a {
		return nil
	}
	t0, t1 := c.Snap.Time(a), c.Snap.Time(b)
	spans := nodeSpans(c.Snap, node, t1)
	if spans == nil {
		return nil
	}
	th := c.Theme
	glyph := map[stripClass]string{stripNone: "·", stripUp: "█", stripOther: "▒", stripDown: "░"}
	if c.ASCII {
		glyph = map[stripClass]string{stripNone: ".", stripUp: "#", stripOther: "~", stripDown: "_"}
	}
	style := map[stripClass]lipgloss.Style{stripNone: th.Faint, stripUp: th.OK, stripOther: th.Warning, stripDown: th.Critical}
	if th.Mono {
		style = map[stripClass]lipgloss.Style{stripNone: th.Faint, stripUp: th.Base, stripOther: th.Base, stripDown: th.Base}
	}
	cells := stripCells(spans, t0, t1, width)
	shown := []stripClass{stripUp, stripDown, stripOther}
	for _, k := range cells {
		if k == stripNone {
			// before the first change the window tells of, the state is
			// not known: drawn as such, not as UP
			shown = append(shown, stripNone)
			break
		}
	}
	downs := 0
	for _, s := range spans {
		if s.cls == stripDown && !s.from.Before(t0) {
			downs++
		}
	}
	legend := []seg{{"state ", th.Warning}, {sources.Clean(node), th.Base}}
	for _, k := range shown {
		legend = append(legend, seg{"  " + glyph[k], style[k]}, seg{" " + map[stripClass]string{stripUp: "UP", stripDown: "DOWN", stripOther: "other", stripNone: "not known"}[k], th.Muted})
	}
	legend = append(legend, seg{fmt.Sprintf("  %d DOWN in %s", downs, correlate.FormatDuration(t1.Sub(t0))), th.Muted})
	var line strings.Builder
	for x := 0; x < len(cells); {
		y := x
		for y < len(cells) && cells[y] == cells[x] {
			y++
		}
		line.WriteString(style[cells[x]].Render(strings.Repeat(glyph[cells[x]], y-x)))
		x = y
	}
	return []string{join(width, legend...), line.String()}
}

// stateStrips draws the strips of the finding's node: the node's own, or
// for a backend those of its servers that changed state, as many as room
// allows (two lines each).
func stateStrips(c *Context, node string, a, b, width, room int) []string {
	if c.Snap == nil || node == "" {
		return nil
	}
	names := []string{node}
	if n := stripNode(c.Snap, node); n != nil && n.Kind == sources.NodeBackend {
		backends := map[string]bool{}
		for i := range c.Snap.Nodes {
			if m := &c.Snap.Nodes[i]; m.Kind == sources.NodeBackend && m.Name == node {
				backends[m.ID] = true
			}
		}
		seen := map[string]bool{}
		for i := range c.Snap.Nodes {
			m := &c.Snap.Nodes[i]
			if m.Kind == sources.NodeServer && backends[m.Parent] && !seen[m.Name] {
				seen[m.Name] = true
				names = append(names, m.Name)
			}
		}
	}
	var out []string
	for _, name := range names {
		if len(out)+2 > room {
			break
		}
		out = append(out, stateStrip(c, name, a, b, width)...)
	}
	return out
}
