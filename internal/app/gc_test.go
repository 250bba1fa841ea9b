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

// The collector's target tightens once the heap holds a lot and eases
// when it no longer does; a GOGC of the user's is left alone.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	gcTune.Lock()
	gcTune.big = false
	gcTune.Unlock()
	held := make([][]byte, 48)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != bigHeapTarget {
		t.Errorf("48 MiB live: GOGC %d, want %d", p, bigHeapTarget)
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
