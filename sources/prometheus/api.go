// Package prometheus reads metrics the Prometheus way: PromQL queries
// against a Prometheus server's HTTP API (type "prometheus"), and direct
// scrapes of any exporter's /metrics page (type "exporter") for a bastion
// that has node_exporter but no Prometheus. Exporter counters become
// per-second rates between scrapes. It also finds a local Prometheus and
// node_exporter for a start without configuration. It must not retry,
// schedule or keep source status (the scheduler does), and it must not
// rewrite the user's PromQL.
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// Query is one PromQL query of a prometheus source. Each yields one series
// per label set.
type Query struct {
	Query string `yaml:"query"`
	// Name names the series; default the metric name, or the query itself
	// when the result has none (rate(), sum()…).
	Name string `yaml:"name"`
	Unit string `yaml:"unit"`
	// Role and Layer as in rules: resource, symptom, traffic; host, db…
	Role  string `yaml:"role"`
	Layer string `yaml:"layer"`
	// Node may use $label, e.g. "$instance".
	Node string `yaml:"node"`
}

// Options is a prometheus source's part of the config.
type Options struct {
	URL     string  `yaml:"url"`
	Queries []Query `yaml:"queries"`
	// MaxResponseMB bounds one answer read whole (default 32); a range
	// query's answer is read as a stream, series by series, and bounded
	// at 32 times this (1 GiB by default).
	MaxResponseMB int `yaml:"max_response_mb"`

	httpfetch.Auth `yaml:",inline"`
}

const promExample = `- name: prometheus
  type: prometheus
  url: http://prometheus.internal:9090
  queries:
    - query: 100 * avg by (instance) (rate(node_cpu_seconds_total{mode="iowait"}[1m]))
      name: cpu_iowait
      unit: "%"
      role: resource
      layer: host
      node: $instance
    - query: node_load1                    # one series per instance, labels kept
  # bearer_token_file: /run/secrets/prom-token   # or bearer_token, or username/password
  # headers: {X-Scope-OrgID: ops}
  # ca_file: /etc/ssl/internal-ca.pem
`

func init() {
	sources.Register(sources.Kind{
		Type:    "prometheus",
		History: true,
		Summary: "Prometheus HTTP API: PromQL queries over the visible window",
		Example: promExample,
		New:     promFactory,
	})
}

func promFactory(env sources.Env, opts sources.Options) (sources.Source, error) {
	var o Options
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if len(o.Queries) == 0 {
		return nil, opts.Errorf("prometheus %q: queries is required (a list of {query: <PromQL>, name: …})", env.Name)
	}
	s, err := New(env.Name, o)
	if err != nil {
		return nil, opts.Errorf("prometheus %q: %v", env.Name, err)
	}
	s.logf = env.Logf
	return s, nil
}

type query struct {
	Query
	rule  sources.Rule // role, layer, unit, node for every series of the query
	known *seriesCache // what its range answers' series came to
}

// Source is one Prometheus server and the queries run on it.
type Source struct {
	name    string
	base    *url.URL
	queries []query
	client  *httpfetch.Client
	logf    func(string, ...any)

	mu    sync.Mutex
	last  time.Time // newest evaluation time returned
	count int       // series the last poll returned: the next batch's room
}

// New builds a prometheus source without a config file.
func New(name string, o Options) (*Source, error) {
	u, err := httpfetch.CheckURL(o.URL)
	if err != nil {
		return nil, err
	}
	c, err := httpfetch.New(o.Auth, int64(o.MaxResponseMB)<<20)
	if err != nil {
		return nil, err
	}
	s := &Source{name: name, base: u, client: c}
	for i, q := range o.Queries {
		if strings.TrimSpace(q.Query) == "" {
			return nil, fmt.Errorf("query %d: query is empty", i+1)
		}
		role, ok := sources.ParseRole(q.Role)
		if !ok {
			return nil, fmt.Errorf("query %d: role %q: use resource, symptom or traffic", i+1, q.Role)
		}
		layer, ok := sources.ParseLayer(q.Layer)
		if !ok {
			return nil, fmt.Errorf("query %d: layer %q: use one of edge, lb, app, db, host, network, provider", i+1, q.Layer)
		}
		s.queries = append(s.queries, query{Query: q, rule: sources.Rule{Role: role, Layer: layer, Unit: q.Unit, Node: q.Node}, known: newSeriesCache()})
	}
	return s, nil
}

