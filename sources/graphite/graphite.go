// Package graphite reads series from Graphite's render API (graphite-web
// 1.x, or anything that speaks it) and browses its metric tree through
// /metrics/find. It turns render answers into sources.Series aligned on the
// store's clock, backfilling the visible window on the first poll and
// fetching only the new part afterwards. It must not retry, schedule or
// keep status (the scheduler does), and it must not interpret the target
// expressions: Graphite functions are passed through untouched.
package graphite

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// Options is a graphite source's part of the config.
type Options struct {
	URL     string   `yaml:"url"`
	Targets []string `yaml:"targets"`
	// MaxDataPoints caps the points Graphite returns per series (Graphite
	// consolidates beyond it); default 10 per bucket of the window.
	MaxDataPoints int `yaml:"max_data_points"`
	// MaxResponseMB bounds one answer (default 32).
	MaxResponseMB int `yaml:"max_response_mb"`

	httpfetch.Auth `yaml:",inline"`
}

const example = `- name: graphite
  type: graphite
  url: http://graphite.internal:8080      # graphite-web (the render API)
  targets:                                # any render target; functions are passed through
    - servers.*.cpu.total.iowait
    - alias(sumSeries(servers.web*.nginx.requests), "requests")
  # max_data_points: 720                  # cap per series (default: 10 per bucket of the window)
  # username: opsview                     # basic auth
  # password: ${GRAPHITE_PASSWORD}
  # headers: {X-Org: ops}
  # ca_file: /etc/ssl/internal-ca.pem
  # insecure_skip_verify: false
`

func init() {
	sources.Register(sources.Kind{
		Type:    "graphite",
		History: true,
		Summary: "Graphite render API: internal resource graphs, live and historical",
		Example: example,
		New:     factory,
	})
}

func factory(env sources.Env, opts sources.Options) (sources.Source, error) {
	var o Options
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if len(o.Targets) == 0 {
		return nil, opts.Errorf("graphite %q: targets is required (a list of render targets, e.g. servers.*.cpu.total.iowait)", env.Name)
	}
	for i, t := range o.Targets {
		if strings.TrimSpace(t) == "" {
			return nil, opts.Errorf("graphite %q: target %d is empty", env.Name, i+1)
		}
	}
	if o.MaxDataPoints < 0 {
		return nil, opts.Errorf("graphite %q: max_data_points must be positive", env.Name)
	}
	s, err := New(env.Name, o)
	if err != nil {
		return nil, opts.Errorf("graphite %q: %v", env.Name, err)
	}
	return s, nil
}

// Source is one Graphite server and the targets read from it.
type Source struct {
	name    string
	base    *url.URL
	targets []string
	maxDP   int
	client  *httpfetch.Client

	mu sync.Mutex
	// newest time a non-null point was seen; an incremental poll starts
	// one step before it
	last time.Time
	// Graphite's own step in the last answer (the archive's resolution)
	gstep time.Duration
}

// New builds a graphite source without a config file (discovery, tests).
// Targets may be empty when the source is only used for Find.
func New(name string, o Options) (*Source, error) {
	u, err := httpfetch.CheckURL(o.URL)
	if err != nil {
		return nil, err
	}
	limit := int64(o.MaxResponseMB) << 20
	c, err := httpfetch.New(o.Auth, limit)
	if err != nil {
		return nil, err
	}
	return &Source{name: name, base: u, targets: append([]string(nil), o.Targets...), maxDP: o.MaxDataPoints, client: c}, nil
}

func (s *Source) endpoint(path string) string {
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = ""
	return u.String()
}

// defaultStep is used when a request carries no step.
const defaultStep = 10 * time.Second

// Poll fetches the targets over the request's window: all of it on a
// backfill, otherwise from one step before the newest point seen.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	from, until, step := req.Window(defaultStep)
	s.mu.Lock()
	last, gstep := s.last, s.gstep
	targets := append([]string(nil), s.targets...) // the picker may add some
	s.mu.Unlock()
	if !req.Backfill && !last.IsZero() {
		from = IncrementalFrom(from, last, max(step, gstep))
	}
	series, err := s.Render(ctx, targets, from, until, s.maxPoints(from, until, step))
	if err != nil {
		return nil, err
	}
	b := &sources.Batch{Series: make([]sources.Series, 0, len(series))}
	newest := last
	var infs int
	for i := range series {
		rs := &series[i]
		if g := rs.Step(); g > 0 {
			gstep = g
		}
		pts, n := Align(rs, step)
		infs += n
		for j := len(pts) - 1; j >= 0; j-- {
			if !pts[j].Missing() {
				// the newest value covers up to its Graphite slot
				if t := time.Unix(lastValueTime(rs), 0); t.After(newest) {
					newest = t
				}
				break
			}
		}
		b.Series = append(b.Series, toSeries(rs, pts))
	}
	s.mu.Lock()
	if newest.After(s.last) {
		s.last = newest
	}
	if gstep > 0 {
		s.gstep = gstep
	}
	s.mu.Unlock()
	b.At = time.Now()
	b.Status.Detail = fmt.Sprintf("%d series", len(b.Series))
	if infs > 0 {
		b.Status.Detail += fmt.Sprintf(", %d infinite values shown as gaps", infs)
	}
	return b, nil
}

