package prometheus

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// BenchmarkScrapeNodeExporter scrapes the real node_exporter capture over
// HTTP and turns it into a batch (parse, rates, units).
func BenchmarkScrapeNodeExporter(b *testing.B) {
	page := read(b, "testdata/node_exporter_metrics.txt")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", textCT)
		_, _ = w.Write(page)
	}))
	defer srv.Close()
	e, err := NewExporterWith("node", ExporterOptions{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1795420000, 0)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		now = now.Add(10 * time.Second)
		batch, err := e.Poll(context.Background(), sources.Request{Now: now})
		if err != nil {
			b.Fatal(err)
		}
		n = len(batch.Series)
	}
	b.ReportMetric(float64(n), "series")
}

// BenchmarkParseNodeExporterPage is the parse alone, per format.
func BenchmarkParseNodeExporterPage(b *testing.B) {
	for _, c := range []struct{ name, file, ctype string }{
		{"text", "testdata/node_exporter_metrics.txt", textCT},
		{"protobuf", "testdata/node_exporter_metrics.pb", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"},
	} {
		page := read(b, c.file)
		h := http.Header{"Content-Type": {c.ctype}}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseExposition(bytes.NewReader(page), h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStoreMemory10kSeries1h puts 10,000 series × 1 h at 10 s (as
// ten polls of 1,000 series) through correlate.Store and reports the heap
// the store holds, in MB.
func BenchmarkStoreMemory10kSeries1h(b *testing.B) {
	for _, ret := range []time.Duration{time.Hour, 24 * time.Hour} {
		b.Run(fmt.Sprintf("retention=%v", ret), func(b *testing.B) {
			var heapMB float64
			for b.Loop() {
				heapMB = storeHeapMB(b, ret)
			}
			b.ReportMetric(heapMB, "MB")
		})
	}
}

func storeHeapMB(b *testing.B, retention time.Duration) float64 {
	const series, points = 10000, 360
	step := 10 * time.Second
	t0 := time.Unix(1795420000, 0).Truncate(step)
	b.StopTimer()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.StartTimer()
	st := correlate.NewStore(correlate.StoreOptions{Step: step, Retention: retention})
	for poll := 0; poll < series/1000; poll++ {
		batch := &sources.Batch{Source: "node", At: t0}
		for i := 0; i < 1000; i++ {
			id := poll*1000 + i
			s := sources.Series{
				Name:   "node_cpu_seconds_total",
				Labels: map[string]string{"instance": fmt.Sprintf("host-%04d:9100", id/8), "cpu": fmt.Sprint(id % 8), "mode": "iowait"},
				Unit:   "%", Role: sources.RoleResource, Layer: sources.LayerHost, Node: fmt.Sprintf("host-%04d", id/8),
				Points: make([]sources.Point, points),
			}
			for j := range s.Points {
				s.Points[j] = sources.Point{T: t0.Add(time.Duration(j-points+1) * step), V: float64(j % 17)}
			}
			batch.Series = append(batch.Series, s)
		}
		st.Apply(batch)
	}
	b.StopTimer()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(st)
	b.StartTimer()
	return float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / (1 << 20)
}

// BenchmarkParseGauges10k is the parse of a page of 10,000 labelled
// gauges (the synthetic exporter's shape), by the path the page takes
// and by the full parser alone.
func BenchmarkParseGauges10k(b *testing.B) {
	var page bytes.Buffer
	page.WriteString("# HELP synth_value a synthetic gauge\n# TYPE synth_value gauge\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&page, "synth_value{host=\"h%d\",id=\"%d\"} %d.25\n", i%50, i, i)
	}
	h := http.Header{"Content-Type": {textCT}}
	b.Run("exposition", func(b *testing.B) {
		b.SetBytes(int64(page.Len()))
		b.ReportAllocs()
		for b.Loop() {
			fams, err := ParseExposition(bytes.NewReader(page.Bytes()), h)
			if err != nil || len(fams) != 1 || len(fams[0].Metric) != 10000 {
				b.Fatalf("%v, %d families", err, len(fams))
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.SetBytes(int64(page.Len()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseTextFull(page.Bytes()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
