package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
)

// alertLab is a real Nagios and a real Alertmanager from Debian's
// packages, on loopback and in temp dirs.
type alertLab struct {
	nagios *realserver.Nagios
	am     *realserver.Alertmanager
}

// The lab of the "done when": Nagios with one CRITICAL service
// (disk /var on db-1) and two OK ones, Alertmanager with one firing alert
// (HighErrorRate on app-3).
var (
	diskCritical = []realserver.NagiosService{
		{Host: "db-1", Name: "disk /var", Command: `$USER1$/check_dummy 2 "DISK CRITICAL - free space: /var 2%"`},
		{Host: "db-1", Name: "load", Command: `$USER1$/check_dummy 0 "LOAD OK"`},
		{Host: "app-3", Name: "http", Command: `$USER1$/check_dummy 0 "HTTP OK"`},
	}
	allOK = []realserver.NagiosService{
		{Host: "db-1", Name: "disk /var", Command: `$USER1$/check_dummy 0 "DISK OK"`},
		{Host: "db-1", Name: "load", Command: `$USER1$/check_dummy 0 "LOAD OK"`},
		{Host: "app-3", Name: "http", Command: `$USER1$/check_dummy 0 "HTTP OK"`},
	}
	highErrorRate = `{"labels":{"alertname":"HighErrorRate","instance":"app-3:9100","job":"app","severity":"critical"},
		"annotations":{"summary":"5xx above 5%% on app-3"},"endsAt":%[1]q}`
	// a blackbox probe of the shop, from outside; the config says so by label
	probeFailed = `{"labels":{"alertname":"ProbeFailed","instance":"https://shop.example.net/","job":"blackbox","severity":"critical"},
		"annotations":{"summary":"HTTP 503 from outside"},"startsAt":%[2]q,"endsAt":%[1]q}`
)

func startAlertLab(t *testing.T, svcs []realserver.NagiosService, alerts ...string) *alertLab {
	t.Helper()
	return startAlertLabWithLog(t, svcs, "", alerts...)
}

