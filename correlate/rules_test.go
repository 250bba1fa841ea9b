package correlate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

const tstep = 10 * time.Second

// meltingVolume is field story 2: db-1's iowait rises 40 s before 5xx rise
// on backend app. n = 480 buckets of 10 s; the symptom starts at 440.
func meltingVolume(r *rand.Rand, withCause bool) *Snapshot {
	n := 480
	iow := clamp(noise(r, n, 3, 0.5), 0, 100)
	if withCause {
		for i := 436; i < n; i++ {
			iow[i] = 96 + r.Float64()
		}
	}
	fivexx := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	stepUp(fivexx, 440, 6)
	return mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: fivexx},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: iow},
		series{name: "cpu.user", unit: "%", node: "app-1", role: sources.RoleResource, layer: sources.LayerApp, vals: noise(r, n, 30, 3)},
		series{name: "load1", unit: "", node: "web-1", role: sources.RoleResource, layer: sources.LayerHost, vals: noise(r, n, 2, 0.3)},
		series{name: "queries", unit: "req/s", node: "db-1", role: sources.RoleTraffic, layer: sources.LayerDB, vals: noise(r, n, 200, 10)},
	)
}

func TestMeltingVolumeIowaitIsTheSuspect(t *testing.T) {
	snap := meltingVolume(rand.New(rand.NewPCG(1, 2)), true)
	fs := Detect(snap)
	f := findFinding(fs, "suspects")
	if f == nil {
		t.Fatalf("no suspects finding; got %+v", fs)
	}
	if !strings.Contains(f.Title, "db-1 cpu.iowait") {
		t.Errorf("title %q does not name db-1 cpu.iowait", f.Title)
	}
	want := "db-1 cpu.iowait rose from 3"
	if !strings.Contains(f.Explanation, want) || !strings.Contains(f.Explanation, "% to 9") || !strings.Contains(f.Explanation, "40 s before app hrsp_5xx rose") {
		t.Errorf("explanation %q lacks %q and the 40 s lead", f.Explanation, want)
	}
	if f.Evidence[0].Kind != EvSymptom || f.Evidence[1].Kind != EvSuspect || f.Evidence[1].Node != "db-1" {
		t.Errorf("evidence order wrong: %+v", f.Evidence[:2])
	}
	if f.Evidence[1].Lead != 40*time.Second {
		t.Errorf("lead %v, want 40s", f.Evidence[1].Lead)
	}
	if findFinding(fs, "gap") != nil {
		t.Errorf("a gap was raised though iowait moved")
	}
	var quiet bool
	for _, e := range f.Evidence {
		if e.Kind == EvQuiet && e.Layer == sources.LayerApp {
			quiet = true
		}
	}
	if !quiet {
		t.Errorf("the app layer did not move but is not listed as checked and quiet: %+v", f.Evidence)
	}
}

func TestMonitoringGapWhenNoInternalSignalMoved(t *testing.T) {
	snap := meltingVolume(rand.New(rand.NewPCG(3, 4)), false)
	fs := Detect(snap)
	g := findFinding(fs, "gap")
	if g == nil {
		t.Fatalf("no gap finding; got %+v", fs)
	}
	if !strings.HasPrefix(g.Title, "monitoring gap:") || !strings.Contains(g.Explanation, "db: 1 series") {
		t.Errorf("gap finding does not list what was checked: %q / %q", g.Title, g.Explanation)
	}
	if findFinding(fs, "suspects") != nil {
		t.Errorf("suspects raised with nothing moving")
	}
}

func TestNoFindingWhenNothingMoved(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 480
	snap := mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: clamp(noise(r, n, 0.2, 0.05), 0, 100)},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: stepUp(noise(r, n, 3, 0.5), 470, 50)},
	)
	if fs := Detect(snap); len(fs) != 0 {
		t.Fatalf("findings with a quiet symptom: %+v", fs)
	}
}

// An availability that reads 0 with no requests is no data: it must not
// be blamed (PetShop's artefact).
func TestNoTrafficIsNotAnOutage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 480
	lat := noise(r, n, 100, 5)
	stepUp(lat, 440, 400)
	cause := noise(r, n, 20, 2)
	stepUp(cause, 436, 300)
	avail := noise(r, n, 99.9, 0.02)
	reqs := noise(r, n, 50, 3)
	for i := 430; i < n; i++ {
		avail[i], reqs[i] = 0, 0
	}
	snap := mkSnap(tstep, n,
		series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: lat},
		series{name: "latency", unit: "ms", node: "db", role: sources.RoleResource, layer: sources.LayerDB, vals: cause},
		series{name: "availability", unit: "%", node: "idle-elb", role: sources.RoleResource, layer: sources.LayerLB, vals: avail},
		series{name: "requests", unit: "req/s", node: "idle-elb", role: sources.RoleTraffic, layer: sources.LayerLB, vals: reqs},
	)
	rk := rankLive(snap)
	if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "db" {
		t.Fatalf("top suspect %+v, want db latency", rk.Suspects)
	}
	for _, c := range rk.Order {
		if c.Meta.Name == "availability" && c.Moved {
			t.Errorf("availability read 0 with no traffic and was counted as moved: %+v", c)
		}
	}
	var gated bool
	for _, c := range rk.Excluded {
		if c.Meta.Name == "availability" && c.Excluded == "no traffic" {
			gated = true
		}
	}
	if !gated {
		t.Errorf("availability was not excluded for no traffic; excluded %+v", rk.Excluded)
	}
}

func TestNaNIsNeverReadAsZero(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n := 300
	v := noise(r, n, 50, 2)
	for i := 250; i < n; i++ {
		if i%2 == 0 {
			v[i] = math.NaN()
		}
	}
	b := ComputeBaseline(nil, &SnapSeries{Values: v}, 0, 240)
	a := ScoreWindow(v, 240, n, &b, Down, ScoreOptions{}, nil)
	if a.Peak >= 5 || a.Onset >= 0 {
		t.Fatalf("gaps were read as a drop: peak z %.1f, onset %d", a.Peak, a.Onset)
	}
	if a.Points != 35 {
		t.Errorf("points with data %d, want 35", a.Points)
	}
}

func TestStaleSeriesIsExcluded(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	snap := meltingVolume(r, true)
	iow := snap.Series[1].Values
	for i := 450; i < len(iow); i++ {
		iow[i] = math.NaN()
	}
	rk := rankLive(snap)
	for _, c := range rk.Excluded {
		if c.Meta.Name == "cpu.iowait" && c.Excluded == "stale" {
			return
		}
	}
	t.Fatalf("iowait with no data for the last 30 buckets not excluded as stale: %+v", rk.Excluded)
}

func TestBaselineWithZeroMADHasAFloor(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = 100
	}
	var scratch []float64
	b := RobustBaseline(v, UnitFloor("%"), &scratch)
	if b.MAD != 0 || b.Spread != 1 || math.IsInf(b.Z(0), 0) {
		t.Fatalf("flat availability baseline: %+v (spread should be 1 %% of the level)", b)
	}
	v[3] = 0 // one rare outage: mean absolute deviation gives a scale
	b = RobustBaseline(v, 0.1, &scratch)
	if b.Level != 100 || b.Spread < 1 {
		t.Fatalf("baseline %+v", b)
	}
}

