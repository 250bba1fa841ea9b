package scale

import (
	"context"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources/prometheus"
)

// BenchmarkPollCycle is one poll of the synthetic exporter end to end
// (scrape over loopback HTTP, parse, classify, store, engine) with the
// store already holding an hour at 10 s: the exporter is polled every
// 5 s, so every other poll moves the store's clock and is judged, as
// live. ns/op is per poll. The exporter's page is rendered with the
// timer stopped: on a bastion it is another process's work. cpu-ms/op is
// the process's CPU time (all threads: the GC too) over the polls alone,
// which a loaded machine disturbs less than the wall clock.
func BenchmarkPollCycle(b *testing.B) {
	for _, n := range []int{10000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			var clock time.Time
			exp := &Exporter{N: n, Now: func() time.Time { return clock }}
			srv := httptest.NewServer(exp)
			defer srv.Close()
			src, err := prometheus.NewExporterWith("synth", prometheus.ExporterOptions{URL: srv.URL, MaxSeries: n, MaxResponseMB: 64})
			if err != nil {
				b.Fatal(err)
			}
			p := NewPipeline("synth", "exporter", src, correlate.StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
			clock = time.Unix(1795420000, 0)
			// an hour of history first, so the engine judges full windows
			p.Prefill(History(n, clock.Add(-time.Hour), clock, 10*time.Second), clock)
			clock = clock.Add(5 * time.Second)
			// two polls first: the first judgement copies the whole
			// window out of the store, which a running session does once
			// (and again every sixteenth of a window: snapSlack), not per poll
			for range 2 {
				exp.Prerender(clock)
				if _, err := p.Poll(context.Background(), clock, 0); err != nil {
					b.Fatal(err)
				}
				clock = clock.Add(5 * time.Second)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				exp.Prerender(clock)
				b.StartTimer()
				c0 := cpuTime()
				if _, err := p.Poll(context.Background(), clock, 0); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				clock = clock.Add(5 * time.Second)
			}
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
