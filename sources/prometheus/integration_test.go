package prometheus

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
)

// One node_exporter + Prometheus per test binary. Prometheus starts on a
// TSDB filled by promtool with an hour of a known gauge (so query_range
// has history at once) and scrapes node_exporter every second, whose
// textfile collector serves a planted gauge.
var (
	promOnce  sync.Once
	promSrv   *promServers
	promErr   error
	promSkip  string
	promProcs []*realserver.Proc
	promDir   string
)

type promServers struct {
	prom     string // Prometheus base URL
	exporter string // node_exporter /metrics URL
	textfile string // textfile collector directory
	// the backfilled gauge: opsview_it_backfill{service="api"} = backfillValue(t) every 10 s in [histFrom, histUntil]
	histFrom, histUntil time.Time
}

func backfillValue(unix int64) float64 { return float64((unix/10)%37) + 0.25 }

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(promProcs) - 1; i >= 0; i-- {
		promProcs[i].Stop()
	}
	if promDir != "" {
		os.RemoveAll(promDir)
	}
	os.Exit(code)
}

func needProm(t *testing.T) *promServers {
	t.Helper()
	promOnce.Do(startProm)
	if promSkip != "" {
		if realserver.InCI() {
			t.Fatal(promSkip)
		}
		t.Skip(promSkip)
	}
	if promErr != nil {
		t.Fatal(promErr)
	}
	return promSrv
}

func writeAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func startProm() {
	if r := realserver.Missing("prometheus", "promtool", "prometheus-node-exporter"); r != "" {
		promSkip = r
		return
	}
	dir, err := os.MkdirTemp("", "opsview-prom-")
	if err != nil {
		promErr = err
		return
	}
	promDir = dir
	ports, err := realserver.FreePorts(2)
	if err != nil {
		promErr = err
		return
	}
	ne, pp := ports[0], ports[1]
	textfile := filepath.Join(dir, "textfile")
	if err := os.MkdirAll(textfile, 0o755); err != nil {
		promErr = err
		return
	}
	if err := writeAtomic(filepath.Join(textfile, "opsview.prom"), "# TYPE opsview_it_planted gauge\nopsview_it_planted{role=\"db\"} 42\n"); err != nil {
		promErr = err
		return
	}
	exp, err := realserver.Start(dir, nil, "prometheus-node-exporter",
		"--web.listen-address="+realserver.Addr(ne), "--collector.textfile.directory="+textfile)
	if err != nil {
		promErr = err
		return
	}
	promProcs = append(promProcs, exp)

	// an hour of history, ending two minutes ago, on a 10 s grid
	until := time.Now().Add(-2 * time.Minute).Truncate(10 * time.Second)
	from := until.Add(-time.Hour)
	var om strings.Builder
	om.WriteString("# HELP opsview_it_backfill Known gauge.\n# TYPE opsview_it_backfill gauge\n")
	for ts := from.Unix(); ts <= until.Unix(); ts += 10 {
		fmt.Fprintf(&om, "opsview_it_backfill{service=\"api\"} %g %d\n", backfillValue(ts), ts)
	}
	om.WriteString("# EOF\n")
	if err := os.WriteFile(filepath.Join(dir, "in.om"), []byte(om.String()), 0o644); err != nil {
		promErr = err
		return
	}
	if out, err := realserver.Run(dir, nil, time.Minute, "promtool", "tsdb", "create-blocks-from", "openmetrics", filepath.Join(dir, "in.om"), filepath.Join(dir, "data")); err != nil {
		promErr = fmt.Errorf("promtool: %v\n%s", err, out)
		return
	}
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs: [{job_name: node, static_configs: [{targets: ['%s']}]}]\n", realserver.Addr(ne))
	if err := os.WriteFile(filepath.Join(dir, "prom.yml"), []byte(cfg), 0o644); err != nil {
		promErr = err
		return
	}
	prom, err := realserver.Start(dir, nil, "prometheus", "--config.file="+filepath.Join(dir, "prom.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+realserver.Addr(pp))
	if err != nil {
		promErr = err
		return
	}
	promProcs = append(promProcs, prom)
	base := "http://" + realserver.Addr(pp)
	if err := realserver.WaitHTTP(exp, "http://"+realserver.Addr(ne)+"/metrics", 30*time.Second); err != nil {
		promErr = err
		return
	}
	if err := realserver.WaitHTTP(prom, base+"/-/ready", 30*time.Second); err != nil {
		promErr = err
		return
	}
	promSrv = &promServers{prom: base, exporter: "http://" + realserver.Addr(ne) + "/metrics", textfile: textfile, histFrom: from, histUntil: until}
}

func TestRealPrometheusBackfilledHistory(t *testing.T) {
	p := needProm(t)
	s, err := New("prometheus", Options{URL: p.prom, Queries: []Query{{Query: "opsview_it_backfill", Role: "resource", Layer: "app", Node: "$service"}}})
	if err != nil {
		t.Fatal(err)
	}
	// a historical window in the middle of the history
	from, until := p.histFrom.Add(10*time.Minute), p.histFrom.Add(40*time.Minute)
	b, err := s.Poll(context.Background(), sources.Request{Now: time.Now(), From: from, Until: until, Step: 10 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) != 1 {
		t.Fatalf("%d series: %+v", len(b.Series), b.Series)
	}
	ser := b.Series[0]
	if ser.Name != "opsview_it_backfill" || ser.Labels["service"] != "api" || ser.Node != "api" || ser.Layer != sources.LayerApp {
		t.Errorf("series %+v", ser)
	}
	if len(ser.Points) != 181 {
		t.Errorf("%d points, want 181 (30 min at 10 s, both ends)", len(ser.Points))
	}
	for _, pt := range ser.Points {
		if pt.T.Unix()%10 != 0 || pt.V != backfillValue(pt.T.Unix()) {
			t.Fatalf("point %v = %v, want %v on the 10 s clock", pt.T, pt.V, backfillValue(pt.T.Unix()))
		}
	}
	// a 20 s store step: half the points, never more than needed
	s2, _ := New("prometheus", Options{URL: p.prom, Queries: []Query{{Query: "opsview_it_backfill"}}})
	b, err = s2.Poll(context.Background(), sources.Request{Now: time.Now(), From: from, Until: until, Step: 20 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for ts := from.Unix(); ts <= until.Unix(); ts++ {
		if ts%20 == 0 {
			want++
		}
	}
	if n := len(b.Series[0].Points); n != want {
		t.Errorf("%d points at a 20 s step, want %d", n, want)
	}
}

func TestRealPrometheusLiveQueryOfAPlantedGauge(t *testing.T) {
	p := needProm(t)
	s, err := New("prometheus", Options{URL: p.prom, Queries: []Query{
		{Query: "opsview_it_planted", Name: "planted", Unit: "count", Role: "resource", Layer: "db", Node: "$instance"},
		{Query: "rate(node_cpu_seconds_total{mode=\"idle\"}[5s])", Name: "idle"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// the first scrape is queryable about 6 s after Prometheus starts
	var b *sources.Batch
	deadline := time.Now().Add(40 * time.Second)
	for {
		now := time.Now()
		b, err = s.Poll(context.Background(), sources.Request{Now: now, From: now.Add(-20 * time.Second), Until: now, Step: time.Second, Backfill: true})
		if err == nil && len(seriesByName(b, "planted")) == 1 && len(seriesByName(b, "idle")) > 0 && !strings.Contains(b.Status.Detail, "failing") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no planted gauge after 40 s: %v %+v", err, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
	pl := seriesByName(b, "planted")[0]
	if pl.Labels["role"] != "db" || pl.Labels["job"] != "node" || pl.Node != pl.Labels["instance"] || pl.Layer != sources.LayerDB || pl.Unit != "count" {
		t.Errorf("planted %+v", pl)
	}
	var seen int
	for _, pt := range pl.Points {
		if pt.T.UnixNano()%int64(time.Second) != 0 {
			t.Fatalf("point %v not on the 1 s clock", pt.T)
		}
		if !pt.Missing() {
			if pt.V != 42 {
				t.Fatalf("planted value %v, want 42", pt.V)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no planted value")
	}
	// change it; an incremental poll picks up the new value
	if err := writeAtomic(filepath.Join(p.textfile, "opsview.prom"), "# TYPE opsview_it_planted gauge\nopsview_it_planted{role=\"db\"} 7\n"); err != nil {
		t.Fatal(err)
	}
	prev := time.Now()
	deadline = time.Now().Add(20 * time.Second)
	for {
		time.Sleep(time.Second)
		now := time.Now()
		b, err = s.Poll(context.Background(), sources.Request{Now: now, From: prev, Until: now, Step: time.Second})
		prev = now
		if err != nil {
			t.Fatal(err)
		}
		if pl := seriesByName(b, "planted"); len(pl) == 1 && len(pl[0].Points) > 0 && pl[0].Points[len(pl[0].Points)-1].V == 7 {
			if len(pl[0].Points) > 5 {
				t.Errorf("incremental poll returned %d points for ~1 s", len(pl[0].Points))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new planted value never seen")
		}
	}
	for _, ser := range seriesByName(b, "idle") {
		for _, pt := range ser.Points {
			if !pt.Missing() && (pt.V < 0 || pt.V > 1.01) {
				t.Errorf("idle rate %v out of [0,1]", pt.V)
			}
		}
	}
}

func TestRealPrometheusErrorsAreShown(t *testing.T) {
	p := needProm(t)
	s, _ := New("prometheus", Options{URL: p.prom, Queries: []Query{{Query: "rate(up[", Name: "broken"}}})
	now := time.Now()
	_, err := s.Poll(context.Background(), sources.Request{Now: now, From: now.Add(-time.Minute), Until: now, Step: time.Second, Backfill: true})
	if err == nil || !strings.Contains(err.Error(), `query "broken": bad_data: `) || !strings.Contains(err.Error(), "parse error") {
		t.Fatalf("error %v", err)
	}
	// a window over 11,000 points is planned with a wider step, not refused
	s2, _ := New("prometheus", Options{URL: p.prom, Queries: []Query{{Query: "vector(1)"}}})
	b, err := s2.Poll(context.Background(), sources.Request{Now: now, From: now.Add(-48 * time.Hour), Until: now, Step: 10 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Series[0].Points); n > maxPoints || n < 8000 {
		t.Errorf("%d points over 48 h", n)
	}
}

func TestRealNodeExporterScrape(t *testing.T) {
	p := needProm(t)
	e, err := NewExporter("node", p.exporter)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	b1, err := e.Poll(context.Background(), sources.Request{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if pl := find(b1, `opsview_it_planted{role="db"}`); pl == nil || (pl.Points[0].V != 42 && pl.Points[0].V != 7) {
		t.Fatalf("planted gauge through the textfile collector: %+v", pl)
	}
	if find(b1, "node_load1") == nil {
		t.Fatal("no node_load1")
	}
	for _, s := range b1.Series {
		if strings.HasPrefix(s.Name, "go_") || strings.HasPrefix(s.Name, "promhttp_") {
			t.Fatalf("%s not excluded", s.Name)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	b2, err := e.Poll(context.Background(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var cpu []*sources.Series
	for i := range b2.Series {
		if b2.Series[i].Name == "node_cpu_seconds_total" {
			cpu = append(cpu, &b2.Series[i])
		}
	}
	if len(cpu) == 0 {
		t.Fatal("no cpu rates on the second scrape")
	}
	// every mode of one CPU adds up to the whole second: about 100 %
	var cpu0 float64
	for _, c := range cpu {
		v := c.Points[0].V
		if math.IsNaN(v) || v < 0 || v > 150 || c.Unit != "%" {
			t.Errorf("%s = %v %s", c.ID(), v, c.Unit)
		}
		if c.Labels["cpu"] == "0" {
			cpu0 += v
		}
	}
	if cpu0 < 60 || cpu0 > 140 {
		t.Errorf("the modes of cpu 0 add up to %v %%, want about 100 %%", cpu0)
	}
	rules := DefaultRules()
	rules.Apply(b2)
	if io := find(b2, `node_cpu_seconds_total{cpu="0",mode="iowait"}`); io == nil || io.Role != sources.RoleResource || io.Layer != sources.LayerHost {
		t.Errorf("iowait %+v", io)
	}
}

func TestRealDiscoverAt(t *testing.T) {
	p := needProm(t)
	pu, eu := DiscoverAt(context.Background(), p.prom, p.exporter)
	if pu != p.prom || eu != p.exporter {
		t.Errorf("discovered %q %q", pu, eu)
	}
}

func seriesByName(b *sources.Batch, name string) []sources.Series {
	var out []sources.Series
	if b == nil {
		return nil
	}
	for _, s := range b.Series {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// The series picker: Prometheus lists its metric names, and one added
// is polled from then on.
func TestRealPrometheusBrowseAndAddSeries(t *testing.T) {
	p := needProm(t)
	s, err := New("prometheus", Options{URL: p.prom, Queries: []Query{{Query: "up"}}})
	if err != nil {
		t.Fatal(err)
	}
	names, err := s.Browse(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range names {
		if n.ID == "opsview_it_backfill" && n.Leaf {
			found = true
		}
	}
	if !found {
		t.Fatalf("opsview_it_backfill not among %d names", len(names))
	}
	if err := s.AddSeries("opsview_it_backfill"); err != nil {
		t.Fatal(err)
	}
	b, err := s.Poll(context.Background(), sources.Request{Now: p.histUntil, From: p.histFrom, Until: p.histUntil, Step: 10 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	got := false
	for _, sr := range b.Series {
		if sr.Name == "opsview_it_backfill" {
			got = true
		}
	}
	if !got {
		t.Errorf("added series not polled: %d series", len(b.Series))
	}
}

func TestDecodeLabelValues(t *testing.T) {
	v, err := DecodeLabelValues([]byte(`{"status":"success","data":["up","node_load1"]}`))
	if err != nil || len(v) != 2 || v[0] != "node_load1" {
		t.Errorf("%v %v", v, err)
	}
	for _, bad := range []string{`<html>login</html>`, `{"status":"error","error":"x"}`, `{`} {
		if _, err := DecodeLabelValues([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