func (s *Source) endpoint(path string) string {
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = ""
	return u.String()
}

const (
	defaultStep = 10 * time.Second
	// maxPoints is Prometheus' own limit of points per series in one
	// query_range (11,000).
	maxPoints = 11000
	// Lookback bounds how far before the scheduler's From an incremental
	// poll reaches.
	Lookback = 5 * time.Minute
)

// Window is the evaluation grid of one poll: start and end on multiples of
// step, so every point falls on a bucket of the store's clock.
type Window struct {
	Start, End time.Time
	Step       time.Duration
}

// Points is how many evaluations the window makes.
func (w Window) Points() int { return int(w.End.Sub(w.Start)/w.Step) + 1 }

// PlanWindow puts [from, until] on the store's clock at step, widening the
// step by whole multiples when the window would pass Prometheus' 11,000
// points per series. It never asks for more points than the window holds.
func PlanWindow(from, until time.Time, step time.Duration) Window {
	if step <= 0 {
		step = defaultStep
	}
	if until.Before(from) {
		from = until
	}
	st := int64(step)
	span := until.Sub(from)
	if n := int64(span/step) + 1; n > maxPoints {
		mult := (n + maxPoints - 2) / (maxPoints - 1)
		st *= mult
		step = time.Duration(st)
	}
	start := time.Unix(0, ceilDiv(from.UnixNano(), st)*st)
	end := time.Unix(0, floorDiv(until.UnixNano(), st)*st)
	if end.Before(start) {
		// a window shorter than one step: evaluate once at its end
		start = end
	}
	return Window{Start: start, End: end, Step: step}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// Poll runs every query over the request's window (all of it on a
// backfill, from one step before the newest point otherwise). A failing
// query does not hide the others: the batch carries what worked and says
// which query failed; only when every query fails is the poll an error.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	from, until, step := req.Window(defaultStep)
	s.mu.Lock()
	last, room := s.last, s.count
	queries := append([]query(nil), s.queries...) // the picker may add some
	s.mu.Unlock()
	if !req.Backfill && !last.IsZero() {
		f := last.Add(-step)
		if floor := from.Add(-Lookback); f.Before(floor) {
			f = floor
		}
		from = f
	}
	w := PlanWindow(from, until, step)
	b := &sources.Batch{Series: make([]sources.Series, 0, min(room, partPoints))}
	var failed []string
	var firstErr error
	newest := last
	// a large answer goes to the store in parts as it is read, when the
	// scheduler takes parts
	pending, count := 0, 0
	emitted := false
	add := func(ser sources.Series) {
		b.Series = append(b.Series, ser)
		count++
		pending += len(ser.Points)
		if req.Emit != nil && pending >= partPoints {
			req.Emit(&sources.Batch{Series: b.Series})
			b.Series, pending, emitted = nil, 0, true
		}
	}
	for i := range queries {
		q := &queries[i]
		kept := len(b.Series)
		var warns []string
		var t time.Time
		var err error
		if w.Points() > 1 {
			warns, t, err = s.streamRange(ctx, q, w, req.Emit != nil, add)
		} else {
			var val model.Value
			if val, warns, err = s.run(ctx, q.Query.Query, w); err == nil {
				var series []sources.Series
				series, t = toSeries(q, val)
				for _, ser := range series {
					add(ser)
				}
			}
		}
		if err != nil {
			if !emitted && len(b.Series) >= kept {
				count -= len(b.Series) - kept
				b.Series = b.Series[:kept] // what the failed query gave is dropped
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("prometheus %q: query %s: %w", s.name, q.label(), err)
			}
			if firstErr == nil {
				firstErr = err
			}
			failed = append(failed, q.label()+": "+err.Error())
			if s.logf != nil {
				s.logf("prometheus %q: query %s: %v", s.name, q.label(), err)
			}
			continue
		}
		for _, w := range warns {
			if s.logf != nil {
				s.logf("prometheus %q: query %s: warning: %s", s.name, q.label(), sources.Clean(w))
			}
		}
		if t.After(newest) {
			newest = t
		}
	}
	if len(failed) == len(queries) {
		return nil, fmt.Errorf("prometheus %q: query %s: %w", s.name, queries[0].label(), firstErr)
	}
	s.mu.Lock()
	if newest.After(s.last) {
		s.last = newest
	}
	if !req.Backfill {
		s.count = count
	}
	s.mu.Unlock()
	b.At = time.Now()
	b.Status.Detail = fmt.Sprintf("%d series from %d queries", count, len(queries))
	if len(failed) > 0 {
		b.Status.Detail = fmt.Sprintf("%d of %d queries failing: %s", len(failed), len(queries), failed[0])
	}
	return b, nil
}

