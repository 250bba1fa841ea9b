// Package alertmanager is opsview's Prometheus Alertmanager source: it
// reads the alerts of API v2 (GET /api/v2/alerts: active, silenced,
// inhibited), and turns each into an alert event on the node its labels
// name, open while Alertmanager lists it.
//
// It must never change Alertmanager's state (no silences, no alerts
// posted), it does no retries or status keeping (the scheduler does), and
// it trusts nothing in the answer: the read is bounded and every label
// and annotation is cleaned of terminal escapes.
package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/alerting"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

const example = `- name: alertmanager
  type: alertmanager
  interval: 15s
  url: http://alertmanager.internal:9093   # API v2 (Alertmanager 0.16 or later)
  # filter: ['env="prod"', 'severity=~"warning|critical"']   # matchers, passed to the API
  # external: ['job="blackbox"']    # alerts matching all of these look from outside (a probe, Pingdom-style)
  # origin: internal                # internal (default) or external: the rest of its alerts
  # node_labels: [node, host, hostname, instance]   # the first present names the node (a port is dropped)
  # layer_label: layer              # a label holding the layer (edge, lb, app, db, host, network, provider)
  # layer: app                      # else this layer, or by node name:
  # layers: {db: ["db-*"]}
  # username: opsview               # basic auth, or bearer_token / bearer_token_file
  # password: ${ALERTMANAGER_PASSWORD}
  # ca_file: /etc/ssl/internal-ca.pem
  # insecure_skip_verify: false
  # max_response_mb: 16
`

func init() {
	sources.Register(sources.Kind{
		Type:    "alertmanager",
		Summary: "Prometheus Alertmanager API v2: active, silenced and inhibited alerts on the nodes their labels name; read-only",
		Example: example,
		New:     factory,
	})
}

// factory decodes the source's options for New.
var factory = sources.Decoding("alertmanager", New)

// Options is an alertmanager source's part of the config.
type Options struct {
	URL           string   `yaml:"url"`
	Filter        []string `yaml:"filter"`
	External      []string `yaml:"external"`
	NodeLabels    []string `yaml:"node_labels"`
	LayerLabel    string   `yaml:"layer_label"`
	MaxResponseMB int      `yaml:"max_response_mb"`

	httpfetch.Auth   `yaml:",inline"`
	alerting.Options `yaml:",inline"`
}

// DefaultNodeLabels name an alert's node, the first present.
var DefaultNodeLabels = []string{"node", "host", "hostname", "instance"}

// Source reads one Alertmanager.
type Source struct {
	name       string
	endpoint   string
	client     *httpfetch.Client
	external   []Matcher
	nodeLabels []string
	layerLabel string
	set        alerting.Settings

	mu   sync.Mutex
	open sources.OpenEvents
	// seen is when an alert that claims to start in the future was first
	// seen, by event ID
	seen map[string]time.Time
}

// New builds a source from decoded options; it does no network I/O.
func New(env sources.Env, o Options) (*Source, error) {
	u, err := httpfetch.CheckURL(o.URL)
	if err != nil {
		return nil, err
	}
	set, err := o.Options.Settings(sources.LayerUnknown)
	if err != nil {
		return nil, err
	}
	if o.MaxResponseMB < 0 {
		return nil, errors.New("max_response_mb must be positive")
	}
	limit := int64(o.MaxResponseMB) << 20
	if limit == 0 {
		limit = 16 << 20
	}
	c, err := httpfetch.New(o.Auth, limit)
	if err != nil {
		return nil, err
	}
	s := &Source{name: env.Name, client: c, nodeLabels: o.NodeLabels, layerLabel: o.LayerLabel, set: set}
	if len(s.nodeLabels) == 0 {
		s.nodeLabels = DefaultNodeLabels
	}
	if s.layerLabel == "" {
		s.layerLabel = "layer"
	}
	q := url.Values{}
	for _, k := range []string{"active", "silenced", "inhibited", "unprocessed"} {
		q.Set(k, "true")
	}
	for _, f := range o.Filter {
		m, err := ParseMatcher(f)
		if err != nil {
			return nil, fmt.Errorf("filter: %v", err)
		}
		q.Add("filter", m.String())
	}
	for _, f := range o.External {
		m, err := ParseMatcher(f)
		if err != nil {
			return nil, fmt.Errorf("external: %v", err)
		}
		s.external = append(s.external, m)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/alerts"
	u.RawQuery = q.Encode()
	s.endpoint = u.String()
	return s, nil
}

// Poll lists the alerts and turns them into events; an alert no longer
// listed has resolved (or expired) and its event closes.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	resp, err := s.client.Get(ctx, s.endpoint, "application/json")
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(resp); err != nil {
		return nil, err
	}
	alerts, err := ParseAlerts(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", redacted(s.endpoint), err)
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]sources.Event, 0, len(alerts))
	seen := map[string]time.Time{}
	firing, quiet, internal := 0, 0, 0
	for i := range alerts {
		ev := s.event(&alerts[i], now, seen)
		if ev.Alert.Origin != sources.OriginExternal {
			internal++
		}
		if ev.Alert.Downtime {
			quiet++
		} else if ev.Open() {
			firing++
		}
		evs = append(evs, ev)
	}
	s.seen = seen
	evs = s.open.Close(evs, now, "no longer listed by Alertmanager: resolved or expired")
	b := &sources.Batch{Events: evs}
	b.Status.Detail = fmt.Sprintf("%s: %d firing, %d silenced or inhibited", alerting.Count(len(alerts), "alert"), firing, quiet)
	// what it watched from inside: the alerts the config does not call external
	b.Status.Watched = &sources.Watched{System: "Alertmanager", Origin: s.set.Origin, Alerts: internal}
	return b, nil
}

