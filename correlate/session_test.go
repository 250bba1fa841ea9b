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
