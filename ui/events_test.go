package ui

import (
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// A finding that only mirrors a source's event is not listed a second
// time on the timeline.
func TestEngineEchoOfASourceEventIsShownOnce(t *testing.T) {
	at := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	c := &Context{Snap: &correlate.Snapshot{Start: at.Add(-time.Minute), Events: []sources.Event{
		{ID: "shop/1", Source: "checks", Start: at, Title: "check failing"},
	}}, Changes: []correlate.Change{
		{At: at, Kind: correlate.ChangeOpened, Finding: correlate.Finding{ID: "event/checks/shop/1", Rule: "event", Title: "check failing"}},
		{At: at, Kind: correlate.ChangeOpened, Finding: correlate.Finding{ID: "suspects/x", Rule: "suspects", Title: "5xx rose: likely db-1 iowait"}},
	}}
	got := eventList(c)
	if len(got) != 2 || got[0].ID == "finding/opened/event/checks/shop/1" || got[1].ID == "finding/opened/event/checks/shop/1" {
		t.Fatalf("%+v", got)
	}
}
