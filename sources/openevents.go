package sources

import (
	"sort"
	"strings"
	"time"
)

// OpenEvents is a source's memory of the events it last reported open,
// for sources that report what is going on now (a status feed, an alert
// list, a failing check) rather than when things end: an event that was
// open and is reported no more has ended, and is closed rather than left
// open for ever. The zero value is ready; it is not safe for concurrent
// use (a source polls one at a time).
type OpenEvents struct {
	open map[string]Event
}

// Close is called once per poll with the events the poll reports. It
// returns, for every event open at the previous call and missing from
// reported, a copy ended at now, with why appended to its text (e.g. "no
// longer listed by the AWS Health API"), and remembers which of reported
// are open.
func (o *OpenEvents) Close(now time.Time, reported []Event, why string) []Event {
	seen := make(map[string]bool, len(reported))
	for i := range reported {
		seen[reported[i].ID] = true
	}
	var closed []Event
	for id, ev := range o.open {
		if seen[id] {
			continue
		}
		ev.End, ev.Updated = now, now
		if why != "" {
			ev.Text = strings.TrimSpace(ev.Text + "\n(" + why + ")")
		}
		closed = append(closed, ev)
	}
	o.open = make(map[string]Event, len(reported))
	for _, ev := range reported {
		if ev.Open() {
			o.open[ev.ID] = ev
		}
	}
	sort.Slice(closed, func(i, j int) bool { return closed[i].ID < closed[j].ID })
	return closed
}

// Len is how many events are open.
func (o *OpenEvents) Len() int { return len(o.open) }