// startAlertLabWithLog is startAlertLab with nagios.log holding history
// before Nagios starts and appends to it.
func startAlertLabWithLog(t *testing.T, svcs []realserver.NagiosService, history string, alerts ...string) *alertLab {
	t.Helper()
	if why := realserver.MissingAlerting("nagios4", realserver.PluginDir+"/check_dummy", "prometheus-alertmanager"); why != "" {
		if realserver.InCI() {
			t.Fatalf("under CI=true: %s", why)
		}
		t.Skip(why)
	}
	dir := t.TempDir()
	if history != "" {
		if err := os.WriteFile(filepath.Join(dir, "nagios.log"), []byte(history), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := realserver.StartNagios(dir, svcs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Proc.Stop)
	am, err := realserver.StartAlertmanager(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(am.Proc.Stop)
	if err := n.WaitChecked(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	start := time.Now().UTC().Format(time.RFC3339)
	var list []string
	for _, a := range alerts {
		list = append(list, fmt.Sprintf(a, end, start))
	}
	if len(list) > 0 {
		if _, err := am.Post("/api/v2/alerts", "["+strings.Join(list, ",")+"]"); err != nil {
			t.Fatal(err)
		}
	}
	return &alertLab{nagios: n, am: am}
}

func (l *alertLab) config() string {
	return fmt.Sprintf(`sources:
  - name: nagios
    type: nagios
    interval: 2s
    status_file: %s
    log_file: %s
    layers: {db: ["db-*"], app: ["app-*"]}
  - name: alertmanager
    type: alertmanager
    interval: 2s
    url: %s
    layers: {app: ["app-*"]}
    external: ['job="blackbox"']
    node_labels: [instance]
`, l.nagios.StatusFile, l.nagios.LogFile, l.am.URL)
}

// The "done when", for Nagios and Alertmanager: against the real
// servers, check --format json says each source is ok and has findings
// naming the CRITICAL service and the firing alert, and exits CRITICAL.
func TestCheckNamesTheCriticalServiceAndTheFiringAlertOfRealServers(t *testing.T) {
	lab := startAlertLab(t, diskCritical, highErrorRate)
	cfg := writeConfig(t, lab.config())
	code, out, errOut := run(t, "check", "--config", cfg, "--format", "json", "--sample", "1s")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, out, errOut)
	}
	t.Logf("check --format json:\n%s", out)
	if code != ExitCritical || rep.Status != "critical" {
		t.Errorf("exit %d, status %s: a HARD CRITICAL service and a critical alert make a CRITICAL check", code, rep.Status)
	}
	if len(rep.Sources) != 2 {
		t.Fatalf("sources: %+v", rep.Sources)
	}
	for _, s := range rep.Sources {
		if s.Status != "ok" {
			t.Errorf("source %s: %s %s", s.Name, s.Status, s.Error)
		}
	}
	titles := map[string]CheckFinding{}
	for _, f := range rep.Findings {
		titles[f.Title] = f
	}
	disk, ok := titles["Nagios: disk /var CRITICAL on db-1"]
	if !ok || disk.Severity != "critical" || disk.Rule != "alert" || disk.Node != "db-1" || disk.Layer != "db" ||
		!strings.Contains(disk.Detail, "DISK CRITICAL - free space: /var 2%") {
		t.Errorf("no finding names the CRITICAL service: %+v", rep.Findings)
	}
	alert, ok := titles["Alertmanager: HighErrorRate firing on app-3"]
	if !ok || alert.Severity != "critical" || alert.Node != "app-3" || alert.Layer != "app" || !strings.Contains(alert.Detail, "5xx above 5% on app-3") {
		t.Errorf("no finding names the firing alert: %+v", rep.Findings)
	}
	if len(rep.Findings) != 2 {
		t.Errorf("OK services and the other hosts are no findings: %+v", rep.Findings)
	}
}

// The text report is the Nagios-style one: the status line, then a line
// per source, then the problems.
func TestCheckTextListsTheProblemsOfRealServers(t *testing.T) {
	lab := startAlertLab(t, diskCritical, highErrorRate)
	cfg := writeConfig(t, lab.config())
	code, out, _ := run(t, "check", "--config", cfg, "--sample", "0")
	if code != ExitCritical || !strings.HasPrefix(out, "CRITICAL - ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"OK       nagios (nagios)", "2 hosts, 3 services, 1 problem", "OK       alertmanager (alertmanager)",
		"CRITICAL Nagios: disk /var CRITICAL on db-1", "CRITICAL Alertmanager: HighErrorRate firing on app-3"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// Only the outside fails: the blackbox probe's alert fires and nothing
// internal does. The finding is the monitoring gap, and it says what it
// checked.
func TestCheckSaysAMonitoringGapWhenOnlyTheOutsideFails(t *testing.T) {
	lab := startAlertLab(t, allOK, probeFailed)
	cfg := writeConfig(t, lab.config())
	code, out, errOut := run(t, "check", "--config", cfg, "--format", "json", "--sample", "0")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, out, errOut)
	}
	if code != ExitCritical || len(rep.Findings) != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	f := rep.Findings[0]
	want := "monitoring gap: ProbeFailed on shop.example.net failing from outside, no internal alert fired (checked: Nagios 3 services, Alertmanager 0 alerts)"
	if f.Rule != "alert-gap" || f.Title != want || f.Severity != "critical" {
		t.Fatalf("finding %+v\nwant %q", f, want)
	}
}

// The outside fails and Nagios has the problem behind it: one incident,
// whose headline names the Nagios problem.
func TestCheckHeadlinesTheExternalAlertWithTheNagiosProblemBehindIt(t *testing.T) {
	lab := startAlertLab(t, diskCritical, probeFailed)
	cfg := writeConfig(t, lab.config())
	code, out, _ := run(t, "check", "--config", cfg, "--format", "json", "--sample", "0")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitCritical {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(rep.Incidents) != 1 {
		t.Fatalf("one incident:\n%s", out)
	}
	inc := rep.Incidents[0]
	if !strings.HasPrefix(inc.Headline, "Alertmanager: ProbeFailed firing on shop.example.net (from outside) ← Nagios: disk /var CRITICAL on db-1 since ") ||
		inc.Cause != "alert" || !inc.Explained || len(inc.Findings) != 2 {
		t.Fatalf("incident %+v", inc)
	}
	for _, f := range rep.Findings {
		if f.Rule == "alert-gap" {
			t.Fatalf("no gap: Nagios fired\n%s", out)
		}
	}
}

// shop503 is the shop as the outside sees it: a real HTTP server on
// loopback answering 503.
func shop503(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// withHTTPCheck is the lab's config with our own external check of url.
func (l *alertLab) withHTTPCheck(url string) string {
	return l.config() + fmt.Sprintf(`  - name: shop
    type: http
    interval: 2s
    timeout: 2s
    targets:
      - {url: %q, expect_status: 200, node: shop}
`, url)
}

// The "done when", whole: Nagios, Alertmanager and our own HTTP
// check against real servers; one CRITICAL service, one firing alert and a
// URL answering 503 give a check with each source ok and findings naming
// the service, the alert and the failing URL.
func TestCheckNamesTheServiceTheAlertAndTheFailingURL(t *testing.T) {
	lab := startAlertLab(t, diskCritical, highErrorRate)
	url := shop503(t)
	code, out, errOut := run(t, "check", "--config", writeConfig(t, lab.withHTTPCheck(url)), "--format", "json", "--sample", "1s")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, out, errOut)
	}
	if code != ExitCritical || len(rep.Sources) != 3 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, s := range rep.Sources {
		if s.Status != "ok" {
			t.Errorf("source %s: %s %s", s.Name, s.Status, s.Error)
		}
	}
	var named []string
	for _, f := range rep.Findings {
		named = append(named, f.Title+" — "+f.Detail)
	}
	all := strings.Join(named, "\n")
	t.Logf("findings:\n%s", all)
	for _, want := range []string{"Nagios: disk /var CRITICAL on db-1", "Alertmanager: HighErrorRate firing on app-3", url} {
		if !strings.Contains(all, want) {
			t.Errorf("no finding names %q:\n%s", want, all)
		}
	}
}

// Only our own HTTP check fails and nothing internal fires: the finding is
// the monitoring gap.
func TestOnlyTheHTTPCheckFailingIsAMonitoringGap(t *testing.T) {
	lab := startAlertLab(t, allOK)
	url := shop503(t)
	code, out, errOut := run(t, "check", "--config", writeConfig(t, lab.withHTTPCheck(url)), "--format", "json", "--sample", "1s")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, out, errOut)
	}
	gap := false
	for _, f := range rep.Findings {
		gap = gap || (f.Rule == "alert-gap" && strings.Contains(f.Title, "monitoring gap") && strings.Contains(f.Title, "no internal alert fired"))
	}
	if code == ExitOK || !gap {
		t.Fatalf("exit %d, want the monitoring gap:\n%s", code, out)
	}
}

