package httpcheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
	"github.com/opsview/opsview/sources/probe"
)

const example = `- name: checks
  type: http
  interval: 30s
  timeout: 10s                  # a check still running at 9/10 of it fails as a timeout
  targets:
    - url: https://www.example.com/
      expect_status: 200        # or a list: [200, 301]; default any 2xx
      expect_body: "Welcome"    # a substring the page must hold
    - url: https://api.example.com/health
      method: HEAD
      node: api                 # what it serves (default: the url's host)
    - url: http://example.com/
      follow_redirects: false   # a 3xx is the answer (expect_status: 301)
      expect_status: 301
  # cert_warning_days: 14       # certificate days left that warn …
  # cert_critical_days: 3       # … and fail
  # max_body_kb: 1024           # bound on the page read for expect_body
  # ca_file: /etc/ssl/internal-ca.pem
  # insecure_skip_verify: false
  # headers: {X-Check: opsview}
  vantages:                     # where the checks run from (default: this host)
    - name: local
      type: local
    - name: bastion2            # runs opsview http-check there, over ssh
      type: exec
      command: ssh -o BatchMode=yes bastion2
    # - name: dc-east           # an ` + "`opsview agent --http-checks`" + ` there (https: the checks' credentials go to it)
    #   type: agent
    #   url: https://dc-east.internal:9475
    #   token_file: ~/.config/opsview/agent.token
`

func init() {
	sources.Register(sources.Kind{
		Type:    "http",
		Summary: "external HTTP checks (Pingdom-style): status, body, redirects, certificate expiry, timings split, from several vantage points",
		Example: example,
		New:     factory,
	})
}

// factory decodes the source's options for New.
var factory = sources.Decoding("http", New)

// Options are an http source's part of the config. Its interval and
// timeout are the source's own (the scheduler's).
type Options struct {
	Targets []Target `yaml:"targets"`
	// Method and FollowRedirects are defaults for targets that say none.
	Method           string                 `yaml:"method"`
	FollowRedirects  *bool                  `yaml:"follow_redirects"`
	CertWarningDays  float64                `yaml:"cert_warning_days"`
	CertCriticalDays float64                `yaml:"cert_critical_days"`
	MaxBodyKB        int                    `yaml:"max_body_kb"`
	Vantages         []probe.VantageOptions `yaml:"vantages"`

	httpfetch.Auth `yaml:",inline"`
}

// Source is the "http" source: its targets checked from its vantages at
// every poll.
type Source struct {
	name     string
	logf     func(string, ...any)
	targets  []Target
	nodes    []string // per target
	vantages []probe.VantageOptions
	checker  *Checker
	spec     Spec // what an exec vantage is sent
	cert     CertLimits

	mu    sync.Mutex
	since map[string]time.Time // event ID → when its target started failing
	last  map[string]sources.Event
	open  sources.OpenEvents
}

// New builds an http source from options.
func New(env sources.Env, o Options) (*Source, error) {
	if len(o.Targets) == 0 {
		return nil, errors.New("targets is required (a list of {url, expect_status, expect_body})")
	}
	s := &Source{name: env.Name, logf: env.Logf, since: map[string]time.Time{}, last: map[string]sources.Event{}}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	seen := map[string]bool{}
	for i, t := range o.Targets {
		u, err := httpfetch.CheckURL(t.URL)
		if err != nil {
			return nil, fmt.Errorf("target %d: %v", i+1, err)
		}
		if seen[t.URL] {
			return nil, fmt.Errorf("target %s is listed twice", t.URL)
		}
		seen[t.URL] = true
		if t.Method == "" {
			t.Method = o.Method
		}
		switch strings.ToUpper(t.Method) {
		case "", "GET", "HEAD":
			t.Method = strings.ToUpper(t.Method)
		default:
			return nil, fmt.Errorf("target %s: method %q (use GET or HEAD: a check must not change anything)", t.URL, t.Method)
		}
		if t.FollowRedirects == nil {
			t.FollowRedirects = o.FollowRedirects
		}
		for _, st := range t.ExpectStatus {
			if st < 100 || st > 599 {
				return nil, fmt.Errorf("target %s: expect_status %d is not an HTTP status", t.URL, st)
			}
		}
		if t.ExpectBody != "" && t.Method == "HEAD" {
			return nil, fmt.Errorf("target %s: expect_body with method HEAD (a HEAD answer has no body)", t.URL)
		}
		node := t.Node
		if node == "" {
			node = u.Hostname()
		}
		s.targets = append(s.targets, t)
		s.nodes = append(s.nodes, sources.Clean(node))
	}
	s.cert = CertLimits{Warning: o.CertWarningDays, Critical: o.CertCriticalDays}
	if s.cert.Warning == 0 {
		s.cert.Warning = 14
	}
	if s.cert.Critical == 0 {
		s.cert.Critical = 3
	}
	if s.cert.Critical > s.cert.Warning {
		return nil, fmt.Errorf("cert_critical_days (%g) is more than cert_warning_days (%g)", s.cert.Critical, s.cert.Warning)
	}
	if o.MaxBodyKB < 0 {
		return nil, errors.New("max_body_kb must be positive")
	}
	maxBody := int64(o.MaxBodyKB) << 10
	c, err := NewChecker(o.Auth, maxBody)
	if err != nil {
		return nil, err
	}
	s.checker = c
	s.spec = Spec{V: WireVersion, Targets: s.targets, MaxBody: maxBody, Auth: o.Auth}
	vs, err := vantages(o.Vantages, o.Auth)
	if err != nil {
		return nil, err
	}
	s.vantages = vs
	return s, nil
}