func TestMedianAndMAD(t *testing.T) {
	var scratch []float64
	b := RobustBaseline([]float64{5, 1, math.NaN(), 3, 2, 4, 100}, 0, &scratch)
	if b.Level != 3.5 || b.N != 6 {
		t.Fatalf("median %v of %d points, want 3.5 of 6", b.Level, b.N)
	}
	// deviations 1.5 2.5 0.5 1.5 0.5 96.5 → MAD 1.5
	if math.Abs(b.MAD-1.4826*1.5) > 1e-12 {
		t.Fatalf("MAD %v", b.MAD)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for n := 1; n < 200; n += 7 {
		v := noise(r, n, 0, 1)
		s := append([]float64(nil), v...)
		m := median(s)
		sorted := append([]float64(nil), v...)
		sortFloats(sorted)
		want := sorted[n/2]
		if n%2 == 0 {
			want = (sorted[n/2-1] + sorted[n/2]) / 2
		}
		if m != want {
			t.Fatalf("n=%d median %v want %v", n, m, want)
		}
	}
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

func TestSameTimeYesterday(t *testing.T) {
	step := 5 * time.Minute
	day := int(24 * time.Hour / step)
	n := day + 100
	v := make([]float64, n)
	for i := range v {
		v[i] = 10
		if i >= 20 && i < 60 {
			v[i] = 50 // yesterday's level in the same window
		}
	}
	snap := mkSnap(step, n, series{name: "x", vals: v})
	b := ComputeBaseline(snap, &snap.Series[0], day+20, day+60)
	if b.Yesterday != 50 || !math.IsNaN(b.LastWeek) || b.Level != 10 {
		t.Fatalf("baseline %+v: want level 10, yesterday 50, no last week", b)
	}
}

func TestShortRepeatedOutagesAreCounted(t *testing.T) {
	// field story 5: one server unreachable for 15–40 s, four times
	r := rand.New(rand.NewPCG(13, 14))
	n := 400
	v := clamp(noise(r, n, 0.5, 0.2), 0, 100)
	for _, o := range [][2]int{{310, 2}, {330, 4}, {350, 3}, {380, 2}} {
		for i := o[0]; i < o[0]+o[1]; i++ {
			v[i] = 100
		}
	}
	var scratch []float64
	b := RobustBaseline(v[:300], 0.1, &scratch)
	a := ScoreWindow(v, 300, n, &b, Up, ScoreOptions{}, nil)
	if a.Runs != 4 || a.RunPoints != 11 || a.Kind != KindRepeated {
		t.Fatalf("got %d runs, %d points, kind %q; want 4 runs of 11 points, repeated", a.Runs, a.RunPoints, a.Kind)
	}
	// the median of the window would hide them: it stays at baseline
	if m := windowMedian(v, 300, n, nil, &scratch); m > 1 {
		t.Fatalf("window median %v", m)
	}
}

func TestLevelShiftChangePoint(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	n := 400
	v := noise(r, n, 10, 1)
	stepUp(v, 350, 2.5) // below 3σ per point: CUSUM must still find it
	var scratch []float64
	b := RobustBaseline(v[:300], 0, &scratch)
	a := ScoreWindow(v, 300, n, &b, Up, ScoreOptions{}, nil)
	if a.ChangeAt < 345 || a.ChangeAt > 360 {
		t.Fatalf("CUSUM change point %d, want about 350", a.ChangeAt)
	}
}

func TestSpikeIsNotSustained(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	n := 400
	v := noise(r, n, 10, 1)
	v[350] = 40
	var scratch []float64
	b := RobustBaseline(v[:300], 0, &scratch)
	a := ScoreWindow(v, 300, n, &b, Up, ScoreOptions{}, nil)
	if a.Kind != KindSpike || a.Onset != -1 || a.Sustained > 3 {
		t.Fatalf("single spike scored as %+v", a)
	}
}

// The engine goes by the direction the series carries, not by its name:
// "availability" said to hurt going up is scored going up.
func TestHarmfulDirectionIsTheSeriesOwn(t *testing.T) {
	for _, c := range []struct {
		name string
		role sources.Role
		harm sources.Harm
		want Direction
	}{
		{"cpu.iowait", sources.RoleResource, sources.HarmUnset, Up},
		{"availability", sources.RoleSymptom, sources.HarmDown, Down},
		{"availability", sources.RoleSymptom, sources.HarmUnset, Up},
		{"availability", sources.RoleSymptom, sources.HarmUp, Up},
		{"requests", sources.RoleTraffic, sources.HarmUnset, Both},
		{"requests", sources.RoleTraffic, sources.HarmDown, Down},
		{"hrsp_5xx", sources.RoleSymptom, sources.HarmBoth, Both},
	} {
		if got := HarmfulDirection(&SeriesMeta{Name: c.name, Role: c.role, Harm: c.harm}); got != c.want {
			t.Errorf("%s (%v, harm %v): %v, want %v", c.name, c.role, c.harm, got, c.want)
		}
	}
	// availability going up is not harm
	v := make([]float64, 100)
	for i := range v {
		v[i] = 99
		if i > 80 {
			v[i] = 100
		}
	}
	var scratch []float64
	b := RobustBaseline(v[:80], 0.1, &scratch)
	if a := ScoreWindow(v, 80, 100, &b, Down, ScoreOptions{}, nil); a.Peak > 0 {
		t.Fatalf("availability rising scored %v", a.Peak)
	}
}

func TestLagIsRecovered(t *testing.T) {
	for _, lead := range []int{0, 2, 4, 7} {
		r := rand.New(rand.NewPCG(uint64(lead), 99))
		n := 480
		cause := noise(r, n, 10, 1)
		stepUp(cause, 440-lead, 8)
		sym := noise(r, n, 1, 0.2)
		stepUp(sym, 440, 3)
		snap := mkSnap(tstep, n,
			series{name: "errors", role: sources.RoleSymptom, vals: sym},
			series{name: "queue", role: sources.RoleResource, vals: cause})
		rk := rankLive(snap)
		c := rk.Order[0]
		if abs(c.Lead-lead) > 1 || abs(c.Lag-lead) > 2 {
			t.Errorf("lead %d: onset lead %d, correlation lag %d (r %.2f)", lead, c.Lead, c.Lag, c.R)
		}
	}
}

func TestDeepestAnomalousDependencyFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	n := 480
	sym := noise(r, n, 100, 5)
	stepUp(sym, 440, 200)
	app := noise(r, n, 50, 3)
	stepUp(app, 438, 150) // moves a lot, but only because the db did
	db := noise(r, n, 5, 0.5)
	stepUp(db, 436, 6)
	snap := mkSnap(tstep, n,
		series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: sym},
		series{name: "latency", unit: "ms", node: "app", role: sources.RoleResource, layer: sources.LayerApp, vals: app},
		series{name: "latency", unit: "ms", node: "db", role: sources.RoleResource, layer: sources.LayerDB, vals: db},
	)
	snap.Deps = []sources.Dependency{{From: "site", To: "app"}, {From: "app", To: "db"}}
	rk := rankLive(snap)
	if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "db" {
		t.Fatalf("suspects %v, want db first", nodesOf(rk.Suspects))
	}
	if len(rk.Effects) == 0 || rk.Effects[0].Meta.Node != "app" {
		t.Fatalf("effects %v, want app (upstream of the db)", nodesOf(rk.Effects))
	}
}

