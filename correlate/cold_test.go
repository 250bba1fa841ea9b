package correlate

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// coldSnap is a check run in the middle of the melting volume: an hour
// and a quarter of db-1's iowait from a source that keeps history (calm,
// then 90 % for the last few minutes), app-1's CPU calm, and a load
// balancer polled twice: its backend answers share of its requests with
// 5xx, and its 5xx series has only its last two points.
func coldSnap(share float64, fiveHistory bool) *Snapshot {
	const n = 900
	r := rand.New(rand.NewPCG(7, 7))
	iow := stepUp(clamp(noise(r, n, 2.5, 0.4), 0, 100), n-40, 88)
	cpu := clamp(noise(r, n, 30, 3), 0, 100)
	five := make([]float64, n)
	for i := range five {
		five[i] = math.NaN()
		if fiveHistory {
			five[i] = 0.2 + 0.1*r.Float64()
		}
	}
	five[n-1], five[n-2] = 20*share, 20*share
	snap := mkSnap(5*time.Second, n,
		series{key: "lb-1/hrsp_5xx", name: "hrsp_5xx", unit: "req/s", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: five},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerDB, vals: iow},
		series{name: "cpu.user", unit: "%", node: "app-1", role: sources.RoleResource, layer: sources.LayerApp, vals: cpu},
	)
	snap.Series[0].Source = "lb-1"
	lb := sources.NewLBNode("app")
	lb.Mode, lb.Rates.Requests, lb.Rates.Resp5xx = sources.LBModeHTTP, 20, 20*share
	snap.Nodes = []sources.NodeState{{Source: "lb-1", Kind: sources.NodeBackend, ID: "lb-1/app", Name: "app", Layer: sources.LayerLB,
		State: "UP", Class: sources.ClassUp, LB: lb}}
	return snap
}

// A load balancer without history answering 60 % 5xx is news at once,
// and what is away from its baseline now explains it: the check run in
// the middle of an incident is CRITICAL and names db-1's iowait.
func TestErrorShareWithoutHistoryIsAFindingNow(t *testing.T) {
	f := findFinding(Detect(coldSnap(0.6, false)), "cold-errors")
	if f == nil || f.Severity != sources.SevCritical || !strings.Contains(f.Title, "backend app answers 5xx to over 20 % of requests: likely db-1 cpu.iowait") {
		t.Fatalf("%+v", f)
	}
	if e := f.TopSuspect(); e == nil || e.Node != "db-1" {
		t.Fatalf("top suspect %+v", e)
	}
}

func TestErrorShareRules(t *testing.T) {
	if f := findFinding(Detect(coldSnap(0.6, true)), "cold-errors"); f != nil {
		t.Errorf("with a 5xx history the ranking judges, with leads; the cold rule stays out: %s", f.Title)
	}
	if f := findFinding(Detect(coldSnap(0.03, false)), "cold-errors"); f != nil {
		t.Errorf("3 %% of answers is not news on its own: %s", f.Title)
	}
	if f := findFinding(Detect(coldSnap(0.1, false)), "cold-errors"); f == nil || f.Severity != sources.SevWarning {
		t.Errorf("10 %% of answers: %+v", f)
	}
	// the config says app depends on db-2 only: db-1's iowait does not explain it
	snap := coldSnap(0.6, false)
	snap.Deps = []sources.Dependency{{From: "app", To: "db-2"}}
	if f := findFinding(Detect(snap), "gap"); f == nil || f.TopSuspect() != nil || !strings.HasPrefix(f.Title, "monitoring gap: backend app answers 5xx") ||
		!strings.Contains(f.Explanation, "No series that it depends on has a history") {
		t.Errorf("off the dependency path, errors with nothing inside away from its baseline are a monitoring gap: %+v", f)
	}
	// nothing away at all: the gap names what it checked
	snap = coldSnap(0.6, false)
	iow := snap.Series[1].Values
	for i := len(iow) - 60; i < len(iow); i++ {
		iow[i] = 2.5
	}
	if f := findFinding(Detect(snap), "gap"); f == nil || !strings.Contains(f.Explanation, "Checked app: 1 series, max z") || !strings.Contains(f.Explanation, "db: 1 series") {
		t.Errorf("a calm database: %+v", f)
	}
}

// The load balancer's counters since its start are its long run: a share
// of 5xx it has always answered is no news, a tenfold one is, and the
// finding says what the long run was.
func TestLongRunShareIsTheColdBaseline(t *testing.T) {
	withLongRun := func(share, long float64) *Snapshot {
		snap := coldSnap(share, false)
		lb := snap.Nodes[0].LB
		lb.LongRun.Requests, lb.LongRun.Resp5xx, lb.LongRunSecs = 20, 20*long, 3*3600
		return snap
	}
	if f := findFinding(Detect(withLongRun(0.12, 0.10)), "cold-errors"); f != nil {
		t.Errorf("12 %% of 5xx where the long run is 10 %%: %s", f.Title)
	}
	f := findFinding(Detect(withLongRun(0.12, 0.001)), "cold-errors")
	if f == nil || !strings.Contains(f.Explanation, "In the 3 h 0 min from the load balancer's start to the first poll, 0.1 % of its requests were 5xx") {
		t.Fatalf("12 %% of 5xx where the long run is 0.1 %%: %+v", f)
	}
	// a long run of a handful of requests is no baseline
	snap := withLongRun(0.12, 0.10)
	snap.Nodes[0].LB.LongRunSecs = 2
	if f := findFinding(Detect(snap), "cold-errors"); f == nil {
		t.Error("a long run of 40 requests silenced the finding")
	}
}
