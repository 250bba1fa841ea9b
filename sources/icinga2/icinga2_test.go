package icinga2

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

func TestTheServicesOfARealIcinga2136(t *testing.T) {
	objs, err := ParseObjects(sourcetest.Testdata(t, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Object{}
	for _, o := range objs {
		by[o.Service] = o
	}
	if len(objs) != 5 {
		t.Fatalf("%d services", len(objs))
	}
	d := by["disk /var"]
	if d.Host != "db-1" || d.State != 2 || !d.Hard || !d.Checked || d.Output != "DISK CRITICAL - free space: /var 2%" || d.LastStateChange.IsZero() {
		t.Fatalf("disk: %+v", d)
	}
	if sw := by["swap"]; sw.State != 1 || !sw.Acknowledged || sw.Downtime {
		t.Fatalf("swap is acknowledged: %+v", sw)
	}
	if bk := by["backup"]; bk.State != 2 || !bk.Downtime || bk.Acknowledged {
		t.Fatalf("backup is in downtime: %+v", bk)
	}
	if n := by["ntp"]; n.State != 3 || n.MaxAttempts != 3 {
		t.Fatalf("ntp: %+v", n)
	}
}

func TestAHostDownAndNotReachableIsUnreachable(t *testing.T) {
	objs, err := ParseObjects(sourcetest.Testdata(t, "hosts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[1].Host != "app-3" || objs[1].State != 1 {
		t.Fatalf("%+v", objs)
	}
	body := strings.Replace(string(sourcetest.Testdata(t, "hosts.json")), `"last_reachable":true`, `"last_reachable":false`, -1)
	objs, _ = ParseObjects([]byte(body))
	if objs[1].State != 2 || objs[0].State != 0 {
		t.Fatalf("unreachable: %+v", objs)
	}
}

// fakeIcinga serves the captures by path.
func fakeIcinga(t *testing.T, services []byte, status int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hosts := sourcetest.Testdata(t, "hosts.json")
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "opsview" || p != "pw" {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":401,"status":"Unauthorized. Please check your user credentials."}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/v1/objects/hosts"):
			w.Write(hosts)
		case strings.HasSuffix(r.URL.Path, "/v1/objects/services"):
			w.WriteHeader(status)
			w.Write(services)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func newTest(t *testing.T, url string) *Source {
	t.Helper()
	o := Options{URL: url}
	o.Username, o.Password, o.InsecureSkipTLS = "opsview", "pw", true
	o.Layers = map[string][]string{"db": {"db-*"}}
	s, err := New(sources.Env{}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEveryProblemOfIcingaIsAnAlertEvent(t *testing.T) {
	srv, _ := fakeIcinga(t, sourcetest.Testdata(t, "services.json"), 200)
	s := newTest(t, srv.URL)
	b, err := s.Poll(t.Context(), sources.Request{Now: time.Unix(1796658380, 0)})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]sources.Event{}
	for _, ev := range b.Events {
		by[ev.Node+"/"+ev.Alert.Check] = ev
	}
	// app-3 DOWN, and four services of db-1 in trouble; load is OK
	if len(b.Events) != 5 {
		t.Fatalf("%d events: %+v", len(b.Events), by)
	}
	if h := by["app-3/"]; h.Alert.State != "DOWN" || h.Severity != sources.SevCritical || h.Title != "app-3 DOWN" || h.Layer != sources.LayerHost {
		t.Fatalf("app-3: %+v", h)
	}
	d := by["db-1/disk /var"]
	if d.Layer != sources.LayerDB || d.Alert.System != "icinga2" || !d.Alert.Hard || d.Severity != sources.SevCritical || !d.Open() {
		t.Fatalf("disk: %+v %+v", d, d.Alert)
	}
	if !by["db-1/swap"].Alert.Acknowledged || !by["db-1/backup"].Alert.Downtime || by["db-1/ntp"].Severity != sources.SevWarning {
		t.Fatal("acknowledged, downtime or UNKNOWN lost")
	}
	if w := b.Status.Watched; w.Hosts != 2 || w.Services != 5 || w.System != "Icinga 2" {
		t.Fatalf("watched %+v", w)
	}
}

func TestNoServicesIsAnEmptyListNotAFailure(t *testing.T) {
	srv, _ := fakeIcinga(t, []byte(`{"error":404,"status":"No objects found."}`), 404)
	b, err := newTest(t, srv.URL).Poll(t.Context(), sources.Request{})
	if err != nil || b.Status.Watched.Services != 0 || b.Status.Watched.Hosts != 2 {
		t.Fatalf("%v %+v", err, b)
	}
}

func TestIcingaErrorsSayWhatToDo(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"forbidden", 403, `{"error":403,"status":"No permission to access object."}`, "give the ApiUser permissions"},
		{"html", 200, "<!DOCTYPE html><html><head><title>Icinga Web 2</title>", "not Icinga Web"},
		{"server", 500, `{"error":500,"status":"oops"}`, "Icinga said 500: oops"},
	} {
		srv, _ := fakeIcinga(t, []byte(c.body), c.status)
		_, err := newTest(t, srv.URL).Poll(t.Context(), sources.Request{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	srv, _ := fakeIcinga(t, nil, 200)
	o := Options{URL: srv.URL}
	o.Username, o.Password, o.InsecureSkipTLS = "opsview", "wrong", true
	s, _ := New(sources.Env{}, o)
	if _, err := s.Poll(t.Context(), sources.Request{}); err == nil || !strings.Contains(err.Error(), "check username and password") {
		t.Errorf("401: %v", err)
	}
}

func TestAServiceThatRecoversClosesItsEvent(t *testing.T) {
	var body atomic.Value
	body.Store(sourcetest.Testdata(t, "services.json"))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "hosts") {
			w.Write([]byte(`{"results":[]}`))
			return
		}
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	s := newTest(t, srv.URL)
	b1, err := s.Poll(t.Context(), sources.Request{Now: time.Unix(1796658380, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ok := strings.Replace(string(sourcetest.Testdata(t, "services.json")), `"output":"DISK CRITICAL - free space: /var 2%","performance_data":[],"previous_hard_state":99,"schedule_end"`, `"output":"DISK OK","performance_data":[],"previous_hard_state":99,"schedule_end"`, 1)
	ok = strings.Replace(ok, `"name":"disk /var","state":2`, `"name":"disk /var","state":0`, 1)
	if ok == string(sourcetest.Testdata(t, "services.json")) {
		t.Fatal("the capture changed: fix the test's edit")
	}
	body.Store([]byte(ok))
	b2, err := s.Poll(t.Context(), sources.Request{Now: time.Unix(1796658400, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var before sources.Event
	for _, ev := range b1.Events {
		if ev.Alert.Check == "disk /var" {
			before = ev
		}
	}
	for _, ev := range b2.Events {
		if ev.Alert.Check == "disk /var" {
			if ev.ID != before.ID || ev.Open() {
				t.Fatalf("%+v", ev)
			}
			return
		}
	}
	t.Fatalf("disk /var not closed: %+v", b2.Events)
}

func TestFiltersAndAttrsGoToTheAPI(t *testing.T) {
	o := Options{URL: "https://icinga:5665/", HostFilter: `"linux" in host.groups`, ServiceFilter: `service.vars.team == "db"`}
	o.Username = "opsview"
	s, err := New(sources.Env{}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.services, "filter=service.vars.team+%3D%3D+%22db%22") || !strings.Contains(s.services, "attrs=host_name") ||
		strings.Contains(s.hosts, "attrs=host_name") || !strings.HasPrefix(s.hosts, "https://icinga:5665/v1/objects/hosts?") {
		t.Fatalf("%s\n%s", s.hosts, s.services)
	}
	if _, err := New(sources.Env{}, Options{URL: "https://icinga:5665"}); err == nil || !strings.Contains(err.Error(), "username") {
		t.Fatalf("no credentials: %v", err)
	}
}
