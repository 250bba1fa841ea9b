// Package scale measures opsview's footprint at 1k, 10k and 100k series:
// a synthetic exporter (served on loopback, no outside network), the poll
// → classify → store → engine cycle the TUI runs, and the figures the
// README's Scale section quotes (see cmd/ below and `make scale`).
package scale

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opsview/opsview/sources"
)

// names are the metric names the synthetic exporter cycles through: a
// mix that the default rules classify (node_exporter resources) and that
// they do not (application gauges), as a bastion's exporters would show.
var names = []string{
	"node_load1", "node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes",
	"node_pressure_io_waiting_seconds", "node_procs_blocked", "node_sockstat_TCP_tw",
	"node_nf_conntrack_entries", "node_disk_io_now",
	"app_request_latency_seconds", "app_http_5xx_ratio", "app_queue_depth",
	"app_cache_hit_ratio", "app_workers_idle", "db_replication_lag_seconds",
	"db_connections", "lb_sessions_current",
}

// Exporter serves N gauges in the Prometheus text format. Series i is
// named after names[i%len(names)] with an instance and a shard label;
// its value is a smooth wave of the time plus a little deterministic
// noise, so a baseline has something to learn.
type Exporter struct {
	N int
	// Now is the clock the values follow; default time.Now.
	Now func() time.Time

	page atomic.Pointer[[]byte] // rendered ahead by Prerender
}

// Prerender renders the page of time t now; it is served until the next
// Prerender, so a benchmark of the poll does not time the exporter's own
// work (another process's CPU on a real bastion).
func (e *Exporter) Prerender(t time.Time) {
	var b bytes.Buffer
	e.write(&b, t)
	p := b.Bytes()
	e.page.Store(&p)
}

// Value is series i's value at t.
func Value(i int, t time.Time) float64 {
	s := float64(t.Unix())
	phase := float64(i%97) / 97 * 2 * math.Pi
	noise := float64(uint32(i*2654435761+int(t.Unix()/5)*40503)%1000) / 1000
	return 50 + 20*math.Sin(s/600+phase) + 5*noise
}

// Names are the metric names of the exporter's series, in the order they
// cycle.
func Names() []string { return append([]string(nil), names...) }

// NamePattern is a regular expression matching every name of Names (for
// a PromQL {__name__=~"…"} selector).
func NamePattern() string { return strings.Join(names, "|") }

// Series returns series i's name and labels.
func Series(i int) (name string, instance, shard string) {
	return names[i%len(names)], fmt.Sprintf("host-%05d:9100", i/len(names)), strconv.Itoa(i % 4)
}

func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	if p := e.page.Load(); p != nil {
		_, _ = w.Write(*p)
		return
	}
	e.write(w, now())
}

func (e *Exporter) write(w io.Writer, t time.Time) {
	bw := bufio.NewWriterSize(w, 64<<10)
	// one family per name, its series together, as exporters write them
	for k, name := range names {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", name)
		for i := k; i < e.N; i += len(names) {
			WriteSample(bw, i, t, false)
		}
	}
	_ = bw.Flush()
}

// WriteSample writes series i's sample line at t as the exporter's page
// has it, with t's Unix second after the value when stamped (as an
// OpenMetrics file for promtool has it).
func WriteSample(w *bufio.Writer, i int, t time.Time, stamped bool) {
	name, inst, shard := Series(i)
	w.WriteString(name)
	w.WriteString(`{instance="`)
	w.WriteString(inst)
	w.WriteString(`",shard="`)
	w.WriteString(shard)
	w.WriteString(`"} `)
	w.WriteString(strconv.FormatFloat(Value(i, t), 'g', 6, 64))
	if stamped {
		w.WriteByte(' ')
		w.WriteString(strconv.FormatInt(t.Unix(), 10))
	}
	w.WriteByte('\n')
}

// History is the exporter's n series over [from, until) at step, as one
// backfill batch would carry them (for a store that starts full).
func History(n int, from, until time.Time, step time.Duration) []sources.Series {
	return HistoryOf(0, n, from, until, step)
}

// HistoryOf is History of series lo to hi-1 alone (a store filled in
// parts holds less at once).
func HistoryOf(lo, hi int, from, until time.Time, step time.Duration) []sources.Series {
	out := make([]sources.Series, hi-lo)
	for k := range out {
		i := lo + k
		name, inst, shard := Series(i)
		s := sources.Series{Name: name, Labels: map[string]string{"instance": inst, "shard": shard}, Kind: sources.SeriesGauge}
		for t := from; t.Before(until); t = t.Add(step) {
			s.Points = append(s.Points, sources.Point{T: t, V: Value(i, t)})
		}
		out[k] = s
	}
	return out
}
