package app

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The collector's target. Go's default lets the heap grow by as much as
// was live after the last collection (GOGC=100) before it collects
// again, so resident memory runs at up to twice what is held. opsview's
// heap is mostly what it holds (the series' values, the engine's
// snapshot), and once that is large a poll allocates little against it
// (about 2 MB a poll at 10,000 series against some 60 MB held), so
// collecting at half the heap's growth costs little CPU and keeps a
// third of the resident memory off a shared bastion. While the heap is
// small (start-up, a few sources) the default stays: there a tighter
// target only adds collections. A GOGC set by the user wins.
const (
	bigHeap       = 32 << 20 // bytes live after a collection
	bigHeapTarget = 50       // GOGC once the heap is big
)

var gcTune struct {
	sync.Mutex
	big bool
}

var liveHeap = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// TuneGC sets the collector's target for the heap live after the last
// collection: GOGC=50 from 32 MiB on, the default below 24 MiB (apart
// enough not to flip at every collection). Cheap: call it after each
// batch.
func TuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	gcTune.Lock()
	defer gcTune.Unlock()
	metrics.Read(liveHeap)
	if liveHeap[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := liveHeap[0].Value.Uint64()
	switch {
	case !gcTune.big && live >= bigHeap:
		gcTune.big = true
		debug.SetGCPercent(bigHeapTarget)
	case gcTune.big && live < bigHeap*3/4:
		gcTune.big = false
		debug.SetGCPercent(100)
	}
}
