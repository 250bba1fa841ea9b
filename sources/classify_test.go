package sources_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/graphite"
	"github.com/opsview/opsview/sources/prometheus"
)

func defaultRules() sources.Rules {
	return append(graphite.DefaultRules(), prometheus.DefaultRules()...)
}

// classifyCorpus is names and labels the default rules see: Graphite
// paths, node_exporter metrics with and without an instance, names with
// capitals, slashes, braces and label values that rules match by ID.
func classifyCorpus() []sources.Series {
	var out []sources.Series
	names := []string{
		"servers.db-1.cpu.iowait", "servers.web-1.cpu.total.iowait", "collectd.host1.cpu-0.cpu-wait",
		"servers.lb1.loadavg.01", "servers.a.memory.MemFree", "servers.a.iostat.sda.util_percentage",
		"servers.a.iostat.sda.await", "servers.a.diskspace.root.byte_percentfree", "h.disk-sda.disk_io_time.io_time",
		"servers.a.network.eth0.rx_errors", "servers.a.network.eth0.rx_bytes", "h.interface-eth0.if_errors.rx",
		"stats.web.requests_total", "servers.pg1.postgres.connections", "a.redis.keys", "x.nginx.active",
		"node_load1", "node_load15", "node_cpu_seconds_total", "node_disk_read_time_seconds_total",
		"node_disk_read_bytes_total", "node_filesystem_avail_bytes", "node_memory_MemAvailable_bytes",
		"node_network_receive_errs_total", "node_network_receive_bytes_total", "node_netstat_Tcp_RetransSegs",
		"node_nf_conntrack_entries", "node_pressure_io_waiting_seconds_total", "app_latency_seconds",
		"Service.HTTP_5xx_Rate", "cache.hit_ratio", "probe_success", "db_replication_lag", "a/b.cpu.iowait",
		"servers.a/b.memory.x", "", "*", "node_", "servers..memory.", "x.mysql.y{", "weird}name",
	}
	labelSets := []map[string]string{
		nil,
		{"instance": "db-1:9100"},
		{"instance": "db-1:9100", "mode": "iowait"},
		{"mode": "steal", "cpu": "0"},
		{"mode": "user"},
		{"instance": "h:9100", "mountpoint": "/var/lib", "device": "/dev/sda1"},
		{"backend": "app", "server": "app/1"},
	}
	for _, n := range names {
		for _, l := range labelSets {
			out = append(out, sources.Series{Name: n, Labels: l})
			// a source's own say, that rules override and names do not
			out = append(out, sources.Series{Name: n, Labels: l, Unit: "ms", Role: sources.RoleSymptom, Harm: sources.HarmUp, Measure: sources.MeasureLatency})
		}
	}
	return out
}

// The classifier says of every series what Rules.Apply says, the first
// time and from its memory after.
func TestClassifierAgreesWithRules(t *testing.T) {
	extra := sources.Rules{
		{Match: `node_load1{instance="db-1:9100"}`, Role: sources.RoleSymptom, Source: "src"},
		{Match: "node_cpu_seconds_total{*", Labels: map[string]string{"mode": "st?al"}, Unit: "steal%"},
		{Match: "*mode=\"user\"}", Kind: sources.SeriesRatio},
		{Match: "servers.[a-c].memory.*", Harm: sources.HarmBoth, Source: "other"},
		{Match: "bad[", Role: sources.RoleTraffic},
		{Labels: map[string]string{"server": "app/*"}, Node: "$backend-$server", Measure: sources.MeasureErrors},
		{Match: "servers.a/b.*", Layer: sources.LayerEdge},
		{Match: "*/b.cpu.*", Layer: sources.LayerProvider},
	}
	rules := append(extra, defaultRules()...)
	corpus := classifyCorpus()
	c := sources.NewClassifier(rules)
	for _, src := range []string{"src", "other"} {
		for round := 0; round < 2; round++ {
			want := &sources.Batch{Source: src, Series: clone(corpus)}
			rules.Apply(want)
			got := &sources.Batch{Source: src, Series: clone(corpus)}
			c.Apply(got)
			for i := range want.Series {
				w, g := want.Series[i], got.Series[i]
				// the classifier notes each series' hash on the way
				if g.Hash != sources.SeriesHash(g.Name, g.Labels) {
					t.Errorf("%s: hash %x, want %x", g.ID(), g.Hash, sources.SeriesHash(g.Name, g.Labels))
				}
				g.Hash = 0
				if fmt.Sprint(w) != fmt.Sprint(g) {
					t.Errorf("%s round %d: %s:\n got %+v\nwant %+v", src, round, w.ID(), g, w)
				}
			}
		}
	}
}

