package graphite

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
)

// One carbon-cache + graphite-web per test binary: the first start costs
// seconds (database migration).
var (
	gwOnce  sync.Once
	gw      *graphiteServers
	gwErr   error
	gwSkip  string
	gwProcs []*realserver.Proc
	gwDir   string
)

type graphiteServers struct {
	line int    // carbon plaintext port
	web  string // graphite-web base URL
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(gwProcs) - 1; i >= 0; i-- {
		gwProcs[i].Stop()
	}
	if gwDir != "" {
		os.RemoveAll(gwDir)
	}
	os.Exit(code)
}

func needGraphite(t *testing.T) *graphiteServers {
	t.Helper()
	gwOnce.Do(startGraphite)
	if gwSkip != "" {
		if realserver.InCI() {
			t.Fatal(gwSkip)
		}
		t.Skip(gwSkip)
	}
	if gwErr != nil {
		t.Fatal(gwErr)
	}
	return gw
}

func startGraphite() {
	if r := realserver.Missing("carbon-cache", "graphite-manage", "/usr/bin/python3"); r != "" {
		gwSkip = r
		return
	}
	dir, err := os.MkdirTemp("", "opsview-graphite-")
	if err != nil {
		gwErr = err
		return
	}
	gwDir = dir
	ports, err := realserver.FreePorts(4)
	if err != nil {
		gwErr = err
		return
	}
	line, pickle, cacheq, web := ports[0], ports[1], ports[2], ports[3]
	for _, d := range []string{"storage/whisper", "storage/lists", "log", "pymod"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			gwErr = err
			return
		}
	}
	files := map[string]string{
		"carbon.conf": fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/storage
LOCAL_DATA_DIR = %[1]s/storage/whisper
WHITELISTS_DIR = %[1]s/storage/lists
CONF_DIR = %[1]s
LOG_DIR = %[1]s/log
PID_DIR = %[1]s
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 5000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[2]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[3]d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[4]d
USE_FLOW_CONTROL = True
CARBON_METRIC_INTERVAL = 0
`, dir, line, pickle, cacheq),
		"storage-schemas.conf": "[default]\npattern = .*\nretentions = 1s:1h,10s:1d\n",
		"pymod/opsview_test_settings.py": fmt.Sprintf(`GRAPHITE_ROOT = '/usr/share/graphite-web'
CONF_DIR = '%[1]s'
STORAGE_DIR = '%[1]s/storage'
WHISPER_DIR = '%[1]s/storage/whisper'
STATIC_ROOT = '/usr/share/graphite-web/static'
LOG_DIR = '%[1]s/log'
INDEX_FILE = '%[1]s/search_index'
CARBONLINK_HOSTS = ['127.0.0.1:%[2]d']
SECRET_KEY = 'test'
LOG_ROTATION = False
DEFAULT_XFILES_FACTOR = 0
TIME_ZONE = 'UTC'
DATABASES = {'default': {'NAME': '%[1]s/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
`, dir, cacheq),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			gwErr = err
			return
		}
	}
	carbon, err := realserver.Start(dir, nil, "carbon-cache", "--config="+filepath.Join(dir, "carbon.conf"), "--debug", "start")
	if err != nil {
		gwErr = err
		return
	}
	gwProcs = append(gwProcs, carbon)
	env := []string{"PYTHONPATH=" + filepath.Join(dir, "pymod"), "GRAPHITE_SETTINGS_MODULE=opsview_test_settings"}
	if out, err := realserver.Run(dir, env, 2*time.Minute, "/usr/bin/python3", "/usr/bin/graphite-manage", "migrate", "--run-syncdb", "--noinput"); err != nil {
		gwErr = fmt.Errorf("graphite-manage migrate: %v\n%s", err, out)
		return
	}
	webp, err := realserver.Start(dir, env, "/usr/bin/python3", "/usr/bin/graphite-manage", "runserver", realserver.Addr(web), "--noreload")
	if err != nil {
		gwErr = err
		return
	}
	gwProcs = append(gwProcs, webp)
	if err := realserver.WaitTCP(carbon, realserver.Addr(line), 30*time.Second); err != nil {
		gwErr = err
		return
	}
	base := "http://" + realserver.Addr(web)
	if err := realserver.WaitHTTP(webp, base+"/metrics/find?query=*", 60*time.Second); err != nil {
		gwErr = err
		return
	}
	gw = &graphiteServers{line: line, web: base}
}

// send writes points with carbon's plaintext protocol.
func (g *graphiteServers) send(t *testing.T, lines []string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", realserver.Addr(g.line), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
}

// recorder sits in front of graphite-web and keeps each render query.
type recorder struct {
	mu    sync.Mutex
	forms []url.Values
	proxy *httputil.ReverseProxy
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/render" {
		r.mu.Lock()
		r.forms = append(r.forms, req.URL.Query())
		r.mu.Unlock()
	}
	r.proxy.ServeHTTP(w, req)
}

func (r *recorder) last() url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forms[len(r.forms)-1]
}

func value(ts int64) float64 { return float64(ts%100) + 0.5 }

func TestRealGraphiteBackfillThenIncremental(t *testing.T) {
	g := needGraphite(t)
	prefix := fmt.Sprintf("opsview.it%d", time.Now().UnixNano()%1e6)
	now := time.Now().Truncate(10 * time.Second)
	t0 := now.Add(-30 * time.Second) // the first poll's "now"
	var lines []string
	for ts := now.Unix() - 300; ts <= t0.Unix(); ts++ {
		lines = append(lines, fmt.Sprintf("%s.db-1.cpu.iowait %g %d", prefix, value(ts), ts))
		if ts%2 == 0 { // web-1 only every other second: its buckets average fewer points
			lines = append(lines, fmt.Sprintf("%s.web-1.cpu.iowait %g %d", prefix, 2*value(ts), ts))
		}
	}
	g.send(t, lines)

	u, _ := url.Parse(g.web)
	rec := &recorder{proxy: httputil.NewSingleHostReverseProxy(u)}
	front := httptest.NewServer(rec)
	defer front.Close()
	s, err := New("graphite", Options{URL: front.URL, Targets: []string{prefix + ".*.cpu.iowait", `alias(sumSeries(` + prefix + `.*.cpu.iowait),"total")`}})
	if err != nil {
		t.Fatal(err)
	}
	req := sources.Request{Now: t0, From: t0.Add(-4 * time.Minute), Until: t0, Step: 10 * time.Second, Backfill: true}
	var b *sources.Batch
	// a new metric reaches the render API about a second after it is sent
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err = s.Poll(context.Background(), req)
		if err == nil && len(b.Series) == 3 && lastValue(b.Series[0]) == t0.Unix() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("points not readable after 20 s: %v %+v", err, b)
		}
		time.Sleep(300 * time.Millisecond)
	}
	f := rec.last()
	if f.Get("from") != fmt.Sprint(t0.Add(-4*time.Minute).Unix()) || f.Get("until") != fmt.Sprint(t0.Unix()) || f.Get("maxDataPoints") != "250" || len(f["target"]) != 2 {
		t.Errorf("backfill render query %v", f)
	}
	byName := map[string]sources.Series{}
	for _, x := range b.Series {
		byName[x.Name] = x
	}
	db, web, total := byName[prefix+".db-1.cpu.iowait"], byName[prefix+".web-1.cpu.iowait"], byName["total"]
	if len(db.Points) == 0 || len(web.Points) == 0 || len(total.Points) == 0 {
		t.Fatalf("series: %v", b.Series)
	}
	checked := 0
	for _, p := range db.Points {
		if p.T.Unix()%10 != 0 {
			t.Fatalf("point %v is not on the 10 s clock", p.T)
		}
		b0 := p.T.Unix()
		var sum float64
		var n int
		for ts := b0; ts < b0+10; ts++ {
			if ts > t0.Add(-4*time.Minute).Unix() && ts <= t0.Unix() {
				sum += value(ts)
				n++
			}
		}
		if n == 0 {
			continue
		}
		if math.Abs(p.V-sum/float64(n)) > 1e-9 {
			t.Errorf("bucket %d: %v, want the mean of what was written %v", b0, p.V, sum/float64(n))
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d buckets checked", checked)
	}
	// the series keep their Graphite identity and the default rules place them
	DefaultRules().Classify("graphite", &db)
	if db.Role != sources.RoleResource || db.Layer != sources.LayerDB || db.Unit != "%" {
		t.Errorf("db-1 iowait classified %v/%v/%q", db.Role, db.Layer, db.Unit)
	}
	if total.Labels["aggregatedBy"] != "sum" {
		t.Errorf("sumSeries tags not kept as labels: %v", total.Labels)
	}

	// 30 s later: new points, and the poll asks only for the new part
	var more []string
	for ts := t0.Unix() + 1; ts <= now.Unix(); ts++ {
		more = append(more, fmt.Sprintf("%s.db-1.cpu.iowait %g %d", prefix, value(ts), ts))
	}
	g.send(t, more)
	req2 := sources.Request{Now: now, From: t0, Until: now, Step: 10 * time.Second}
	deadline = time.Now().Add(20 * time.Second)
	for {
		b, err = s.Poll(context.Background(), req2)
		if err == nil && len(b.Series) > 0 && lastValue(seriesNamed(b, prefix+".db-1.cpu.iowait")) == now.Unix() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new points not readable: %v %+v", err, b)
		}
		time.Sleep(300 * time.Millisecond)
	}
	f = rec.last()
	if want := fmt.Sprint(t0.Unix() - 10); f.Get("from") != want {
		t.Errorf("incremental from %s, want %s (the last point seen minus one step)", f.Get("from"), want)
	}
	got := seriesNamed(b, prefix+".db-1.cpu.iowait")
	if len(got.Points) > 6 {
		t.Errorf("incremental poll returned %d points, want only the new part", len(got.Points))
	}
}

func seriesNamed(b *sources.Batch, name string) sources.Series {
	for _, s := range b.Series {
		if s.Name == name {
			return s
		}
	}
	return sources.Series{}
}

// lastValue is the bucket start of the newest value, in Unix seconds.
func lastValue(s sources.Series) int64 {
	for i := len(s.Points) - 1; i >= 0; i-- {
		if !s.Points[i].Missing() {
			return s.Points[i].T.Unix()
		}
	}
	return 0
}

func TestRealGraphiteFind(t *testing.T) {
	g := needGraphite(t)
	prefix := fmt.Sprintf("opsview.find%d", time.Now().UnixNano()%1e6)
	ts := time.Now().Unix()
	g.send(t, []string{
		fmt.Sprintf("%s.db-1.cpu.iowait 1 %d", prefix, ts),
		fmt.Sprintf("%s.db-1.load 1 %d", prefix, ts),
		fmt.Sprintf("%s.web-1.cpu.iowait 1 %d", prefix, ts),
	})
	s, err := New("graphite", Options{URL: g.web})
	if err != nil {
		t.Fatal(err)
	}
	var nodes []Node
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodes, err = s.Find(context.Background(), prefix+".*")
		if err == nil && len(nodes) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("find: %v %+v", err, nodes)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if nodes[0].ID != prefix+".db-1" || nodes[0].Text != "db-1" || nodes[0].Leaf || nodes[1].Text != "web-1" {
		t.Errorf("branches %+v", nodes)
	}
	leaves, err := s.Find(context.Background(), prefix+".db-1.*")
	if err != nil {
		t.Fatal(err)
	}
	var leaf *Node
	for i := range leaves {
		if leaves[i].Text == "load" {
			leaf = &leaves[i]
		}
	}
	if leaf == nil || !leaf.Leaf || leaf.ID != prefix+".db-1.load" {
		t.Errorf("leaves %+v", leaves)
	}
	none, err := s.Find(context.Background(), "no.such.tree.*")
	if err != nil || len(none) != 0 {
		t.Errorf("no match: %v %v", none, err)
	}

	// the series picker: browse the tree, add a leaf, the next poll has it
	kids, err := s.Browse(context.Background(), prefix+".db-1")
	if err != nil || len(kids) != 2 {
		t.Fatalf("browse: %v %+v", err, kids)
	}
	if err := s.AddSeries(prefix + ".db-1.load"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSeries("two\nlines"); err == nil {
		t.Error("a target with a newline was accepted")
	}
	b, err := s.Poll(context.Background(), sources.Request{Now: time.Now(), Step: 10 * time.Second, From: time.Now().Add(-5 * time.Minute), Until: time.Now(), Backfill: true})
	if err != nil || len(b.Series) != 1 || b.Series[0].Name != prefix+".db-1.load" {
		t.Fatalf("poll after AddSeries: %v %+v", err, b)
	}
}

func TestRealGraphiteBadFunctionIsNamed(t *testing.T) {
	g := needGraphite(t)
	s, _ := New("graphite", Options{URL: g.web, Targets: []string{"nosuchFunction(a.b)"}})
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Now(), Step: 10 * time.Second, Backfill: true})
	if err == nil || !strings.Contains(err.Error(), "unknown function") || !strings.Contains(err.Error(), "check the target") {
		t.Fatalf("error %v", err)
	}
}
