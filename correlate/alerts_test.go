package correlate

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

var at1340 = time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)

// alertSnap is a snapshot of events and statuses only, at 13:50.
func alertSnap(evs []sources.Event, st ...sources.Status) *Snapshot {
	return &Snapshot{Now: at1340.Add(10 * time.Minute), Events: evs, Status: st}
}

func nagiosOK(services int) sources.Status {
	return sources.Status{Source: "nagios", Type: "nagios", Health: sources.HealthOK,
		Watched: &sources.Watched{System: "Nagios", Origin: sources.OriginInternal, Hosts: 5, Services: services}}
}

func alertmanagerOK(alerts int) sources.Status {
	return sources.Status{Source: "am", Type: "alertmanager", Health: sources.HealthOK,
		Watched: &sources.Watched{System: "Alertmanager", Origin: sources.OriginInternal, Alerts: alerts}}
}

// wwwFailing is an external HTTP check failing on www since 13:45.
func wwwFailing() sources.Event {
	return sources.Event{ID: "www/GET /", Source: "checks", Kind: sources.EventAlert, Start: at1340.Add(5 * time.Minute),
		Severity: sources.SevCritical, Layer: sources.LayerEdge, Node: "www", Title: "GET https://www/ 503", Text: "HTTP 503 Service Unavailable",
		Alert: &sources.Alert{Origin: sources.OriginExternal, System: "http", Check: "GET /", State: "503", Hard: true}}
}

// diskCritical is Nagios saying disk /var is CRITICAL on db-1 since 13:40.
func diskCritical() sources.Event {
	return sources.Event{ID: "service/db-1/disk /var@1", Source: "nagios", Kind: sources.EventAlert, Start: at1340,
		Severity: sources.SevCritical, Layer: sources.LayerDB, Node: "db-1", Title: "disk /var CRITICAL on db-1", Text: "DISK CRITICAL - free space: /var 2%",
		Alert: &sources.Alert{Origin: sources.OriginInternal, System: "nagios", Check: "disk /var", State: "CRITICAL", Hard: true}}
}

