package alertmanager

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"

	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func startAlertmanager(t *testing.T) *realserver.Alertmanager {
	t.Helper()
	if r := realserver.MissingAlerting("prometheus-alertmanager"); r != "" {
		if realserver.InCI() {
			t.Fatal(r)
		}
		t.Skip(r)
	}
	am, err := realserver.StartAlertmanager(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(am.Proc.Stop)
	return am
}

func TestRealAlertmanagerFiringSilencedAndGoneAlerts(t *testing.T) {
	am := startAlertmanager(t)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if _, err := am.Post("/api/v2/alerts", fmt.Sprintf(`[
		{"labels":{"alertname":"DiskFull","instance":"db-1:9100","severity":"critical"},"annotations":{"summary":"disk /var 98%% full"},"endsAt":%q},
		{"labels":{"alertname":"BackupLate","instance":"db-2:9100","severity":"warning"},"endsAt":%q}]`, end, end)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	if _, err := am.Post("/api/v2/silences", fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"BackupLate","isRegex":false,"isEqual":true}],
		"startsAt":%q,"endsAt":%q,"createdBy":"ops","comment":"known"}`, now, end)); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, Options{URL: am.URL, Filter: []string{`alertname=~"DiskFull|BackupLate"`}})
	var evs map[string]sources.Event
	// the silence applies once Alertmanager has looked at the alert again
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := s.Poll(t.Context(), sources.Request{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		evs = sourcetest.ByCheck(b.Events)
		if evs["BackupLate"].Alert != nil && evs["BackupLate"].Alert.Downtime || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d := evs["DiskFull"]
	if d.Alert == nil || !d.Open() || d.Node != "db-1" || d.Severity != sources.SevCritical || d.Alert.State != "firing" || d.Text != "disk /var 98% full" {
		t.Fatalf("DiskFull: %+v", d)
	}
	if bl := evs["BackupLate"]; bl.Alert == nil || !bl.Alert.Downtime || bl.Alert.State != "silenced" {
		t.Fatalf("BackupLate: %+v", bl)
	}
	// resolve DiskFull: Alertmanager lists it as ended, then forgets it
	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	if _, err := am.Post("/api/v2/alerts", fmt.Sprintf(`[{"labels":{"alertname":"DiskFull","instance":"db-1:9100","severity":"critical"},"endsAt":%q}]`, past)); err != nil {
		t.Fatal(err)
	}
	b, err := s.Poll(t.Context(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if d2 := sourcetest.ByCheck(b.Events)["DiskFull"]; d2.ID != d.ID || d2.Open() {
		t.Fatalf("resolved DiskFull: %+v", d2)
	}
}

func TestRealAlertmanagersWebUIIsNotTheAPI(t *testing.T) {
	am := startAlertmanager(t)
	s := newSource(t, Options{URL: am.URL + "/#/alerts"})
	// a url with the UI's fragment still reaches the API; a wrong route
	// prefix reaches the UI's HTML
	if _, err := s.Poll(t.Context(), sources.Request{}); err != nil {
		t.Fatalf("%v", err)
	}
	s2 := newSource(t, Options{URL: am.URL + "/nope"})
	_, err := s2.Poll(t.Context(), sources.Request{})
	if err == nil || !(strings.Contains(err.Error(), "HTML page") || strings.Contains(err.Error(), "HTTP 404")) {
		t.Fatalf("err: %v", err)
	}
}
