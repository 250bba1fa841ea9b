package graphite

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

func newFromYAML(t *testing.T, yml string) (*Source, error) {
	t.Helper()
	opts, err := config.OptionsFromYAML("test.yaml", yml)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := sources.Lookup("graphite")
	if !ok {
		t.Fatal("graphite not registered")
	}
	src, err := k.New(sources.Env{Name: "g", Logf: t.Logf}, opts)
	if err != nil {
		return nil, err
	}
	return src.(*Source), nil
}

func TestFactoryChecksOptions(t *testing.T) {
	for yml, want := range map[string]string{
		"url: http://x\n":                                      "targets is required",
		"targets: [a.b]\n":                                     "url is required",
		"url: ftp://x\ntargets: [a]\n":                         "scheme",
		"url: http://x\ntargets: [a]\nbogus: 1\n":              "bogus",
		"url: http://x\ntargets: [a]\nmax_data_points: -1\n":   "max_data_points",
		"url: http://x\ntargets: [a]\nca_file: /nonexistent\n": "ca_file",
	} {
		_, err := newFromYAML(t, yml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", yml, err, want)
		}
	}
	s, err := newFromYAML(t, "url: http://x/graphite/\ntargets: [a.b]\nusername: u\npassword: p\nheaders: {X-Org: ops}\ninsecure_skip_verify: true\nmax_data_points: 100\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.endpoint("/render") != "http://x/graphite/render" || s.maxDP != 100 || s.client.Auth.Headers["X-Org"] != "ops" {
		t.Errorf("options not taken: %+v", s)
	}
}

// fakeGraphite answers render requests from a table of points per path
// (1 s resolution, like the test carbon), recording each request.
type fakeGraphite struct {
	mu   sync.Mutex
	reqs []*http.Request
	vals map[string]map[int64]float64
}

func (f *fakeGraphite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.mu.Unlock()
	from, _ := strconv.ParseInt(r.Form.Get("from"), 10, 64)
	until, _ := strconv.ParseInt(r.Form.Get("until"), 10, 64)
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for _, tgt := range r.Form["target"] {
		pts, ok := f.vals[tgt]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		fmt.Fprintf(&b, `{"target": %q, "tags": {"name": %q}, "datapoints": [`, tgt, tgt)
		for ts := from + 1; ts <= until; ts++ {
			if ts > from+1 {
				b.WriteString(", ")
			}
			if v, ok := pts[ts]; ok {
				fmt.Fprintf(&b, "[%g, %d]", v, ts)
			} else {
				fmt.Fprintf(&b, "[null, %d]", ts)
			}
		}
		b.WriteString("]}")
	}
	b.WriteByte(']')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(b.String()))
}

