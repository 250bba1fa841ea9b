package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// ExporterOptions is an exporter source's part of the config.
type ExporterOptions struct {
	// URL of the /metrics page; a URL without a path gets /metrics.
	URL string `yaml:"url"`
	// Include and Exclude are globs over metric family names; with an
	// include list only matching families are kept; exclude wins.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Node names the machine the exporter describes; default the URL's
	// host (this machine's name for localhost).
	Node string `yaml:"node"`
	// MaxSeries bounds the series kept from one scrape (default 10,000).
	MaxSeries int `yaml:"max_series"`
	// MaxResponseMB bounds one page (default 16).
	MaxResponseMB int `yaml:"max_response_mb"`

	httpfetch.Auth `yaml:",inline"`
}

const exporterExample = `- name: node
  type: exporter                        # scrape /metrics directly, no Prometheus needed
  url: http://localhost:9100/metrics    # node_exporter, or any exporter
  # include: [node_*]                   # metric name globs to keep
  # exclude: [go_*, promhttp_*]         # … and to drop (wins over include)
  # node: db-1                          # the machine it describes (default: the url's host)
`

func init() {
	sources.Register(sources.Kind{
		Type:    "exporter",
		Summary: "scrape an exporter's /metrics (text or OpenMetrics); counters become per-second rates",
		Example: exporterExample,
		New:     exporterFactory,
	})
}

func exporterFactory(env sources.Env, opts sources.Options) (sources.Source, error) {
	var o ExporterOptions
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	s, err := NewExporterWith(env.Name, o)
	if err != nil {
		return nil, opts.Errorf("exporter %q: %v", env.Name, err)
	}
	return s, nil
}

// Exporter scrapes one /metrics page.
type Exporter struct {
	name      string
	url       string
	include   []string
	exclude   []string
	node      string
	maxSeries int
	client    *httpfetch.Client

	mu   sync.Mutex
	prev map[string]counterSample // last value of every counter, by series ID
}

type counterSample struct {
	v float64
	t time.Time
}

// NewExporterWith builds an exporter source from options.
func NewExporterWith(name string, o ExporterOptions) (*Exporter, error) {
	u, err := httpfetch.CheckURL(o.URL)
	if err != nil {
		return nil, err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	for _, g := range append(append([]string(nil), o.Include...), o.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("include/exclude glob %q: %v", g, err)
		}
	}
	if o.MaxResponseMB <= 0 {
		o.MaxResponseMB = 16
	}
	c, err := httpfetch.New(o.Auth, int64(o.MaxResponseMB)<<20)
	if err != nil {
		return nil, err
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 10000
	}
	node := o.Node
	if node == "" {
		node = hostOf(u)
	}
	return &Exporter{
		name: name, url: u.String(), include: o.Include, exclude: o.Exclude,
		node: sources.Clean(node), maxSeries: o.MaxSeries, client: c, prev: map[string]counterSample{},
	}, nil
}

// hostOf names the machine behind u: its host without the port, or this
// machine's name when u is on loopback.
func hostOf(u *url.URL) string {
	h := u.Hostname()
	if h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
		if hn, err := os.Hostname(); err == nil && hn != "" {
			return hn
		}
	}
	return h
}

// acceptHeader asks for delimited protobuf first (five times faster to
// parse than text, measured on node_exporter's page), then the classic
// text format, then OpenMetrics.
const acceptHeader = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=1,text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

// Poll scrapes the page once. Gauges are reported as they are; counters as
// per-second rates since the previous scrape (none on the first, and none
// across a reset); summaries and histograms as the rates of their _sum and
// _count.
func (e *Exporter) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	resp, err := e.client.Get(ctx, e.url, acceptHeader)
	if err != nil {
		return nil, fmt.Errorf("exporter %q: scrape: %w", e.name, err)
	}
	switch {
	case resp.Status == 401 || resp.Status == 403:
		return nil, fmt.Errorf("exporter %q: HTTP %d from %s (check username/password or bearer_token)", e.name, resp.Status, e.url)
	case resp.Status != 200:
		return nil, fmt.Errorf("exporter %q: HTTP %d from %s: %s (is url the exporter's /metrics page?)", e.name, resp.Status, e.url, httpfetch.Snippet(resp.Body, 200))
	case httpfetch.LooksLikeHTML(resp.Body):
		return nil, fmt.Errorf("exporter %q: %s answered an HTML page, not metrics: %s (point url at the /metrics page)", e.name, e.url, httpfetch.Snippet(resp.Body, 120))
	}
	fams, err := parseExpositionPage(resp.Body, resp.Header)
	if err != nil {
		return nil, fmt.Errorf("exporter %q: %s: %w", e.name, e.url, err)
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	b := e.toBatch(fams, now)
	b.At = time.Now()
	return b, nil
}