// vantages checks the vantage points: this host (local), a command
// prefix running opsview there (exec) or an `opsview agent --http-checks`
// (agent), as path probes configure them.
func vantages(in []probe.VantageOptions, auth httpfetch.Auth) ([]probe.VantageOptions, error) {
	if len(in) == 0 {
		return []probe.VantageOptions{{Name: "local", Type: "local"}}, nil
	}
	in = slices.Clone(in)
	if err := probe.NameVantages(in); err != nil {
		return nil, err
	}
	out := make([]probe.VantageOptions, 0, len(in))
	for _, v := range in {
		switch v.Type {
		case "local":
		case "exec":
			if len(probe.SplitCommand(v.Command)) == 0 {
				return nil, fmt.Errorf("vantage %q of type exec needs command (e.g. ssh -o BatchMode=yes bastion2)", v.Name)
			}
			if v.Opsview == "" {
				v.Opsview = "opsview"
			}
		case "agent":
			if err := checkAgent(v, auth); err != nil {
				return nil, err
			}
		case "mtr":
			return nil, fmt.Errorf("vantage %q: type mtr runs path probes only; HTTP checks run from local, exec or agent vantages (exec: command: ssh host, with opsview installed there)", v.Name)
		default:
			return nil, fmt.Errorf("vantage %q: unknown type %q (have local, exec, agent)", v.Name, v.Type)
		}
		out = append(out, v)
	}
	return out, nil
}

// checkTimeout is how long one check may take: most of what is left of
// the poll, so a slow target fails as a check (a finding) and the poll
// still returns in time (the source stays healthy).
func checkTimeout(ctx context.Context, share float64) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 10 * time.Second
	}
	return max(time.Duration(float64(time.Until(dl))*share), 50*time.Millisecond)
}

// vantageResults is what one vantage brought back.
type vantageResults struct {
	v       probe.VantageOptions
	results map[string]Result // by URL
	err     error
}

// Poll checks every target from every vantage.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	all := make([]vantageResults, len(s.vantages))
	var wg sync.WaitGroup
	for i, v := range s.vantages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			all[i] = vantageResults{v: v}
			switch v.Type {
			case "exec":
				all[i].results, all[i].err = s.runExec(ctx, v, checkTimeout(ctx, 0.8))
				return
			case "agent":
				all[i].results, all[i].err = s.runAgent(ctx, v, checkTimeout(ctx, 0.8))
				return
			}
			all[i].results = s.runLocal(ctx, checkTimeout(ctx, 0.9))
		}()
	}
	wg.Wait()
	var errs []error
	for _, vr := range all {
		if vr.err != nil {
			errs = append(errs, fmt.Errorf("vantage %s: %w", vr.v.Name, vr.err))
		}
	}
	if len(errs) == len(all) {
		return nil, fmt.Errorf("http %q: no vantage could check: %w", s.name, errors.Join(errs...))
	}
	for _, e := range errs {
		s.logf("%v", e)
	}
	return s.build(now, all, errs), nil
}

// runLocal checks every target from this host, a few at a time.
func (s *Source) runLocal(ctx context.Context, timeout time.Duration) map[string]Result {
	out := make([]Result, len(s.targets))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, t := range s.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = s.checker.Check(ctx, t, timeout)
		}()
	}
	wg.Wait()
	m := make(map[string]Result, len(out))
	for _, r := range out {
		m[r.URL] = r
	}
	return m
}