func nodesOf(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Meta.Node+"/"+c.Meta.Name)
	}
	return out
}

func bottleneckSnap(dbDir float64) *Snapshot {
	r := rand.New(rand.NewPCG(21, 22))
	n := 480
	e := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	stepUp(e, 440, 8)
	T := noise(r, n, 1000, 30)
	stepUp(T, 440, -400)
	Q := noise(r, n, 3000, 80)
	stepUp(Q, 440, dbDir*1500)
	D := noise(r, n, 4, 0.4)
	if dbDir > 0 {
		stepUp(D, 438, 40)
	}
	return mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: e},
		series{name: "req_rate", unit: "req/s", node: "fe", role: sources.RoleTraffic, layer: sources.LayerEdge, vals: T},
		series{name: "queries", unit: "req/s", node: "db-1", role: sources.RoleTraffic, layer: sources.LayerDB, vals: Q},
		series{name: "query_latency", unit: "ms", node: "db-1", role: sources.RoleResource, layer: sources.LayerDB, vals: D},
	)
}

func TestBottleneckIsTheApplicationLayerWhenDBTrafficDrops(t *testing.T) {
	f := findFinding(Detect(bottleneckSnap(-1)), "bottleneck")
	if f == nil || f.Layer != sources.LayerApp || !strings.Contains(f.Title, "application layer") {
		t.Fatalf("finding %+v, want application layer", f)
	}
	if !strings.Contains(f.Explanation, "DB queries per edge request: ") {
		t.Errorf("explanation lacks Q/T: %q", f.Explanation)
	}
}

func TestBottleneckIsTheDatabaseWhenDBTrafficRises(t *testing.T) {
	f := findFinding(Detect(bottleneckSnap(1)), "bottleneck")
	if f == nil || f.Layer != sources.LayerDB {
		t.Fatalf("finding %+v, want database", f)
	}
}

func TestNoBottleneckWithoutDBSeries(t *testing.T) {
	snap := bottleneckSnap(-1)
	snap.Series = snap.Series[:2]
	if f := findFinding(Detect(snap), "bottleneck"); f != nil {
		t.Fatalf("bottleneck without database series: %+v", f)
	}
}

func TestFlappingFromEventsNodesAndCounts(t *testing.T) {
	n := 60
	snap := mkSnap(tstep, n)
	now := snap.Now
	snap.Events = []sources.Event{
		{ID: "1", Source: "haproxy", Kind: sources.EventFlapping, Start: now.Add(-time.Minute), Node: "lb-a", Severity: sources.SevWarning, Title: "lb-a: 7 changes"},
		{ID: "2", Source: "haproxy", Kind: sources.EventFlapping, Start: now.Add(-time.Minute), Node: "be_app/app-2", Severity: sources.SevInfo, Title: "app-2 DOWN"},
		{ID: "3", Source: "haproxy", Kind: sources.EventFlapping, Start: now.Add(-20 * time.Minute), End: now.Add(-19 * time.Minute), Node: "old", Title: "old"},
		// the word is not the kind: nothing reads titles
		{ID: "4", Source: "haproxy", Start: now.Add(-time.Minute), Node: "wordy", Severity: sources.SevWarning, Title: "wordy is FLAPPING"},
	}
	for i := 0; i < 5; i++ {
		snap.Events = append(snap.Events, sources.Event{ID: "s" + string(rune('a'+i)), Source: "haproxy", Kind: sources.EventState,
			Start: now.Add(-time.Duration(i) * time.Minute), End: now.Add(-time.Duration(i)*time.Minute + 20*time.Second),
			Node: "be_db/db-2", Title: "db-2 UP"})
	}
	snap.Nodes = []sources.NodeState{
		{Kind: sources.NodeServer, ID: "x", Name: "app-9", State: "UP", Class: sources.ClassUp, Flapping: true, Flaps: 3, FlapWindow: 5 * time.Minute},
		// the old words mean nothing any more
		{Kind: sources.NodeServer, ID: "y", Name: "app-8", State: "UP", Attrs: map[string]string{"flapping": "yes", "kind": "flapping"}},
	}
	fs := Detect(snap)
	got := map[string]bool{}
	for _, f := range fs {
		if f.Rule == "flapping" {
			got[f.Node] = true
		}
		if f.Rule == "event" && f.Node == "lb-a" {
			t.Errorf("flapping event also raised as a plain event finding")
		}
	}
	for _, want := range []string{"lb-a", "be_app/app-2", "be_db/db-2", "app-9"} {
		if !got[want] {
			t.Errorf("no flapping finding for %s; got %v", want, got)
		}
	}
	if got["app-8"] {
		t.Errorf("a node was read as flapping from its Attrs")
	}
	// a source that counts its nodes' flaps has the last word on them
	snap.Nodes = append(snap.Nodes, sources.NodeState{Kind: sources.NodeServer, ID: "z", Name: "be_db/db-2", State: "UP", Class: sources.ClassUp,
		Flaps: 2, FlapWindow: 5 * time.Minute})
	for _, f := range Detect(snap) {
		if f.Rule == "flapping" && f.Node == "be_db/db-2" {
			t.Errorf("state changes counted against the verdict of the node's source: %+v", f)
		}
	}
	snap.Nodes = snap.Nodes[:len(snap.Nodes)-1]
	if f := findFinding(fs, "flapping"); f == nil {
		t.Fatal("no flapping finding")
	}
	for _, f := range fs {
		if f.Node == "app-9" && !strings.Contains(f.Explanation, "went DOWN 3 times in 5 min") {
			t.Errorf("flapping node's finding %q does not count its flaps", f.Explanation)
		}
	}
	if got["old"] {
		t.Errorf("a flapping event that ended 19 min ago still raises a finding")
	}
	if got["wordy"] {
		t.Errorf("an event was read as flapping from the word in its title")
	}
}

func TestFailoverOntoALaggingReplica(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	n := 480
	lag := clamp(noise(r, n, 0.3, 0.2), 0, 1e9)
	for i := 444; i < n; i++ {
		lag[i] = float64(i-440) * 10
	}
	snap := mkSnap(tstep, n,
		series{name: "mysql_slave_lag_seconds", unit: "s", node: "mysql-b", role: sources.RoleResource, layer: sources.LayerDB, vals: lag})
	snap.Events = []sources.Event{{ID: "e", Source: "haproxy", Kind: sources.EventState, Start: snap.Time(440), Node: "be_mysql/mysql-a",
		Severity: sources.SevCritical, Title: "server be_mysql/mysql-a is DOWN"}}
	f := findFinding(Detect(snap), "failover")
	if f == nil {
		t.Fatal("no failover finding")
	}
	if f.Severity != sources.SevCritical || !strings.Contains(f.Title, "mysql-b") || !strings.Contains(f.Explanation, "mysql-a is DOWN") {
		t.Errorf("finding %+v", f)
	}
	// a failover a source saw counts too, whatever its title says
	snap.Events[0].Kind, snap.Events[0].Title = sources.EventFailover, "mysql-b promoted"
	if f := findFinding(Detect(snap), "failover"); f == nil || !strings.Contains(f.Explanation, "mysql-b promoted") {
		t.Errorf("failover event: finding %+v", f)
	}
	// a title that says DOWN does not make an event a state change
	snap.Events[0].Kind, snap.Events[0].Title = sources.EventOther, "server be_mysql/mysql-a is DOWN, failover to backup"
	if f := findFinding(Detect(snap), "failover"); f != nil {
		t.Errorf("failover finding from the words of an event's title: %+v", f)
	}
	// the lag alone, with no state change, is not a failover
	snap.Events = nil
	if f := findFinding(Detect(snap), "failover"); f != nil {
		t.Errorf("failover finding without a state change: %+v", f)
	}
}