// ParseExposition parses a /metrics page in the format its Content-Type
// says (Prometheus text, OpenMetrics 1.0, or delimited protobuf); an
// unknown or missing type is read as text. The caller bounds the read.
func ParseExposition(r io.Reader, h http.Header) ([]*dto.MetricFamily, error) {
	format := expfmt.ResponseFormat(h)
	switch format.FormatType() {
	case expfmt.TypeOpenMetrics, expfmt.TypeProtoDelim:
		dec := expfmt.NewDecoder(r, format)
		var out []*dto.MetricFamily
		for {
			mf := &dto.MetricFamily{}
			err := dec.Decode(mf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("parsing %s: %v", format, cleanErr(err))
			}
			out = append(out, mf)
			if len(out) > maxFamilies {
				return nil, fmt.Errorf("more than %d metric families: not an exporter page?", maxFamilies)
			}
		}
		return out, nil
	}
	page, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return parseText(page)
}

// parseExpositionPage is ParseExposition of a page already read.
func parseExpositionPage(page []byte, h http.Header) ([]*dto.MetricFamily, error) {
	switch expfmt.ResponseFormat(h).FormatType() {
	case expfmt.TypeOpenMetrics, expfmt.TypeProtoDelim:
		return ParseExposition(bytes.NewReader(page), h)
	}
	return parseText(page)
}

