package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// replay serves captured answers in order, as a stats socket would.
type replay struct {
	answers []answer
	i       int
}

func (r *replay) String() string { return "replay" }
func (r *replay) fetch(context.Context) (answer, error) {
	if r.i >= len(r.answers) {
		return answer{}, fmt.Errorf("replay: no more answers")
	}
	a := r.answers[r.i]
	r.i++
	return a, nil
}

func newReplaySource(t *testing.T, names []string, answers ...[]answer) *Source {
	t.Helper()
	opt := Options{}
	for _, n := range names {
		opt.Instances = append(opt.Instances, InstanceOptions{Name: n, Socket: "/nonexistent/" + n})
	}
	if len(names) == 1 {
		opt = Options{Socket: "/nonexistent"}
	}
	s, err := New(sources.Env{Name: "lb", Logf: t.Logf}, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range s.insts {
		in.f = &replay{answers: answers[i]}
		in.levelChecked = true
	}
	return s
}

func info(pid, uptime int) []byte {
	return fmt.Appendf(nil, "Name: HAProxy\nVersion: 2.6.12\nPid: %d\nUptime_sec: %d\nStart_time_sec: %d\nIdle_pct: 97\nCurrConns: 3\n", pid, uptime, 1795417641+pid)
}

// seriesCaptures returns the once-a-second capture and its poll times.
func seriesCaptures(t *testing.T) ([]answer, []time.Time) {
	files, _ := filepath.Glob("testdata/haproxy-2.6/series/show_stat_*.csv")
	sort.Strings(files)
	if len(files) != 12 {
		t.Fatalf("want 12 series captures, have %d", len(files))
	}
	var as []answer
	var ts []time.Time
	for i, f := range files {
		ms, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "show_stat_"), ".csv"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, time.UnixMilli(ms))
		as = append(as, answer{stat: readTestdata(t, strings.TrimPrefix(f, "testdata/")), info: info(100, 10+i)})
	}
	return as, ts
}