// Lookback bounds how far before the request's From an incremental poll
// reaches for late points.
const Lookback = 5 * time.Minute

// IncrementalFrom is where an incremental poll starts: one step before the
// newest point seen (so a late or partial last slot is read again), but not
// more than Lookback before the scheduler's From.
func IncrementalFrom(reqFrom, last time.Time, step time.Duration) time.Time {
	from := last.Add(-step)
	if reqFrom.IsZero() {
		return from
	}
	if floor := reqFrom.Add(-max(Lookback, step)); from.Before(floor) {
		from = floor
	}
	return from
}

// rawPerBucket is how many of Graphite's own points per store bucket a
// poll accepts before it lets Graphite consolidate.
const rawPerBucket = 10

// maxPoints is the maxDataPoints sent: max_data_points when configured,
// otherwise rawPerBucket × the buckets of the window. Graphite-web's own
// consolidation (maxDataPoints) groups points in bands that start one raw
// step off its labels, so exact bucket means come from Align averaging the
// raw points; the cap only stops a very fine archive from flooding a poll.
func (s *Source) maxPoints(from, until time.Time, step time.Duration) int {
	if s.maxDP > 0 {
		return s.maxDP
	}
	n := int(until.Sub(from)/step) + 1
	return max(n, 1) * rawPerBucket
}

func lastValueTime(rs *RenderSeries) int64 {
	for i := len(rs.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(rs.Values[i]) && !math.IsInf(rs.Values[i], 0) {
			return rs.Times[i]
		}
	}
	return 0
}

// Render asks Graphite for targets over [from, until]; maxDataPoints 0
// leaves consolidation to Graphite. The targets go out as given.
func (s *Source) Render(ctx context.Context, targets []string, from, until time.Time, maxDataPoints int) ([]RenderSeries, error) {
	q := url.Values{}
	for _, t := range targets {
		q.Add("target", t)
	}
	q.Set("from", strconv.FormatInt(from.Unix(), 10))
	q.Set("until", strconv.FormatInt(until.Unix(), 10))
	q.Set("format", "json")
	if maxDataPoints > 0 {
		q.Set("maxDataPoints", strconv.Itoa(maxDataPoints))
	}
	var (
		resp *httpfetch.Response
		err  error
	)
	u := s.endpoint("/render")
	if len(u)+len(q.Encode()) < 4000 {
		resp, err = s.client.Get(ctx, u+"?"+q.Encode(), "application/json")
	} else {
		// long target lists do not fit in a URL; graphite-web takes a form
		resp, err = s.client.PostForm(ctx, u, q, "application/json")
	}
	if err != nil {
		return nil, fmt.Errorf("graphite %q: render: %w", s.name, err)
	}
	if err := s.checkAnswer(resp, "render", "check the target expressions"); err != nil {
		return nil, err
	}
	out, err := DecodeRender(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("graphite %q: render answer is not Graphite JSON: %v (is url the graphite-web address?)", s.name, err)
	}
	return out, nil
}

func (s *Source) checkAnswer(resp *httpfetch.Response, what, hint string) error {
	switch {
	case resp.Status == 401 || resp.Status == 403:
		return fmt.Errorf("graphite %q: %s: HTTP %d (check username/password or headers)", s.name, what, resp.Status)
	case resp.Status == 404:
		return fmt.Errorf("graphite %q: %s: HTTP 404 (is url the graphite-web address, with its path prefix if any?)", s.name, what)
	case resp.Status == 400:
		return fmt.Errorf("graphite %q: %s: HTTP 400: %s (%s)", s.name, what, httpfetch.Snippet(resp.Body, 200), hint)
	case resp.Status != 200:
		return fmt.Errorf("graphite %q: %s: HTTP %d: %s (see graphite-web's log)", s.name, what, resp.Status, httpfetch.Snippet(resp.Body, 200))
	case httpfetch.LooksLikeHTML(resp.Body):
		return fmt.Errorf("graphite %q: %s: got an HTML page instead of JSON: %s (wrong url, or a proxy's login page: check url and credentials)", s.name, what, httpfetch.Snippet(resp.Body, 120))
	}
	return nil
}

// Step is the series' own resolution (Graphite's archive step after any
// consolidation), or 0 when it has fewer than two points.
func (rs *RenderSeries) Step() time.Duration {
	if len(rs.Times) < 2 {
		return 0
	}
	d := rs.Times[1] - rs.Times[0]
	if d <= 0 {
		return 0
	}
	return time.Duration(d) * time.Second
}