func clone(ss []sources.Series) []sources.Series {
	out := make([]sources.Series, len(ss))
	for i, s := range ss {
		out[i] = s
		if s.Labels != nil {
			out[i].Labels = map[string]string{}
			for k, v := range s.Labels {
				out[i].Labels[k] = v
			}
		}
	}
	return out
}

// The classifier forgets series a source stopped sending, so its memory
// follows the store's series, not every series ever seen.
func TestClassifierForgetsGoneSeries(t *testing.T) {
	c := sources.NewClassifier(defaultRules())
	for poll := 0; poll < 40; poll++ {
		b := &sources.Batch{Source: "s"}
		for i := 0; i < 500; i++ {
			b.Series = append(b.Series, sources.Series{Name: "node_load1", Labels: map[string]string{"instance": fmt.Sprintf("h%d-%d", poll, i)}})
		}
		c.Apply(b)
	}
	if n := c.Len(); n > 8*500 { // the last eight polls' series at most
		t.Fatalf("remembers %d series after 40 polls of 500 new ones", n)
	}
}

// hostileName is a 10 kB name built to make a glob matcher try many
// positions: every default rule's words, many dots.
func hostileName() string {
	var b strings.Builder
	for b.Len() < 10000 {
		b.WriteString("x.db.cpu.memory.iostat.network.node_disk_.requests.")
	}
	return b.String()[:10000]
}

// BenchmarkClassify: one poll's series through the default rules, as
// Rules.Apply did it (every glob, twice, on every poll) and with the
// classifier (steady: the series seen on earlier polls; first: every
// series new, the classifier's worst case).
func BenchmarkClassify(b *testing.B) {
	rules := defaultRules()
	for _, n := range []int{1000, 10000, 100000} {
		series := make([]sources.Series, n)
		for i := range series {
			name := []string{"node_load1", "node_filesystem_avail_bytes", "servers.host%d.cpu.total.iowait", "app_request_latency_seconds", "node_network_receive_bytes_total"}[i%5]
			if strings.Contains(name, "%d") {
				series[i] = sources.Series{Name: fmt.Sprintf(name, i)}
				continue
			}
			series[i] = sources.Series{Name: name, Labels: map[string]string{"instance": fmt.Sprintf("host-%05d:9100", i/5), "device": "eth0"}}
		}
		batch := &sources.Batch{Source: "synth", Series: series}
		b.Run(fmt.Sprintf("rules/series=%d", n), func(b *testing.B) {
			if n > 10000 && testing.Short() {
				b.Skip("slow")
			}
			b.ReportAllocs()
			for b.Loop() {
				rules.Apply(batch)
			}
		})
		b.Run(fmt.Sprintf("classifier/series=%d", n), func(b *testing.B) {
			c := sources.NewClassifier(rules)
			c.Apply(batch)
			b.ReportAllocs()
			for b.Loop() {
				c.Apply(batch)
			}
		})
		b.Run(fmt.Sprintf("classifier-first/series=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sources.NewClassifier(rules).Apply(batch)
			}
		})
	}
	// one hostile 10 kB name, new each time
	name := hostileName()
	b.Run("hostile-10kB/rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rules.Apply(&sources.Batch{Series: []sources.Series{{Name: name, Labels: map[string]string{"a": "b"}}}})
		}
	})
	b.Run("hostile-10kB/classifier-first", func(b *testing.B) {
		c := sources.NewClassifier(rules)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++ // a new series each time: its first classification
			c.Apply(&sources.Batch{Series: []sources.Series{{Name: name, Labels: map[string]string{"a": strconv.Itoa(i)}}}})
		}
	})
}

