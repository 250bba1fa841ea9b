package nagios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

// created is the capture's info.created (testdata/status.dat, Nagios 4.4.6).
var created = time.Unix(1795420958, 0).UTC()

func TestStatusDatOfNagios446(t *testing.T) {
	by := map[string]Check{}
	st, err := ParseStatus(strings.NewReader(string(sourcetest.Testdata(t, "status.dat"))), func(c *Check) { by[c.Service] = *c })
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "4.4.6" || !st.Created.Equal(created) || st.ProgramStart.Unix() != 1795420957 {
		t.Fatalf("info: %q %v %v", st.Version, st.Created, st.ProgramStart)
	}
	if h := by[""]; st.Hosts != 1 || h.Host != "web01" || h.State != 0 || !h.Checked {
		t.Fatalf("hosts: %d %+v", st.Hosts, h)
	}
	if st.Services != 3 {
		t.Fatalf("services: %d, want 3", st.Services)
	}
	ref := by["http-refused"]
	if ref.State != 2 || !ref.Hard || ref.Output != "connect to address 127.0.0.1 and port 18061: Connection refused" ||
		ref.Long != "HTTP CRITICAL - Unable to open TCP socket" || ref.ProblemID != 1 || ref.LastStateChange.Unix() != 1795420957 {
		t.Fatalf("http-refused: %+v", ref)
	}
	if m := by["http-missing"]; m.State != 1 || !m.Hard || !strings.HasPrefix(m.Output, "HTTP WARNING: HTTP/1.0 404") {
		t.Fatalf("http-missing: %+v", m)
	}
	if ok := by["http-root"]; ok.State != 0 || ok.Output != "" {
		t.Fatalf("an OK service keeps no output: %+v", ok)
	}
}

