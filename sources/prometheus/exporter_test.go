package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// page serves whatever body and content type the test sets.
type page struct {
	mu    sync.Mutex
	body  []byte
	ctype string
	code  int
	auth  string
}

func (p *page) set(body []byte, ctype string) {
	p.mu.Lock()
	p.body, p.ctype = body, ctype
	p.mu.Unlock()
}

func (p *page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.auth = r.Header.Get("Authorization")
	if p.ctype != "" {
		w.Header().Set("Content-Type", p.ctype)
	}
	if p.code != 0 {
		w.WriteHeader(p.code)
	}
	_, _ = w.Write(p.body)
}

const textCT = "text/plain; version=0.0.4; charset=utf-8"

func find(b *sources.Batch, id string) *sources.Series {
	for i := range b.Series {
		if b.Series[i].ID() == id {
			return &b.Series[i]
		}
	}
	return nil
}

func TestExporterCountersBecomeRatesAndGaugesStay(t *testing.T) {
	capture := read(t, "testdata/node_exporter_metrics.txt")
	p := &page{body: capture, ctype: textCT}
	srv := httptest.NewServer(p)
	defer srv.Close()
	e, err := NewExporterWith("node", ExporterOptions{URL: srv.URL, Node: "db-1"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795420000, 0)
	b1, err := e.Poll(context.Background(), sources.Request{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	load := find(b1, "node_load1")
	if load == nil || load.Node != "db-1" || load.Points[0].T != t0 || load.Kind != sources.SeriesGauge {
		t.Fatalf("node_load1 gauge: %+v", load)
	}
	iowaitID := `node_cpu_seconds_total{cpu="0",mode="iowait"}`
	if find(b1, iowaitID) != nil {
		t.Fatal("a counter has no rate on the first scrape")
	}
	// 10 s later iowait on cpu 0 grew by 1.5 s: 15 % of one CPU
	next := bytes.Replace(capture, []byte(`node_cpu_seconds_total{cpu="0",mode="iowait"} 1.71`), []byte(`node_cpu_seconds_total{cpu="0",mode="iowait"} 3.21`), 1)
	// and a network byte counter went down: the exporter restarted
	next = bytes.Replace(next, []byte(`node_network_receive_bytes_total{device="eth0"} 1.48847838e+08`), []byte(`node_network_receive_bytes_total{device="eth0"} 1200`), 1)
	if bytes.Equal(next, capture) {
		t.Fatal("capture changed under the test")
	}
	p.set(next, textCT)
	b2, err := e.Poll(context.Background(), sources.Request{Now: t0.Add(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	io := find(b2, iowaitID)
	if io == nil || math.Abs(io.Points[0].V-15) > 1e-9 || io.Unit != "%" || io.Kind != sources.SeriesRate {
		t.Fatalf("iowait rate %+v, want 15 %%", io)
	}
	idle := find(b2, `node_cpu_seconds_total{cpu="0",mode="idle"}`)
	if idle == nil || idle.Points[0].V != 0 {
		t.Fatalf("an unchanged counter has rate 0, got %+v", idle)
	}
	if find(b2, `node_network_receive_bytes_total{device="eth0"}`) != nil {
		t.Error("a counter that went down must give no point (reset), not a negative rate")
	}
	if !strings.Contains(b2.Status.Detail, "1 counter resets") {
		t.Errorf("detail %q", b2.Status.Detail)
	}
	for _, s := range b2.Series {
		for _, pt := range s.Points {
			if pt.V < 0 && strings.HasSuffix(s.Name, "_total") {
				t.Errorf("negative rate %s %v", s.ID(), pt.V)
			}
		}
	}
	// the default rules classify it
	DefaultRules().Classify("node", io)
	if io.Role != sources.RoleResource || io.Layer != sources.LayerHost || io.Unit != "%" || io.Node != "db-1" {
		t.Errorf("classified iowait %+v", io)
	}
	// a series that disappears just stops: no crash, state forgotten
	without := bytes.ReplaceAll(next, []byte(`node_cpu_seconds_total{cpu="0",mode="iowait"} 3.21`), nil)
	p.set(without, textCT)
	b3, err := e.Poll(context.Background(), sources.Request{Now: t0.Add(20 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if find(b3, iowaitID) != nil {
		t.Error("vanished series still reported")
	}
	// back a scrape later, it starts over: no rate from the value it had
	// before it vanished
	p.set(bytes.Replace(next, []byte(`node_cpu_seconds_total{cpu="0",mode="iowait"} 3.21`), []byte(`node_cpu_seconds_total{cpu="0",mode="iowait"} 9.21`), 1), textCT)
	b4, err := e.Poll(context.Background(), sources.Request{Now: t0.Add(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if s := find(b4, iowaitID); s != nil {
		t.Errorf("state of a vanished counter kept: %+v", s)
	}
	b5, err := e.Poll(context.Background(), sources.Request{Now: t0.Add(40 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if s := find(b5, iowaitID); s == nil || s.Points[0].V != 0 {
		t.Errorf("iowait a scrape after it came back: %+v, want a rate of 0", s)
	}
}

func TestExporterIncludeExclude(t *testing.T) {
	p := &page{body: read(t, "testdata/node_exporter_metrics.txt"), ctype: textCT}
	srv := httptest.NewServer(p)
	defer srv.Close()
	opts, err := config.OptionsFromYAML("t.yaml", "url: "+srv.URL+"/metrics\ninclude: [node_load*, node_memory_*]\nexclude: [node_memory_Hardware*]\n")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sources.Lookup("exporter")
	src, err := k.New(sources.Env{Name: "n"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(context.Background(), sources.Request{Now: time.Unix(1795420000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) < 4 {
		t.Fatalf("only %d series", len(b.Series))
	}
	for _, s := range b.Series {
		if !strings.HasPrefix(s.Name, "node_load") && !strings.HasPrefix(s.Name, "node_memory_") || strings.HasPrefix(s.Name, "node_memory_Hardware") {
			t.Errorf("%s passed the filter", s.Name)
		}
	}
	if _, err := NewExporterWith("n", ExporterOptions{URL: srv.URL, Include: []string{"["}}); err == nil {
		t.Error("bad glob accepted")
	}
}

func TestExporterOpenMetricsAndProtobuf(t *testing.T) {
	om := "# TYPE app_requests counter\n# HELP app_requests Requests.\napp_requests_total{code=\"500\"} 10\napp_requests_created{code=\"500\"} 1.7e9\n" +
		"# TYPE app_queue gauge\napp_queue 3\n# TYPE rpc_seconds summary\nrpc_seconds_sum 2.5\nrpc_seconds_count 10\n# EOF\n"
	p := &page{body: []byte(om), ctype: "application/openmetrics-text; version=1.0.0; charset=utf-8"}
	srv := httptest.NewServer(p)
	defer srv.Close()
	e, _ := NewExporterWith("app", ExporterOptions{URL: srv.URL})
	t0 := time.Unix(1795420000, 0)
	b, err := e.Poll(context.Background(), sources.Request{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if q := find(b, "app_queue"); q == nil || q.Points[0].V != 3 {
		t.Fatalf("openmetrics gauge: %+v", b.Series)
	}
	p.set([]byte(strings.NewReplacer("} 10\n", "} 30\n", "rpc_seconds_sum 2.5", "rpc_seconds_sum 4.5", "rpc_seconds_count 10", "rpc_seconds_count 20").Replace(om)), p.ctype)
	b, err = e.Poll(context.Background(), sources.Request{Now: t0.Add(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if r := find(b, `app_requests_total{code="500"}`); r == nil || r.Points[0].V != 2 || r.Unit != "/s" {
		t.Errorf("openmetrics counter rate: %+v", b.Series)
	}
	if r := find(b, "rpc_seconds_count"); r == nil || r.Points[0].V != 1 {
		t.Errorf("summary count rate: %+v", r)
	}
	if r := find(b, "rpc_seconds_sum"); r == nil || r.Points[0].V != 0.2 {
		t.Errorf("summary sum rate: %+v", r)
	}

	p.set(read(t, "testdata/node_exporter_metrics.pb"), "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
	e2, _ := NewExporterWith("node", ExporterOptions{URL: srv.URL})
	b, err = e2.Poll(context.Background(), sources.Request{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if find(b, "node_load1") == nil {
		t.Error("protobuf page: no node_load1")
	}
}

func TestExporterBadPages(t *testing.T) {
	cases := []struct {
		name  string
		code  int
		ctype string
		body  []byte
		want  string
	}{
		{"500", 500, "text/plain", []byte("oops"), "HTTP 500"},
		{"html", 200, "text/html", []byte("<!DOCTYPE html><html>login</html>"), "HTML page"},
		{"malformed", 200, textCT, []byte("# TYPE x counter\nx{a=\"b} 1\n"), "parsing the text format"},
		{"bad openmetrics", 200, "application/openmetrics-text; version=1.0.0", []byte("x 1\n"), "parsing application/openmetrics-text"},
		{"50 MB", 200, textCT, bytes.Repeat([]byte("# just a comment line\n"), 50<<20/22), "larger than 16 MiB"},
		{"escapes", 200, textCT, []byte("evil{x=\"\x1b]0;t\x07\"} 1\n"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &page{body: c.body, ctype: c.ctype, code: c.code}
			srv := httptest.NewServer(p)
			defer srv.Close()
			e, _ := NewExporterWith("n", ExporterOptions{URL: srv.URL})
			b, err := e.Poll(context.Background(), sources.Request{Now: time.Now()})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range b.Series {
					if strings.ContainsRune(s.ID(), 0x1b) {
						t.Fatalf("escape kept in %q", s.ID())
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestExporterHangingServerTimesOut(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hold)
	e, _ := NewExporterWith("n", ExporterOptions{URL: srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := e.Poll(ctx, sources.Request{Now: time.Now()}); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
}

func TestDiscoverAt(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/-/ready" {
			_, _ = w.Write([]byte("Prometheus Server is Ready.\n"))
			return
		}
		http.NotFound(w, r)
	}))
	defer prom.Close()
	exp := httptest.NewServer(&page{body: read(t, "testdata/node_exporter_metrics.txt"), ctype: textCT})
	defer exp.Close()
	notMetrics := httptest.NewServer(&page{body: []byte("<html>hello</html>"), ctype: "text/html"})
	defer notMetrics.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	p, e := DiscoverAt(context.Background(), prom.URL, exp.URL+"/metrics")
	if p != prom.URL || e != exp.URL+"/metrics" {
		t.Errorf("found %q %q", p, e)
	}
	p, e = DiscoverAt(context.Background(), closedURL, notMetrics.URL)
	if p != "" || e != "" {
		t.Errorf("found %q %q where nothing usable listens", p, e)
	}
	src, err := NewPrometheus("prometheus", prom.URL)
	if err != nil || len(src.(*Source).queries) != len(DefaultQueries()) {
		t.Errorf("NewPrometheus: %v", err)
	}
	if _, err := NewExporter("node", exp.URL); err != nil {
		t.Error(err)
	}
}

func FuzzParseExpositionText(f *testing.F) {
	f.Add(read(f, "testdata/node_exporter_metrics.txt"))
	f.Add(read(f, "testdata/prometheus_self_metrics.txt")[:8192])
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzExposition(t, b, textCT)
	})
}

// FuzzParseExpositionOpenMetrics keeps to small pages: prometheus/common's
// OpenMetrics parser is grammar-driven and slow (about 3 s to build its
// grammar once, then milliseconds per small page).
func FuzzParseExpositionOpenMetrics(f *testing.F) {
	f.Add([]byte("# TYPE a counter\na_total{x=\"y\"} 1\na_created 1.7e9\n# TYPE g gauge\ng NaN\n# EOF\n"))
	f.Add([]byte("# TYPE s summary\ns_sum 2.5\ns_count 10\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		fuzzExposition(t, b, "application/openmetrics-text; version=1.0.0")
	})
}

func fuzzExposition(t *testing.T, b []byte, ctype string) {
	fams, err := ParseExposition(bytes.NewReader(b), http.Header{"Content-Type": {ctype}})
	if err != nil {
		return
	}
	e := &Exporter{name: "f", maxSeries: 1000}
	t0 := time.Unix(1795420000, 0)
	e.toBatch(fams, t0)
	batch := e.toBatch(fams, t0.Add(time.Second))
	for _, s := range batch.Series {
		if strings.ContainsRune(s.ID(), 0x1b) {
			t.Fatal("escape kept")
		}
		for _, p := range s.Points {
			if math.IsInf(p.V, 0) {
				t.Fatal("infinity kept")
			}
			if p.V < 0 && (s.Unit == "/s" || s.Unit == "%") && strings.HasSuffix(s.Name, "_total") {
				t.Fatalf("negative rate %s %v", s.ID(), p.V)
			}
		}
	}
}

// The exporter tries each series at its place in the last page first; a
// page in another order, with a series more or less, still gives every
// counter its own rate.
func TestExporterPagesInAnotherOrder(t *testing.T) {
	p := &page{ctype: textCT}
	srv := httptest.NewServer(p)
	defer srv.Close()
	e, err := NewExporterWith("x", ExporterOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795420000, 0)
	lines := func(scrape int, order ...int) []byte {
		var b bytes.Buffer
		b.WriteString("# TYPE c counter\n")
		for _, i := range order {
			// counter i grows by i+1 a second
			fmt.Fprintf(&b, "c{i=\"%d\"} %d\n", i, (i+1)*10*scrape)
		}
		return b.Bytes()
	}
	for scrape, order := range [][]int{{0, 1, 2}, {0, 1, 2}, {2, 0, 1}, {1, 3, 2, 0}, {0, 1, 2, 3}} {
		p.set(lines(scrape, order...), textCT)
		b, err := e.Poll(context.Background(), sources.Request{Now: t0.Add(time.Duration(scrape) * 10 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range b.Series {
			var i int
			fmt.Sscan(s.Labels["i"], &i)
			if s.Points[0].V != float64(i+1) {
				t.Fatalf("scrape %d: %s at %v/s, want %d/s", scrape, s.ID(), s.Points[0].V, i+1)
			}
		}
		if want := map[int]int{0: 0, 3: 3, 4: 4}[scrape]; scrape != 1 && scrape != 2 && len(b.Series) != want {
			t.Fatalf("scrape %d: %d rates, want %d", scrape, len(b.Series), want)
		}
	}
}