func TestExtraRuleHook(t *testing.T) {
	e := NewEngine(EngineOptions{Rules: []RuleFunc{func(s *Snapshot) []Finding {
		return []Finding{{ID: "path/x", Rule: "provider-green-path-red", Severity: sources.SevWarning, Title: "x"}}
	}}})
	fs, _ := e.Evaluate(mkSnap(tstep, 10))
	if findFinding(fs, "provider-green-path-red") == nil {
		t.Fatal("extra rule not run")
	}
}

// Findings keep their ID while the incident lasts and do not flicker when
// the symptom dips for a moment.
func TestFindingsAreStableAcrossRefreshes(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	full := meltingVolume(r, true)
	n := full.N
	e := NewEngine(EngineOptions{ResolveAfter: time.Minute})
	var opened, resolved, updated int
	var id string
	for end := 445; end <= n; end++ {
		snap := *full
		snap.Series = nil
		for _, s := range full.Series {
			s.Values = s.Values[:end]
			snap.Series = append(snap.Series, s)
		}
		snap.N = end
		snap.Now = snap.Time(end - 1)
		if end == 460 { // a brief dip in the symptom
			snap.Series[0].Values = append([]float64(nil), snap.Series[0].Values...)
			snap.Series[0].Values[end-1] = 3
		}
		fs, evs := e.Evaluate(&snap)
		for _, ev := range evs {
			switch ev.Kind {
			case ChangeOpened:
				opened++
			case ChangeResolved:
				resolved++
			case ChangeUpdated:
				updated++
			}
		}
		if f := findFinding(fs, "suspects"); f != nil {
			if id != "" && f.ID != id {
				t.Fatalf("ID changed from %s to %s", id, f.ID)
			}
			id = f.ID
		}
	}
	if opened != 1 || resolved != 0 || updated != 0 {
		t.Fatalf("opened %d, updated %d, resolved %d; want 1, 0, 0", opened, updated, resolved)
	}
	if e.ranker.Cache.Hits == 0 {
		t.Errorf("baseline cache never hit")
	}
}

func TestBaselineCacheRecomputesOnlyWhenTheWindowMoves(t *testing.T) {
	snap := meltingVolume(rand.New(rand.NewPCG(27, 28)), true)
	c := NewBaselineCache()
	s := &snap.Series[1]
	b1 := c.Get(snap, s, 0, 400, nil)
	b2 := c.Get(snap, s, 0, 400, nil)
	if c.Misses != 1 || c.Hits != 1 || b1.Level != b2.Level || b1.Spread != b2.Spread {
		t.Fatalf("misses %d hits %d", c.Misses, c.Hits)
	}
	c.Get(snap, s, 6, 406, nil)
	if c.Misses != 2 || c.Len() != 1 {
		t.Fatalf("misses %d, entries %d", c.Misses, c.Len())
	}
}

// Odd data (Inf, NaN everywhere, one point, negative values, empty
// snapshots) never panics and never yields a NaN score.
func TestOddDataDoesNotPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	odd := []float64{math.Inf(1), math.Inf(-1), math.NaN(), 0, -1, 1e308, -1e308, 5e-324}
	for trial := 0; trial < 200; trial++ {
		n := r.IntN(300)
		var ss []series
		for k := 0; k < 1+r.IntN(6); k++ {
			v := noise(r, n, 10, 1)
			for i := range v {
				if r.IntN(5) == 0 {
					v[i] = odd[r.IntN(len(odd))]
				}
			}
			role := []sources.Role{sources.RoleSymptom, sources.RoleResource, sources.RoleTraffic, sources.RoleUnknown}[r.IntN(4)]
			ss = append(ss, series{key: string(rune('a' + k)), name: []string{"5xx", "availability", "requests", "replication_lag"}[r.IntN(4)],
				node: []string{"", "a", "b"}[r.IntN(3)], role: role, layer: sources.Layers[r.IntN(len(sources.Layers))], vals: v})
		}
		snap := mkSnap(tstep, n, ss...)
		snap.Deps = []sources.Dependency{{From: "a", To: "b"}, {From: "b", To: "a"}} // a cycle too
		e := NewEngine(EngineOptions{})
		fs, _ := e.Evaluate(snap)
		for _, f := range fs {
			for _, ev := range f.Evidence {
				if math.IsNaN(ev.Score) {
					t.Fatalf("trial %d: NaN score in %+v", trial, ev)
				}
			}
		}
		if n > 0 {
			NewRanker(RankOptions{}).Rank(snap, 0, Window{BaseFrom: 0, BaseTo: n / 2, From: n / 2, To: n})
		}
	}
}

// An availability measured over a handful of requests is noise: it is
// not read in buckets with fewer than MinRequests requests, and is read
// again when the node has traffic.
func TestShareOfFewRequestsIsNotRead(t *testing.T) {
	build := func(reqs float64) *Snapshot {
		r := rand.New(rand.NewPCG(33, 34))
		n := 480
		lat := noise(r, n, 100, 5)
		stepUp(lat, 440, 400)
		avail := noise(r, n, 99.9, 0.02)
		req := noise(r, n, reqs, reqs/20)
		for i := 436; i < n; i++ {
			avail[i] = 0
		}
		return mkSnap(tstep, n,
			series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: lat},
			series{name: "availability", unit: "%", node: "elb", role: sources.RoleResource, layer: sources.LayerLB, vals: avail},
			series{name: "requests", unit: "count", node: "elb", role: sources.RoleTraffic, layer: sources.LayerLB, vals: req},
		)
	}
	for _, c := range []struct {
		reqs  float64
		moved bool
	}{{5, false}, {200, true}} {
		snap := build(c.reqs)
		rk := rankLive(snap)
		moved := false
		for _, cd := range rk.Order {
			if cd.Meta.Name == "availability" && cd.Moved {
				moved = true
			}
		}
		if moved != c.moved {
			t.Errorf("%v requests per bucket: availability moved %v, want %v", c.reqs, moved, c.moved)
		}
	}
	if !IsRequestRatio(&SeriesMeta{Name: "hrsp_5xx_share", Unit: "%", Measure: sources.GuessMeasure("hrsp_5xx_share")}) ||
		IsRequestRatio(&SeriesMeta{Name: "cpu.iowait", Unit: "%", Measure: sources.GuessMeasure("cpu.iowait")}) {
		t.Error("IsRequestRatio misclassifies")
	}
}