func poll(t *testing.T, s *Source, at time.Time) *sources.Batch {
	t.Helper()
	b, err := s.Poll(context.Background(), sources.Request{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func findSeries(b *sources.Batch, name string, labels map[string]string) *sources.Series {
	for i := range b.Series {
		s := &b.Series[i]
		if s.Name != name || len(s.Labels) != len(labels) {
			continue
		}
		ok := true
		for k, v := range labels {
			if s.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			return s
		}
	}
	return nil
}

func findNode(b *sources.Batch, id string) *sources.NodeState {
	for i := range b.Nodes {
		if b.Nodes[i].ID == id {
			return &b.Nodes[i]
		}
	}
	return nil
}

// csvField reads one cell of a capture by header name, independently of
// the parser under test.
func csvField(t *testing.T, data []byte, px, sv, name string) float64 {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(data), "# ")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, h := range recs[0] {
		if h == name {
			col = i
		}
	}
	for _, rec := range recs[1:] {
		if len(rec) > col && rec[0] == px && rec[1] == sv {
			v, err := strconv.ParseFloat(rec[col], 64)
			if err != nil {
				t.Fatalf("%s/%s %s: %v", px, sv, name, err)
			}
			return v
		}
	}
	t.Fatalf("%s/%s not in capture", px, sv)
	return 0
}

func TestOnceASecondSeriesTurnsIntoRates(t *testing.T) {
	as, ts := seriesCaptures(t)
	s := newReplaySource(t, []string{"lb-1"}, as)
	be := map[string]string{"instance": "lb", "backend": "be_app"}
	first := poll(t, s, ts[0])
	if findSeries(first, "stot", be) != nil {
		t.Error("a rate needs two polls; the first must not have one")
	}
	if g := findSeries(first, "scur", be); g == nil {
		t.Error("gauges are there from the first poll")
	}
	for i := 1; i < len(as); i++ {
		b := poll(t, s, ts[i])
		for _, f := range []string{"stot", "hrsp_2xx", "bin", "bout"} {
			got := findSeries(b, f, be)
			if got == nil {
				t.Fatalf("poll %d: no %s rate", i, f)
			}
			want := (csvField(t, as[i].stat, "be_app", "BACKEND", f) - csvField(t, as[i-1].stat, "be_app", "BACKEND", f)) / ts[i].Sub(ts[i-1]).Seconds()
			if v := got.Points[0].V; math.Abs(v-want) > 1e-9 || v < 0 {
				t.Errorf("poll %d %s rate %v, want %v", i, f, v, want)
			}
			if got.Role != sources.RoleTraffic || got.Layer != sources.LayerLB {
				t.Errorf("%s role %v layer %v", f, got.Role, got.Layer)
			}
		}
		if s5 := findSeries(b, "hrsp_5xx", be); s5 == nil || s5.Role != sources.RoleSymptom {
			t.Errorf("poll %d: hrsp_5xx missing or not a symptom", i)
		}
	}
}

func TestServerGoingDownAndBackIsOnTheTimeline(t *testing.T) {
	as, ts := seriesCaptures(t)
	s := newReplaySource(t, []string{"lb-1"}, as)
	var opened, closed *sources.Event
	var downSeen bool
	for i := range as {
		b := poll(t, s, ts[i])
		n := findNode(b, "lb/be_app/app2")
		if n == nil {
			t.Fatalf("poll %d: no node for app2", i)
		}
		if classOf(n.State) == "DOWN" {
			downSeen = true
			if n.Severity != sources.SevWarning || n.Parent != "lb/be_app/BACKEND" {
				t.Errorf("DOWN server node: %+v", n)
			}
		}
		for _, e := range b.Events {
			if strings.Contains(e.ID, "app2") && strings.Contains(e.ID, "/down/") {
				if e.Open() {
					opened = &e
				} else {
					closed = &e
				}
			}
		}
	}
	if !downSeen || opened == nil || closed == nil {
		t.Fatalf("down seen %v, opened %v, closed %v", downSeen, opened, closed)
	}
	if opened.ID != closed.ID {
		t.Errorf("the DOWN event must keep its ID: %q vs %q", opened.ID, closed.ID)
	}
	if !strings.Contains(opened.Text, "L4CON") && !strings.Contains(opened.Text, "L7") {
		t.Errorf("event text lacks the check status: %q", opened.Text)
	}
	if !closed.End.After(closed.Start) {
		t.Errorf("end %v not after start %v", closed.End, closed.Start)
	}
}

func TestReloadMakesNoSpikeAndAnInfoEvent(t *testing.T) {
	as, ts := seriesCaptures(t)
	// poll 3 is a new process: counters back at the first capture's values
	seq := []answer{as[6], as[7], {stat: as[0].stat, info: info(200, 1)}, {stat: as[1].stat, info: info(200, 2)}}
	s := newReplaySource(t, []string{"lb-1"}, seq)
	be := map[string]string{"instance": "lb", "backend": "be_app"}
	poll(t, s, ts[0])
	poll(t, s, ts[1])
	b := poll(t, s, ts[2])
	if r := findSeries(b, "stot", be); r != nil {
		t.Errorf("rate across a reload: %v", r.Points)
	}
	var ev *sources.Event
	for i := range b.Events {
		if strings.Contains(b.Events[i].Title, "reloaded") {
			ev = &b.Events[i]
		}
	}
	if ev == nil || ev.Severity != sources.SevInfo || !strings.Contains(ev.Text, "pid 100 → 200") {
		t.Fatalf("reload event: %+v", ev)
	}
	b = poll(t, s, ts[3])
	if r := findSeries(b, "stot", be); r == nil || r.Points[0].V < 0 {
		t.Errorf("rates must resume after the reload: %v", r)
	}
}

func TestCountersGoingDownWithoutInfoIsAReset(t *testing.T) {
	as, ts := seriesCaptures(t)
	seq := []answer{{stat: as[8].stat}, {stat: as[0].stat}, {stat: as[1].stat}}
	s := newReplaySource(t, []string{"lb-1"}, seq)
	poll(t, s, ts[0])
	b := poll(t, s, ts[1])
	for _, x := range b.Series {
		for _, p := range x.Points {
			if p.V < 0 {
				t.Errorf("negative %s %v", x.ID(), p.V)
			}
		}
	}
	found := false
	for _, e := range b.Events {
		found = found || strings.Contains(e.Title, "reloaded")
	}
	if !found {
		t.Error("no reload event for counters going down")
	}
}

func TestBackendWithNoServerUpIsCritical(t *testing.T) {
	a := answer{stat: readTestdata(t, "haproxy-2.6/show_stat.csv"), info: readTestdata(t, "haproxy-2.6/show_info.txt")}
	s := newReplaySource(t, []string{"lb-1"}, []answer{a})
	b := poll(t, s, time.Unix(1795417700, 0))
	api := findNode(b, "lb/be_api/BACKEND")
	if api == nil || api.Severity != sources.SevCritical || api.LB.Up != 0 || api.LB.Total != 3 || api.Class != sources.ClassDown {
		t.Fatalf("be_api: %+v", api)
	}
	app := findNode(b, "lb/be_app/BACKEND")
	if app.Attrs["check"] != "be_app (Active: 4/5) sessions 0/1" && !strings.HasPrefix(app.Attrs["check"], "be_app (Active: 4/5) sessions") {
		t.Errorf("be_app check line %q", app.Attrs["check"])
	}
	if app.Severity != sources.SevWarning {
		t.Errorf("be_app has app3 DOWN: severity %v", app.Severity)
	}
	crit := false
	for _, e := range b.Events {
		if e.Severity == sources.SevCritical && strings.Contains(e.Title, "be_api has no server UP") && e.Open() {
			crit = true
		}
	}
	if !crit {
		t.Error("no critical event for be_api")
	}
	for id, want := range map[string]sources.Severity{"lb/be_api/api3": sources.SevInfo, "lb/be_app/app4": sources.SevInfo, "lb/be_app/app3": sources.SevWarning, "lb/be_app/app1": sources.SevOK} {
		if n := findNode(b, id); n == nil || n.Severity != want {
			t.Errorf("%s: %+v, want %v", id, n, want)
		}
	}
	app3 := findNode(b, "lb/be_app/app3")
	if c := app3.LB.Check; c.Status != "L4CON" || !c.Failed || c.Last != "Connection refused" || app3.LB.Addr != "127.0.0.1:18003" || app3.Class != sources.ClassDown {
		t.Errorf("app3 check %+v addr %q class %v", c, app3.LB.Addr, app3.Class)
	}
	if app3.Since.IsZero() || app3.LB.SessionLimit != 0 && app3.LB.Sessions != 0 {
		t.Errorf("app3 since %v figures %+v", app3.Since, app3.LB)
	}
	if sd := findSeries(b, "servers_down", map[string]string{"instance": "lb", "backend": "be_api"}); sd == nil || sd.Points[0].V != 2 || sd.Role != sources.RoleSymptom {
		t.Errorf("servers_down: %+v", sd)
	}
}

// setField rewrites one cell of a capture (by header name).
func setField(t *testing.T, data []byte, px, sv, name, value string) []byte {
	lines := strings.Split(string(data), "\n")
	hdr := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	col := -1
	for i, h := range hdr {
		if h == name {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no column %s", name)
	}
	for i, l := range lines {
		f := strings.Split(l, ",")
		if len(f) > col && f[0] == px && f[1] == sv {
			f[col] = value
			lines[i] = strings.Join(f, ",")
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatalf("%s/%s not found", px, sv)
	return nil
}

func TestFlappingStandsOut(t *testing.T) {
	base := readTestdata(t, "haproxy-2.6/show_stat.csv")
	// app1 goes DOWN and back between polls: only chkdown tells (15-30 s flaps, polled every 10 s)
	var seq []answer
	for i, cd := range []int{0, 1, 1, 2, 3, 3} {
		st := setField(t, base, "be_app", "app1", "chkdown", strconv.Itoa(cd))
		seq = append(seq, answer{stat: st, info: info(100, 10+i)})
	}
	s := newReplaySource(t, []string{"lb-1"}, seq)
	t0 := time.Unix(1795417700, 0)
	var flap *sources.Event
	var node *sources.NodeState
	for i := range seq {
		b := poll(t, s, t0.Add(time.Duration(i)*10*time.Second))
		for j := range b.Events {
			if strings.Contains(b.Events[j].ID, "/flap/") {
				flap = &b.Events[j]
			}
		}
		node = findNode(b, "lb/be_app/app1")
	}
	if flap == nil || flap.Severity != sources.SevWarning || !strings.Contains(flap.Title, "3 DOWN transitions") {
		t.Fatalf("flap event: %+v", flap)
	}
	if node.Severity != sources.SevWarning || !node.Flapping || node.Flaps != 3 || node.FlapWindow != DefaultFlapWindow {
		t.Errorf("flapping server node: %+v", node)
	}
	// a window later with no more DOWNs, the flapping event ends
	st := setField(t, base, "be_app", "app1", "chkdown", "3")
	s.insts[0].f = &replay{answers: []answer{{stat: st, info: info(100, 400)}}}
	b := poll(t, s, t0.Add(DefaultFlapWindow+time.Minute))
	ended := false
	for _, e := range b.Events {
		if e.ID == flap.ID && !e.Open() {
			ended = true
		}
	}
	if !ended {
		t.Error("flap event not closed after a quiet window")
	}
}

func TestFleetSumsBackendsAndKeepsInstances(t *testing.T) {
	as, ts := seriesCaptures(t)
	as2 := append([]answer(nil), as...)
	s := newReplaySource(t, []string{"lb-1", "lb-2"}, as, as2)
	poll(t, s, ts[0])
	b := poll(t, s, ts[1])
	one := findSeries(b, "stot", map[string]string{"instance": "lb-1", "backend": "be_app"})
	two := findSeries(b, "stot", map[string]string{"instance": "lb-2", "backend": "be_app"})
	sum := findSeries(b, "stot", map[string]string{"backend": "be_app"})
	if one == nil || two == nil || sum == nil {
		t.Fatalf("series: %v %v %v", one, two, sum)
	}
	if got, want := sum.Points[0].V, one.Points[0].V+two.Points[0].V; math.Abs(got-want) > 1e-9 || got == 0 {
		t.Errorf("fleet stot %v, want %v", got, want)
	}
	f := findNode(b, "fleet/be_app/BACKEND")
	n1 := findNode(b, "lb-1/be_app/BACKEND")
	if f == nil || n1 == nil || f.LB.Total != 2*n1.LB.Total || f.LB.Up != 2*n1.LB.Up || f.LB.Instances != 2 || n1.LB.Instances != 0 {
		t.Fatalf("fleet node %+v vs %+v", f, n1)
	}
	if !strings.Contains(f.Attrs["check"], "on 2 LBs") {
		t.Errorf("fleet check line %q", f.Attrs["check"])
	}
}

func TestFleetWithOneInstanceDownStillReports(t *testing.T) {
	as, ts := seriesCaptures(t)
	s := newReplaySource(t, []string{"lb-1", "lb-2"}, as, nil)
	b := poll(t, s, ts[0])
	if findNode(b, "lb-1/be_app/BACKEND") == nil {
		t.Fatal("the healthy instance must still report")
	}
	ev := false
	for _, e := range b.Events {
		ev = ev || (strings.Contains(e.Title, "lb-2") && e.Severity == sources.SevWarning)
	}
	if !ev || !strings.Contains(b.Status.Detail, "1/2 LBs") {
		t.Errorf("failing instance not shown: events %v detail %q", b.Events, b.Status.Detail)
	}
	// both failing: the poll fails
	s2 := newReplaySource(t, []string{"lb-1", "lb-2"}, nil, nil)
	if _, err := s2.Poll(context.Background(), sources.Request{Now: ts[0]}); err == nil {
		t.Error("all instances failing must fail the poll")
	}
}

func TestServerNameEscapesAreStripped(t *testing.T) {
	evil := "app\x1b[31m\x1b]0;pwned\x07X"
	st := strings.ReplaceAll(string(readTestdata(t, "haproxy-2.6/show_stat.csv")), "be_app,app3,", "be_app,"+evil+",")
	st = strings.ReplaceAll(st, "Connection refused", "Conn\x1b[2Jrefused")
	s := newReplaySource(t, []string{"lb-1"}, []answer{{stat: []byte(st), info: info(1, 1)}})
	b := poll(t, s, time.Unix(1795417700, 0))
	n := findNode(b, "lb/be_app/appX")
	if n == nil {
		t.Fatal("cleaned server name appX not found")
	}
	for _, e := range b.Events {
		if strings.ContainsRune(e.Title+e.Text+e.ID+e.Node, 0x1b) {
			t.Errorf("escape in event %+v", e)
		}
	}
	for _, x := range b.Series {
		if strings.ContainsRune(x.ID()+x.Node, 0x1b) {
			t.Errorf("escape in series %s", x.ID())
		}
	}
	if strings.ContainsRune(n.LB.Check.Last+n.LB.Check.Status+n.LB.Check.Desc+n.LB.Addr, 0x1b) {
		t.Errorf("escape in the check %+v", n.LB.Check)
	}
}

func TestConfigOptions(t *testing.T) {
	kind, ok := sources.Lookup("haproxy")
	if !ok {
		t.Fatal("haproxy not registered")
	}
	good := []string{
		"socket: /run/haproxy/admin.sock",
		"socket: tcp://127.0.0.1:9999",
		"socket: ipv4@127.0.0.1:9999",
		"url: http://127.0.0.1:8404/stats\nusername: admin\npassword: secret",
		"url: https://lb:8404/stats\ninsecure_skip_verify: true",
		"instances:\n  - {name: lb-1, socket: /run/a.sock}\n  - {name: lb-2, url: 'http://10.0.0.2:8404/stats'}\nusername: u\nflap_window: 2m\nflap_transitions: 4",
	}
	for _, y := range good {
		o, err := config.OptionsFromYAML("test.yaml", y)
		if err != nil {
			t.Fatal(err)
		}
		var warned []string
		if _, err := kind.New(sources.Env{Name: "lb", Logf: func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }}, o); err != nil {
			t.Errorf("%q: %v", y, err)
		}
		if strings.Contains(y, "insecure") && (len(warned) != 1 || !strings.Contains(warned[0], "NOT checked")) {
			t.Errorf("skip-verify must warn once: %v", warned)
		}
	}
	bad := map[string]string{
		"":                          "socket or url is required",
		"sockt: /x":                 "sockt",
		"socket: /x\nurl: http://h": "not both",
		"socket: ftp://x":           "unknown scheme",
		"socket: tcp://nohost":      "host:port",
		"socket: /x\npassword: p":   "url only",
		"instances:\n  - {socket: /a}\n  - {socket: /b}":                   "no name",
		"instances:\n  - {name: a, socket: /a}\n  - {name: a, socket: /b}": "twice",
	}
	for y, want := range bad {
		o, err := config.OptionsFromYAML("test.yaml", y)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kind.New(sources.Env{Name: "lb"}, o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", y, err, want)
		}
	}
	if !strings.HasPrefix(kind.Example, "- name:") {
		t.Error("example must start with - name:")
	}
}

func TestRemovedServerClosesItsEvents(t *testing.T) {
	base := readTestdata(t, "haproxy-2.6/show_stat.csv")
	var without []string
	for _, l := range strings.Split(string(base), "\n") {
		if !strings.HasPrefix(l, "be_app,app3,") {
			without = append(without, l)
		}
	}
	s := newReplaySource(t, []string{"lb-1"}, []answer{{stat: base, info: info(1, 1)}, {stat: []byte(strings.Join(without, "\n")), info: info(1, 2)}})
	b := poll(t, s, time.Unix(1795417700, 0))
	var id string
	for _, e := range b.Events {
		if strings.Contains(e.ID, "app3") && e.Open() {
			id = e.ID
		}
	}
	if id == "" {
		t.Fatal("no open DOWN event for app3")
	}
	b = poll(t, s, time.Unix(1795417710, 0))
	for _, e := range b.Events {
		if e.ID == id && !e.Open() {
			return
		}
	}
	t.Errorf("the DOWN event of a removed server stays open: %+v", b.Events)
}

func TestExampleIsAValidConfig(t *testing.T) {
	kind, _ := sources.Lookup("haproxy")
	var b strings.Builder
	b.WriteString("sources:\n")
	for _, l := range strings.Split(strings.TrimRight(kind.Example, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	cfg, err := config.Parse("example.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(cfg.Sources) != 1 || cfg.Sources[0].Type != "haproxy" {
		t.Fatalf("%+v", cfg.Sources)
	}
}

func TestStatusWithEscapesDoesNotReachEvents(t *testing.T) {
	base := readTestdata(t, "haproxy-2.6/show_stat.csv")
	evil := setField(t, base, "be_app", "app1", "status", "MAINT\x1b]0;pwned\x07\x1b[5m")
	back := setField(t, base, "be_app", "app3", "status", "UP\x1b[2J")
	s := newReplaySource(t, []string{"lb-1"}, []answer{{stat: base, info: info(1, 1)}, {stat: evil, info: info(1, 2)}, {stat: back, info: info(1, 3)}})
	var events []sources.Event
	var nodes []sources.NodeState
	for i := 0; i < 3; i++ {
		b := poll(t, s, time.Unix(1795417700+int64(i)*5, 0))
		events = append(events, b.Events...)
		nodes = append(nodes, b.Nodes...)
	}
	if len(events) < 3 {
		t.Fatalf("want transition events, got %d", len(events))
	}
	for _, e := range events {
		if strings.ContainsAny(e.ID+e.Title+e.Text+e.Node, "\x1b\x07") {
			t.Errorf("escape in event %q / %q / %q", e.ID, e.Title, e.Text)
		}
	}
	for _, n := range nodes {
		if strings.ContainsAny(n.State+n.ID, "\x1b\x07") {
			t.Errorf("escape in node %q %q", n.ID, n.State)
		}
	}
}