func (q *query) label() string {
	if q.Name != "" {
		return strconv.Quote(q.Name)
	}
	s := q.Query.Query
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return strconv.Quote(s)
}

// run evaluates one query over w: a range query, or an instant query
// when the window holds one evaluation.
func (s *Source) run(ctx context.Context, promql string, w Window) (model.Value, []string, error) {
	if w.Points() <= 1 {
		return s.Query(ctx, promql, w.End)
	}
	return s.QueryRange(ctx, promql, w)
}

// QueryRange calls /api/v1/query_range.
func (s *Source) QueryRange(ctx context.Context, promql string, w Window) (model.Value, []string, error) {
	form := url.Values{
		"query": {promql},
		"start": {formatTime(w.Start)},
		"end":   {formatTime(w.End)},
		"step":  {strconv.FormatFloat(w.Step.Seconds(), 'f', -1, 64)},
	}
	return s.api(ctx, "/api/v1/query_range", form)
}

// Query calls /api/v1/query at one instant (zero: the server's now).
func (s *Source) Query(ctx context.Context, promql string, at time.Time) (model.Value, []string, error) {
	form := url.Values{"query": {promql}}
	if !at.IsZero() {
		form.Set("time", formatTime(at))
	}
	return s.api(ctx, "/api/v1/query", form)
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

func (s *Source) api(ctx context.Context, path string, form url.Values) (model.Value, []string, error) {
	// POST: queries can be longer than a URL may be
	resp, err := s.client.PostForm(ctx, s.endpoint(path), form, "application/json")
	if err != nil {
		return nil, nil, err
	}
	switch {
	case resp.Status == 401 || resp.Status == 403:
		return nil, nil, fmt.Errorf("HTTP %d from %s (check bearer_token or username/password)", resp.Status, path)
	case resp.Status == 404:
		return nil, nil, fmt.Errorf("HTTP 404 from %s (is url the Prometheus server, with its path prefix if any?)", path)
	case httpfetch.LooksLikeHTML(resp.Body):
		return nil, nil, fmt.Errorf("HTTP %d from %s: got an HTML page instead of JSON: %s (wrong url, or a proxy's login page)", resp.Status, path, httpfetch.Snippet(resp.Body, 120))
	}
	val, warns, err := DecodeAPI(resp.Body)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, nil, err
		}
		if resp.Status != 200 {
			return nil, nil, fmt.Errorf("HTTP %d from %s: %s", resp.Status, path, httpfetch.Snippet(resp.Body, 200))
		}
		return nil, nil, err
	}
	return val, warns, nil
}

// APIError is Prometheus' own error answer.
type APIError struct {
	Type string // bad_data, execution, timeout, canceled, internal, unavailable
	Msg  string
}

func (e *APIError) Error() string {
	hint := ""
	switch e.Type {
	case "bad_data":
		hint = " (fix the PromQL in the config)"
	case "timeout", "canceled":
		hint = " (the query is too expensive for the window: simplify it or raise the server's query.timeout)"
	case "execution":
		hint = " (the query failed on the server: see its log)"
	case "unavailable":
		hint = " (the server is starting or overloaded)"
	}
	return fmt.Sprintf("%s: %s%s", e.Type, e.Msg, hint)
}

// MaxAPIBytes bounds an API answer read by ReadAPI.
const MaxAPIBytes = 64 << 20