// A share near 100 % takes its relative floor from the nearer bound: a
// drop from 100 % to 97 % availability is thirty times the error share,
// not three times a 1 % spread.
func TestPercentFloorFromTheNearerBound(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	n := 200
	v := make([]float64, n)
	for i := range v {
		v[i] = 100
		if r.IntN(20) == 0 {
			v[i] = 99.95
		}
	}
	snap := mkSnap(tstep, n, series{name: "availability", unit: "%", node: "svc", role: sources.RoleResource, vals: v})
	b := ComputeBaseline(snap, &snap.Series[0], 0, n)
	if b.Spread > 0.2 {
		t.Fatalf("availability at 100 %%: spread %.3g, want ≤ 0.2 (the unit floor, not 1 %% of the level)", b.Spread)
	}
	if z := -b.Z(97); z < 10 {
		t.Fatalf("a drop to 97 %% scores z %.1f, want ≥ 10", z)
	}
	// a share in the middle keeps 1 % of its level
	for i := range v {
		v[i] = 50
	}
	if b := ComputeBaseline(snap, &snap.Series[0], 0, n); b.Spread != 0.5 {
		t.Fatalf("flat 50 %%: spread %v, want 0.5", b.Spread)
	}
}

// Load flows down the call graph and faults flow up: a dependency whose
// traffic rose (the caller's retries) does not make the caller's own
// move an effect.
func TestDependencyTrafficDoesNotOutrankTheCaller(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	n := 480
	sym := noise(r, n, 100, 5)
	stepUp(sym, 440, 200)
	app := noise(r, n, 50, 3)
	stepUp(app, 437, 150)
	dbReq := noise(r, n, 1000, 20)
	stepUp(dbReq, 438, 3000) // retries
	snap := mkSnap(tstep, n,
		series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: sym},
		series{name: "latency", unit: "ms", node: "app", role: sources.RoleResource, layer: sources.LayerApp, vals: app},
		series{name: "requests", unit: "req/s", node: "db", role: sources.RoleTraffic, layer: sources.LayerDB, vals: dbReq},
	)
	snap.Deps = []sources.Dependency{{From: "site", To: "app"}, {From: "app", To: "db"}}
	rk := rankLive(snap)
	for _, c := range rk.Suspects {
		if c.Meta.Node == "app" {
			if !c.Deepest {
				t.Fatalf("app is a suspect but not deepest: %+v", c)
			}
			return
		}
	}
	t.Fatalf("suspects %v, effects %v: want app latency among the suspects (the db only got more requests)", nodesOf(rk.Suspects), nodesOf(rk.Effects))
}

// A fault reaches a caller through every node in between: a dependency
// behind a node that has data and stayed quiet does not explain the
// caller's move.
func TestQuietNodeBreaksTheChain(t *testing.T) {
	build := func(midMoves bool) *Ranking {
		r := rand.New(rand.NewPCG(35, 36))
		n := 480
		sym := noise(r, n, 100, 5)
		stepUp(sym, 440, 200)
		app := noise(r, n, 200, 5)
		stepUp(app, 438, 200)
		mid := noise(r, n, 20, 1)
		if midMoves {
			stepUp(mid, 437, 10)
		}
		db := noise(r, n, 10, 0.5)
		stepUp(db, 437, 4)
		snap := mkSnap(tstep, n,
			series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: sym},
			series{name: "latency", unit: "ms", node: "app", role: sources.RoleResource, layer: sources.LayerApp, vals: app},
			series{name: "latency", unit: "ms", node: "mid", role: sources.RoleResource, layer: sources.LayerApp, vals: mid},
			series{name: "latency", unit: "ms", node: "db", role: sources.RoleResource, layer: sources.LayerDB, vals: db},
		)
		snap.Deps = []sources.Dependency{{From: "site", To: "app"}, {From: "app", To: "mid"}, {From: "mid", To: "db"}}
		return rankLive(snap)
	}
	rk := build(false)
	if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "app" || !rk.Suspects[0].Deepest {
		t.Fatalf("quiet mid: suspects %v, want app first and deepest", nodesOf(rk.Suspects))
	}
	// with the node in between moving too, the chain holds and the db is deepest
	rk = build(true)
	if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "db" {
		t.Fatalf("moving mid: suspects %v, want db first", nodesOf(rk.Suspects))
	}
}

func TestSelectTopMatchesASort(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.IntN(300)
		score := make([]int, n)
		for i := range score {
			score[i] = r.IntN(1 + r.IntN(20)) // many ties
		}
		less := func(a, b int) bool {
			if score[a] != score[b] {
				return score[a] > score[b]
			}
			return a < b
		}
		idx := r.Perm(n)
		k := 1 + r.IntN(n)
		selectTop(idx, k, less)
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		sort.Slice(want, func(a, b int) bool { return less(want[a], want[b]) })
		got := append([]int(nil), idx[:k]...)
		sort.Ints(got)
		w := append([]int(nil), want[:k]...)
		sort.Ints(w)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("n %d k %d: top %v, want %v", n, k, got, w)
		}
	}
}

func TestSelectKMatchesASort(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for n := 1; n < 700; n += 1 + n/50 {
		for trial := 0; trial < 5; trial++ {
			a := make([]float64, n)
			for i := range a {
				a[i] = float64(r.IntN(1 + r.IntN(3*n))) // ties too
			}
			s := append([]float64(nil), a...)
			sort.Float64s(s)
			k := r.IntN(n)
			if got := selectK(a, k); got != s[k] {
				t.Fatalf("n %d k %d: %v, want %v", n, k, got, s[k])
			}
			for i := 0; i < k; i++ {
				if a[i] > a[k] {
					t.Fatalf("n %d k %d: a[%d] = %v > a[k] = %v", n, k, i, a[i], a[k])
				}
			}
		}
	}
}

// A backend's 5xx and its servers' 5xx that blame the same thing are one
// finding for the backend, listing the servers; a server of another
// backend stays on its own.
func TestServerSymptomsFoldIntoTheirBackend(t *testing.T) {
	snap := meltingVolume(rand.New(rand.NewPCG(1, 2)), true)
	snap.Series[0].Labels = map[string]string{"backend": "app"}
	r := rand.New(rand.NewPCG(3, 4))
	for _, sv := range []string{"app-1", "app-2", "other-1"} {
		v := clamp(noise(r, snap.N, 0.2, 0.05), 0, 100)
		stepUp(v, 440, 6)
		be := "app"
		if sv == "other-1" {
			be = "other"
		}
		snap.Series = append(snap.Series, SnapSeries{
			SeriesMeta: SeriesMeta{Key: "src/" + sv + "/hrsp_5xx", Source: "src", Name: "hrsp_5xx", Measure: sources.MeasureErrors, Unit: "%", Role: sources.RoleSymptom,
				Layer: sources.LayerLB, Node: sv, Labels: map[string]string{"backend": be, "server": sv}},
			Values: v,
		})
	}
	fs := Detect(snap)
	var titles []string
	var backend *Finding
	for i := range fs {
		titles = append(titles, fs[i].Title)
		if fs[i].ID == "symptom/src/app/hrsp_5xx" {
			backend = &fs[i]
		}
		if fs[i].Node == "app-1" || fs[i].Node == "app-2" {
			t.Errorf("server finding %q not folded into its backend's", fs[i].Title)
		}
	}
	if backend == nil {
		t.Fatalf("no finding for the backend: %q", titles)
	}
	if !strings.Contains(backend.Title, "(+2)") || !strings.Contains(backend.Explanation, "app-1, app-2") {
		t.Errorf("backend finding %q / %q does not list its two servers", backend.Title, backend.Explanation)
	}
	ctx := 0
	for _, e := range backend.Evidence {
		if e.Kind == EvContext && (e.Node == "app-1" || e.Node == "app-2") {
			ctx++
		}
	}
	if ctx != 2 {
		t.Errorf("%d server symptoms in the backend's evidence, want 2", ctx)
	}
	other := false
	for i := range fs {
		if fs[i].Node == "other-1" {
			other = true
		}
	}
	if !other {
		t.Errorf("the other backend's server lost its finding: %q", titles)
	}
}