func (f *fakeGraphite) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func TestPollBackfillsThenFetchesOnlyTheNewPart(t *testing.T) {
	t0 := int64(1795419000)
	fg := &fakeGraphite{vals: map[string]map[int64]float64{"a.b": {}, "c.d": {}}}
	for ts := t0 - 600; ts <= t0; ts++ {
		fg.vals["a.b"][ts] = float64(ts - t0 + 600)
	}
	srv := httptest.NewServer(fg)
	defer srv.Close()
	s, err := New("g", Options{URL: srv.URL, Targets: []string{"a.b", "c.d", "nosuch"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(t0, 0)
	b, err := s.Poll(context.Background(), sources.Request{Now: now, From: now.Add(-5 * time.Minute), Until: now, Step: 10 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	r := fg.last()
	if got := r.Form["target"]; strings.Join(got, ",") != "a.b,c.d,nosuch" {
		t.Errorf("targets sent %v", got)
	}
	if r.Form.Get("from") != strconv.FormatInt(t0-300, 10) || r.Form.Get("until") != strconv.FormatInt(t0, 10) || r.Form.Get("format") != "json" {
		t.Errorf("window sent %v", r.Form)
	}
	if r.Form.Get("maxDataPoints") != "310" {
		t.Errorf("maxDataPoints %q, want 310 (10 × 31 buckets of 10 s)", r.Form.Get("maxDataPoints"))
	}
	if len(b.Series) != 2 {
		t.Fatalf("%d series, want 2", len(b.Series))
	}
	ab := b.Series[0]
	if ab.Name != "a.b" || len(ab.Points) != 31 {
		t.Fatalf("a.b: %d points: %v", len(ab.Points), ab.Points)
	}
	for _, p := range ab.Points {
		if p.T.Unix()%10 != 0 {
			t.Fatalf("point %v not on the 10 s clock", p.T)
		}
	}
	// bucket t0-300 holds only second t0-299 (render starts after from)
	if ab.Points[0].V != 305 || ab.Points[1].V != 314.5 { // t0-299…t0-291 hold 301…309, t0-290…t0-281 hold 310…319
		t.Errorf("buckets %v %v, want the means 305 and 314.5", ab.Points[0].V, ab.Points[1].V)
	}
	cd := b.Series[1]
	for _, p := range cd.Points {
		if !p.Missing() {
			t.Fatalf("c.d has only nulls, got %v", p)
		}
	}

	// 30 s later: the next poll asks only for the new part
	for ts := t0 + 1; ts <= t0+30; ts++ {
		fg.vals["a.b"][ts] = 1000
	}
	now2 := now.Add(30 * time.Second)
	// the scheduler's From is the previous poll's Until
	b2, err := s.Poll(context.Background(), sources.Request{Now: now2, From: now, Until: now2, Step: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r = fg.last()
	wantFrom := t0 - 10 // last point seen (t0) minus one step
	if r.Form.Get("from") != strconv.FormatInt(wantFrom, 10) {
		t.Errorf("incremental from %s, want %d", r.Form.Get("from"), wantFrom)
	}
	if got := b2.Series[0].Points; len(got) != 5 || got[len(got)-1].V != 1000 {
		t.Errorf("incremental points %v", got)
	}

	// a series that disappears simply stops getting points
	delete(fg.vals, "a.b")
	b3, err := s.Poll(context.Background(), sources.Request{Now: now2, From: now2, Until: now2, Step: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(b3.Series) != 1 || b3.Series[0].Name != "c.d" {
		t.Errorf("after a.b disappeared: %+v", b3.Series)
	}

	// a widened window is a backfill again
	if _, err := s.Poll(context.Background(), sources.Request{Now: now2, From: now2.Add(-time.Hour), Until: now2, Step: 10 * time.Second, Backfill: true}); err != nil {
		t.Fatal(err)
	}
	if r := fg.last(); r.Form.Get("from") != strconv.FormatInt(t0+30-3600, 10) {
		t.Errorf("backfill from %s", r.Form.Get("from"))
	}
}

func TestIncrementalFromIsBounded(t *testing.T) {
	t0 := time.Unix(1795419000, 0)
	step := 10 * time.Second
	if got := IncrementalFrom(t0, t0.Add(-5*time.Second), step); !got.Equal(t0.Add(-15 * time.Second)) {
		t.Errorf("late point: from %v", got)
	}
	if got := IncrementalFrom(t0, t0.Add(-24*time.Hour), step); !got.Equal(t0.Add(-Lookback)) {
		t.Errorf("a series silent for a day must not refetch the day: from %v", got)
	}
}

func TestPollSendsCredentialsAndHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		_, _ = w.Write([]byte("[]"))
	}))
	defer srv.Close()
	s, err := newFromYAML(t, "url: "+srv.URL+"\ntargets: [a]\nusername: ops\npassword: s3cret\nheaders: {X-Org: blue}\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Poll(context.Background(), sources.Request{Now: time.Now(), From: time.Now().Add(-time.Minute), Until: time.Now(), Step: time.Second}); err != nil {
		t.Fatal(err)
	}
	if u, p, ok := (&http.Request{Header: got}).BasicAuth(); !ok || u != "ops" || p != "s3cret" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if got.Get("X-Org") != "blue" {
		t.Errorf("header X-Org %q", got.Get("X-Org"))
	}
}

func TestPollOverTLSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"target":"a","datapoints":[[1,1795419000]]}]`))
	}))
	defer srv.Close()
	// without the CA the certificate is refused, with a hint
	s, _ := New("g", Options{URL: srv.URL, Targets: []string{"a"}})
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Unix(1795419010, 0), Step: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("error %v, want a hint about ca_file", err)
	}
	ca := t.TempDir() + "/ca.pem"
	writePEM(t, ca, srv)
	s2, err := newFromYAML(t, "url: "+srv.URL+"\ntargets: [a]\nca_file: "+ca+"\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s2.Poll(context.Background(), sources.Request{Now: time.Unix(1795419010, 0), Step: 10 * time.Second})
	if err != nil || len(b.Series) != 1 {
		t.Fatalf("with ca_file: %v %v", b, err)
	}
	s3, err := newFromYAML(t, "url: "+srv.URL+"\ntargets: [a]\ninsecure_skip_verify: true\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Poll(context.Background(), sources.Request{Now: time.Unix(1795419010, 0), Step: 10 * time.Second}); err != nil {
		t.Fatalf("insecure_skip_verify: %v", err)
	}
}

func TestBadAnswersFailWithAHint(t *testing.T) {
	big := make([]byte, 50<<20)
	for i := range big {
		big[i] = ' '
	}
	big[0] = '['
	cases := []struct {
		name   string
		status int
		ctype  string
		body   []byte
		want   string
	}{
		{"http 500", 500, "text/plain", []byte("Traceback (most recent call last)"), "HTTP 500"},
		{"bad function", 400, "text/html", mustRead(t, "testdata/render_badfunc.txt"), "unknown function"},
		{"html page", 200, "text/html", []byte("<!DOCTYPE html><html><body>Please log in</body></html>"), "HTML page"},
		{"malformed json", 200, "application/json", []byte(`[{"target": "a", "datapoints": [[1, 2]`), "not Graphite JSON"},
		{"unauthorized", 401, "text/plain", []byte("no"), "username/password"},
		{"50 MB answer", 200, "application/json", big, "larger than 32 MiB"},
		{"escape in error", 500, "text/plain", []byte("boom\x1b]0;pwned\x07 here"), "boom here"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.status)
				_, _ = w.Write(c.body)
			}))
			defer srv.Close()
			s, _ := New("g", Options{URL: srv.URL, Targets: []string{"a"}})
			_, err := s.Poll(context.Background(), sources.Request{Now: time.Now(), Step: 10 * time.Second})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Fatalf("escape in error: %q", err)
			}
		})
	}
}

func TestServerThatNeverAnswersTimesOut(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hold)
	s, _ := New("g", Options{URL: srv.URL, Targets: []string{"a"}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Poll(ctx, sources.Request{Now: time.Now(), Step: 10 * time.Second})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("error %v, want a timeout", err)
	}
}

func TestInfiniteValuesBecomeGapsAndAreCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"target":"a","datapoints":[[1,1795419000],[Infinity,1795419010],[-Infinity,1795419020],[NaN,1795419030]]}]`))
	}))
	defer srv.Close()
	s, _ := New("g", Options{URL: srv.URL, Targets: []string{"a"}})
	b, err := s.Poll(context.Background(), sources.Request{Now: time.Unix(1795419040, 0), Step: 10 * time.Second, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	pts := b.Series[0].Points
	if len(pts) != 4 || pts[0].V != 1 || !pts[1].Missing() || !pts[2].Missing() || !pts[3].Missing() {
		t.Fatalf("points %v", pts)
	}
	if !strings.Contains(b.Status.Detail, "2 infinite") {
		t.Errorf("detail %q", b.Status.Detail)
	}
}

func TestFindDecodesRealCaptures(t *testing.T) {
	nodes, err := DecodeFind(mustRead(t, "testdata/find_nested.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != "opsview.test.web01" || nodes[0].Text != "web01" || nodes[0].Leaf {
		t.Errorf("nested: %+v", nodes)
	}
	leaf, err := DecodeFind(mustRead(t, "testdata/find_leaf.json"))
	if err != nil || len(leaf) != 2 || leaf[0].Leaf || !leaf[1].Leaf || leaf[1].ID != "opsview.test.web01.latency_ms" {
		t.Errorf("leaf: %+v %v", leaf, err)
	}
	if _, err := DecodeFind([]byte("<html>")); err == nil {
		t.Error("html accepted")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
