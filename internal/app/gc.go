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
// small (start-up, a few sources) the collector waits for heapFloor:
// Go's default collects a heap of a few MB every 4 MB allocated, and at
// start-up (the package tables, the hour of backfill, the first
// judgement, the first frame) that was two or three collections, a
// fifth of the CPU to the first frame, to keep a few MB off the
// resident size. A GOGC set by the user wins.
const (
	heapFloor     = 16 << 20 // the collection target while less is live
	bigHeap       = 32 << 20 // bytes live after a collection
	bigHeapTarget = 50       // GOGC once the heap is big
)

var gcTune = struct {
	sync.Mutex
	big     bool
	percent int // the GOGC set last
}{percent: 100}

var liveHeap = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// TuneGC sets the collector's target for the heap live after the last
// collection: heapFloor while under half of it is live (none before the
// first collection), GOGC=50 from 32 MiB on, the default between (with
// 24 MiB to come back down, apart enough not to flip at every
// collection). Cheap: call it at start and after each batch.
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
	case gcTune.big && live < bigHeap*3/4:
		gcTune.big = false
	}
	if p := gcPercentFor(live, gcTune.big); p != gcTune.percent {
		gcTune.percent = p
		debug.SetGCPercent(p)
	}
}

// gcPercentFor is the GOGC for live bytes after a collection: the
// target (live × (1 + GOGC/100)) at heapFloor while under half of it is
// live, GOGC=100 above, bigHeapTarget for a big heap.
func gcPercentFor(live uint64, big bool) int {
	switch {
	case big:
		return bigHeapTarget
	case live >= heapFloor/2:
		return 100
	}
	// at most 400: the runtime's own floor (4 MB × GOGC/100) is then
	// heapFloor, so the first collection waits for it too
	return int(heapFloor*100/max(live, heapFloor/5)) - 100
}