// HAProxy reports a server going DOWN as an event and as the server's
// state: one finding, with the event's words in it.
func TestNodeEventFoldsIntoTheNodeFinding(t *testing.T) {
	snap := mkSnap(tstep, 10)
	snap.Nodes = []sources.NodeState{{Kind: sources.NodeServer, ID: "lb-1/app/app-3", Name: "app-3", Layer: sources.LayerLB,
		State: "DOWN", Class: sources.ClassDown, Severity: sources.SevWarning}}
	snap.Events = []sources.Event{{ID: "down", Source: "lb-1", Start: snap.Start, Severity: sources.SevWarning,
		Layer: sources.LayerLB, Node: "app-3", Title: "server app/app-3 DOWN", Text: "Layer7 wrong status"}}
	fs := Detect(snap)
	if len(fs) != 1 {
		var titles []string
		for _, f := range fs {
			titles = append(titles, f.Title)
		}
		t.Fatalf("%d findings %q, want one", len(fs), titles)
	}
	if fs[0].Rule != "node-state" || fs[0].Title != "server app-3 is DOWN" || !strings.Contains(fs[0].Explanation, "server app/app-3 DOWN: Layer7 wrong status") {
		t.Errorf("finding %+v should be the node's, with the event's text", fs[0])
	}
	// an event about another node stays a finding of its own
	snap.Events[0].Node = "app-4"
	if fs := Detect(snap); len(fs) != 2 {
		t.Errorf("%d findings for a DOWN server and an event about another, want 2", len(fs))
	}
}

// Sessions pile up when a backend is slow: they are not more load.
func TestBottleneckIgnoresSessions(t *testing.T) {
	snap := bottleneckSnap(-1)
	r := rand.New(rand.NewPCG(51, 52))
	scur := noise(r, snap.N, 20, 3)
	stepUp(scur, 440, 300)
	snap.Series = append(snap.Series, SnapSeries{SeriesMeta: SeriesMeta{Key: "src/app-1/scur", Source: "src", Name: "scur",
		Role: sources.RoleTraffic, Layer: sources.LayerLB, Node: "app-1"}, Values: scur})
	f := findFinding(Detect(snap), "bottleneck")
	if f == nil || f.Layer != sources.LayerApp {
		t.Fatalf("finding %+v, want the application layer (sessions rising is not load)", f)
	}
}

// The melting volume: edge traffic falls a little, database queries fall
// a lot (it cannot keep up), and a database resource (iowait) rose.
func TestBottleneckIsTheDatabaseWhenItCannotKeepUp(t *testing.T) {
	snap := bottleneckSnap(-1)
	q := snap.Series[2].Values
	for i := 440; i < snap.N; i++ {
		q[i] = 600 + q[i]/100 // 3000 → ~600 while edge traffic fell 40 %
	}
	snap.Series = snap.Series[:3] // no database latency series
	f := findFinding(Detect(snap), "bottleneck")
	if f == nil || f.Layer != sources.LayerDB || !strings.Contains(f.Explanation, "cannot keep up") {
		t.Fatalf("finding %+v, want the database (queries per request collapsed)", f)
	}
	// the same with only a database resource rising
	snap = bottleneckSnap(-1)
	r := rand.New(rand.NewPCG(53, 54))
	iow := noise(r, snap.N, 3, 0.5)
	stepUp(iow, 436, 90)
	snap.Series[3] = SnapSeries{SeriesMeta: SeriesMeta{Key: "src/db-1/iowait", Source: "src", Name: "cpu.iowait", Unit: "%",
		Role: sources.RoleResource, Layer: sources.LayerDB, Node: "db-1"}, Values: iow}
	f = findFinding(Detect(snap), "bottleneck")
	if f == nil || f.Layer != sources.LayerDB || !strings.Contains(f.Explanation, "DB load db-1 cpu.iowait") {
		t.Fatalf("finding %+v, want the database (its iowait rose)", f)
	}
}

func TestServerBottlenecksFoldIntoTheirBackend(t *testing.T) {
	snap := bottleneckSnap(-1)
	snap.Series[0].Labels = map[string]string{"backend": "app"}
	r := rand.New(rand.NewPCG(55, 56))
	for _, sv := range []string{"app-1", "app-2"} {
		v := clamp(noise(r, snap.N, 0.2, 0.05), 0, 100)
		stepUp(v, 440, 8)
		snap.Series = append(snap.Series, SnapSeries{SeriesMeta: SeriesMeta{Key: "src/" + sv + "/hrsp_5xx", Source: "src", Name: "hrsp_5xx", Measure: sources.MeasureErrors,
			Unit: "%", Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: sv, Labels: map[string]string{"backend": "app", "server": sv}}, Values: v})
	}
	var bs []string
	for _, f := range Detect(snap) {
		if f.Rule == "bottleneck" {
			bs = append(bs, f.Title)
		}
	}
	if len(bs) != 1 || !strings.Contains(bs[0], "+2)") {
		t.Fatalf("bottleneck findings %q, want one for the backend naming its two servers", bs)
	}
}

// A replica's lag is in seconds but is not the database's query latency.
func TestBottleneckDoesNotReadReplicationLagAsLatency(t *testing.T) {
	snap := bottleneckSnap(-1)
	snap.Series[3].Name, snap.Series[3].Unit, snap.Series[3].Measure = "mysql.db-2.replication_lag", "s", sources.MeasureReplicationLag
	f := findFinding(Detect(snap), "bottleneck")
	if f == nil || !strings.Contains(f.Explanation, "DB latency not monitored") {
		t.Fatalf("finding %+v: replication lag read as DB latency", f)
	}
}

// A load balancer's queue and an app server's latency rise together and
// the graph does not say which backend the queue fronts: the app server
// is the suspect, the queue an effect of it.
func TestLoadBalancerMoveIsExplainedByTheLayerBehindIt(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	n := 480
	sym := noise(r, n, 100, 5)
	stepUp(sym, 440, 200)
	q := noise(r, n, 2, 0.5)
	stepUp(q, 437, 60) // a queue moves a lot
	app := noise(r, n, 200, 10)
	stepUp(app, 437, 150)
	snap := mkSnap(tstep, n,
		series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerEdge, vals: sym},
		series{name: "qcur", unit: "count", node: "lb-app", role: sources.RoleResource, layer: sources.LayerLB, vals: q},
		series{name: "latency", unit: "ms", node: "app-1", role: sources.RoleResource, layer: sources.LayerApp, vals: app},
	)
	rk := rankLive(snap)
	if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "app-1" {
		t.Fatalf("suspects %v, want app-1 first", nodesOf(rk.Suspects))
	}
	for _, c := range rk.Suspects {
		if c.Meta.Node == "lb-app" {
			t.Fatalf("the load balancer's queue is a suspect: %v", nodesOf(rk.Suspects))
		}
	}
	// alone, the queue is the suspect
	snap.Series = snap.Series[:2]
	rk = rankLive(snap)
	if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "lb-app" {
		t.Fatalf("alone: suspects %v, want the queue", nodesOf(rk.Suspects))
	}
}