func findingByID(fs []Finding, id string) *Finding {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

func TestAnExternalAlertWithNoInternalAlertIsAMonitoringGap(t *testing.T) {
	fs := Detect(alertSnap([]sources.Event{wwwFailing()}, nagiosOK(42), alertmanagerOK(17)))
	if len(fs) != 1 {
		t.Fatalf("findings: %+v", fs)
	}
	f := fs[0]
	want := "monitoring gap: GET / on www failing from outside, no internal alert fired (checked: Nagios 42 services, Alertmanager 17 alerts)"
	if f.Rule != "alert-gap" || f.Title != want || f.Severity != sources.SevCritical || f.Node != "www" {
		t.Fatalf("got %s %q (%s), want %q", f.Rule, f.Title, f.Severity, want)
	}
	if a := f.Alert(); a == nil || a.Event != "checks/www/GET /" || f.AlertCause() != nil {
		t.Fatalf("evidence: %+v", f.Evidence)
	}
	if !strings.Contains(f.Explanation, "since 13:45") || !strings.Contains(f.Explanation, "HTTP 503") {
		t.Errorf("explanation: %q", f.Explanation)
	}
}

func TestAnInternalAlertFiringWithTheExternalOneExplainsIt(t *testing.T) {
	fs := Detect(alertSnap([]sources.Event{wwwFailing(), diskCritical()}, nagiosOK(42), alertmanagerOK(17)))
	ext := findingByID(fs, "alert/checks/www/GET /")
	in := findingByID(fs, "alert/nagios/service/db-1/disk /var@1")
	if ext == nil || in == nil || findFinding(fs, "alert-gap") != nil {
		t.Fatalf("findings: %+v", fs)
	}
	if ext.Rule != "alert" || ext.Title != "HTTP check: GET / 503 on www (from outside)" || ext.AlertCause() == nil || ext.AlertCause().Event != "nagios/service/db-1/disk /var@1" {
		t.Fatalf("external: %+v", ext)
	}
	if in.Title != "Nagios: disk /var CRITICAL on db-1" || in.Severity != sources.SevCritical || in.Layer != sources.LayerDB {
		t.Fatalf("internal: %+v", in)
	}
	incs := Incidents(fs)
	if len(incs) != 1 {
		t.Fatalf("one incident, got %+v", incs)
	}
	inc := incs[0]
	want := "HTTP check: GET / 503 on www (from outside) ← Nagios: disk /var CRITICAL on db-1 since 13:40"
	if inc.Headline != want || inc.Cause != CauseAlert || !inc.Explained || inc.Why != "Nagios: disk /var CRITICAL on db-1 since 13:40" {
		t.Fatalf("headline %q (cause %s, why %q), want %q", inc.Headline, inc.Cause, inc.Why, want)
	}
	// a narrow screen shortens what broke and keeps the cause
	if got := inc.HeadlineWith("HTTP check…"); got != "HTTP check… ← Nagios: disk /var CRITICAL on db-1 since 13:40" {
		t.Errorf("shortened: %q", got)
	}
}

func TestWithoutInternalAlertingAnExternalAlertIsNoGap(t *testing.T) {
	fs := Detect(alertSnap([]sources.Event{wwwFailing()}))
	if len(fs) != 1 || fs[0].Rule != "alert" || fs[0].Title != "HTTP check: GET / 503 on www (from outside)" {
		t.Fatalf("with nothing internal to ask, silence is no gap: %+v", fs)
	}
}

func TestAFailingInternalSourceIsNotCountedAsChecked(t *testing.T) {
	broken := nagiosOK(42)
	broken.Health = sources.HealthFailing
	fs := Detect(alertSnap([]sources.Event{wwwFailing()}, broken, alertmanagerOK(17)))
	f := findFinding(fs, "alert-gap")
	if f == nil || !strings.HasSuffix(f.Title, "(checked: Alertmanager 17 alerts)") || !strings.Contains(f.Explanation, "Could not check nagios (failing)") {
		t.Fatalf("%+v", fs)
	}
	// with every internal source failing nothing was checked: no gap claimed
	am := alertmanagerOK(17)
	am.Health = sources.HealthFailing
	fs = Detect(alertSnap([]sources.Event{wwwFailing()}, broken, am))
	if findFinding(fs, "alert-gap") != nil {
		t.Fatalf("a gap claimed with no internal source answering: %+v", fs)
	}
}

func TestAnInternalAlertThatEndedLongBeforeIsNoExplanation(t *testing.T) {
	old := diskCritical()
	old.Start, old.End = at1340.Add(-time.Hour), at1340.Add(-30*time.Minute)
	fs := Detect(alertSnap([]sources.Event{wwwFailing(), old}, nagiosOK(42)))
	if findFinding(fs, "alert-gap") == nil {
		t.Fatalf("an alert over 35 min before is not one that fired with it: %+v", fs)
	}
	// one that ended 5 min before the external one began still counts
	old.Start, old.End = at1340, at1340.Add(time.Minute)
	fs = Detect(alertSnap([]sources.Event{wwwFailing(), old}, nagiosOK(42)))
	if f := findingByID(fs, "alert/checks/www/GET /"); f == nil || f.AlertCause() == nil {
		t.Fatalf("%+v", fs)
	}
}

func TestTheAlertOnWhatTheExternalNodeDependsOnExplainsIt(t *testing.T) {
	other := diskCritical()
	other.ID, other.Node, other.Alert = "service/mail-1/queue@1", "mail-1", &sources.Alert{Origin: sources.OriginInternal, System: "nagios", Check: "mail queue", State: "CRITICAL", Hard: true}
	other.Layer = sources.LayerProvider // deeper, and the same severity: without dependencies it would win
	snap := alertSnap([]sources.Event{wwwFailing(), other, diskCritical()}, nagiosOK(42))
	if c := findingByID(Detect(snap), "alert/checks/www/GET /").AlertCause(); c.Node != "mail-1" {
		t.Fatalf("without dependencies the deepest: %+v", c)
	}
	snap.Deps = []sources.Dependency{{From: "www", To: "app"}, {From: "app", To: "db-1"}}
	if c := findingByID(Detect(snap), "alert/checks/www/GET /").AlertCause(); c.Node != "db-1" {
		t.Fatalf("with www → app → db-1, db-1's alert: %+v", c)
	}
}

// TestWhatANagiosUserCounts: unacknowledged HARD problems and flapping
// checks count; acknowledged ones, downtime, silenced and SOFT states are
// shown at info; recovered ones are gone.
func TestWhatANagiosUserCounts(t *testing.T) {
	mk := func(id string, sev sources.Severity, a sources.Alert) sources.Event {
		ev := diskCritical()
		ev.ID, ev.Severity = id, sev
		a.Origin, a.System, a.Check = sources.OriginInternal, "nagios", id
		ev.Alert = &a
		return ev
	}
	closed := mk("recovered", sources.SevCritical, sources.Alert{State: "CRITICAL", Hard: true})
	closed.End = at1340.Add(time.Minute)
	snap := alertSnap([]sources.Event{
		mk("hard", sources.SevCritical, sources.Alert{State: "CRITICAL", Hard: true}),
		mk("warn", sources.SevWarning, sources.Alert{State: "WARNING", Hard: true}),
		mk("acked", sources.SevCritical, sources.Alert{State: "CRITICAL", Hard: true, Acknowledged: true}),
		mk("downtime", sources.SevCritical, sources.Alert{State: "CRITICAL", Hard: true, Downtime: true}),
		mk("soft", sources.SevCritical, sources.Alert{State: "CRITICAL"}),
		mk("flapping", sources.SevWarning, sources.Alert{State: "OK", Hard: true, Flapping: true}),
		mk("acked-flapping", sources.SevWarning, sources.Alert{State: "OK", Hard: true, Flapping: true, Acknowledged: true}),
		closed,
	}, nagiosOK(42))
	want := map[string]struct {
		sev   sources.Severity
		title string
	}{
		"hard":           {sources.SevCritical, "Nagios: hard CRITICAL on db-1"},
		"warn":           {sources.SevWarning, "Nagios: warn WARNING on db-1"},
		"acked":          {sources.SevInfo, "Nagios: acked CRITICAL on db-1 (acknowledged)"},
		"downtime":       {sources.SevInfo, "Nagios: downtime CRITICAL on db-1 (in downtime)"},
		"soft":           {sources.SevInfo, "Nagios: soft CRITICAL on db-1 (SOFT, may still clear)"},
		"flapping":       {sources.SevWarning, "Nagios: flapping OK on db-1, flapping"},
		"acked-flapping": {sources.SevInfo, "Nagios: acked-flapping OK on db-1, flapping (acknowledged)"},
	}
	fs := Detect(snap)
	if len(fs) != len(want) {
		t.Fatalf("%d findings, want %d: %+v", len(fs), len(want), fs)
	}
	for id, w := range want {
		f := findingByID(fs, "alert/nagios/"+id)
		if f == nil || f.Severity != w.sev || f.Title != w.title || f.Rule != "alert" {
			t.Errorf("%s: %+v, want %s %q", id, f, w.sev, w.title)
		}
	}
}

func TestAnAlertIsJudgedByTheAlertRulesNotAsAPlainEvent(t *testing.T) {
	fs := Detect(alertSnap([]sources.Event{diskCritical()}))
	if len(fs) != 1 || fs[0].Rule != "alert" {
		t.Fatalf("the alert once, by its rule: %+v", fs)
	}
	// an event of kind alert without an Alert (HAProxy's backend with no
	// server UP) stays a plain event finding
	ev := diskCritical()
	ev.Alert = nil
	if fs := Detect(alertSnap([]sources.Event{ev})); len(fs) != 1 || fs[0].Rule != "event" {
		t.Fatalf("%+v", fs)
	}
}

// meltingWithNagios is field story 2 with Nagios watching: the 5xx of
// backend app are an external symptom.
func meltingWithNagios(evs ...sources.Event) *Snapshot {
	snap := meltingVolume(rand.New(rand.NewPCG(1, 2)), true)
	snap.Status = []sources.Status{nagiosOK(42)}
	for i := range evs {
		evs[i].Start = snap.Time(430)
	}
	snap.Events = evs
	return snap
}

func TestAnExternalSymptomWithNoInternalAlertIsAGapInItsIncident(t *testing.T) {
	fs := Detect(meltingWithNagios())
	gap := findFinding(fs, "alert-gap")
	sus := findFinding(fs, "suspects")
	if gap == nil || sus == nil {
		t.Fatalf("%+v", fs)
	}
	if gap.Title != "monitoring gap: app hrsp_5xx failing from outside, no internal alert fired (checked: Nagios 42 services)" || gap.Severity != sources.SevWarning {
		t.Fatalf("gap: %q %s", gap.Title, gap.Severity)
	}
	incs := Incidents(fs)
	if len(incs) != 1 || len(incs[0].Findings) != len(fs) {
		t.Fatalf("the gap belongs to the symptom's incident: %+v", incs)
	}
}

func TestAnInternalAlertFiringWithAnExternalSymptomIsNamedByItsIncident(t *testing.T) {
	disk := diskCritical()
	fs := Detect(meltingWithNagios(disk))
	if findFinding(fs, "alert-gap") != nil {
		t.Fatalf("no gap: Nagios fired: %+v", fs)
	}
	sus := findFinding(fs, "suspects")
	if sus == nil || sus.AlertCause() == nil || !strings.Contains(sus.Explanation, "Nagios: disk /var CRITICAL on db-1 fired with it") {
		t.Fatalf("suspects: %+v", sus)
	}
	// the series it blames is still its top suspect
	if s := sus.TopSuspect(); s == nil || s.Node != "db-1" {
		t.Fatalf("top suspect: %+v", s)
	}
	incs := Incidents(fs)
	if len(incs) != 1 {
		t.Fatalf("one incident: %+v", incs)
	}
	since := clock(findingByID(fs, "alert/nagios/"+disk.ID).Alert().From)
	if h := incs[0].Headline; !strings.HasPrefix(h, "app hrsp_5xx rose") || !strings.HasSuffix(h, " ← Nagios: disk /var CRITICAL on db-1 since "+since) {
		t.Fatalf("headline %q", h)
	}
	if strings.Contains(incs[0].Broke, "Nagios") {
		t.Fatalf("the cause is not among what broke: %q", incs[0].Broke)
	}
}

func TestTheEngineOpensTheGapAndResolvesItWhenAnInternalAlertFires(t *testing.T) {
	e := NewEngine(EngineOptions{ResolveAfter: time.Second})
	snap := alertSnap([]sources.Event{wwwFailing()}, nagiosOK(42))
	_, ch := e.Evaluate(snap)
	if len(ch) != 1 || ch[0].Kind != ChangeOpened || ch[0].Finding.Rule != "alert-gap" {
		t.Fatalf("%+v", ch)
	}
	snap2 := alertSnap([]sources.Event{wwwFailing(), diskCritical()}, nagiosOK(42))
	snap2.Now = snap.Now.Add(time.Minute)
	active, ch := e.Evaluate(snap2)
	var kinds []string
	for _, c := range ch {
		kinds = append(kinds, string(c.Kind)+" "+c.Finding.Rule)
	}
	// the external alert's finding says now what explains it: the same
	// finding, updated; Nagios' problem opens beside it
	if strings.Join(kinds, ", ") != "updated alert, opened alert" || len(active) != 2 {
		t.Fatalf("changes: %v, active %d", kinds, len(active))
	}
}

// appNoServerUp is HAProxy's backend app with none of its 4 servers UP
// since 13:45: every request to it gets a 503.
func appNoServerUp() sources.NodeState {
	lb := sources.NewLBNode("app")
	lb.Total, lb.Down = 4, 4
	return sources.NodeState{Source: "lb-1", Kind: sources.NodeBackend, ID: "lb-1/app", Name: "app", Layer: sources.LayerLB,
		State: "DOWN", Class: sources.ClassDown, Severity: sources.SevCritical, Since: at1340.Add(5 * time.Minute), LB: lb}
}

func TestABackendWithNoServerUpAndNoInternalAlertIsAMonitoringGap(t *testing.T) {
	snap := alertSnap(nil, nagiosOK(42))
	snap.Nodes = []sources.NodeState{appNoServerUp()}
	fs := Detect(snap)
	gap := findFinding(fs, "alert-gap")
	if gap == nil || findFinding(fs, "node-state") == nil {
		t.Fatalf("%+v", fs)
	}
	want := "monitoring gap: backend app failing from outside, no internal alert fired (checked: Nagios 42 services)"
	if gap.Title != want || gap.Severity != sources.SevWarning || gap.Node != "app" || gap.Layer != sources.LayerLB {
		t.Fatalf("gap: %q %s, want %q", gap.Title, gap.Severity, want)
	}
	if !strings.Contains(gap.Explanation, "backend app has no server UP (Active: 0/4) since 13:45") {
		t.Errorf("explanation: %q", gap.Explanation)
	}
	if incs := Incidents(fs); len(incs) != 1 {
		t.Fatalf("the gap belongs to the backend's incident: %+v", incs)
	}
	// a server DOWN with others still serving is not failing from outside
	server := appNoServerUp()
	server.Kind, server.ID, server.Name, server.LB = sources.NodeServer, "lb-1/app/app-1", "app-1", nil
	snap.Nodes = []sources.NodeState{server}
	if fs := Detect(snap); findFinding(fs, "alert-gap") != nil {
		t.Fatalf("a server DOWN is no external symptom: %+v", fs)
	}
}

func TestAnInternalAlertFiringWithABackendWithNoServerUpNamesIt(t *testing.T) {
	snap := alertSnap([]sources.Event{diskCritical()}, nagiosOK(42))
	snap.Nodes = []sources.NodeState{appNoServerUp()}
	fs := Detect(snap)
	if findFinding(fs, "alert-gap") != nil {
		t.Fatalf("no gap: Nagios fired: %+v", fs)
	}
	node := findFinding(fs, "node-state")
	if node == nil || node.AlertCause() == nil || !strings.Contains(node.Explanation, "Nagios: disk /var CRITICAL on db-1 fired with it") {
		t.Fatalf("node: %+v", node)
	}
	incs := Incidents(fs)
	if len(incs) != 1 || incs[0].Headline != "backend app has no server UP (Active: 0/4) ← Nagios: disk /var CRITICAL on db-1 since 13:40" {
		t.Fatalf("one incident named by the alert: %+v", incs)
	}
}

// A backend answering 5xx and with no server UP is one thing failing
// from outside: one gap, not two.
func TestTheBackendsNoServerUpAndIts5xxAreOneGap(t *testing.T) {
	snap := meltingWithNagios()
	n := appNoServerUp()
	n.Since = snap.Time(430)
	snap.Nodes = []sources.NodeState{n}
	var gaps int
	for _, f := range Detect(snap) {
		if f.Rule == "alert-gap" {
			gaps++
		}
	}
	if gaps != 1 {
		t.Fatalf("%d gaps, want 1", gaps)
	}
}

// Munin's thresholds are internal alerting too: the gap says what it
// checked in their word.
func TestAGapSaysMuninsThresholdsInTheirWord(t *testing.T) {
	munin := sources.Status{Source: "munin", Type: "munin", Health: sources.HealthOK,
		Watched: &sources.Watched{System: "Munin", Origin: sources.OriginInternal, Hosts: 2, Services: 12, Checks: "threshold"}}
	f := findFinding(Detect(alertSnap([]sources.Event{wwwFailing()}, nagiosOK(42), munin)), "alert-gap")
	if f == nil || !strings.HasSuffix(f.Title, "(checked: Nagios 42 services, Munin 12 thresholds)") {
		t.Fatalf("%+v", f)
	}
}
