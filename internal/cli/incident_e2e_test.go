package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/internal/export"
	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
)

// incidentLab is the testbed's incident on real servers: HAProxy in front
// of an app server that can be made to fail, and Prometheus scraping a
// node_exporter whose textfile collector says how busy db-1's disk is.
type incidentLab struct {
	failing  atomic.Bool
	served   atomic.Int64
	textfile string
	config   string
}

// labOptions shape the lab: what HAProxy's health check asks (a failing
// app fails "/" but still answers "/health"), and how much history
// Prometheus holds of db-1's iowait before the test starts (calm, then
// the last minutes at 90 %).
type labOptions struct {
	checkPath string        // "/" by default
	history   time.Duration // none by default
	busySince time.Duration // how long before the start iowait rose (0: it is calm at the start)
	deps      bool          // the config says "web -> app -> db-1"
}

func needServers(t *testing.T, binaries ...string) {
	t.Helper()
	if why := realserver.Missing(binaries...); why != "" {
		if realserver.InCI() {
			t.Fatalf("under CI=true: %s", why)
		}
		t.Skip(why)
	}
}

func startIncidentLab(t *testing.T, o labOptions) *incidentLab {
	needServers(t, "haproxy", "prometheus", "prometheus-node-exporter", "promtool")
	if o.checkPath == "" {
		o.checkPath = "/"
	}
	l := &incidentLab{}
	lb := startLB(t, lbOptions{backend: "app", checkPath: o.checkPath, appFall: 2,
		app: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// three answers in five fail while the database is slow
			if l.failing.Load() && (r.URL.Path != "/health" || o.checkPath != "/health") && l.served.Add(1)%5 < 3 {
				http.Error(w, "db timeout", http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "ok")
		})})
	ports, err := realserver.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	fe, sock, ne, prom := lb.port, lb.socket, ports[0], ports[1]
	dir := t.TempDir()

	l.textfile = filepath.Join(dir, "textfile")
	if err := os.MkdirAll(l.textfile, 0o755); err != nil {
		t.Fatal(err)
	}
	l.iowait(t, 2)
	nex, err := realserver.Start(dir, nil, "prometheus-node-exporter", "--web.listen-address="+realserver.Addr(ne),
		"--collector.textfile.directory="+l.textfile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nex.Stop)
	mustWrite(t, filepath.Join(dir, "prom.yml"), fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs: [{job_name: node, honor_labels: true, static_configs: [{targets: ['%s']}]}]\n", realserver.Addr(ne)))
	if o.history > 0 {
		backfillIowait(t, dir, o.history, o.busySince)
		if o.busySince > 0 {
			l.iowait(t, 90)
		}
	}
	pr, err := realserver.Start(dir, nil, "prometheus", "--config.file="+filepath.Join(dir, "prom.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+realserver.Addr(prom))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pr.Stop)
	if err := realserver.WaitHTTP(pr, "http://"+realserver.Addr(prom)+"/-/ready", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	// traffic through the load balancer, bounded, until the test ends
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: time.Second}
		for i := 0; i < 20000 && ctx.Err() == nil; i++ {
			if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", fe)); err == nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	deps := ""
	if o.deps {
		deps = "dependencies:\n  - \"web -> app -> db-1\"\n"
	}
	l.config = writeConfig(t, deps+fmt.Sprintf(`store: {step: 1s}
sources:
  - name: lb-1
    type: haproxy
    interval: 1s
    timeout: 2s
    socket: %s
  - name: prom
    type: prometheus
    interval: 1s
    url: http://%s
    queries:
      - query: opsview_db_iowait_percent
        name: cpu_iowait
        unit: "%%"
        role: resource
        layer: db
        node: $instance
`, sock, realserver.Addr(prom)))
	return l
}

// backfillIowait writes db-1's iowait history into Prometheus's data
// directory with promtool (Debian's prometheus package): calm around 2 %
// for span, the last busy of it at 90 %.
func backfillIowait(t *testing.T, dir string, span, busy time.Duration) {
	t.Helper()
	now := time.Now().Add(-5 * time.Second)
	var b strings.Builder
	b.WriteString("# TYPE opsview_db_iowait_percent gauge\n")
	for at := now.Add(-span); at.Before(now); at = at.Add(5 * time.Second) {
		v := 2 + float64(at.Unix()%7)*0.2
		if at.After(now.Add(-busy)) {
			v = 90 + float64(at.Unix()%3)
		}
		fmt.Fprintf(&b, "opsview_db_iowait_percent{instance=\"db-1\",job=\"node\"} %g %d\n", v, at.Unix())
	}
	b.WriteString("# EOF\n")
	in := filepath.Join(dir, "history.om")
	mustWrite(t, in, b.String())
	if out, err := realserver.Run(dir, nil, time.Minute, "promtool", "tsdb", "create-blocks-from", "openmetrics", in, filepath.Join(dir, "data")); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
}

func (l *incidentLab) iowait(t *testing.T, v float64) {
	t.Helper()
	tmp := filepath.Join(l.textfile, ".opsview.prom")
	mustWrite(t, tmp, fmt.Sprintf("# TYPE opsview_db_iowait_percent gauge\nopsview_db_iowait_percent{instance=\"db-1\"} %g\n", v))
	if err := os.Rename(tmp, filepath.Join(l.textfile, "opsview.prom")); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An incident on real servers, recorded from the middle (r pressed while
// a server is already DOWN): live, the replay of the file and its export
// tell the same story, finding for finding, change for change.
func TestLiveReplayAndExportOfARealIncidentAgree(t *testing.T) {
	l := startIncidentLab(t, labOptions{})
	g := &globals{config: l.config}
	logf := func(string, ...any) {}
	p, err := loadPlan(context.Background(), g, logf, false)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(p.entries)
	rt := app.New(runtimeOptions(p, logf))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rt.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()

	// settled: app-2 DOWN, app-1 UP, the sources answering
	waitFor(t, 20*time.Second, "app-2 DOWN and nothing critical", func() bool {
		down := false
		for _, f := range rt.Findings() {
			if f.Severity == sources.SevCritical || f.Rule == "source-failing" {
				return false
			}
			down = down || strings.Contains(f.Title, "app-2")
		}
		return down
	})
	out := filepath.Join(t.TempDir(), "incident.opsrec")
	var werr atomic.Value
	w, err := startRecording(rt, out, replay.Header{Producer: "test"}, func(err error) { werr.Store(err) })
	if err != nil {
		t.Fatal(err)
	}
	before := len(rt.Session.Changes())
	time.Sleep(2 * time.Second)
	l.iowait(t, 90)
	l.failing.Store(true)
	waitFor(t, 20*time.Second, "a critical finding for the backend", func() bool {
		for _, f := range rt.Findings() {
			if f.Severity == sources.SevCritical && strings.Contains(f.Title, "app") {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second)
	// stop recording between two batches: what live concluded then is
	// what the file must lead to
	var live string
	rt.Session.OpeningThen(func(*correlate.Opening) error {
		// no batch is judged while this runs: the recording stops and
		// the live story is read at the same point
		if err := rt.Record(nil, nil); err != nil {
			t.Fatal(err)
		}
		live = app.Story(rt.Session.Findings(), rt.Session.Changes()[before:])
		return nil
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if e := werr.Load(); e != nil {
		t.Fatal(e)
	}
	if !strings.Contains(live, "C ") {
		t.Fatalf("nothing changed while recording:\n%s", live)
	}

	rec, err := replay.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	judged, err := app.Judge(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := app.Story(judged.Findings(), judged.Changes()); got != live {
		t.Fatalf("the recording judged:\n%s\nlive:\n%s", got, live)
	}
	replayed, err := app.NewReplay(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	player := replay.NewPlayer(rec, replay.PlayerOptions{})
	player.Seek(player.End())
	due, err := player.Drain()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range due {
		replayed.Ingest(b)
	}
	if got := app.Story(replayed.Session.Findings(), replayed.Session.Changes()); got != live {
		t.Fatalf("replayed:\n%s\nlive:\n%s", got, live)
	}
	var md strings.Builder
	if err := export.Markdown(&md, rec, export.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range judged.History() {
		if !strings.Contains(md.String(), f.Title) {
			t.Errorf("the export lacks the finding %q", f.Title)
		}
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The morning check run in the middle of an incident: HAProxy has no
// history, its app answers three requests in five with 500 while passing
// its health checks; Prometheus holds an hour of db-1's iowait, the last
// minutes at 90 %. check is CRITICAL and names db-1's iowait, as the
// screen does.
func TestCheckInTheMiddleOfARealIncidentIsCritical(t *testing.T) {
	l := startIncidentLab(t, labOptions{checkPath: "/health", history: 80 * time.Minute, busySince: 4 * time.Minute})
	l.failing.Store(true)
	time.Sleep(2 * time.Second) // some traffic through the failing app first
	code, out, errb := run(t, "check", "--config", l.config, "--format", "json")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errb)
	}
	var titles []string
	named := false
	for _, f := range rep.Findings {
		titles = append(titles, f.Title)
		named = named || (f.Severity == "critical" && strings.Contains(f.Title, "backend app answers") && strings.Contains(f.Title, "likely db-1"))
	}
	if code != ExitCritical || !named {
		t.Fatalf("exit %d, findings %q; want CRITICAL naming db-1's iowait\n%s", code, titles, errb)
	}
	if len(rep.Incidents) == 0 || !strings.Contains(rep.Incidents[0].Headline, "likely db-1") {
		t.Fatalf("the worst incident does not lead with the cause: %+v", rep.Incidents)
	}
}
