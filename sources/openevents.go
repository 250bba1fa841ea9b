package sources

import (
	"sort"
	"strings"
	"time"
)

// OpenEvents remembers the events a source left open, so that one it no
// longer lists is closed rather than left open for ever: an AWS event
// taken off the dashboard, an alert Alertmanager stopped listing, a
// service removed from Nagios. The zero value is ready to use; it is not
// safe for concurrent use (a source polls one at a time).
type OpenEvents struct {
	open map[string]Event
}

// Close appends to evs an ended copy of every event that was open after
// the last call and is not in evs now (by ID), ending at at, with note
// added to its text ("no longer listed by …"); then it remembers the
// open events of the result for the next call. evs is what the source
// lists now, open or ended.
func (o *OpenEvents) Close(evs []Event, at time.Time, note string) []Event {
	if len(o.open) > 0 {
		seen := make(map[string]bool, len(evs))
		for i := range evs {
			seen[evs[i].ID] = true
		}
		var gone []string
		for id := range o.open {
			if !seen[id] {
				gone = append(gone, id)
			}
		}
		sort.Strings(gone) // the same batch on every run
		for _, id := range gone {
			ev := o.open[id]
			ev.End, ev.Updated = at, at
			if note != "" {
				ev.Text = strings.TrimSpace(ev.Text + "\n(" + note + ")")
			}
			evs = append(evs, ev)
		}
	}
	o.open = make(map[string]Event, len(evs))
	for _, ev := range evs {
		if ev.Open() {
			o.open[ev.ID] = ev
		}
	}
	return evs
}

// Len is how many events are open.
func (o *OpenEvents) Len() int { return len(o.open) }
