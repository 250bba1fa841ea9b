package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
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

	mu sync.Mutex
	// known are the series of the last scrapes, by a hash of their
	// family, type and labels as on the page: what their labels came to
	// and their counters' last values, so that a series seen again costs
	// no map, no string and no sort
	known  map[uint64]*known
	nKnown int
	// last are the series of the last scrape in the page's order, cur
	// this one's: a page comes in the same order every time, so the
	// series at the same place is tried before the map
	last, cur []*known
	gen       uint32 // scrapes turned into batches
	hasher    maphash.Hash
	// fast is the text parser's memory: the page's strings and the
	// objects of its last parse (see parseTextFast)
	fast fastAlloc
	page []byte // the last page read, whose memory the next one reuses
}

// known is one series of the page (a sample line's family, type and
// labels): what it came to, and its counters' last values. A summary or
// histogram is two series, its _sum and its _count.
type known struct {
	family string
	typ    dto.MetricType
	raw    []string // label names and values as on the page, in order
	labels map[string]string
	names  [2]string // the series' names: the family's, or its _sum and _count
	hashes [2]uint64 // their sources.SeriesHash
	prev   [2]counterSample
	gen    uint32 // the last scrape that saw it
	next   *known // another with the same hash
}

type counterSample struct {
	v  float64
	t  time.Time
	ok bool
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
		node: sources.Clean(node), maxSeries: o.MaxSeries, client: c,
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
	e.mu.Lock()
	defer e.mu.Unlock()
	// the last page's buffer: nothing of a page is kept past its poll
	resp, err := e.client.GetInto(ctx, e.url, acceptHeader, e.page)
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
	e.page = resp.Body
	fams, err := parseExpositionPage(resp.Body, resp.Header, &e.fast)
	if err != nil {
		return nil, fmt.Errorf("exporter %q: %s: %w", e.name, e.url, err)
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	b := e.toBatchLocked(fams, now)
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
	return parseText(page, nil)
}

// parseExpositionPage is ParseExposition of a page already read, with the
// text parser's memory of the last page (see parseTextFast).
func parseExpositionPage(page []byte, h http.Header, fast *fastAlloc) ([]*dto.MetricFamily, error) {
	switch expfmt.ResponseFormat(h).FormatType() {
	case expfmt.TypeOpenMetrics, expfmt.TypeProtoDelim:
		return ParseExposition(bytes.NewReader(page), h)
	}
	return parseText(page, fast)
}

// parseText reads the text format: its common shape in one pass; the
// rest (and every error) by prometheus/common's parser.
func parseText(page []byte, fast *fastAlloc) ([]*dto.MetricFamily, error) {
	m, ok := parseTextFast(page, fast)
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
	return e.toBatchLocked(fams, now)
}

func (e *Exporter) toBatchLocked(fams []*dto.MetricFamily, now time.Time) *sources.Batch {
	e.gen++
	if e.known == nil {
		e.known = map[uint64]*known{}
	}
	total := 0
	for _, mf := range fams {
		switch n := len(mf.GetMetric()); mf.GetType() {
		case dto.MetricType_SUMMARY, dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			total += 2 * n
		default:
			total += n
		}
	}
	total = min(total, e.maxSeries)
	b := &sources.Batch{Series: make([]sources.Series, 0, total)}
	points := make([]sources.Point, total) // one allocation for every series' point
	var dropped, resets, seen int
	add := func(k *known, i int, unit string, kind sources.SeriesKind, t time.Time, v float64) {
		if len(b.Series) >= e.maxSeries {
			dropped++
			return
		}
		if math.IsInf(v, 0) {
			v = math.NaN()
		}
		pt := points[len(b.Series) : len(b.Series)+1 : len(b.Series)+1]
		pt[0] = sources.Point{T: t, V: v}
		b.Series = append(b.Series, sources.Series{Name: k.names[i], Labels: k.labels, Unit: unit, Kind: kind,
			Node: e.node, Points: pt, Hash: k.hashes[i]})
	}
	// rate turns a counter sample into a rate point, keeping state
	rate := func(k *known, i int, v float64, t time.Time) (float64, bool) {
		p := k.prev[i]
		k.prev[i] = counterSample{v: v, t: t, ok: true}
		if !p.ok || !t.After(p.t) || math.IsNaN(v) || math.IsNaN(p.v) {
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
		typ := mf.GetType()
		cname := sources.Clean(name)
		gunit := gaugeUnit(cname)
		scale, cunit := counterUnit(cname)
		_, sunit := counterUnit(cname + "_total") // a summary's or histogram's _sum
		if strings.HasSuffix(cname, "_seconds") {
			sunit = "s/s"
		}
		for _, m := range mf.GetMetric() {
			k := e.lookup(name, typ, m.GetLabel())
			e.cur = append(e.cur, k)
			seen++
			t := now
			if ms := m.GetTimestampMs(); ms != 0 {
				t = time.UnixMilli(ms)
			}
			switch typ {
			case dto.MetricType_COUNTER:
				if r, ok := rate(k, 0, m.GetCounter().GetValue(), t); ok {
					add(k, 0, cunit, sources.SeriesRate, t, r*scale)
				}
			case dto.MetricType_GAUGE:
				add(k, 0, gunit, sources.SeriesGauge, t, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(k, 0, gunit, sources.SeriesUnknown, t, m.GetUntyped().GetValue())
			case dto.MetricType_SUMMARY:
				e.sumCount(add, rate, k, sunit, t, m.GetSummary().GetSampleSum(), float64(m.GetSummary().GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				count := float64(h.GetSampleCount())
				if h.SampleCountFloat != nil {
					count = h.GetSampleCountFloat()
				}
				e.sumCount(add, rate, k, sunit, t, h.GetSampleSum(), count)
			}
		}
	}
	// forget the series gone for a while, so that what is kept follows
	// the page
	e.last, e.cur = e.cur, e.last[:0]
	if e.nKnown > 2*seen+1024 {
		e.forget()
	}
	b.Status.Detail = strconv.Itoa(len(b.Series)) + " series"
	if resets > 0 {
		b.Status.Detail += fmt.Sprintf(", %d counter resets", resets)
	}
	if dropped > 0 {
		b.Status.Detail += fmt.Sprintf(", %d dropped over max_series (narrow include)", dropped)
	}
	return b
}

// lookup finds the series of family name, of type typ, with labels lp,
// as this scrape sees it: a counter's last value is kept only from the
// scrape before (a series missing from one scrape starts over, as a new
// one does).
func (e *Exporter) lookup(name string, typ dto.MetricType, lp []*dto.LabelPair) *known {
	var k *known
	if i := len(e.cur); i < len(e.last) {
		if x := e.last[i]; x.family == name && x.typ == typ && sameRaw(x.raw, lp) {
			k = x
		}
	}
	if k == nil {
		k = e.find(name, typ, lp)
	}
	if k.gen != e.gen && k.gen != e.gen-1 {
		k.prev = [2]counterSample{}
	}
	k.gen = e.gen
	return k
}

// find looks up the series in the map, adding it when it is new.
func (e *Exporter) find(name string, typ dto.MetricType, lp []*dto.LabelPair) *known {
	e.hasher.Reset()
	e.hasher.WriteString(name)
	e.hasher.WriteByte(byte(typ))
	for _, l := range lp {
		e.hasher.WriteByte(0)
		e.hasher.WriteString(l.GetName())
		e.hasher.WriteByte(0)
		e.hasher.WriteString(l.GetValue())
	}
	h := e.hasher.Sum64()
	var k *known
	for x := e.known[h]; x != nil; x = x.next {
		if x.family == name && x.typ == typ && sameRaw(x.raw, lp) {
			k = x
			break
		}
	}
	if k == nil {
		k = newKnown(name, typ, lp)
		k.next = e.known[h]
		e.known[h] = k
		e.nKnown++
	}
	return k
}

func sameRaw(raw []string, lp []*dto.LabelPair) bool {
	if len(raw) != 2*len(lp) {
		return false
	}
	for i, l := range lp {
		if raw[2*i] != l.GetName() || raw[2*i+1] != l.GetValue() {
			return false
		}
	}
	return true
}

func newKnown(name string, typ dto.MetricType, lp []*dto.LabelPair) *known {
	k := &known{family: name, typ: typ, raw: make([]string, 0, 2*len(lp))}
	for _, l := range lp {
		k.raw = append(k.raw, l.GetName(), l.GetValue())
	}
	if len(lp) > 0 {
		k.labels = make(map[string]string, len(lp))
		for _, l := range lp {
			k.labels[sources.Clean(l.GetName())] = sources.Clean(l.GetValue())
		}
	}
	cname := sources.Clean(name)
	switch typ {
	case dto.MetricType_SUMMARY, dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		k.names = [2]string{cname + "_sum", cname + "_count"}
	default:
		k.names[0] = cname
	}
	for i, n := range k.names {
		if n != "" {
			k.hashes[i] = sources.SeriesHash(n, k.labels)
		}
	}
	return k
}

// forget drops the series not seen in the last two scrapes.
func (e *Exporter) forget() {
	for h, x := range e.known {
		var keep *known
		for x != nil {
			next := x.next
			if e.gen-x.gen < 2 {
				x.next, keep = keep, x
			} else {
				e.nKnown--
			}
			x = next
		}
		if keep == nil {
			delete(e.known, h)
		} else {
			e.known[h] = keep
		}
	}
}

func (e *Exporter) sumCount(add func(*known, int, string, sources.SeriesKind, time.Time, float64), rate func(*known, int, float64, time.Time) (float64, bool), k *known, sunit string, t time.Time, sum, count float64) {
	if r, ok := rate(k, 0, sum, t); ok {
		add(k, 0, sunit, sources.SeriesRate, t, r)
	}
	if r, ok := rate(k, 1, count, t); ok {
		add(k, 1, "/s", sources.SeriesRate, t, r)
	}
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