// maxAlignedPoints bounds what Align emits for one series, whatever the
// input's steps.
const maxAlignedPoints = 100_000

// Align puts a render series on the store's clock: points at multiples of
// step. Finer Graphite points are averaged per bucket (nulls ignored; a
// bucket with only nulls is a gap); a coarser Graphite point stands for every
// bucket its slot covers. Infinite values become gaps, and their count is
// returned.
func Align(rs *RenderSeries, step time.Duration) ([]sources.Point, int) {
	n := min(len(rs.Times), len(rs.Values))
	if n == 0 {
		return nil, 0
	}
	if step <= 0 {
		step = defaultStep
	}
	st := int64(step)
	infs := 0
	g := int64(rs.Step())
	if g <= 0 {
		g = st
	}
	nan := math.NaN()
	if g > st {
		// coarse: repeat each value over the buckets of its slot
		per := (g + st - 1) / st
		out := make([]sources.Point, 0, min(int64(n)*per, maxAlignedPoints))
		for i := 0; i < n && len(out) < maxAlignedPoints; i++ {
			v := rs.Values[i]
			if math.IsInf(v, 0) {
				v = nan
				infs++
			}
			t0 := rs.Times[i] * int64(time.Second)
			first := floorDiv(t0, st)
			lastB := floorDiv(t0+g-1, st)
			if i+1 < n {
				// never run into the next slot when steps vary
				if nb := floorDiv(rs.Times[i+1]*int64(time.Second), st); lastB >= nb {
					lastB = nb - 1
				}
			}
			if lastB < first {
				lastB = first
			}
			for b := first; b <= lastB && len(out) < maxAlignedPoints; b++ {
				if len(out) > 0 && out[len(out)-1].T.UnixNano() >= b*st {
					continue
				}
				out = append(out, sources.Point{T: time.Unix(0, b*st), V: v})
			}
		}
		return out, infs
	}
	// fine or equal: average per bucket
	out := make([]sources.Point, 0, min(n, maxAlignedPoints))
	var (
		cur   int64
		sum   float64
		cnt   int
		have  bool
		prevB int64
	)
	flush := func() {
		v := nan
		if cnt > 0 {
			v = sum / float64(cnt)
		}
		out = append(out, sources.Point{T: time.Unix(0, cur*st), V: v})
	}
	for i := 0; i < n; i++ {
		b := floorDiv(rs.Times[i]*int64(time.Second), st)
		v := rs.Values[i]
		if math.IsInf(v, 0) {
			v = nan
			infs++
		}
		if !have || b != prevB {
			if have {
				flush()
				if len(out) >= maxAlignedPoints {
					return out, infs
				}
			}
			cur, sum, cnt, have, prevB = b, 0, 0, true, b
		}
		if !math.IsNaN(v) {
			sum += v
			cnt++
		}
	}
	if have {
		flush()
	}
	return out, infs
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func toSeries(rs *RenderSeries, pts []sources.Point) sources.Series {
	name := sources.Clean(rs.Target)
	if name == "" {
		name = sources.Clean(rs.Tags["name"])
	}
	var labels map[string]string
	for k, v := range rs.Tags {
		if k == "name" {
			continue
		}
		if labels == nil {
			labels = make(map[string]string, len(rs.Tags))
		}
		labels[sources.Clean(k)] = sources.Clean(v)
	}
	return sources.Series{Name: name, Labels: labels, Node: guessNode(name, labels), Kind: targetKind(name), Points: pts}
}

// targetKind is what the outermost function of a render target makes of
// the series: perSecond a rate, asPercent and divideSeries a share,
// integral a running total; a plain path says nothing (rules may).
func targetKind(target string) sources.SeriesKind {
	fn, _, ok := strings.Cut(target, "(")
	if !ok {
		return sources.SeriesUnknown
	}
	switch fn {
	case "perSecond", "scaleToSeconds":
		return sources.SeriesRate
	case "asPercent", "divideSeries", "divideSeriesLists":
		return sources.SeriesRatio
	case "integral":
		return sources.SeriesCounter
	}
	return sources.SeriesUnknown
}

// hostTrees are first path components under which the second names a host
// (Diamond's "servers", collectd's "collectd", and the usual variants).
var hostTrees = map[string]bool{
	"servers": true, "server": true, "hosts": true, "host": true,
	"collectd": true, "diamond": true, "telegraf": true, "nodes": true, "machines": true,
}

// guessNode names the host a series describes in the common trees; config
// rules may override it.
func guessNode(name string, labels map[string]string) string {
	if h := labels["host"]; h != "" {
		return h
	}
	parts := strings.SplitN(name, ".", 3)
	if len(parts) >= 3 && hostTrees[strings.ToLower(parts[0])] && !strings.ContainsAny(parts[1], "*{}[]()") {
		// collectd writes dots in host names as underscores
		return parts[1]
	}
	return ""
}
