package correlate

import (
	"math/rand/v2"
	"testing"

	"github.com/opsview/opsview/sources"
)

// shopSlow is an HTTP check of shop whose total time rises by 300 ms
// at 440, its connect time (a part of it) 4 steps earlier, as the check
// types them; with iowait, db-1's iowait rises in between.
func shopSlow(seed uint64, iowait bool) *Snapshot {
	r := rand.New(rand.NewPCG(seed, 1))
	n := 480
	ss := []series{
		{name: "http_total_ms", unit: "ms", node: "shop", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: stepUp(noise(r, n, 200, 10), 440, 300)},
		{name: "http_connect_ms", unit: "ms", node: "shop", role: sources.RoleResource, layer: sources.LayerNetwork, vals: stepUp(noise(r, n, 20, 2), 436, 300)},
		{name: "load1", unit: "", node: "web-1", role: sources.RoleResource, layer: sources.LayerHost, vals: noise(r, n, 2, 0.3)},
	}
	if iowait {
		ss = append(ss, series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerDB, vals: stepUp(noise(r, n, 3, 0.5), 438, 40)})
	}
	snap := mkSnap(tstep, n, ss...)
	snap.Series[0].Measure = sources.MeasureLatency
	snap.Series[1].Measure = sources.MeasureLatency | sources.MeasurePart
	return snap
}

// A check's connect time rising with its total time is where the time
// went, not why: it is never the suspect, and with nothing internal
// moving the finding is the monitoring gap.
func TestAPhaseOfTheTotalTimeIsNotItsCause(t *testing.T) {
	fs := Detect(shopSlow(11, false))
	if s := findFinding(fs, "suspects"); s != nil && s.TopSuspect() != nil && s.TopSuspect().Node == "shop" {
		t.Fatalf("the connect time blamed for the total: %+v", s.TopSuspect())
	}
	if findFinding(fs, "gap") == nil {
		t.Fatalf("nothing internal moved: want the gap, got %+v", fs)
	}
	// what moved inside is the suspect, though the phase moved first
	fs = Detect(shopSlow(11, true))
	s := findFinding(fs, "suspects")
	if s == nil || s.TopSuspect() == nil || s.TopSuspect().Node != "db-1" || findFinding(fs, "gap") != nil {
		t.Fatalf("want db-1's iowait as the suspect: %+v", fs)
	}
	// another check's phases are no part of this one's total
	snap := shopSlow(11, false)
	snap.Series[1].Node = "api"
	if s := findFinding(Detect(snap), "suspects"); s == nil || s.TopSuspect() == nil || s.TopSuspect().Node != "api" {
		t.Fatalf("api's connect time is a suspect for shop's total: %+v", s)
	}
}
