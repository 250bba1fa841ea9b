package config

import (
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// A rule's harm and kind reach the engine: "bad: down" makes a queue
// whose name says nothing hurt going down, and "harm: up" makes
// "availability" hurt going up, against what its name suggests.
func TestRuleHarmAndKindChangeTheEnginesDirection(t *testing.T) {
	c, err := Parse("/etc/opsview.yaml", []byte(`rules:
  - match: "consumers"
    kind: gauge
    bad: down
  - match: "availability"
    source: lb
    harm: up
    kind: ratio
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1795417700, 0)
	pt := []sources.Point{{T: at, V: 1}}
	b := &sources.Batch{Source: "lb", At: at, Series: []sources.Series{
		{Name: "consumers", Role: sources.RoleResource, Points: pt},
		{Name: "availability", Role: sources.RoleSymptom, Points: pt},
		{Name: "requests", Role: sources.RoleTraffic, Points: pt},
	}}
	c.Rules.Apply(b)
	store := correlate.NewStore(correlate.StoreOptions{Step: 5 * time.Second, Retention: time.Hour})
	store.Apply(b)
	snap := store.Snapshot(at.Add(-time.Minute), at, nil)
	want := map[string]struct {
		dir  correlate.Direction
		kind sources.SeriesKind
	}{
		"consumers":    {correlate.Down, sources.SeriesGauge},
		"availability": {correlate.Up, sources.SeriesRatio},
		"requests":     {correlate.Both, sources.SeriesUnknown},
	}
	if len(snap.Series) != len(want) {
		t.Fatalf("%d series in the snapshot", len(snap.Series))
	}
	for i := range snap.Series {
		m := &snap.Series[i].SeriesMeta
		w := want[m.Name]
		if got := correlate.HarmfulDirection(m); got != w.dir || m.Kind != w.kind {
			t.Errorf("%s: direction %v kind %v, want %v %v", m.Name, got, m.Kind, w.dir, w.kind)
		}
	}

	// without the rule, "availability" goes by its name: down is bad
	b.Series[1].Harm = sources.HarmUnset
	sources.Rules(nil).Apply(b)
	if b.Series[1].Harm != sources.HarmDown {
		t.Errorf("availability without a rule: harm %v, want down", b.Series[1].Harm)
	}
}

// What a series measures is read once from its name when it arrives, and
// a rule can say it instead: the engine's rules read only the field.
func TestRuleMeasureReachesTheEngine(t *testing.T) {
	c, err := Parse("/etc/opsview.yaml", []byte(`rules:
  - match: "db.seconds_behind_master"
    measure: latency
  - match: "bad_answers"
    measure: errors, client-errors
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1795417700, 0)
	pt := []sources.Point{{T: at, V: 1}}
	b := &sources.Batch{Source: "db", At: at, Series: []sources.Series{
		{Name: "db.seconds_behind_master", Unit: "s", Points: pt},
		{Name: "bad_answers", Unit: "%", Points: pt},
		{Name: "mysql.replica_lag", Unit: "s", Points: pt},
	}}
	c.Rules.Apply(b)
	got := map[string]sources.Measure{}
	for _, s := range b.Series {
		got[s.Name] = s.Measure
	}
	if got["db.seconds_behind_master"] != sources.MeasureLatency {
		t.Errorf("a rule's measure: %v", got["db.seconds_behind_master"])
	}
	if got["bad_answers"] != sources.MeasureErrors|sources.MeasureClientErrors {
		t.Errorf("two measures: %v", got["bad_answers"])
	}
	if got["mysql.replica_lag"] != sources.MeasureReplicationLag {
		t.Errorf("from the name: %v", got["mysql.replica_lag"])
	}
	m := correlate.SeriesMeta{Name: "bad_answers", Unit: "%", Measure: got["bad_answers"]}
	if !correlate.IsRequestRatio(&m) {
		t.Error("a share of errors is a share of requests")
	}
	if _, err := Parse("/etc/opsview.yaml", []byte("rules:\n  - match: x\n    measure: loudness\n")); err == nil {
		t.Error("an unknown measure is accepted")
	}
}
