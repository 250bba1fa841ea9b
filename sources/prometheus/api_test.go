package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

func read(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAPIRealCaptures(t *testing.T) {
	v, _, err := DecodeAPI(read(t, "testdata/query_range_rate_cpu.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(model.Matrix)
	if len(m) != 2 || len(m[0].Values) != 6 || m[0].Metric["mode"] != "idle" {
		t.Fatalf("matrix %v", m)
	}
	if v, _, err := DecodeAPI(read(t, "testdata/query_instant_vector.json")); err != nil || v.Type() != model.ValVector {
		t.Errorf("vector: %v %v", v, err)
	}
	if v, _, err := DecodeAPI(read(t, "testdata/query_instant_scalar.json")); err != nil || v.Type() != model.ValScalar {
		t.Errorf("scalar: %v %v", v, err)
	}
	if v, _, err := DecodeAPI(read(t, "testdata/query_instant_string.json")); err != nil || v.Type() != model.ValString {
		t.Errorf("string: %v %v", v, err)
	}
	for _, f := range []string{"query_error_bad_data.json", "query_range_error_step0.json", "query_range_error_too_many_points.json"} {
		_, _, err := DecodeAPI(read(t, "testdata/"+f))
		var ae *APIError
		if !errors.As(err, &ae) || ae.Type != "bad_data" || !strings.Contains(err.Error(), "fix the PromQL") {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSpecialValuesAreGaps(t *testing.T) {
	q := &query{Query: Query{Query: "x"}}
	for _, f := range []string{"query_range_special_values.json", "query_instant_inf.json"} {
		v, _, err := DecodeAPI(read(t, "testdata/"+f))
		if err != nil {
			t.Fatal(err)
		}
		series, _ := toSeries(q, v)
		if len(series) == 0 {
			t.Fatalf("%s: no series", f)
		}
		for _, s := range series {
			for _, p := range s.Points {
				if !p.Missing() {
					t.Errorf("%s: %s has %v, want a gap", f, s.ID(), p.V)
				}
			}
		}
	}
}

func TestPlanWindowStaysOnTheClockAndUnderTheLimit(t *testing.T) {
	t0 := time.Unix(1795420000, 0)
	w := PlanWindow(t0.Add(-time.Hour+3*time.Second), t0.Add(7*time.Second), 10*time.Second)
	if !w.Start.Equal(t0.Add(-time.Hour+10*time.Second)) || !w.End.Equal(t0) || w.Step != 10*time.Second || w.Points() != 360 {
		t.Errorf("1 h window: %v…%v step %v points %d", w.Start, w.End, w.Step, w.Points())
	}
	w = PlanWindow(t0.Add(-30*24*time.Hour), t0, 10*time.Second)
	if w.Points() > maxPoints || w.Step%(10*time.Second) != 0 || w.Start.UnixNano()%int64(w.Step) != 0 {
		t.Errorf("30 d window: step %v points %d", w.Step, w.Points())
	}
	w = PlanWindow(t0.Add(time.Second), t0.Add(2*time.Second), 10*time.Second)
	if w.Points() != 1 {
		t.Errorf("short window: %d points", w.Points())
	}
}

// fakeProm answers query_range with one series per instance, value =
// evaluation time, and records the forms it got.
type fakeProm struct {
	mu    sync.Mutex
	forms []url.Values
	paths []string
	hdrs  []http.Header
	fail  map[string]string // query → error JSON
	gone  bool              // instance b:9100 has stopped reporting
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.forms = append(f.forms, r.Form)
	f.paths = append(f.paths, r.URL.Path)
	f.hdrs = append(f.hdrs, r.Header.Clone())
	f.mu.Unlock()
	q := r.Form.Get("query")
	if e, ok := f.fail[q]; ok {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(e))
		return
	}
	if r.URL.Path == "/api/v1/query" {
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":%q,"instance":"a:9100"},"value":[%s,"1"]}]}}`, q, r.Form.Get("time"))
		return
	}
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	f.mu.Lock()
	insts := []string{"a:9100", "b:9100"}
	if f.gone {
		insts = insts[:1]
	}
	f.mu.Unlock()
	for i, inst := range insts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"__name__":"node_load1","instance":%q},"values":[`, inst)
		for ts := start; ts <= end; ts += step {
			if ts > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `[%s,"%s"]`, strconv.FormatFloat(ts, 'f', -1, 64), strconv.FormatFloat(ts, 'f', -1, 64))
		}
		b.WriteString("]}")
	}
	b.WriteString("]}}")
	_, _ = w.Write([]byte(b.String()))
}

func (f *fakeProm) lastForm() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forms[len(f.forms)-1]
}

func newProm(t *testing.T, yml string) (*Source, error) {
	t.Helper()
	opts, err := config.OptionsFromYAML("test.yaml", yml)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := sources.Lookup("prometheus")
	if !ok {
		t.Fatal("prometheus not registered")
	}
	s, err := k.New(sources.Env{Name: "p", Logf: t.Logf}, opts)
	if err != nil {
		return nil, err
	}
	return s.(*Source), nil
}

func TestPromFactoryChecksOptions(t *testing.T) {
	for yml, want := range map[string]string{
		"url: http://x\n": "queries is required",
		"url: http://x\nqueries: [{query: up, role: boss}]\n":                            "role",
		"url: http://x\nqueries: [{query: up, layer: moon}]\n":                           "layer",
		"url: http://x\nqueries: [{query: ''}]\n":                                        "empty",
		"url: http://x\nqueries: [{query: up, colour: red}]\n":                           "colour",
		"url: http://x\nqueries: [up]\n":                                                 "",
		"url: http://x\nqueries: [{query: up}]\nbearer_token: a\nbearer_token_file: b\n": "exclusive",
	} {
		_, err := newProm(t, yml)
		if want == "" {
			if err == nil {
				t.Errorf("%q: accepted", yml)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yml, err, want)
		}
	}
}

func TestPromPollBackfillThenIncrementalOnTheStoreClock(t *testing.T) {
	fp := &fakeProm{}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	s, err := newProm(t, "url: "+srv.URL+"\nqueries:\n  - query: node_load1\n    role: resource\n    layer: host\n    node: $instance\n    unit: load\n")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795420003, 0)
	b, err := s.Poll(context.Background(), sources.Request{Now: t0, From: t0.Add(-time.Hour), Until: t0, Step: 10 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	f := fp.lastForm()
	if f.Get("query") != "node_load1" || f.Get("step") != "10" || f.Get("start") != "1795416410" || f.Get("end") != "1795420000" {
		t.Errorf("query_range form %v", f)
	}
	if len(b.Series) != 2 {
		t.Fatalf("%d series, want one per instance", len(b.Series))
	}
	s0 := b.Series[0]
	if s0.Name != "node_load1" || s0.Labels["instance"] != "a:9100" || s0.Node != "a:9100" || s0.Role != sources.RoleResource || s0.Layer != sources.LayerHost || s0.Unit != "load" {
		t.Errorf("series %+v", s0)
	}
	if _, ok := s0.Labels["__name__"]; ok {
		t.Error("__name__ kept as a label")
	}
	if len(s0.Points) != 360 {
		t.Errorf("%d points, want 360", len(s0.Points))
	}
	// next poll: the scheduler's From is the last Until; we start one step before the newest point
	t1 := t0.Add(30 * time.Second)
	if _, err := s.Poll(context.Background(), sources.Request{Now: t1, From: t0, Until: t1, Step: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	f = fp.lastForm()
	if f.Get("start") != "1795419990" || f.Get("end") != "1795420030" {
		t.Errorf("incremental form %v", f)
	}
}

func TestPromSeriesThatDisappearsJustStops(t *testing.T) {
	fp := &fakeProm{}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	s, _ := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "node_load1"}}})
	t0 := time.Unix(1795420000, 0)
	b, err := s.Poll(context.Background(), sources.Request{Now: t0, From: t0.Add(-time.Minute), Until: t0, Step: 10 * time.Second, Backfill: true})
	if err != nil || len(b.Series) != 2 {
		t.Fatalf("%v %d series", err, len(b.Series))
	}
	fp.mu.Lock()
	fp.gone = true
	fp.mu.Unlock()
	t1 := t0.Add(20 * time.Second)
	b, err = s.Poll(context.Background(), sources.Request{Now: t1, From: t0, Until: t1, Step: 10 * time.Second})
	if err != nil || len(b.Series) != 1 || b.Series[0].Labels["instance"] != "a:9100" {
		t.Fatalf("after b:9100 went away: %v %+v", err, b)
	}
}

func TestPromFailingQueryIsNamedAndOthersStillArrive(t *testing.T) {
	fp := &fakeProm{fail: map[string]string{"rate(x[": string(read(t, "testdata/query_error_bad_data.json"))}}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	s, err := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "rate(x[", Name: "broken"}, {Query: "node_load1"}}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795420000, 0)
	req := sources.Request{Now: t0, From: t0.Add(-time.Minute), Until: t0, Step: 10 * time.Second, Backfill: true}
	b, err := s.Poll(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) != 2 || !strings.Contains(b.Status.Detail, `"broken": bad_data: invalid parameter`) {
		t.Errorf("series %d detail %q", len(b.Series), b.Status.Detail)
	}
	only, _ := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "rate(x[", Name: "broken"}}})
	_, err = only.Poll(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), `query "broken": bad_data: invalid parameter "query": 1:10: parse error: unclosed left parenthesis (fix the PromQL`) {
		t.Errorf("error %v", err)
	}
}

func TestPromInstantQueryForAOnePointWindow(t *testing.T) {
	fp := &fakeProm{}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	s, _ := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "up"}}})
	t0 := time.Unix(1795420000, 0)
	b, err := s.Poll(context.Background(), sources.Request{Now: t0, From: t0, Until: t0, Step: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if fp.paths[0] != "/api/v1/query" || fp.lastForm().Get("time") != "1795420000" {
		t.Errorf("path %v form %v", fp.paths, fp.lastForm())
	}
	if len(b.Series) != 1 || b.Series[0].Name != "up" {
		t.Errorf("series %+v", b.Series)
	}
}

func TestPromCredentials(t *testing.T) {
	fp := &fakeProm{}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795420000, 0)
	req := sources.Request{Now: t0, From: t0.Add(-time.Minute), Until: t0, Step: 10 * time.Second, Backfill: true}
	for yml, check := range map[string]func(http.Header) bool{
		"bearer_token: abc\n":              func(h http.Header) bool { return h.Get("Authorization") == "Bearer abc" },
		"bearer_token_file: " + tok + "\n": func(h http.Header) bool { return h.Get("Authorization") == "Bearer file-token" },
		"username: u\npassword: p\n": func(h http.Header) bool {
			u, p, ok := (&http.Request{Header: h}).BasicAuth()
			return ok && u == "u" && p == "p"
		},
		"headers: {X-Scope-OrgID: tenant1}\n": func(h http.Header) bool { return h.Get("X-Scope-OrgID") == "tenant1" },
	} {
		s, err := newProm(t, "url: "+srv.URL+"\nqueries: [{query: up}]\n"+yml)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Poll(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		fp.mu.Lock()
		h := fp.hdrs[len(fp.hdrs)-1]
		fp.mu.Unlock()
		if !check(h) {
			t.Errorf("%q: headers %v", yml, h)
		}
	}
}

func TestPromBadAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"http 500 text", 500, "internal server error", "HTTP 500"},
		{"html", 200, "<html><body>Sign in</body></html>", "HTML page"},
		{"malformed", 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"`, "not Prometheus API JSON"},
		{"bad value", 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"abc"]]}]}}`, "matrix result"},
		{"unavailable", 503, `{"status":"error","errorType":"unavailable","error":"TSDB not ready"}`, "unavailable: TSDB not ready (the server is starting"},
		{"forbidden", 403, "no", "bearer_token"},
	}
	t0 := time.Unix(1795420000, 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			s, _ := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "up"}}})
			_, err := s.Poll(context.Background(), sources.Request{Now: t0, From: t0.Add(-time.Minute), Until: t0, Step: 10 * time.Second, Backfill: true})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestPromHugeAnswerAndHangingServer(t *testing.T) {
	big := strings.Repeat(" ", 50<<20)
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang/api/v1/query_range" {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = w.Write([]byte(big))
	}))
	defer srv.Close()
	defer close(hold)
	t0 := time.Unix(1795420000, 0)
	req := sources.Request{Now: t0, From: t0.Add(-time.Minute), Until: t0, Step: 10 * time.Second, Backfill: true}
	// a range answer is read as a stream, bounded at 32 × max_response_mb
	s, _ := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "up"}}, MaxResponseMB: 1})
	if _, err := s.Poll(context.Background(), req); err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
		t.Errorf("50 MB answer: %v", err)
	}
	// by default it is read through, and found not to be an answer
	s, _ = New("p", Options{URL: srv.URL, Queries: []Query{{Query: "up"}}})
	if _, err := s.Poll(context.Background(), req); err == nil || !strings.Contains(err.Error(), "not Prometheus API JSON") {
		t.Errorf("50 MB of blanks: %v", err)
	}
	s, _ = New("p", Options{URL: srv.URL + "/hang", Queries: []Query{{Query: "up"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Poll(ctx, req); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging server: %v", err)
	}
}

func TestQueryNameFallsBackToTheQuery(t *testing.T) {
	v, _, err := DecodeAPI(read(t, "testdata/query_range_rate_cpu.json"))
	if err != nil {
		t.Fatal(err)
	}
	q := &query{Query: Query{Query: "rate(node_cpu_seconds_total{mode=\"idle\"}[5s])"}}
	series, newest := toSeries(q, v)
	if series[0].Name != q.Query.Query || series[0].Labels["cpu"] != "0" {
		t.Errorf("series %+v", series[0])
	}
	if newest.Unix() != 1795420460 {
		t.Errorf("newest %v", newest)
	}
	if math.Abs(series[0].Points[0].V-0.985) > 1e-9 {
		t.Errorf("value %v", series[0].Points[0].V)
	}
}

func FuzzDecodeAPI(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, fn := range files {
		f.Add(read(f, fn))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, _, err := DecodeAPI(b)
		if err != nil {
			return
		}
		series, _ := toSeries(&query{Query: Query{Query: "q", Node: "$instance"}}, v)
		for _, s := range series {
			if strings.ContainsRune(s.Name, 0x1b) || strings.ContainsRune(s.Node, 0x1b) {
				t.Fatal("escape survived")
			}
			for _, p := range s.Points {
				if math.IsInf(p.V, 0) {
					t.Fatal("infinity kept")
				}
			}
		}
	})
}