// parseText reads the text format: its common shape in one pass; the
// rest (and every error) by prometheus/common's parser.
func parseText(page []byte) ([]*dto.MetricFamily, error) {
	m, ok := parseTextFast(page)
	var err error
	if !ok {
		m, err = parseTextFull(page)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the text format: %v (is url an exporter's /metrics page?)", cleanErr(err))
	}
	out := make([]*dto.MetricFamily, 0, len(m))
	for _, mf := range m {
		out = append(out, mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

const maxFamilies = 100000

// parseTextFull is prometheus/common's parser of the text format. It must
// be given a validation scheme: its zero value panics (prometheus/common
// ≥ v0.66).
func parseTextFull(page []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(page))
}

func cleanErr(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return sources.Clean(s)
}

func (e *Exporter) keep(name string) bool {
	for _, g := range e.exclude {
		if ok, _ := path.Match(g, name); ok {
			return false
		}
	}
	if len(e.include) == 0 {
		return true
	}
	for _, g := range e.include {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func (e *Exporter) toBatch(fams []*dto.MetricFamily, now time.Time) *sources.Batch {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := &sources.Batch{}
	seen := make(map[string]bool, len(e.prev))
	var dropped, resets int
	add := func(s sources.Series) {
		if len(b.Series) >= e.maxSeries {
			dropped++
			return
		}
		b.Series = append(b.Series, s)
	}
	// rate turns a counter sample into a rate point, keeping state
	rate := func(name string, labels map[string]string, v float64, t time.Time) (float64, bool) {
		id := sources.SeriesID(name, labels)
		seen[id] = true
		p, ok := e.prev[id]
		e.prev[id] = counterSample{v: v, t: t}
		if !ok || !t.After(p.t) || math.IsNaN(v) || math.IsNaN(p.v) {
			return 0, false
		}
		if v < p.v {
			resets++ // the process restarted: skip the interval
			return 0, false
		}
		return (v - p.v) / t.Sub(p.t).Seconds(), true
	}
	for _, mf := range fams {
		name := mf.GetName()
		if !e.keep(name) {
			continue
		}
		cname := sources.Clean(name)
		for _, m := range mf.GetMetric() {
			labels := labelMap(m.GetLabel())
			t := now
			if ms := m.GetTimestampMs(); ms != 0 {
				t = time.UnixMilli(ms)
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				if r, ok := rate(cname, labels, m.GetCounter().GetValue(), t); ok {
					scale, unit := counterUnit(cname)
					add(e.series(cname, labels, unit, sources.SeriesRate, t, r*scale))
				}
			case dto.MetricType_GAUGE:
				add(e.series(cname, labels, gaugeUnit(cname), sources.SeriesGauge, t, m.GetGauge().GetValue()))
			case dto.MetricType_UNTYPED:
				add(e.series(cname, labels, gaugeUnit(cname), sources.SeriesUnknown, t, m.GetUntyped().GetValue()))
			case dto.MetricType_SUMMARY:
				e.sumCount(add, rate, cname, labels, t, m.GetSummary().GetSampleSum(), float64(m.GetSummary().GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				count := float64(h.GetSampleCount())
				if h.SampleCountFloat != nil {
					count = h.GetSampleCountFloat()
				}
				e.sumCount(add, rate, cname, labels, t, h.GetSampleSum(), count)
			}
		}
	}
	// forget counters that are gone, so state does not grow without bound
	for id := range e.prev {
		if !seen[id] {
			delete(e.prev, id)
		}
	}
	b.Status.Detail = fmt.Sprintf("%d series", len(b.Series))
	if resets > 0 {
		b.Status.Detail += fmt.Sprintf(", %d counter resets", resets)
	}
	if dropped > 0 {
		b.Status.Detail += fmt.Sprintf(", %d dropped over max_series (narrow include)", dropped)
	}
	return b
}

func (e *Exporter) sumCount(add func(sources.Series), rate func(string, map[string]string, float64, time.Time) (float64, bool), name string, labels map[string]string, t time.Time, sum, count float64) {
	if r, ok := rate(name+"_sum", labels, sum, t); ok {
		_, unit := counterUnit(name + "_total")
		if strings.HasSuffix(name, "_seconds") {
			unit = "s/s"
		}
		add(e.series(name+"_sum", labels, unit, sources.SeriesRate, t, r))
	}
	if r, ok := rate(name+"_count", labels, count, t); ok {
		add(e.series(name+"_count", labels, "/s", sources.SeriesRate, t, r))
	}
}

// series makes a one-point series; the exposition's TYPE says its kind
// (a counter is sent as its rate).
func (e *Exporter) series(name string, labels map[string]string, unit string, kind sources.SeriesKind, t time.Time, v float64) sources.Series {
	if math.IsInf(v, 0) {
		v = math.NaN()
	}
	return sources.Series{Name: name, Labels: labels, Unit: unit, Kind: kind, Node: e.node, Points: []sources.Point{{T: t, V: v}}}
}

func labelMap(lp []*dto.LabelPair) map[string]string {
	if len(lp) == 0 {
		return nil
	}
	m := make(map[string]string, len(lp))
	for _, l := range lp {
		m[sources.Clean(l.GetName())] = sources.Clean(l.GetValue())
	}
	return m
}

// busyCounters count seconds of busy time: their rate is a fraction of
// one second per second, shown as a percentage.
var busyCounters = map[string]bool{
	"node_cpu_seconds_total":          true,
	"node_cpu_guest_seconds_total":    true,
	"node_disk_io_time_seconds_total": true,
	"process_cpu_seconds_total":       true,
}

// counterUnit gives a counter's rate a unit, and the factor to get there.
func counterUnit(name string) (float64, string) {
	switch {
	case busyCounters[name] || strings.HasPrefix(name, "node_pressure_") && strings.HasSuffix(name, "_seconds_total"):
		return 100, "%"
	case strings.HasSuffix(name, "_seconds_total"):
		return 1, "s/s"
	case strings.HasSuffix(name, "_bytes_total"):
		return 1, "B/s"
	}
	return 1, "/s"
}

func gaugeUnit(name string) string {
	switch {
	case strings.HasSuffix(name, "_bytes"):
		return "B"
	case strings.HasSuffix(name, "_seconds"):
		return "s"
	case strings.HasSuffix(name, "_celsius"):
		return "°C"
	}
	return ""
}
