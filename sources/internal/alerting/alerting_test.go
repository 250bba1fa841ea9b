package alerting

import (
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

func TestHostsTakeTheLayerOfTheFirstGlobThatNamesThem(t *testing.T) {
	st, err := Options{Layers: map[string][]string{"db": {"db-*", "mysql*"}, "app": {"app-*"}}}.Settings(sources.LayerHost)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]sources.Layer{"db-1": sources.LayerDB, "mysql-a": sources.LayerDB, "app-3": sources.LayerApp, "lb-1": sources.LayerHost} {
		if got := st.LayerOf(host); got != want {
			t.Errorf("%s: %s, want %s", host, got, want)
		}
	}
	for _, bad := range []Options{{Origin: "sideways"}, {Layer: "cellar"}, {Layers: map[string][]string{"db": {"[x"}}}} {
		if _, err := bad.Settings(sources.LayerHost); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestAProblemKeepsOneEventUntilItRecovers(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)
	var p Problems
	r := &Reading{Check: Check{System: "nagios", Host: "db-1", Service: "disk /var", State: "WARNING", Severity: sources.SevWarning},
		Changed: t0, Trouble: true}
	ev := p.Follow(r, t0, nil)[0]
	if ev.ID != "service/db-1/disk /var@1795441200" || !ev.Start.Equal(t0) || !ev.Open() || ev.Title != "disk /var WARNING on db-1 (SOFT)" {
		t.Fatalf("%+v", ev)
	}
	r.State, r.Severity, r.Hard, r.Changed = "CRITICAL", sources.SevCritical, true, t0.Add(time.Minute)
	ev2 := p.Follow(r, t0.Add(2*time.Minute), nil)[0]
	if ev2.ID != ev.ID || !ev2.Start.Equal(t0) || ev2.Title != "disk /var CRITICAL on db-1" {
		t.Fatalf("%+v", ev2)
	}
	r.State, r.Severity, r.Trouble, r.Changed = "OK", sources.SevOK, false, t0.Add(5*time.Minute)
	ev3 := p.Follow(r, t0.Add(6*time.Minute), nil)[0]
	if ev3.ID != ev.ID || ev3.Open() || !ev3.End.Equal(t0.Add(5*time.Minute)) || ev3.Alert.State != "CRITICAL" {
		t.Fatalf("%+v", ev3)
	}
	if p.Followed(Key{"db-1", "disk /var"}) || len(p.Follow(r, t0.Add(7*time.Minute), nil)) != 0 {
		t.Fatal("still followed after the recovery")
	}
}
