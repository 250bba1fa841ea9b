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
// small (a few sources) the default stays: there a tighter target only
// adds collections. Before the first collection the target is
// firstTarget: Go's default collects first at 4 MB, and the start-up
// (the packages' tables, the hour of backfill, the first judgement,
// the first frame) then took two or three collections of a few MB, a
// fifth of the CPU to the first frame. A GOGC set by the user wins.
const (
	firstTarget   = 16 << 20 // the heap at the first collection
	bigHeap       = 32 << 20 // bytes live after a collection
	bigHeapTarget = 50       // GOGC once the heap is big
)

var gcTune = struct {
	sync.Mutex
	big     bool
	percent int // the GOGC set last
}{percent: 100}

var gcState = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}

// TuneGC sets the collector's target for the heap live after the last
// collection: GOGC=50 from 32 MiB on, the default below 24 MiB (apart
// enough not to flip at every collection), and before the first
// collection firstTarget. Cheap: call it at start and after each batch.
func TuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	gcTune.Lock()
	defer gcTune.Unlock()
	metrics.Read(gcState)
	if gcState[0].Value.Kind() != metrics.KindUint64 || gcState[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	live, cycles := gcState[0].Value.Uint64(), gcState[1].Value.Uint64()
	switch {
	case !gcTune.big && live >= bigHeap:
		gcTune.big = true
	case gcTune.big && live < bigHeap*3/4:
		gcTune.big = false
	}
	if p := gcPercentFor(cycles, gcTune.big); p != gcTune.percent {
		gcTune.percent = p
		debug.SetGCPercent(p)
	}
}

// gcPercentFor is the GOGC after cycles collections: one whose
// runtime floor (4 MB × GOGC/100) is firstTarget before the first,
// bigHeapTarget for a big heap, else the default.
func gcPercentFor(cycles uint64, big bool) int {
	switch {
	case big:
		return bigHeapTarget
	case cycles == 0:
		return firstTarget / (4 << 20) * 100
	}
	return 100
}