// newTestSource is a source on a status.dat in a temp dir.
func newTestSource(t *testing.T, status string, o Options) (*Source, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "status.dat")
	writeFile(t, path, status)
	o.StatusFile = path
	s, err := New(sources.Env{Name: "nagios"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// writeFile writes as Nagios does: a temp file renamed over the old one.
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func poll(t *testing.T, s *Source, now time.Time) *sources.Batch {
	t.Helper()
	b, err := s.Poll(context.Background(), sources.Request{Now: now, Until: now, From: now.Add(-time.Hour), Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryProblemOfStatusDatIsAnOpenAlert(t *testing.T) {
	s, _ := newTestSource(t, string(sourcetest.Testdata(t, "status.dat")), Options{})
	b := poll(t, s, created.Add(time.Second))
	if len(b.Events) != 2 {
		t.Fatalf("events: %d, want the 2 problems: %+v", len(b.Events), b.Events)
	}
	ev := sourcetest.ByCheck(b.Events)["http-refused"]
	a := ev.Alert
	if ev.Kind != sources.EventAlert || a == nil || a.System != "nagios" || a.Origin != sources.OriginInternal || a.State != "CRITICAL" || !a.Hard ||
		ev.Severity != sources.SevCritical || ev.Node != "web01" || ev.Layer != sources.LayerHost || !ev.Open() || ev.Start.Unix() != 1795420957 {
		t.Fatalf("http-refused: %+v %+v", ev, a)
	}
	if ev.Title != "http-refused CRITICAL on web01" || !strings.Contains(ev.Text, "Connection refused") {
		t.Fatalf("words: %q / %q", ev.Title, ev.Text)
	}
	if w := sourcetest.ByCheck(b.Events)["http-missing"]; w.Severity != sources.SevWarning || w.Alert.State != "WARNING" {
		t.Fatalf("http-missing: %+v", w)
	}
	wt := b.Status.Watched
	if wt == nil || wt.System != "Nagios" || wt.Hosts != 1 || wt.Services != 3 || wt.Origin != sources.OriginInternal {
		t.Fatalf("watched: %+v", wt)
	}
	if b.Status.Detail != "1 host, 3 services, 2 problems" {
		t.Fatalf("detail: %q", b.Status.Detail)
	}
}

// status writes a status.dat of one host and the given services.
type svc struct {
	name                    string
	state, stateType        int
	ack, downtime, flapping int
	change                  int64
	problem                 int64
	output                  string
}

func statusDat(created int64, svcs ...svc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "info {\n\tcreated=%d\n\tversion=4.4.6\n\t}\n\nhoststatus {\n\thost_name=db-1\n\thas_been_checked=1\n\tcurrent_state=0\n\tstate_type=1\n\t}\n\n", created)
	for _, s := range svcs {
		fmt.Fprintf(&b, "servicestatus {\n\thost_name=db-1\n\tservice_description=%s\n\thas_been_checked=1\n\tcurrent_state=%d\n\tstate_type=%d\n", s.name, s.state, s.stateType)
		fmt.Fprintf(&b, "\tcurrent_attempt=1\n\tmax_attempts=3\n\tplugin_output=%s\n\tlast_check=%d\n\tlast_state_change=%d\n\tcurrent_problem_id=%d\n", s.output, created, s.change, s.problem)
		fmt.Fprintf(&b, "\tproblem_has_been_acknowledged=%d\n\tscheduled_downtime_depth=%d\n\tis_flapping=%d\n\t}\n\n", s.ack, s.downtime, s.flapping)
	}
	return b.String()
}

func TestAProblemIsOneEventFromItsStartUntilItRecovers(t *testing.T) {
	t0 := int64(1795420000)
	s, path := newTestSource(t, statusDat(t0, svc{name: "disk /var", state: 1, stateType: 0, change: t0 - 60, problem: 7, output: "DISK WARNING"}), Options{})
	b1 := poll(t, s, time.Unix(t0, 0))
	ev1 := sourcetest.ByCheck(b1.Events)["disk /var"]
	if ev1.Alert.Hard || ev1.Title != "disk /var WARNING on db-1 (SOFT 1/3)" {
		t.Fatalf("soft: %+v", ev1)
	}
	// it goes HARD CRITICAL: the same problem, the same event
	writeFile(t, path, statusDat(t0+30, svc{name: "disk /var", state: 2, stateType: 1, change: t0 + 20, problem: 7, output: "DISK CRITICAL"}))
	ev2 := sourcetest.ByCheck(poll(t, s, time.Unix(t0+30, 0)).Events)["disk /var"]
	if ev2.ID != ev1.ID || !ev2.Start.Equal(ev1.Start) || ev2.Alert.State != "CRITICAL" || !ev2.Alert.Hard || ev2.Severity != sources.SevCritical {
		t.Fatalf("went on as %+v, was %+v", ev2, ev1)
	}
	// it recovers: the event closes at the state change and keeps what it was
	writeFile(t, path, statusDat(t0+90, svc{name: "disk /var", state: 0, stateType: 1, change: t0 + 80, output: "DISK OK"}))
	b3 := poll(t, s, time.Unix(t0+90, 0))
	if len(b3.Events) != 1 {
		t.Fatalf("recovery: %+v", b3.Events)
	}
	ev3 := b3.Events[0]
	if ev3.ID != ev1.ID || ev3.Open() || ev3.End.Unix() != t0+80 || ev3.Alert.State != "CRITICAL" {
		t.Fatalf("closed as %+v", ev3)
	}
	// and stays closed: nothing more to say
	if b := poll(t, s, time.Unix(t0+100, 0)); len(b.Events) != 0 {
		t.Fatalf("after the recovery: %+v", b.Events)
	}
}

func TestAProblemThatRecoveredAndFailedAgainBetweenTwoReadsIsTwoEvents(t *testing.T) {
	t0 := int64(1795420000)
	s, path := newTestSource(t, statusDat(t0, svc{name: "load", state: 2, stateType: 1, change: t0 - 60, problem: 7}), Options{})
	first := sourcetest.ByCheck(poll(t, s, time.Unix(t0, 0)).Events)["load"]
	writeFile(t, path, statusDat(t0+60, svc{name: "load", state: 2, stateType: 1, change: t0 + 50, problem: 9}))
	b := poll(t, s, time.Unix(t0+60, 0))
	if len(b.Events) != 2 || b.Events[0].ID != first.ID || b.Events[0].Open() || !b.Events[1].Open() || b.Events[1].ID == first.ID {
		t.Fatalf("want the old problem closed and a new one open: %+v", b.Events)
	}
}

func TestAServiceRemovedFromNagiosClosesItsEvent(t *testing.T) {
	t0 := int64(1795420000)
	s, path := newTestSource(t, statusDat(t0, svc{name: "old", state: 2, stateType: 1, change: t0 - 60}), Options{})
	poll(t, s, time.Unix(t0, 0))
	writeFile(t, path, statusDat(t0+10))
	b := poll(t, s, time.Unix(t0+10, 0))
	if len(b.Events) != 1 || b.Events[0].Open() || !strings.Contains(b.Events[0].Text, "no longer in status.dat") {
		t.Fatalf("%+v", b.Events)
	}
	if b := poll(t, s, time.Unix(t0+20, 0)); len(b.Events) != 0 {
		t.Fatalf("closed twice: %+v", b.Events)
	}
}

func TestAcknowledgedDowntimeAndFlappingAreSaid(t *testing.T) {
	t0 := int64(1795420000)
	s, _ := newTestSource(t, statusDat(t0,
		svc{name: "acked", state: 2, stateType: 1, ack: 1, change: t0},
		svc{name: "maint", state: 2, stateType: 1, downtime: 1, change: t0},
		svc{name: "flappy", state: 0, stateType: 1, flapping: 1, change: t0}), Options{})
	evs := sourcetest.ByCheck(poll(t, s, time.Unix(t0, 0)).Events)
	if !evs["acked"].Alert.Acknowledged || !evs["maint"].Alert.Downtime {
		t.Fatalf("%+v", evs)
	}
	// flapping while OK is still a problem Nagios tells of
	f := evs["flappy"]
	if !f.Alert.Flapping || f.Alert.State != "OK" || f.Severity != sources.SevWarning || !f.Open() {
		t.Fatalf("flapping: %+v %+v", f, f.Alert)
	}
}

func TestTheConfigGivesOriginAndLayers(t *testing.T) {
	t0 := int64(1795420000)
	o := Options{}
	o.Origin, o.Layers = "external", map[string][]string{"db": {"db-*"}}
	s2, _ := newTestSource(t, statusDat(t0, svc{name: "mysql", state: 2, stateType: 1, change: t0}), o)
	ev := poll(t, s2, time.Unix(t0, 0)).Events[0]
	if ev.Layer != sources.LayerDB || ev.Alert.Origin != sources.OriginExternal {
		t.Fatalf("%+v %+v", ev, ev.Alert)
	}
	for _, bad := range []Options{{}, {StatusFile: "x", MaxFileMB: -1}} {
		if _, err := New(sources.Env{}, bad); err == nil {
			t.Fatalf("%+v: no error", bad)
		}
	}
	o = Options{StatusFile: "x"}
	o.Layers = map[string][]string{"cellar": {"x"}}
	if _, err := New(sources.Env{}, o); err == nil || !strings.Contains(err.Error(), "not a layer") {
		t.Fatalf("bad layer: %v", err)
	}
}

func TestHostileNamesAndOutputAreCleaned(t *testing.T) {
	t0 := int64(1795420000)
	body := statusDat(t0, svc{name: "disk\x1b]0;pwned\x07 /var\x1b[2J", state: 2, stateType: 1, change: t0, output: "CRIT \x1b[31mred\x1b[0m"})
	s, _ := newTestSource(t, body, Options{})
	ev := poll(t, s, time.Unix(t0, 0)).Events[0]
	for _, str := range []string{ev.Title, ev.Text, ev.Alert.Check, ev.ID, ev.Labels["service"]} {
		if strings.ContainsAny(str, "\x1b\x07") {
			t.Fatalf("escape left in %q", str)
		}
	}
	if ev.Alert.Check != "disk /var" || ev.Text != "CRIT red" {
		t.Fatalf("%q %q", ev.Alert.Check, ev.Text)
	}
}

func TestAStatusDatCutWhileReadIsReadAgain(t *testing.T) {
	t0 := int64(1795420000)
	whole := statusDat(t0, svc{name: "load", state: 2, stateType: 1, change: t0})
	s, path := newTestSource(t, whole[:len(whole)-20], Options{})
	rewrote := false
	s.tornPause = 0
	s.beforeRetry = func() { writeFile(t, path, whole); rewrote = true }
	b := poll(t, s, time.Unix(t0, 0))
	if !rewrote || len(b.Events) != 1 {
		t.Fatalf("rewrote %v, events %+v", rewrote, b.Events)
	}
}

func TestAStatusDatCutTwiceIsAClearError(t *testing.T) {
	t0 := int64(1795420000)
	whole := statusDat(t0, svc{name: "load", state: 2, stateType: 1, change: t0})
	s, _ := newTestSource(t, whole[:len(whole)-20], Options{})
	s.tornPause = 0
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Unix(t0, 0)})
	if err == nil || !strings.Contains(err.Error(), "ends inside a block twice") {
		t.Fatalf("err: %v", err)
	}
}

func TestAStaleStatusDatFailsTheSource(t *testing.T) {
	s, _ := newTestSource(t, string(sourcetest.Testdata(t, "status.dat")), Options{})
	_, err := s.Poll(context.Background(), sources.Request{Now: created.Add(20 * time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "Nagios is not running or not writing it") {
		t.Fatalf("err: %v", err)
	}
}

func TestAMissingStatusDatSaysWhereToLook(t *testing.T) {
	s, err := New(sources.Env{}, Options{StatusFile: filepath.Join(t.TempDir(), "nope.dat")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Poll(context.Background(), sources.Request{})
	if err == nil || !strings.Contains(err.Error(), "status_file= / log_file= in nagios.cfg") {
		t.Fatalf("err: %v", err)
	}
}

func TestNotAStatusDatIsAClearError(t *testing.T) {
	s, _ := newTestSource(t, "<html><body>Nagios login</body></html>\n", Options{})
	_, err := s.Poll(context.Background(), sources.Request{})
	if err == nil || !strings.Contains(err.Error(), "is it a Nagios status.dat?") {
		t.Fatalf("err: %v", err)
	}
}
