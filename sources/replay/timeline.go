package replay

import (
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// EvalOptions say how the engine runs over a recording.
type EvalOptions struct {
	Store  correlate.StoreOptions
	Engine correlate.EngineOptions
	// Window is the span of each snapshot the engine sees, ending at the
	// store's newest time; 15 minutes when zero.
	Window time.Duration
	// Filter selects the snapshot's series (nil: all).
	Filter correlate.Filter
}

// DefaultWindow is the engine's snapshot span when EvalOptions.Window is 0.
const DefaultWindow = 15 * time.Minute

// Step applies one batch to the store and evaluates the engine on the
// window ending at the store's newest time. Live and replay both go
// through it (one batch, one evaluation), which is what makes a replay
// reach the same findings at the same times as live. It orders the
// changes of one evaluation by finding ID.
func Step(store *correlate.Store, eng *correlate.Engine, b *sources.Batch, window time.Duration, filter correlate.Filter) ([]correlate.Finding, []sources.Event) {
	if window <= 0 {
		window = DefaultWindow
	}
	store.Apply(b)
	now := store.Now()
	active, changes := eng.Evaluate(store.Snapshot(now.Add(-window), now, filter))
	// the engine reports findings resolving together in map order; fix an
	// order so a timeline is the same on every run
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].ID < changes[j].ID })
	return active, changes
}

// Change is one finding opening, changing or resolving during a replay.
type Change struct {
	At    time.Time // the store's time when the engine saw it
	Batch int       // index of the batch that caused it
	What  string    // "opened", "updated", "resolved", "grouped"
	Event sources.Event
}

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

// Timeline is a recording run through the engine from start to end.
type Timeline struct {
	Changes []Change
	// Findings holds every finding seen, in the order they opened, each as
	// last seen (with its evidence; Resolved set when it resolved). A
	// finding that resolves and opens again appears once per opening.
	Findings []correlate.Finding
	Sources  []SourceInfo // in order of first appearance
	// Events holds each source event in its last state, by start time.
	Events []sources.Event
	// EventLog is every event as the sources sent it, in file order:
	// its opening, its updates and its end.
	EventLog []EventEntry
	Store    *correlate.Store // the store after the last batch
	From     time.Time
	Until    time.Time
}

// Evaluate replays a whole recording into a fresh store and engine, one
// Step per batch, and collects the engine's changes, the findings with
// their evidence, the sources and the events.
func Evaluate(rec *Recording, opt EvalOptions) (*Timeline, error) {
	store := correlate.NewStore(opt.Store)
	eng := correlate.NewEngine(opt.Engine)
	tl := &Timeline{Store: store}
	tl.From, tl.Until = rec.Window()
	index := map[string]int{}
	srcIndex := map[string]int{}
	events := map[string]int{}
	err := rec.Each(func(i int, b *sources.Batch) error {
		si, ok := srcIndex[b.Source]
		if !ok {
			si = len(tl.Sources)
			srcIndex[b.Source] = si
			tl.Sources = append(tl.Sources, SourceInfo{Name: b.Source, Type: b.Type, First: b.At})
		}
		s := &tl.Sources[si]
		s.Batches++
		s.Last = b.At
		if b.Status.Health == sources.HealthFailing {
			s.Failing++
		}
		for _, e := range b.Events {
			if e.Source == "" {
				e.Source = b.Source
			}
			key := e.Source + "/" + e.ID
			if j, ok := events[key]; ok {
				if e.Start.IsZero() {
					e.Start = tl.Events[j].Start
				}
				tl.Events[j] = e
				at := b.At
				switch {
				case !e.End.IsZero():
					at = e.End
				case !e.Updated.IsZero():
					at = e.Updated
				}
				tl.EventLog = append(tl.EventLog, EventEntry{At: at, Event: e})
				continue
			}
			events[key] = len(tl.Events)
			tl.Events = append(tl.Events, e)
			at := e.Start
			if at.IsZero() {
				at = b.At
			}
			tl.EventLog = append(tl.EventLog, EventEntry{At: at, First: true, Event: e})
		}
		active, changes := Step(store, eng, b, opt.Window, opt.Filter)
		now := store.Now()
		for _, f := range active {
			if j, ok := index[f.ID]; ok {
				tl.Findings[j] = f
				continue
			}
			index[f.ID] = len(tl.Findings)
			tl.Findings = append(tl.Findings, f)
		}
		for _, c := range changes {
			what := c.Labels["finding"]
			tl.Changes = append(tl.Changes, Change{At: now, Batch: i, What: what, Event: c})
			if what == "resolved" || what == "grouped" {
				id := strings.TrimPrefix(c.ID, "finding/")
				if j, ok := index[id]; ok {
					tl.Findings[j].Resolved = c.End
					// if it comes back, it is a new entry: a flapping
					// finding shows every time it was open
					delete(index, id)
				}
			}
		}
		return nil
	})
	sort.SliceStable(tl.Events, func(i, j int) bool { return tl.Events[i].Start.Before(tl.Events[j].Start) })
	return tl, err
}