// ReadAPI reads and decodes an API answer from r, at most MaxAPIBytes.
func ReadAPI(r io.Reader) (model.Value, []string, error) {
	b, err := httpfetch.ReadLimited(r, MaxAPIBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("API answer: %w (limit %d MiB)", err, MaxAPIBytes>>20)
	}
	return DecodeAPI(b)
}

// DecodeAPI decodes the envelope of /api/v1/query and /query_range:
// {"status":"success","data":{"resultType":…,"result":…},"warnings":[…]}
// or {"status":"error","errorType":…,"error":…} (as *APIError).
func DecodeAPI(b []byte) (model.Value, []string, error) {
	var env struct {
		Status    string   `json:"status"`
		ErrorType string   `json:"errorType"`
		Error     string   `json:"error"`
		Warnings  []string `json:"warnings"`
		Data      *struct {
			ResultType model.ValueType `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, nil, fmt.Errorf("answer is not Prometheus API JSON: %v", err)
	}
	if env.Status == "error" {
		return nil, env.Warnings, &APIError{Type: sources.Clean(env.ErrorType), Msg: sources.Clean(env.Error)}
	}
	if env.Status != "success" || env.Data == nil {
		return nil, nil, fmt.Errorf("answer is not Prometheus API JSON: status %q", sources.Clean(env.Status))
	}
	raw := env.Data.Result
	var (
		v   model.Value
		err error
	)
	switch env.Data.ResultType {
	case model.ValMatrix:
		var m model.Matrix
		err = json.Unmarshal(raw, &m)
		v = m
	case model.ValVector:
		var m model.Vector
		err = json.Unmarshal(raw, &m)
		v = m
	case model.ValScalar:
		var m model.Scalar
		err = json.Unmarshal(raw, &m)
		v = &m
	case model.ValString:
		var m model.String
		err = json.Unmarshal(raw, &m)
		v = &m
	default:
		return nil, nil, fmt.Errorf("answer has an unknown resultType %q", env.Data.ResultType)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s result: %v", env.Data.ResultType, err)
	}
	return v, env.Warnings, nil
}

// toSeries turns a query's result into series, and returns the newest
// evaluation time in it.
// point is a sample as the store takes it: infinity has no place in the
// store or the graphs, so it is NaN.
func point(t model.Time, v model.SampleValue) sources.Point {
	f := float64(v)
	if math.IsInf(f, 0) {
		f = math.NaN()
	}
	return sources.Point{T: t.Time(), V: f}
}

func toSeries(q *query, v model.Value) ([]sources.Series, time.Time) {
	var newest time.Time
	mk := func(m model.Metric, n int) sources.Series {
		name := q.Name
		labels := make(map[string]string, len(m))
		for k, val := range m {
			if k == model.MetricNameLabel {
				if name == "" {
					name = string(val)
				}
				continue
			}
			labels[sources.Clean(string(k))] = sources.Clean(string(val))
		}
		if name == "" {
			name = strings.Join(strings.Fields(q.Query.Query), " ")
		}
		s := sources.Series{Name: sources.Clean(name), Labels: labels, Points: make([]sources.Point, 0, n)}
		if len(labels) == 0 {
			s.Labels = nil
		}
		sources.Rules{q.rule}.Classify("", &s)
		return s
	}
	pt := func(t model.Time, v model.SampleValue) sources.Point {
		p := point(t, v)
		if p.T.After(newest) {
			newest = p.T
		}
		return p
	}
	var out []sources.Series
	switch v := v.(type) {
	case model.Matrix:
		for _, ss := range v {
			s := mk(ss.Metric, len(ss.Values))
			for _, p := range ss.Values {
				s.Points = append(s.Points, pt(p.Timestamp, p.Value))
			}
			out = append(out, s)
		}
	case model.Vector:
		for _, smp := range v {
			s := mk(smp.Metric, 1)
			s.Points = append(s.Points, pt(smp.Timestamp, smp.Value))
			out = append(out, s)
		}
	case *model.Scalar:
		s := mk(nil, 1)
		s.Points = append(s.Points, pt(v.Timestamp, v.Value))
		out = append(out, s)
	}
	return out, newest
}