// checkAnswer turns what is not the API's answer into an error that says
// what came instead.
func checkAnswer(r *httpfetch.Response) error {
	if httpfetch.LooksLikeHTML(r.Body) {
		return fmt.Errorf("HTTP %d with an HTML page, not the API's JSON (%s): is url the Alertmanager itself, not its web UI behind a login or a proxy's error page?",
			r.Status, httpfetch.Snippet(r.Body, 80))
	}
	switch {
	case r.Status == 401 || r.Status == 403:
		return fmt.Errorf("HTTP %d: not allowed (set username/password or bearer_token): %s", r.Status, httpfetch.Snippet(r.Body, 120))
	case r.Status == 404:
		return fmt.Errorf("HTTP 404 for /api/v2/alerts: not an Alertmanager of API v2 (0.16 or later), or url misses a route prefix: %s", httpfetch.Snippet(r.Body, 120))
	case r.Status != 200:
		return fmt.Errorf("HTTP %d: %s", r.Status, httpfetch.Snippet(r.Body, 200))
	}
	return nil
}

// event is one alert as an event: on the node its labels name, internal
// unless the config's external matchers say otherwise. seen collects the
// first sight of alerts that claim to start later than now.
func (s *Source) event(a *Alert, now time.Time, seen map[string]time.Time) sources.Event {
	node := s.node(a.Labels)
	layer := s.set.LayerOf(node)
	if l, ok := sources.ParseLayer(a.Labels[s.layerLabel]); ok && l != sources.LayerUnknown {
		layer = l
	}
	origin := s.set.Origin
	if matchAll(s.external, a.Labels) {
		origin = sources.OriginExternal
	}
	state := "firing"
	switch {
	case a.Silenced:
		state = "silenced"
	case a.Inhibited:
		state = "inhibited"
	}
	c := alerting.Check{
		System: "alertmanager", Host: node, Service: a.Labels["alertname"], State: state, Severity: severityOf(a.Labels["severity"]),
		Layer: layer, Origin: origin, Hard: true, Downtime: a.Silenced || a.Inhibited,
		Start: a.StartsAt, Updated: a.UpdatedAt, Labels: a.Labels,
	}
	if c.Service == "" {
		c.Service = "alert"
	}
	id := a.Fingerprint
	if !a.StartsAt.IsZero() {
		id += "@" + strconv.FormatInt(a.StartsAt.Unix(), 10)
	}
	// Alertmanager starts an alert posted without startsAt at its endsAt
	// (or now, without either); one that starts later than now is shown
	// from when it was first seen, so it is on the timeline while it fires
	if c.Start.IsZero() || c.Start.After(now) {
		c.Start = now
		if t, ok := s.seen[id]; ok {
			c.Start = t
		}
		seen[id] = c.Start
	}
	if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
		c.End = a.EndsAt // resolved, still listed until Alertmanager forgets it
	}
	c.Output, c.Long = a.Annotations["summary"], a.Annotations["description"]
	if c.Output == "" {
		c.Output, c.Long = c.Long, ""
	}
	if c.Output == "" {
		c.Output = a.Annotations["message"]
	}
	return c.Event(id)
}

// node is the value of the first node label present, as a host: a port
// dropped (instance="db-1:9100" is db-1), a probed URL's host kept
// (instance="https://www.example.net/" is www.example.net).
func (s *Source) node(labels map[string]string) string {
	for _, k := range s.nodeLabels {
		v := labels[k]
		if v == "" {
			continue
		}
		if strings.Contains(v, "://") {
			if u, err := url.Parse(v); err == nil && u.Hostname() != "" {
				return u.Hostname()
			}
			return v
		}
		if h, _, err := net.SplitHostPort(v); err == nil && h != "" {
			return h
		}
		return v
	}
	return ""
}

// severityOf reads the severity label by the usual conventions (critical
// or page, warning, info); an alert without one is a warning.
func severityOf(label string) sources.Severity {
	switch strings.ToLower(label) {
	case "critical", "crit", "page", "error", "high", "p1", "emergency", "fatal":
		return sources.SevCritical
	case "info", "informational", "none", "low", "notice":
		return sources.SevInfo
	}
	return sources.SevWarning
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the Alertmanager"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