// A real HAProxy's backend be_api has no server UP and a real Nagios sees
// nothing wrong: the backend fails from outside with no internal alert,
// the monitoring gap.
func TestARealBackendWithNoServerUpAndNoInternalAlertIsAMonitoringGap(t *testing.T) {
	lab := startAlertLab(t, allOK)
	lb := startHAProxy(t, true)
	cfg := lab.config() + fmt.Sprintf("  - name: lb-1\n    type: haproxy\n    interval: 1s\n    timeout: 2s\n    socket: %s\n", lb.socket)
	code, out, errOut := run(t, "check", "--config", writeConfig(t, cfg), "--format", "json", "--sample", "1s")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, out, errOut)
	}
	var gap *CheckFinding
	for i, f := range rep.Findings {
		if f.Rule == "alert-gap" {
			gap = &rep.Findings[i]
		}
	}
	want := "monitoring gap: backend be_api failing from outside, no internal alert fired (checked: Nagios 3 services, Alertmanager 0 alerts)"
	if code != ExitCritical || gap == nil || gap.Title != want {
		t.Fatalf("exit %d, want the gap %q:\n%s", code, want, out)
	}
}

// The morning check against yesterday: the real Nagios' log says load
// was CRITICAL 30 h ago (it is OK now) and disk /var OK; the real
// Alertmanager's HighErrorRate began 30 h ago. disk /var is new, the
// alert was open then already, load is gone since.
func TestCheckCompareSaysWhichAlertsOfRealServersAreNewSinceYesterday(t *testing.T) {
	ago := time.Now().Add(-30 * time.Hour).Unix()
	history := fmt.Sprintf("[%d] LOG VERSION: 2.0\n[%d] CURRENT SERVICE STATE: db-1;load;CRITICAL;HARD;1;LOAD CRITICAL - load average: 31.2\n"+
		"[%d] CURRENT SERVICE STATE: db-1;disk /var;OK;HARD;1;DISK OK\n", ago, ago, ago)
	lab := startAlertLabWithLog(t, diskCritical, history)
	old := time.Now().Add(-30 * time.Hour).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if _, err := lab.am.Post("/api/v2/alerts", fmt.Sprintf(`[{"labels":{"alertname":"HighErrorRate","instance":"app-3:9100","severity":"critical"},"startsAt":%q,"endsAt":%q}]`, old, end)); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "check", "--config", writeConfig(t, lab.config()), "--format", "json", "--sample", "0", "--compare", "24h")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, out, errOut)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Title] = f.Compare
	}
	want := map[string]string{
		"Nagios: disk /var CRITICAL on db-1 — new since 1d ago":             "new",
		"Alertmanager: HighErrorRate firing on app-3 — open 1d ago already": "ongoing",
		"Nagios: load CRITICAL on db-1 — open 1d ago, gone since":           "",
		"alerts against 1d ago: 1 new, 1 open then already, 1 gone since":   "",
	}
	for title, c := range want {
		if g, ok := got[title]; !ok || g != c {
			t.Errorf("no finding %q (compare %q):\n%s", title, c, out)
		}
	}
	if code != ExitCritical {
		t.Errorf("exit %d: the comparison leaves the CRITICAL alone", code)
	}
}
