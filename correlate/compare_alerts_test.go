package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

func TestTheMorningCheckSaysWhichAlertsAreNewSinceYesterday(t *testing.T) {
	disk := diskCritical() // since 13:40 today
	// Alertmanager's alert began 30 h ago: open yesterday already
	am := sources.Event{ID: "HighErrorRate@1", Source: "am", Kind: sources.EventAlert, Start: at1340.Add(-30 * time.Hour),
		Severity: sources.SevCritical, Layer: sources.LayerApp, Node: "app-3",
		Alert: &sources.Alert{Origin: sources.OriginInternal, System: "alertmanager", Check: "HighErrorRate", State: "firing", Hard: true}}
	// Nagios' load: its event began at 13:30 (after a restart), but the
	// log says it was CRITICAL yesterday too
	load := diskCritical()
	load.ID, load.Start, load.Alert = "service/db-1/load@2", at1340.Add(-10*time.Minute),
		&sources.Alert{Origin: sources.OriginInternal, System: "nagios", Check: "load", State: "CRITICAL", Hard: true}
	snap := alertSnap([]sources.Event{disk, am, load}, nagiosOK(42), alertmanagerOK(1))
	fs := Detect(snap)
	day := 24 * time.Hour
	then := snap.Now.Add(-day)
	was := func(id, check string) sources.Event {
		ev := diskCritical()
		ev.ID, ev.Start = id, then.Add(-time.Hour)
		ev.Alert = &sources.Alert{Origin: sources.OriginInternal, System: "nagios", Check: check, State: "CRITICAL", Hard: true}
		return ev
	}
	cs := CompareAlerts(snap, fs, AlertsThen{At: then, Told: map[string]bool{"nagios": true},
		Open: []sources.Event{was("service/db-1/load@1", "load"), was("service/db-1/swap@1", "swap")}})
	got := map[string]AlertAge{}
	for _, c := range cs {
		got[c.Alert.Alert.Check] = c.Age
		if c.Age != AlertGone && findingByID(fs, c.Finding) == nil {
			t.Errorf("%s names no finding: %q", c.Alert.ID, c.Finding)
		}
	}
	want := map[string]AlertAge{"disk /var": AlertNew, "HighErrorRate": AlertOngoing, "load": AlertOngoing, "swap": AlertGone}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
	out := AlertCompareFindings(cs, day)
	if len(out) != 2 || out[0].Title != "alerts against 1d ago: 1 new, 2 open then already, 1 gone since" ||
		out[1].Title != "Nagios: swap CRITICAL on db-1 — open 1d ago, gone since" || out[1].Severity != sources.SevInfo {
		t.Fatalf("%+v", out)
	}
	// a source whose history did not reach back says nothing of what is gone
	cs = CompareAlerts(snap, fs, AlertsThen{At: then, Open: []sources.Event{was("service/db-1/swap@1", "swap")}})
	for _, c := range cs {
		if c.Age == AlertGone {
			t.Errorf("gone from an untold source: %+v", c)
		}
	}
	if w := AgeWords(AlertNew, day); !strings.Contains(w, "new since 1d ago") {
		t.Errorf("%q", w)
	}
}