// A series seen again leaves with the labels map it was first seen with
// (equal, so nothing changes for it; the store knows that map at once).
func TestClassifierHandsOnTheFirstLabels(t *testing.T) {
	c := sources.NewClassifier(defaultRules())
	first := map[string]string{"instance": "a"}
	c.Apply(&sources.Batch{Source: "s", Series: []sources.Series{{Name: "node_load1", Labels: first}}})
	b := &sources.Batch{Source: "s", Series: []sources.Series{{Name: "node_load1", Labels: map[string]string{"instance": "a"}}}}
	c.Apply(b)
	first["probe"] = "x" // only to tell the maps apart
	if b.Series[0].Labels["probe"] != "x" {
		t.Fatal("labels not the first map")
	}
}

// A series that comes with its hash (its source keeps its labels map
// from poll to poll) keeps its own map, and the classifier remembers
// that one: the next poll compares maps by address.
func TestClassifierKeepsTheLabelsOfASourceThatKeepsThem(t *testing.T) {
	c := sources.NewClassifier(defaultRules())
	first := map[string]string{"instance": "a"}
	c.Apply(&sources.Batch{Source: "s", Series: []sources.Series{{Name: "node_load1", Labels: first}}})
	kept := map[string]string{"instance": "a"}
	for poll := 0; poll < 2; poll++ {
		b := &sources.Batch{Source: "s", Series: []sources.Series{{Name: "node_load1", Labels: kept, Hash: sources.SeriesHash("node_load1", kept)}}}
		c.Apply(b)
		if !sources.SameLabels(b.Series[0].Labels, kept) {
			t.Fatal("labels changed")
		}
		kept["probe"] = "x" // only to tell the maps apart
		if b.Series[0].Labels["probe"] != "x" {
			t.Fatalf("poll %d: the source's labels map replaced by the first one seen", poll)
		}
		delete(kept, "probe")
	}
}

// The classifier tries each series at its place in the source's last
// batch first; a batch in another order gets each series' own outcome.
func TestClassifierFindsSeriesByPlaceAndChecks(t *testing.T) {
	rules := defaultRules()
	c := sources.NewClassifier(rules)
	a := sources.Series{Name: "node_load1", Labels: map[string]string{"instance": "a"}}
	b := sources.Series{Name: "node_procs_blocked", Labels: map[string]string{"instance": "a"}}
	z := sources.Series{Name: "node_load1", Labels: map[string]string{"instance": "z"}}
	for _, order := range [][]sources.Series{{a, b}, {b, a}, {z, a, b}, {a, z, b}} {
		got := &sources.Batch{Source: "s", Series: clone(order)}
		c.Apply(got)
		want := &sources.Batch{Source: "s", Series: clone(order)}
		rules.Apply(want)
		for i := range want.Series {
			g := got.Series[i]
			g.Hash = 0
			if fmt.Sprint(g) != fmt.Sprint(want.Series[i]) {
				t.Fatalf("%s:\n got %+v\nwant %+v", g.ID(), g, want.Series[i])
			}
		}
	}
}

func TestSameMap(t *testing.T) {
	a, b := map[string]string{"x": "1"}, map[string]string{"x": "1"}
	for _, c := range []struct {
		a, b map[string]string
		want bool
	}{{a, a, true}, {a, b, false}, {nil, map[string]string{}, true}, {a, nil, false}, {nil, a, false}} {
		if got := sources.SameMap(c.a, c.b); got != c.want {
			t.Errorf("SameMap(%p, %p) = %v", c.a, c.b, got)
		}
	}
}
