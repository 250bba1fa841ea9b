package correlate

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// Started two minutes ago against a load balancer with no history: its
// symptoms cannot be ranked until a baseline of their own lies before
// the window, a quarter of an hour and a little later; the resources
// with history are no symptoms and are not listed.
func TestWarmingUpSaysWhichSymptomsAndUntilWhen(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	const n = 600 // 10 s steps
	fresh := func() []float64 {
		v := noise(r, n, 1, 0.1)
		for i := 0; i < n-12; i++ {
			v[i] = math.NaN()
		}
		return v
	}
	snap := mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "req/s", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: fresh()},
		series{name: "econ", unit: "conn/s", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: fresh()},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: noise(r, n, 2, 0.3)},
		series{name: "availability", unit: "%", node: "web", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: noise(r, n, 99.9, 0.01)},
	)
	snap.Series[3].Source = "synthetic"
	ws := warmingUp(snap, RankOptions{})
	if len(ws) != 1 {
		t.Fatalf("warming %+v, want the load balancer's source only", ws)
	}
	w := ws[0]
	first := snap.Time(n - 12)
	if w.Source != "src" || w.Series != 2 || len(w.Names) != 2 || w.Names[0] != "app econ" || w.Names[1] != "app hrsp_5xx" {
		t.Errorf("warming %+v", w)
	}
	if lo, hi := first.Add(15*time.Minute), first.Add(18*time.Minute); w.Until.Before(lo) || w.Until.After(hi) {
		t.Errorf("until %v, want between %v and %v", w.Until, lo, hi)
	}
	// once that time has come, the ranking has its baseline and nothing warms up
	later := mkSnap(tstep, n, series{name: "hrsp_5xx", unit: "req/s", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: noise(r, n, 1, 0.1)})
	for i := 0; i < n-1-int(w.Until.Sub(first)/tstep); i++ {
		later.Series[0].Values[i] = math.NaN()
	}
	wl := LiveWindow(later, RankOptions{})
	if b := ComputeBaseline(later, &later.Series[0], wl.BaseFrom, wl.BaseTo); !b.Valid(10) {
		t.Errorf("at the time warming up promised, the baseline has %d points", b.N)
	}
	if ws := warmingUp(later, RankOptions{}); len(ws) != 0 {
		t.Errorf("still warming up: %+v", ws)
	}
}
