package replay

import (
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// EventEntry is one sending of an event.
type EventEntry struct {
	At    time.Time // Start when first seen, else End, Updated or the batch's At
	First bool      // the first time this event ID was seen
	Event sources.Event
}

// SourceInfo is one source seen in a recording.
type SourceInfo struct {
	Name    string
	Type    string
	Batches int
	First   time.Time
	Last    time.Time
	Failing int // batches whose status said failing
}

// Summary is what a recording holds, read without judging it: its
// sources, its events in their last state, and every sending of an event.
type Summary struct {
	Sources []SourceInfo // in order of first appearance
	// Events holds each source event in its last state, by start time.
	Events []sources.Event
	// EventLog is every event as the sources sent it, in file order:
	// its opening, its updates and its end.
	EventLog []EventEntry
	From     time.Time
	Until    time.Time
	// Skipped are the batches that could not be decoded and were left out,
	// as the replay leaves them out (see Recording.EachWhole).
	Skipped []error
}

// Summarize reads a whole recording into a Summary. The opening's sources
// and events count as what was there when recording began; its batches
// are not polls and are not counted. A damaged batch is skipped and listed
// in Skipped; only an opening that cannot be read is an error.
func Summarize(rec *Recording) (*Summary, error) {
	sm := &Summary{}
	sm.From, sm.Until = rec.Window()
	srcIndex := map[string]int{}
	events := map[string]int{}
	add := func(b *sources.Batch, played bool) {
		si, ok := srcIndex[b.Source]
		if !ok {
			si = len(sm.Sources)
			srcIndex[b.Source] = si
			sm.Sources = append(sm.Sources, SourceInfo{Name: b.Source, Type: b.Type})
		}
		s := &sm.Sources[si]
		if !played {
			// the opening says what was there; it is not a poll
			for _, e := range b.Events {
				sm.addEvent(events, b, e)
			}
			return
		}
		if s.First.IsZero() {
			s.First = b.At
		}
		s.Batches++
		s.Last = b.At
		if b.Status.Health == sources.HealthFailing {
			s.Failing++
		}
		for _, e := range b.Events {
			sm.addEvent(events, b, e)
		}
	}
	opening, err := rec.Opened()
	if err != nil {
		return sm, err
	}
	for _, b := range opening {
		add(b, false)
	}
	sm.Skipped = rec.EachWhole(func(_ int, b *sources.Batch) { add(b, true) })
	sort.SliceStable(sm.Events, func(i, j int) bool { return sm.Events[i].Start.Before(sm.Events[j].Start) })
	return sm, nil
}

func (sm *Summary) addEvent(index map[string]int, b *sources.Batch, e sources.Event) {
	if e.Source == "" {
		e.Source = b.Source
	}
	key := e.Source + "/" + e.ID
	if j, ok := index[key]; ok {
		if e.Start.IsZero() {
			e.Start = sm.Events[j].Start
		}
		sm.Events[j] = e
		at := b.At
		switch {
		case !e.End.IsZero():
			at = e.End
		case !e.Updated.IsZero():
			at = e.Updated
		}
		sm.EventLog = append(sm.EventLog, EventEntry{At: at, Event: e})
		return
	}
	index[key] = len(sm.Events)
	sm.Events = append(sm.Events, e)
	at := e.Start
	if at.IsZero() {
		at = b.At
	}
	sm.EventLog = append(sm.EventLog, EventEntry{At: at, First: true, Event: e})
}