// build turns the results into series, alert events and a status line.
func (s *Source) build(now time.Time, all []vantageResults, errs []error) *sources.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &sources.Batch{At: now}
	failing, checked := 0, 0
	for _, vr := range all {
		for i, t := range s.targets {
			id := eventID(vr.v.Name, t.URL)
			r, ok := vr.results[t.URL]
			if !ok {
				// the vantage did not run: what was failing still is, as
				// far as anyone knows
				if ev, open := s.last[id]; open {
					b.Events = append(b.Events, ev)
				}
				continue
			}
			checked++
			v := Judge(t, r, now, s.cert)
			b.Series = append(b.Series, s.series(now, vr.v.Name, t, s.nodes[i], r, v)...)
			if v.Severity == sources.SevOK {
				delete(s.since, id)
				continue
			}
			if !v.Up {
				failing++
			}
			b.Events = append(b.Events, s.event(now, id, vr.v.Name, t, s.nodes[i], v))
		}
	}
	b.Events = s.open.Close(b.Events, now, "the check passes again")
	s.last = map[string]sources.Event{}
	for _, ev := range b.Events {
		if ev.Open() {
			s.last[ev.ID] = ev
		} else {
			delete(s.since, ev.ID)
		}
	}
	b.Status.Detail = fmt.Sprintf("%d checks, %d failing", checked, failing)
	if len(errs) > 0 {
		b.Status.Detail += "; " + sources.Clean(errs[0].Error())
	}
	return b
}

func eventID(vantage, u string) string { return "http " + vantage + " " + u }

func (s *Source) event(now time.Time, id, vantage string, t Target, node string, v Verdict) sources.Event {
	since, ok := s.since[id]
	if !ok {
		since = now
		s.since[id] = now
	}
	method := t.Method
	if method == "" {
		method = "GET"
	}
	u := sources.Clean(redactRaw(t.URL))
	state := sources.Clean(v.State)
	return sources.Event{
		ID:       id,
		Kind:     sources.EventAlert,
		Start:    since,
		Updated:  now,
		Severity: v.Severity,
		Layer:    sources.LayerEdge,
		Node:     node,
		Title:    fmt.Sprintf("%s %s: %s (from %s)", method, u, state, sources.Clean(vantage)),
		Text:     sources.CleanText(v.Problem),
		Labels:   map[string]string{"url": u, "vantage": sources.Clean(vantage)},
		Alert: &sources.Alert{
			Origin: sources.OriginExternal,
			System: "http",
			Check:  u,
			State:  state,
			Hard:   true,
		},
	}
}

// series are one check's figures. Availability and total time are what a
// user meets: external symptoms. The phases say where the time went (the
// network path for DNS and connect, the edge for TLS and the wait for the
// first byte) and the certificate's days left how soon it will break.
func (s *Source) series(now time.Time, vantage string, t Target, node string, r Result, v Verdict) []sources.Series {
	labels := map[string]string{"url": sources.Clean(redactRaw(t.URL)), "vantage": sources.Clean(vantage)}
	up := 0.0
	if v.Up {
		up = 100
	}
	answered := r.Error == ""
	timing := func(x float64) float64 {
		if !answered {
			return math.NaN() // no answer: no time to tell, never 0
		}
		return x
	}
	one := func(name, unit string, role sources.Role, layer sources.Layer, kind sources.SeriesKind, harm sources.Harm, m sources.Measure, val float64) sources.Series {
		return sources.Series{Name: name, Labels: labels, Unit: unit, Role: role, Layer: layer, Kind: kind, Harm: harm, Measure: m,
			Node: node, Points: []sources.Point{{T: now, V: val}}}
	}
	out := []sources.Series{
		one("http_up", "%", sources.RoleSymptom, sources.LayerEdge, sources.SeriesRatio, sources.HarmDown, sources.MeasureSuccess, up),
		one("http_total_ms", "ms", sources.RoleSymptom, sources.LayerEdge, sources.SeriesGauge, sources.HarmUp, sources.MeasureLatency, timing(r.TotalMs)),
		one("http_dns_ms", "ms", sources.RoleResource, sources.LayerNetwork, sources.SeriesGauge, sources.HarmUp, sources.MeasureLatency|sources.MeasurePart, timing(r.DNSms)),
		one("http_connect_ms", "ms", sources.RoleResource, sources.LayerNetwork, sources.SeriesGauge, sources.HarmUp, sources.MeasureLatency|sources.MeasurePart, timing(r.ConnectMs)),
		one("http_first_byte_ms", "ms", sources.RoleResource, sources.LayerEdge, sources.SeriesGauge, sources.HarmUp, sources.MeasureLatency|sources.MeasurePart, timing(r.FirstByteMs)),
	}
	if strings.HasPrefix(strings.ToLower(t.URL), "https:") {
		out = append(out, one("http_tls_ms", "ms", sources.RoleResource, sources.LayerEdge, sources.SeriesGauge, sources.HarmUp, sources.MeasureLatency|sources.MeasurePart, timing(r.TLSms)))
		days := math.NaN()
		if !r.CertNotAfter.IsZero() {
			days = r.CertNotAfter.Sub(now).Hours() / 24
		}
		out = append(out, one("http_cert_days_left", "d", sources.RoleResource, sources.LayerEdge, sources.SeriesGauge, sources.HarmDown, 0, days))
	}
	return out
}

func redactRaw(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return redact(u)
}
