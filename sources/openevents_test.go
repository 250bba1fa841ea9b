package sources

import (
	"testing"
	"time"
)

func TestAnEventNoLongerListedIsClosedOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)
	var o OpenEvents
	a := Event{ID: "a", Start: t0, Title: "disk /var CRITICAL"}
	b := Event{ID: "b", Start: t0, Title: "load WARNING"}
	if got := o.Close([]Event{a, b}, t0, "gone"); len(got) != 2 || o.Len() != 2 {
		t.Fatalf("first poll: %d events, %d open", len(got), o.Len())
	}
	t1 := t0.Add(time.Minute)
	got := o.Close([]Event{a}, t1, "no longer listed")
	if len(got) != 2 || got[1].ID != "b" || !got[1].End.Equal(t1) || got[1].Text != "(no longer listed)" {
		t.Fatalf("b should close at %v with the note: %+v", t1, got)
	}
	if o.Len() != 1 {
		t.Fatalf("open after the close: %d, want 1", o.Len())
	}
	// closed once: the next poll does not close it again
	if got := o.Close([]Event{a}, t1.Add(time.Minute), "x"); len(got) != 1 {
		t.Fatalf("b closed twice: %+v", got)
	}
	// an event the source ends itself is not closed again either
	ended := a
	ended.End = t1
	if got := o.Close([]Event{ended}, t1.Add(2*time.Minute), "x"); len(got) != 1 || o.Len() != 0 {
		t.Fatalf("ended by the source: %+v, %d open", got, o.Len())
	}
}

func TestClosedEventsComeInTheSameOrderEveryTime(t *testing.T) {
	for run := 0; run < 20; run++ {
		var o OpenEvents
		o.Close([]Event{{ID: "c"}, {ID: "a"}, {ID: "b"}}, time.Time{}, "")
		got := o.Close(nil, time.Unix(1, 0), "")
		if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" {
			t.Fatalf("run %d: %v", run, got)
		}
	}
}
