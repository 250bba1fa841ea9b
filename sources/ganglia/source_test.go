package ganglia

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

// dumpServer writes its current dump to whoever connects, as gmond and
// gmetad do.
type dumpServer struct {
	mu   sync.Mutex
	body []byte
	addr string
}

func newDumpServer(t *testing.T, body []byte) *dumpServer {
	t.Helper()
	d := &dumpServer{body: body}
	d.addr = sourcetest.ServeTCP(t, func(c net.Conn) {
		d.mu.Lock()
		b := d.body
		d.mu.Unlock()
		if b == nil { // endless
			chunk := []byte(strings.Repeat(`<CLUSTER NAME="x"></CLUSTER>`, 1000))
			c.Write([]byte(`<GANGLIA_XML SOURCE="gmond">`))
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
		c.Write(b)
	})
	return d
}

func (d *dumpServer) set(b []byte) {
	d.mu.Lock()
	d.body = b
	d.mu.Unlock()
}

func newSource(t testing.TB, yaml string) *Source {
	return sourcetest.New[*Source](t, factory, "ganglia", yaml)
}

func get(b *sources.Batch, name string, labels map[string]string) *sources.Series {
	for i := range b.Series {
		s := &b.Series[i]
		if s.Name != name || len(s.Labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			if s.Labels[k] != v {
				match = false
			}
		}
		if match {
			return s
		}
	}
	return nil
}

func TestGridDumpGivesHostAndClusterSeries(t *testing.T) {
	body, _ := os.ReadFile(filepath.Join("testdata", "gmetad-grid.xml"))
	srv := newDumpServer(t, body)
	s := newSource(t, "address: "+srv.addr+"\n")
	t0 := time.Unix(1796657900, 0)
	b, err := sourcetest.PollAt(t, s, t0)
	if err != nil {
		t.Fatal(err)
	}
	db1 := map[string]string{"cluster": "db", "host": "db-1"}
	wio := get(b, "cpu_wio", db1)
	if wio == nil || wio.Unit != "%" || wio.Node != "db-1" || wio.Role != sources.RoleResource || wio.Layer != sources.LayerHost ||
		wio.Kind != sources.SeriesGauge || wio.Points[0].V != 61.5 {
		t.Fatalf("cpu_wio %+v", wio)
	}
	if m := get(b, "mem_free", db1); m == nil || m.Unit != "B" || m.Points[0].V != 1024*1024 {
		t.Errorf("mem_free in bytes: %+v", m)
	}
	for _, gone := range []string{"cpu_num", "os_name", "old_gauge"} {
		if get(b, gone, db1) != nil {
			t.Errorf("%s: constants, strings and stale metrics make no series", gone)
		}
	}
	if get(b, "cpu_wio", map[string]string{"cluster": "db", "host": "db-3"}) != nil {
		t.Error("a host that stopped reporting has no fresh values")
	}
	db := map[string]string{"cluster": "db"}
	if up, down := get(b, "ganglia_hosts_up", db), get(b, "ganglia_hosts_down", db); up == nil || down == nil ||
		up.Points[0].V != 2 || down.Points[0].V != 1 || down.Harm != sources.HarmUp || up.Node != "db" {
		t.Errorf("hosts up %+v down %+v", up, down)
	}
	if m := get(b, "cpu_wio", db); m == nil || m.Points[0].V != 31.5 {
		t.Errorf("a percentage across the cluster is the mean: %+v", m)
	}
	if m := get(b, "load_one", db); m == nil || m.Points[0].V != 13 {
		t.Errorf("load across the cluster is the sum: %+v", m)
	}
	west := map[string]string{"grid": "dc-west"}
	if up := get(b, "ganglia_hosts_up", west); up == nil || up.Points[0].V != 40 {
		t.Errorf("grid summary %+v", up)
	}
	if m := get(b, "cpu_wio", west); m == nil || m.Points[0].V != 10 {
		t.Errorf("grid cpu_wio %+v", m)
	}
	q := get(b, "queries_total", db1)
	if q == nil || q.Kind != sources.SeriesRate || !math.IsNaN(q.Points[0].V) {
		t.Fatalf("a counter's first reading has no rate: %+v", q)
	}
	srv.set([]byte(strings.Replace(string(body), `VAL="5000"`, `VAL="5600"`, 1)))
	b, _ = sourcetest.PollAt(t, s, t0.Add(time.Minute))
	if q := get(b, "queries_total", db1); q == nil || q.Points[0].V != 10 {
		t.Errorf("rate %+v", q)
	}
	if !strings.HasPrefix(b.Status.Detail, "gmetad 3.7.2: 2 clusters, 3 hosts (1 down)") {
		t.Errorf("detail %q", b.Status.Detail)
	}
}

func TestMetricsAndHostsCanBeNarrowed(t *testing.T) {
	body, _ := os.ReadFile(filepath.Join("testdata", "gmetad-grid.xml"))
	srv := newDumpServer(t, body)
	b, err := sourcetest.PollAt(t, newSource(t, "address: "+srv.addr+"\nmetrics: [\"cpu_*\"]\nhosts: false\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range b.Series {
		if sr.Labels["host"] != "" || !strings.HasPrefix(sr.Name, "cpu_") && !strings.HasPrefix(sr.Name, "ganglia_hosts_") {
			t.Errorf("unasked %s %v", sr.Name, sr.Labels)
		}
	}
}

// XML refuses ESC itself, but ISO-8859-1 carries the C1 controls (0x9B
// is CSI, 0x9D OSC) and character references carry bidi overrides: none
// of them reaches a series.
func TestHostileNamesAreCleaned(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><GANGLIA_XML SOURCE=\"gmond\"><CLUSTER NAME=\"c\x9b2J\"><HOST NAME=\"h\x9d0;ownedx\" IP=\"1\" TN=\"1\" TMAX=\"20\">" +
		"<METRIC NAME=\"m&#x202E;gnp.exe\" VAL=\"1\" TYPE=\"float\" UNITS=\"u\x9b0m\" TN=\"1\" TMAX=\"60\" SLOPE=\"both\"/></HOST></CLUSTER></GANGLIA_XML>"
	srv := newDumpServer(t, []byte(doc))
	b, err := sourcetest.PollAt(t, newSource(t, "address: "+srv.addr+"\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) < 3 {
		t.Fatalf("%d series", len(b.Series))
	}
	for _, sr := range b.Series {
		for _, s := range []string{sr.Name, sr.Unit, sr.Node, sr.Labels["cluster"], sr.Labels["host"]} {
			if s != sources.Clean(s) || strings.ContainsAny(s, "\u009b\u009d\u202e\x07") {
				t.Errorf("%q reached a series", s)
			}
		}
	}
}

func TestARunawayDumpIsCutAtTheLimit(t *testing.T) {
	srv := newDumpServer(t, nil)
	_, err := sourcetest.PollAt(t, newSource(t, "address: "+srv.addr+"\nmax_answer_mb: 1\n"), time.Now())
	if err == nil || !strings.Contains(err.Error(), "larger than 1 MiB (raise max_answer_mb") || !strings.Contains(err.Error(), `ganglia "ganglia"`) {
		t.Fatalf("got %v", err)
	}
}

func TestConfigMistakes(t *testing.T) {
	for yaml, want := range map[string]string{
		"":                                "address is required",
		"address: \"a b\"":                "want host:port",
		"address: a:1\nmetrics: [\"[\"]":  "metric name or a glob",
		"address: a:1\nmax_answer_mb: -1": "must be positive",
	} {
		opts, err := config.OptionsFromYAML("g.yaml", yaml)
		if err == nil {
			_, err = factory(sources.Env{Name: "g"}, opts)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", yaml, want, err)
		}
	}
}

// startGmond runs a real gmond on loopback (realserver.Gmond), its
// cluster named opsview-it.
func startGmond(t testing.TB) string {
	t.Helper()
	p, addr, err := realserver.Gmond(t.TempDir(), "opsview-it")
	if errors.Is(err, realserver.ErrNotInstalled) && !realserver.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return addr
}

// waitSeries polls until a series named name is in the batch (gmond
// reports its metrics a moment after it starts).
func waitSeries(t *testing.T, s *Source, name string) *sources.Batch {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := sourcetest.PollAt(t, s, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, sr := range b.Series {
			if sr.Name == name && sr.Labels["host"] != "" {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s from gmond in a minute: %d series, %s", name, len(b.Series), b.Status.Detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestRealGmondMetricsBecomeHostAndClusterSeries(t *testing.T) {
	addr := startGmond(t)
	s := newSource(t, "address: "+addr+"\n")
	b := waitSeries(t, s, "load_one")
	var host string
	for _, sr := range b.Series {
		if sr.Name == "load_one" && sr.Labels["host"] != "" {
			host = sr.Labels["host"]
			if sr.Node != host || sr.Labels["cluster"] != "opsview-it" || sr.Unit != "" || math.IsNaN(sr.Points[0].V) {
				t.Errorf("load_one %+v", sr)
			}
		}
		if sr.Name == "cpu_num" || sr.Name == "os_name" {
			t.Errorf("%s makes no series", sr.Name)
		}
	}
	hl := map[string]string{"cluster": "opsview-it", "host": host}
	if m := get(b, "mem_free", hl); m != nil && (m.Unit != "B" || m.Points[0].V <= 0) {
		t.Errorf("mem_free %+v", m)
	}
	if m := get(b, "cpu_user", hl); m != nil && m.Unit != "%" {
		t.Errorf("cpu_user %+v", m)
	}
	c := map[string]string{"cluster": "opsview-it"}
	if up := get(b, "ganglia_hosts_up", c); up == nil || up.Points[0].V != 1 || up.Node != "opsview-it" {
		t.Errorf("hosts up %+v", up)
	}
	if m, h := get(b, "load_one", c), get(b, "load_one", hl); m == nil || m.Points[0].V != h.Points[0].V {
		t.Errorf("one host: the cluster's load is the host's: %+v %+v", m, h)
	}
	if !strings.HasPrefix(b.Status.Detail, "gmond 3.") {
		t.Errorf("detail %q", b.Status.Detail)
	}
}

func TestNothingListeningSaysWhatToCheck(t *testing.T) {
	port, _ := realserver.FreePort()
	_, err := sourcetest.PollAt(t, newSource(t, fmt.Sprintf("address: 127.0.0.1:%d\n", port)), time.Now())
	if err == nil || !strings.Contains(err.Error(), "tcp_accept_channel") {
		t.Fatalf("got %v", err)
	}
}