// A server's finding that opened before its backend's closes as grouped
// (not resolved) when it folds in, and the group keeps its opening time.
func TestGroupedFindingClosesAsGrouped(t *testing.T) {
	full := meltingVolume(rand.New(rand.NewPCG(1, 2)), true)
	full.Series[0].Labels = map[string]string{"backend": "app"}
	be := full.Series[0].Values
	for i := 440; i < 452; i++ {
		be[i] = 0.2 // the backend's errors rise 2 minutes after the server's
	}
	r := rand.New(rand.NewPCG(7, 8))
	sv := clamp(noise(r, full.N, 0.2, 0.05), 0, 100)
	stepUp(sv, 440, 6)
	full.Series = append(full.Series, SnapSeries{SeriesMeta: SeriesMeta{Key: "src/app-1/hrsp_5xx", Source: "src", Name: "hrsp_5xx", Measure: sources.MeasureErrors, Unit: "%",
		Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "app-1", Labels: map[string]string{"backend": "app", "server": "app-1"}}, Values: sv})
	e := NewEngine(EngineOptions{})
	var serverOpened time.Time
	var grouped, resolved int
	for n := 446; n <= 470; n++ {
		active, changes := e.Evaluate(cutSnap(full, n))
		for _, f := range active {
			if f.ID == "symptom/src/app-1/hrsp_5xx" && serverOpened.IsZero() {
				serverOpened = f.Opened
			}
		}
		for _, c := range changes {
			if c.Finding.ID == "symptom/src/app-1/hrsp_5xx" {
				switch c.Kind {
				case ChangeGrouped:
					grouped++
				case ChangeResolved:
					resolved++
				}
			}
		}
		if n == 470 {
			var group *Finding
			for i := range active {
				if active[i].ID == "symptom/src/app/hrsp_5xx" {
					group = &active[i]
				}
			}
			if group == nil || len(group.Grouped) != 1 {
				t.Fatalf("no group for the backend at the end: %+v", active)
			}
			if !group.Opened.Equal(serverOpened) {
				t.Errorf("group opened %v, want the server's %v", group.Opened, serverOpened)
			}
		}
	}
	if serverOpened.IsZero() {
		t.Fatal("the server's finding never opened on its own")
	}
	if grouped != 1 || resolved != 0 {
		t.Errorf("server finding: grouped %d, resolved %d; want grouped once, never resolved", grouped, resolved)
	}
}

// A member that blames something else still folds into its backend's
// finding, named with what it blames.
func TestFoldedMemberKeepsItsOwnBlame(t *testing.T) {
	n := 10
	snap := mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, vals: make([]float64, n)},
		series{name: "hrsp_5xx", unit: "%", node: "app-1", role: sources.RoleSymptom, vals: make([]float64, n)},
		series{name: "hrsp_5xx", unit: "%", node: "app-2", role: sources.RoleSymptom, vals: make([]float64, n)},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, vals: make([]float64, n)},
		series{name: "cpu.user", unit: "%", node: "app-1", role: sources.RoleResource, vals: make([]float64, n)},
	)
	snap.Series[0].Labels = map[string]string{"backend": "app"}
	snap.Series[1].Labels = map[string]string{"backend": "app", "server": "app-1"}
	snap.Series[2].Labels = map[string]string{"backend": "app", "server": "app-2"}
	act := []activeSymptom{{idx: 0}, {idx: 1}, {idx: 2}}
	sus := func(id, key string) Finding {
		return Finding{ID: id, Rule: "suspects", Title: id + " rose: likely x", Evidence: []Evidence{{Kind: EvSymptom, SeriesKey: id}, {Kind: EvSuspect, SeriesKey: key}}}
	}
	out := []Finding{
		sus("symptom/src/app/hrsp_5xx", "src/db-1/cpu.iowait"),
		sus("symptom/src/app-1/hrsp_5xx", "src/app-1/cpu.user"),
		{ID: "gap/src/app-2/hrsp_5xx", Rule: "gap", Title: "monitoring gap", Evidence: []Evidence{{Kind: EvSymptom, SeriesKey: "src/app-2/hrsp_5xx"}}},
	}
	got := foldMembers(snap, act, [][]int{{0, 1, 2}}, out)
	if len(got) != 1 {
		t.Fatalf("%d findings after folding, want 1: %+v", len(got), got)
	}
	f := got[0]
	for _, want := range []string{"app-1 (likely app-1 cpu.user)", "app-2 (no internal signal moved)"} {
		if !strings.Contains(f.Explanation, want) {
			t.Errorf("explanation %q lacks %q", f.Explanation, want)
		}
	}
	if len(f.Grouped) != 2 || !strings.Contains(f.Title, "(+2)") {
		t.Errorf("grouped %v, title %q", f.Grouped, f.Title)
	}
}

// A backend whose errors calm a moment before its server's keeps its
// finding while the server's errors go on: no server finding opens
// while things recover.
func TestGroupStaysOpenWhileAMemberIs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n := 520
	be := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	sv := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	for i := 440; i < 470; i++ {
		be[i] += 6
	}
	for i := 440; i < 490; i++ {
		sv[i] += 6
	}
	iow := clamp(noise(r, n, 3, 0.5), 0, 100)
	for i := 436; i < 490; i++ {
		iow[i] = 96 + r.Float64()
	}
	full := mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: be},
		series{name: "hrsp_5xx", unit: "%", node: "app-1", role: sources.RoleSymptom, layer: sources.LayerLB, vals: sv},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: iow},
	)
	full.Series[0].Labels = map[string]string{"backend": "app"}
	full.Series[1].Labels = map[string]string{"backend": "app", "server": "app-1"}
	e := NewEngine(EngineOptions{})
	var groupResolved time.Time
	for k := 445; k <= n; k++ {
		_, changes := e.Evaluate(cutSnap(full, k))
		for _, c := range changes {
			if c.Finding.ID == "symptom/src/app-1/hrsp_5xx" && c.Kind == ChangeOpened {
				t.Fatalf("bucket %d: the server's finding opened on its own", k)
			}
			if c.Finding.ID == "symptom/src/app/hrsp_5xx" && c.Kind == ChangeResolved {
				groupResolved = c.Finding.Resolved
			}
		}
	}
	if groupResolved.IsZero() || groupResolved.Before(full.Time(490)) {
		t.Errorf("the group resolved at %v, before its server calmed (%v)", groupResolved, full.Time(490))
	}
}

