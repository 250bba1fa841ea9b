package correlate

import (
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// At start every source is polled at once, each backfilling its history;
// the session judges only once all have answered, so the first source's
// data alone never opens a finding the next one's data would change.
func TestSessionJudgesOnceEverySourceAnswered(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := NewSession(SessionOptions{})
	s.SetStatus(sources.Status{Source: "lb-1", Health: sources.HealthUnknown})
	s.SetStatus(sources.Status{Source: "prom", Health: sources.HealthUnknown})
	down := []sources.NodeState{{Kind: "server", ID: "be/app-1", Name: "app-1", State: "DOWN", Severity: sources.SevCritical}}
	s.Step(&sources.Batch{Source: "lb-1", At: at, Nodes: down, Status: sources.Status{Health: sources.HealthOK}})
	if fs := s.Findings(); len(fs) != 0 {
		t.Fatalf("judged before prom answered: %+v", fs)
	}
	// a failed poll is an answer too
	s.Step(&sources.Batch{Source: "prom", At: at, Status: sources.Status{Health: sources.HealthFailing, LastError: "refused"}})
	if fs := s.Findings(); len(fs) != 2 {
		t.Fatalf("after every source answered: %+v", fs)
	}
}

// A finding closes when its symptom is back at its baseline, not minutes
// later: the engine's ResolveAfter after the first calm point, and the
// close is on the timeline.
func TestFindingClosesWhenItsSymptomIsBack(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	step := 5 * time.Second
	s := NewSession(SessionOptions{Store: StoreOptions{Step: step}})
	recovered := t0.Add(90 * time.Minute)
	var opened, resolved time.Time
	for i := 0; i < 100*60/5; i++ {
		at := t0.Add(time.Duration(i) * step)
		v := 0.2 + 0.05*float64(i%7)
		if !at.Before(t0.Add(80*time.Minute)) && at.Before(recovered) {
			v = 15 + float64(i%3)
		}
		for _, c := range s.Step(&sources.Batch{Source: "lb-1", At: at, Status: sources.Status{Health: sources.HealthOK},
			Series: []sources.Series{{Name: "hrsp_5xx", Unit: "req/s", Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "app",
				Points: []sources.Point{{T: at, V: v}}}}}) {
			switch c.Kind {
			case ChangeOpened:
				opened = c.At
			case ChangeResolved:
				resolved = c.At
			}
		}
	}
	if opened.IsZero() || resolved.IsZero() {
		t.Fatalf("opened %v, resolved %v", opened, resolved)
	}
	if late := resolved.Sub(recovered); late < 0 || late > 30*time.Second+2*step {
		t.Fatalf("resolved %v after the symptom was back (want within ResolveAfter and two steps)", late)
	}
}

// The engine reads buckets of the store's clock: batches within one
// bucket are judged once, when the clock reaches it; a batch with events
// is judged at once.
func TestBatchesWithinABucketAreJudgedOnce(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := NewSession(SessionOptions{Store: StoreOptions{Step: 5 * time.Second}})
	ok := sources.Status{Health: sources.HealthOK}
	up := []sources.NodeState{{Kind: "server", ID: "be/app-1", Name: "app-1", State: "UP", Severity: sources.SevOK}}
	down := []sources.NodeState{{Kind: "server", ID: "be/app-1", Name: "app-1", State: "DOWN", Severity: sources.SevCritical}}
	s.Step(&sources.Batch{Source: "lb-1", At: at, Nodes: up, Status: ok})
	s.Step(&sources.Batch{Source: "lb-1", At: at.Add(time.Second), Nodes: down, Status: ok})
	if fs := s.Findings(); len(fs) != 0 {
		t.Fatalf("judged twice within one bucket: %+v", fs)
	}
	s.Step(&sources.Batch{Source: "lb-1", At: at.Add(5 * time.Second), Nodes: down, Status: ok})
	if fs := s.Findings(); len(fs) != 1 {
		t.Fatalf("the next bucket was not judged: %+v", fs)
	}
	ev := sources.Event{ID: "x", Kind: sources.EventAlert, Start: at.Add(6 * time.Second), Severity: sources.SevCritical, Title: "check failing"}
	s.Step(&sources.Batch{Source: "checks", At: at.Add(6 * time.Second), Events: []sources.Event{ev}, Status: ok})
	if fs := s.Findings(); len(fs) != 2 {
		t.Fatalf("an event was not judged at once: %+v", fs)
	}
}

// A part of a poll (a large backfill read in parts) is stored but not
// judged: a finding from the first part alone could be wrong about the
// rest. The poll's last batch is judged with every part.
func TestPartsOfAPollAreStoredNotJudged(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := NewSession(SessionOptions{})
	down := []sources.NodeState{{Kind: "server", ID: "be/app-1", Name: "app-1", State: "DOWN", Severity: sources.SevCritical}}
	part := &sources.Batch{Source: "lb-1", At: at, Nodes: down, Partial: true,
		Series: []sources.Series{{Name: "m", Points: []sources.Point{{T: at, V: 1}}}}}
	if ch := s.Step(part); len(ch) != 0 || len(s.Findings()) != 0 {
		t.Fatalf("a part was judged: %v", ch)
	}
	if n := s.Store().SeriesCount(); n != 1 {
		t.Fatalf("part not stored: %d series", n)
	}
	s.Step(&sources.Batch{Source: "lb-1", At: at, Nodes: down, Status: sources.Status{Health: sources.HealthOK}})
	if fs := s.Findings(); len(fs) != 1 {
		t.Fatalf("after the poll's last batch: %d findings", len(fs))
	}
}

// A store that began a minute ago is judged over that minute, not over
// the whole window of NaN (10,000 series × 450 buckets otherwise).
func TestYoungStoreIsJudgedOverWhatItHolds(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := NewSession(SessionOptions{Store: StoreOptions{Step: 10 * time.Second}})
	for i := 0; i < 6; i++ {
		ti := at.Add(time.Duration(i) * 10 * time.Second)
		s.Step(&sources.Batch{Source: "x", At: ti, Status: sources.Status{Health: sources.HealthOK},
			Series: []sources.Series{{Name: "m", Points: []sources.Point{{T: ti, V: float64(i)}}}}})
	}
	if s.snap == nil || s.snap.N != 6 {
		t.Fatalf("judged %v buckets, want the 6 held", s.snap)
	}
}
