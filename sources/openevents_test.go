package sources

import (
	"strings"
	"testing"
	"time"
)

func TestAnEventNoLongerReportedIsClosed(t *testing.T) {
	var o OpenEvents
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	a := Event{ID: "a", Start: t0, Title: "a", Text: "first"}
	b := Event{ID: "b", Start: t0}
	if closed := o.Close(t0, []Event{a, b}, "gone"); len(closed) != 0 {
		t.Fatalf("first poll closed %v", closed)
	}
	// b is still reported, a is not: a ends now
	t1 := t0.Add(time.Minute)
	closed := o.Close(t1, []Event{b}, "no longer listed")
	if len(closed) != 1 || closed[0].ID != "a" || !closed[0].End.Equal(t1) || !closed[0].Updated.Equal(t1) {
		t.Fatalf("closed %+v", closed)
	}
	if !strings.Contains(closed[0].Text, "first") || !strings.HasSuffix(closed[0].Text, "(no longer listed)") {
		t.Errorf("text %q", closed[0].Text)
	}
	// a closed event is not closed twice; b reported ended is not closed either
	bEnded := b
	bEnded.End = t1
	if closed := o.Close(t1.Add(time.Minute), []Event{bEnded}, "x"); len(closed) != 0 {
		t.Errorf("closed again: %v", closed)
	}
	if o.Len() != 0 {
		t.Errorf("%d open", o.Len())
	}
}

func TestClosedEventsComeInIDOrder(t *testing.T) {
	var o OpenEvents
	now := time.Now()
	o.Close(now, []Event{{ID: "c"}, {ID: "a"}, {ID: "b"}}, "")
	closed := o.Close(now, nil, "")
	if len(closed) != 3 || closed[0].ID != "a" || closed[1].ID != "b" || closed[2].ID != "c" {
		t.Fatalf("%v", closed)
	}
}