// What the engine could not read is part of the finding, with the reason,
// so nobody takes its silence for health.
func TestFindingListsWhatCouldNotBeChecked(t *testing.T) {
	snap := meltingVolume(rand.New(rand.NewPCG(1, 2)), true)
	user := snap.Series[2].Values // app-1 cpu.user goes silent
	for i := 450; i < len(user); i++ {
		user[i] = math.NaN()
	}
	f := findFinding(Detect(snap), "suspects")
	if f == nil {
		t.Fatal("no suspects finding")
	}
	for _, e := range f.Evidence {
		if e.Kind == EvExcluded && e.SeriesKey == snap.Series[2].Key {
			if !strings.Contains(e.Text, "app-1 cpu.user: stale") {
				t.Errorf("excluded evidence text %q", e.Text)
			}
			return
		}
	}
	t.Fatalf("the stale series is not in the finding's evidence: %+v", f.Evidence)
}

// The engine words a node's finding from the node's figures: no source
// writes a finding's title, and words in Attrs are not read.
func TestNodeFindingsAreWordedByTheEngine(t *testing.T) {
	snap := mkSnap(tstep, 10)
	lb := func(up, total, down, flapping, instances int) *sources.LBNode {
		l := sources.NewLBNode("app")
		l.Up, l.Total, l.Down, l.Flapping, l.Instances = up, total, down, flapping, instances
		return l
	}
	snap.Nodes = []sources.NodeState{
		{Kind: sources.NodeBackend, ID: "lb-1/app/BACKEND", Name: "app", Layer: sources.LayerLB, State: "DOWN", Class: sources.ClassDown,
			Severity: sources.SevCritical, LB: lb(0, 4, 4, 0, 0), Attrs: map[string]string{"finding": "a source's sentence"}},
		{Kind: sources.NodeBackend, ID: "fleet/app/BACKEND", Name: "app", Layer: sources.LayerLB, State: "DOWN", Class: sources.ClassDown,
			Severity: sources.SevCritical, LB: lb(0, 8, 8, 0, 2)},
		{Kind: sources.NodeBackend, ID: "lb-1/api/BACKEND", Name: "api", Layer: sources.LayerLB, State: "UP", Class: sources.ClassUp,
			Severity: sources.SevWarning, LB: lb(2, 3, 1, 0, 0)},
		{Kind: sources.NodeBackend, ID: "lb-1/web/BACKEND", Name: "web", Layer: sources.LayerLB, State: "UP", Class: sources.ClassUp,
			Severity: sources.SevWarning, LB: lb(3, 3, 0, 1, 0)},
		{Kind: sources.NodeService, ID: "ec2-us-east-1", Name: "ec2-us-east-1", Layer: sources.LayerProvider, State: "degraded",
			Class: sources.ClassDegraded, Severity: sources.SevWarning,
			Provider: &sources.ProviderNode{Provider: "AWS", Service: "ec2", Region: "us-east-1", Event: "Increased API error rates"}},
		{Kind: sources.NodeServer, ID: "lb-1/app/app-3", Name: "app-3", Layer: sources.LayerLB, State: "DOWN 1/2", Class: sources.ClassDown,
			Severity: sources.SevWarning, LB: lb(0, 0, 0, 0, 0)},
	}
	want := map[string]string{
		"node/lb-1/app/BACKEND":  "backend app has no server UP (Active: 0/4)",
		"node/fleet/app/BACKEND": "backend app has no server UP on any LB (Active: 0/8)",
		"node/lb-1/api/BACKEND":  "backend api: 1 of 3 servers DOWN",
		"node/lb-1/web/BACKEND":  "backend web: 1 servers flapping",
		"node/ec2-us-east-1":     "AWS says ec2 us-east-1 is degraded: Increased API error rates",
		"node/lb-1/app/app-3":    "server app-3 is DOWN 1/2",
	}
	got := map[string]string{}
	for _, f := range Detect(snap) {
		if f.Rule == "node-state" {
			got[f.ID] = f.Title
		}
	}
	for id, title := range want {
		if got[id] != title {
			t.Errorf("%s: %q, want %q", id, got[id], title)
		}
	}
}

// 5xx rise at the load balancer and nothing inside moves: the load
// balancer's own 2xx falling and its own health-check times are the
// symptom seen again, not an internal cause. It is a monitoring gap.
func TestLoadBalancersOwnSeriesDoNotExplainItsErrors(t *testing.T) {
	const n = 900
	r := rand.New(rand.NewPCG(3, 3))
	five := stepUp(clamp(noise(r, n, 0.2, 0.1), 0, 1e9), n-60, 10)
	two := stepUp(noise(r, n, 100, 3), n-60, -10)
	chk := stepUp(clamp(noise(r, n, 2, 0.2), 0, 1e9), n-58, 6)
	db := clamp(noise(r, n, 3, 0.4), 0, 100)
	snap := mkSnap(5*time.Second, n,
		series{name: "hrsp_5xx", unit: "req/s", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: five},
		series{name: "hrsp_2xx", unit: "req/s", node: "app", role: sources.RoleTraffic, layer: sources.LayerLB, vals: two},
		series{name: "check_duration", unit: "ms", node: "app", role: sources.RoleResource, layer: sources.LayerLB, vals: chk},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerDB, vals: db},
	)
	fs := Detect(snap)
	if f := findFinding(fs, "suspects"); f != nil {
		t.Fatalf("the load balancer's own series taken for a cause: %s", f.Title)
	}
	if f := findFinding(fs, "gap"); f == nil {
		t.Fatalf("no monitoring gap: %+v", fs)
	}
}

// One flapping server is one finding, whose title does not change as the
// server goes UP and DOWN and its flapping event opens and closes; its
// state and its DOWN events are told inside it, not beside it.
func TestAFlappingServerIsOneSteadyFinding(t *testing.T) {
	at := t0.Add(time.Hour)
	node := func(state string, sev sources.Severity) sources.NodeState {
		return sources.NodeState{Kind: sources.NodeServer, ID: "lb-1/app/app-2", Name: "app-2", Layer: sources.LayerLB,
			State: state, Severity: sev, Flapping: true, Flaps: 5, FlapWindow: 10 * time.Minute}
	}
	down := sources.Event{ID: "srv/app-2", Kind: sources.EventState, Start: at.Add(-time.Minute), Severity: sources.SevCritical,
		Layer: sources.LayerLB, Node: "app-2", Title: "server app/app-2 DOWN"}
	flap := sources.Event{ID: "flap/app-2", Kind: sources.EventFlapping, Start: at.Add(-5 * time.Minute), Severity: sources.SevWarning,
		Layer: sources.LayerLB, Node: "app-2", Title: "app-2 flapping: 5 DOWN in 10m"}
	var titles []string
	for k, snap := range []*Snapshot{
		{Now: at, Nodes: []sources.NodeState{node("DOWN", sources.SevCritical)}, Events: []sources.Event{down, flap}},
		{Now: at.Add(5 * time.Second), Nodes: []sources.NodeState{node("UP", sources.SevWarning)}},
		{Now: at.Add(10 * time.Second), Nodes: []sources.NodeState{node("UP", sources.SevWarning)}, Events: []sources.Event{flap}},
	} {
		fs := Detect(snap)
		if len(fs) != 1 || fs[0].Rule != "flapping" {
			var ts []string
			for _, f := range fs {
				ts = append(ts, f.Rule+": "+f.Title)
			}
			t.Fatalf("evaluation %d: %q, want the one flapping finding", k, ts)
		}
		titles = append(titles, fs[0].Title)
	}
	if titles[0] != titles[1] || titles[1] != titles[2] {
		t.Fatalf("the title churns: %q", titles)
	}
}
