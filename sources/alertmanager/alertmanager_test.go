package alertmanager

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

// captured is when the alerts of testdata/alerts.json started (+ a bit).
var captured = time.Date(2026, 12, 7, 15, 44, 0, 0, time.UTC)

func TestTheAlertsOfARealAlertmanager025(t *testing.T) {
	as, err := ParseAlerts(sourcetest.Testdata(t, "alerts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 5 {
		t.Fatalf("%d alerts", len(as))
	}
	by := map[string]Alert{}
	for _, a := range as {
		by[a.Labels["alertname"]] = a
	}
	d := by["DiskFull"]
	if d.Fingerprint != "0580fd5357801489" || d.State != "active" || d.Silenced || d.Inhibited || d.Annotations["summary"] != "disk /var 98% full on db-1" ||
		d.StartsAt.IsZero() || !d.EndsAt.After(d.StartsAt) {
		t.Fatalf("DiskFull: %+v", d)
	}
	if h := by["HighLoad"]; h.State != "suppressed" || !h.Inhibited || h.Silenced {
		t.Fatalf("HighLoad is inhibited: %+v", h)
	}
	if b := by["BackupLate"]; b.State != "suppressed" || !b.Silenced {
		t.Fatalf("BackupLate is silenced: %+v", b)
	}
}

// fake serves a fixed body and counts the requests.
func fake(t *testing.T, status int, ctype string, body func() []byte) (*httptest.Server, *atomic.Value) {
	t.Helper()
	var last atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last.Store(r.URL.String())
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		w.Write(body())
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func newSource(t *testing.T, o Options) *Source {
	t.Helper()
	s, err := New(sources.Env{Name: "am"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryAlertIsAnEventOnTheNodeItsLabelsName(t *testing.T) {
	body := sourcetest.Testdata(t, "alerts.json")
	srv, _ := fake(t, 200, "application/json", func() []byte { return body })
	o := Options{URL: srv.URL, External: []string{`job="blackbox"`}}
	o.Layers = map[string][]string{"db": {"db-*"}, "app": {"app-*"}}
	s := newSource(t, o)
	b := sourcetest.Poll(t, s, sources.Request{Now: captured})
	evs := sourcetest.ByCheck(b.Events)
	d := evs["DiskFull"]
	if d.Kind != sources.EventAlert || d.Node != "db-1" || d.Layer != sources.LayerDB || d.Severity != sources.SevCritical || !d.Open() ||
		d.Alert.System != "alertmanager" || d.Alert.Origin != sources.OriginInternal || d.Alert.State != "firing" || !d.Alert.Hard ||
		d.Title != "DiskFull firing on db-1" || d.Text != "disk /var 98% full on db-1\nonly 2% left on /var" || d.Labels["mountpoint"] != "/var" {
		t.Fatalf("DiskFull: %+v %+v", d, d.Alert)
	}
	if h := evs["HighLoad"]; !h.Alert.Downtime || h.Alert.State != "inhibited" || h.Layer != sources.LayerApp || h.Severity != sources.SevWarning {
		t.Fatalf("HighLoad: %+v %+v", h, h.Alert)
	}
	if bl := evs["BackupLate"]; !bl.Alert.Downtime || bl.Alert.State != "silenced" {
		t.Fatalf("BackupLate: %+v", bl.Alert)
	}
	// the blackbox probe looks from outside: the config says so by label
	if p := evs["ProbeFailed"]; p.Alert.Origin != sources.OriginExternal || p.Node != "www.example.net" {
		t.Fatalf("ProbeFailed: %+v %+v", p, p.Alert)
	}
	// the blackbox probe is not internal alerting: four alerts watched from inside
	if w := b.Status.Watched; w == nil || w.System != "Alertmanager" || w.Alerts != 4 || w.Origin != sources.OriginInternal {
		t.Fatalf("watched %+v", w)
	}
	if b.Status.Detail != "5 alerts: 3 firing, 2 silenced or inhibited" {
		t.Fatalf("detail %q", b.Status.Detail)
	}
}

func TestAnAlertNoLongerListedHasResolved(t *testing.T) {
	var body atomic.Value
	body.Store(sourcetest.Testdata(t, "alerts.json"))
	srv, _ := fake(t, 200, "application/json", func() []byte { return body.Load().([]byte) })
	s := newSource(t, Options{URL: srv.URL})
	first := sourcetest.ByCheck(sourcetest.Poll(t, s, sources.Request{Now: captured}).Events)["DiskFull"]
	body.Store(sourcetest.Testdata(t, "alerts-filter-job-node.json")) // DiskFull, HighLoad, NodeDown only
	later := captured.Add(time.Minute)
	b := sourcetest.Poll(t, s, sources.Request{Now: later})
	if len(b.Events) != 5 {
		t.Fatalf("%d events", len(b.Events))
	}
	evs := sourcetest.ByCheck(b.Events)
	if d := evs["DiskFull"]; d.ID != first.ID || !d.Open() {
		t.Fatalf("DiskFull goes on: %+v", d)
	}
	gone := evs["BackupLate"]
	if gone.Open() || !gone.End.Equal(later) || !strings.Contains(gone.Text, "no longer listed by Alertmanager") {
		t.Fatalf("BackupLate: %+v", gone)
	}
}

func TestAnAlertPastItsEndIsClosedAtItsEnd(t *testing.T) {
	body := sourcetest.Testdata(t, "alerts.json")
	srv, _ := fake(t, 200, "application/json", func() []byte { return body })
	s := newSource(t, Options{URL: srv.URL})
	as, _ := ParseAlerts(body)
	end := as[0].EndsAt
	evs := sourcetest.Poll(t, s, sources.Request{Now: end.Add(time.Second)}).Events
	for _, ev := range evs {
		if ev.Open() || !ev.End.Equal(end) {
			t.Fatalf("%+v", ev)
		}
	}
}

func TestAnHTMLAnswerIsAClearError(t *testing.T) {
	body := sourcetest.Testdata(t, "ui.html")
	srv, _ := fake(t, 200, "text/html; charset=utf-8", func() []byte { return body })
	s := newSource(t, Options{URL: srv.URL})
	_, err := s.Poll(t.Context(), sources.Request{})
	if err == nil || !strings.Contains(err.Error(), "an HTML page, not the API's JSON") || !strings.Contains(err.Error(), "is url the Alertmanager itself") {
		t.Fatalf("err: %v", err)
	}
}

func TestTheOldAPIAndErrorsSayWhatCame(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   []byte
		want   string
	}{
		{"v1", 200, sourcetest.Testdata(t, "v1-alerts.json"), "API v1 answer"},
		{"bad filter", 400, []byte(`"bad matcher format: {bad"`), `HTTP 400: "bad matcher format: {bad"`},
		{"auth", 401, []byte("Unauthorized\n"), "set username/password"},
		{"route prefix", 404, []byte("404 page not found\n"), "route prefix"},
		{"object", 200, []byte(`{"alerts":[]}`), "not a JSON list of alerts"},
	} {
		srv, _ := fake(t, c.status, "application/json", func() []byte { return c.body })
		s := newSource(t, Options{URL: srv.URL})
		_, err := s.Poll(t.Context(), sources.Request{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestFiltersGoToTheAPI(t *testing.T) {
	srv, last := fake(t, 200, "application/json", func() []byte { return []byte("[]") })
	s := newSource(t, Options{URL: srv.URL + "/am/", Filter: []string{`env="prod"`, `severity=~critical|page`}})
	sourcetest.Poll(t, s, sources.Request{Now: captured})
	u := last.Load().(string)
	if !strings.HasPrefix(u, "/am/api/v2/alerts?") || !strings.Contains(u, "filter=env%3D%22prod%22") || !strings.Contains(u, "filter=severity%3D~%22critical%7Cpage%22") ||
		!strings.Contains(u, "silenced=true") || !strings.Contains(u, "inhibited=true") {
		t.Fatalf("asked %s", u)
	}
}

func TestBadOptionsAreConfigErrors(t *testing.T) {
	for _, o := range []Options{
		{},
		{URL: "ftp://x"},
		{URL: "http://am:9093", Filter: []string{"no operator"}},
		{URL: "http://am:9093", External: []string{`job=~"("`}},
		{URL: "http://am:9093", MaxResponseMB: -1},
	} {
		if _, err := New(sources.Env{}, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestHostileLabelsAreCleaned(t *testing.T) {
	body := []byte(`[{"fingerprint":"f\u001b[2J","labels":{"alertname":"Disk\u001b]0;owned\u0007Full","instance":"db-1\u001b[31m:9100","x\u009b1m":"v\u001bPq"},
	"annotations":{"summary":"red \u001b[31malert\u001b[0m","description":"line one\nline \u001b[1mtwo"},"startsAt":"2026-12-07T15:43:13Z","endsAt":"2026-12-07T16:43:13Z","status":{"state":"active"}}]`)
	srv, _ := fake(t, 200, "application/json", func() []byte { return body })
	s := newSource(t, Options{URL: srv.URL})
	ev := sourcetest.Poll(t, s, sources.Request{Now: captured}).Events[0]
	for _, str := range []string{ev.ID, ev.Title, ev.Text, ev.Node, ev.Alert.Check} {
		if strings.ContainsAny(str, "\x1b\x07\u009b") {
			t.Fatalf("escape left in %q", str)
		}
	}
	for k, v := range ev.Labels {
		if strings.ContainsAny(k+v, "\x1b\x07\u009b") {
			t.Fatalf("escape left in label %q=%q", k, v)
		}
	}
	if ev.Alert.Check != "DiskFull" || ev.Node != "db-1" || ev.Text != "red alert\nline one\nline two" {
		t.Fatalf("%q %q %q", ev.Alert.Check, ev.Node, ev.Text)
	}
}

func TestMatchers(t *testing.T) {
	labels := map[string]string{"job": "blackbox", "severity": "critical"}
	for _, c := range []struct {
		m    string
		want bool
	}{
		{`job="blackbox"`, true}, {`job=blackbox`, true}, {`job!="blackbox"`, false}, {`job=~"black.*"`, true},
		{`job=~"black"`, false}, {`job!~"node|api"`, true}, {`env=""`, true}, {`env!=""`, false},
	} {
		m, err := ParseMatcher(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Matches(labels); got != c.want {
			t.Errorf("%s: %v", c.m, got)
		}
	}
}

// Alertmanager starts an alert posted with endsAt and no startsAt at its
// endsAt, in the future: it is shown from when it was first seen, under
// one ID, so that it is on the timeline while it fires.
func TestAnAlertStartingInTheFutureIsShownFromWhenItWasSeen(t *testing.T) {
	body := []byte(`[{"fingerprint":"516e1998aef4dcfe","labels":{"alertname":"HighErrorRate","instance":"app-3:9100","severity":"critical"},
		"startsAt":"2026-12-07T16:58:58Z","endsAt":"2026-12-07T16:58:58Z","status":{"state":"active"}}]`)
	srv, _ := fake(t, 200, "application/json", func() []byte { return body })
	s := newSource(t, Options{URL: srv.URL})
	t1 := time.Date(2026, 12, 7, 15, 58, 58, 0, time.UTC)
	ev1 := sourcetest.Poll(t, s, sources.Request{Now: t1}).Events[0]
	ev2 := sourcetest.Poll(t, s, sources.Request{Now: t1.Add(10 * time.Second)}).Events[0]
	if !ev1.Start.Equal(t1) || !ev1.Open() || ev2.ID != ev1.ID || !ev2.Start.Equal(t1) {
		t.Fatalf("first %+v, then %+v", ev1, ev2)
	}
}
