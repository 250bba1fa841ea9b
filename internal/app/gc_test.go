package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// The heap may grow by a quarter of what is live, at least 8 MiB, once
// more than 16 MiB is live; below that Go's default stays.
func TestGCPercentForTheLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {4 << 20, 100}, {16<<20 - 1, 100},
		{16 << 20, 50}, {20 << 20, 40}, {28 << 20, 28}, {32 << 20, 25}, {66 << 20, 25}, {1 << 30, 25},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("%d MiB live: GOGC %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// The collector's target tightens once the heap holds a lot and eases
// when it no longer does; a GOGC of the user's is left alone.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	gcTune.Lock()
	gcTune.percent = 0
	gcTune.Unlock()
	held := make([][]byte, 48)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 25 {
		t.Errorf("48 MiB live: GOGC %d, want 25", p)
	}
	runtime.KeepAlive(held)
	held = nil
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 100 {
		t.Errorf("the heap released: GOGC %d, want 100", p)
	}

	t.Setenv("GOGC", "100")
	held = make([][]byte, 48)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 100 {
		t.Errorf("GOGC=100 set by the user: GOGC %d after tuning", p)
	}
	runtime.KeepAlive(held)
}
