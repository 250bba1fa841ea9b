package alerting

import (
	"strconv"
	"time"

	"github.com/opsview/opsview/sources"
)

// Key names one check: a host's own (Service "") or one of its services.
type Key struct{ Host, Service string }

// ID names one problem of a check by when it began, so that a log's
// history and the present state name it alike.
func (k Key) ID(start time.Time) string {
	if k.Service == "" {
		return "host/" + k.Host + "@" + strconv.FormatInt(start.Unix(), 10)
	}
	return "service/" + k.Host + "/" + k.Service + "@" + strconv.FormatInt(start.Unix(), 10)
}

// Problems follows the problems of Nagios-style checks from one poll to
// the next: each keeps one event from the moment it began until the
// check recovers, whatever its state does meanwhile (SOFT to HARD,
// WARNING to CRITICAL). Not safe for concurrent use.
type Problems struct {
	m map[Key]*problem
}

type problem struct {
	id        string
	start     time.Time
	problemID int64
	last      sources.Event
}

// Reading is one check as a poll read it.
type Reading struct {
	Check
	// Changed is when the check's present state began (Nagios'
	// last_state_change); zero when not known.
	Changed time.Time
	// Trouble is true for a check in a problem state, or flapping.
	Trouble bool
	// ProblemID is the system's own number of the present problem
	// (Nagios' current_problem_id), 0 when it has none: a new number
	// means it recovered and failed again between two reads.
	ProblemID int64
}

// Followed reports whether a problem of the check is followed: its next
// reading matters even when it is OK.
func (p *Problems) Followed(k Key) bool { return p.m[k] != nil }

// Seed follows an open problem known from elsewhere (a log), as its
// event ev, unless one is followed already.
func (p *Problems) Seed(k Key, ev sources.Event) {
	if p.m == nil {
		p.m = map[Key]*problem{}
	}
	if p.m[k] == nil {
		p.m[k] = &problem{id: ev.ID, start: ev.Start, last: ev}
	}
}

// Follow is one reading's step, its events appended to out: a problem
// opens or goes on (one event, the same ID), a recovery closes it at
// the state change, keeping the state it was in so the timeline says
// what it was while it lasted.
func (p *Problems) Follow(r *Reading, now time.Time, out []sources.Event) []sources.Event {
	if p.m == nil {
		p.m = map[Key]*problem{}
	}
	k := Key{r.Host, r.Service}
	pr := p.m[k]
	if !r.Trouble {
		if pr == nil {
			return out
		}
		delete(p.m, k)
		return append(out, pr.closed(endOf(r.Changed, pr, now)))
	}
	if pr != nil && pr.problemID != 0 && r.ProblemID != 0 && pr.problemID != r.ProblemID {
		out = append(out, pr.closed(endOf(r.Changed, pr, now)))
		pr = nil
	}
	if pr == nil {
		start := r.Changed
		if start.IsZero() {
			start = r.Updated
		}
		if start.IsZero() {
			start = now
		}
		pr = &problem{id: k.ID(start), start: start}
		p.m[k] = pr
	}
	if r.ProblemID != 0 {
		pr.problemID = r.ProblemID
	}
	c := r.Check
	c.Start, c.End = pr.start, time.Time{}
	pr.last = c.Event(pr.id)
	return append(out, pr.last)
}

// Open is the last event of the check's followed problem; false when
// none is followed.
func (p *Problems) Open(k Key) (sources.Event, bool) {
	if pr := p.m[k]; pr != nil {
		return pr.last, true
	}
	return sources.Event{}, false
}

// Forget drops the problems whose events are not open in evs (closed by
// OpenEvents: a check removed from the system).
func (p *Problems) Forget(evs []sources.Event) {
	open := make(map[string]bool, len(evs))
	for i := range evs {
		if evs[i].Open() {
			open[evs[i].ID] = true
		}
	}
	for k, pr := range p.m {
		if !open[pr.id] {
			delete(p.m, k)
		}
	}
}

func (pr *problem) closed(end time.Time) sources.Event {
	ev := pr.last
	if ev.Alert != nil {
		a := *ev.Alert
		ev.Alert = &a
	}
	ev.End, ev.Updated = end, end
	return ev
}

// endOf is when a problem ended: the check's state change, or now when
// that does not fit.
func endOf(changed time.Time, pr *problem, now time.Time) time.Time {
	if !changed.IsZero() && !changed.Before(pr.start) {
		return changed
	}
	return now
}
