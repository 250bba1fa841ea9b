// Package icinga2 is opsview's Icinga 2 source: it reads the hosts and
// services of Icinga's REST API (/v1/objects/hosts and /services, basic
// auth over TLS with Icinga's own CA) and turns every problem into an
// alert event that opens when the problem begins and closes when it
// recovers.
//
// Between polls it follows Icinga's event stream (POST /v1/events,
// StateChange and CheckResult) where its API user may, so that a problem
// that begins and ends between two polls is told too; without that
// permission it polls only, and says so in its status.
//
// It must never change Icinga's state (it only GETs objects and reads the
// stream: give its API user "objects/query/Host", "objects/query/Service",
// "events/StateChange" and "events/CheckResult" and nothing more), it
// does no retries or status keeping (the scheduler does), and
// it trusts nothing in the answers: every read is bounded and every
// string is cleaned of terminal escapes.
package icinga2

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/alerting"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

const example = `- name: icinga
  type: icinga2
  interval: 15s
  url: https://icinga.internal:5665          # the REST API (ApiListener)
  username: opsview                          # an ApiUser with permissions ["objects/query/Host", "objects/query/Service", "events/StateChange", "events/CheckResult"]
  # password: ${ICINGA_API_PASSWORD}         # the ApiUser's password (from the environment: never in the file)
  # ca_file: /etc/opsview/icinga-ca.crt      # Icinga's own CA (/var/lib/icinga2/certs/ca.crt on the master): needed unless its certificate is signed by a public CA
  # insecure_skip_verify: false
  # host_filter: '"linux-servers" in host.groups'      # Icinga DSL filters, passed to the API
  # service_filter: 'service.vars.team == "db"'
  # origin: internal       # internal (default) or external: what its alerts look from
  # layer: host            # the layer of a host no entry of layers names
  # layers: {db: ["db-*"], app: ["app-*"]}
  # max_response_mb: 32
  # event_stream: true     # follow /v1/events (StateChange, CheckResult) between polls, where the ApiUser may (events/StateChange, events/CheckResult); else poll only
`

func init() {
	sources.Register(sources.Kind{
		Type:    "icinga2",
		Summary: "Icinga 2 REST API: hosts and services, HARD/SOFT, acknowledged, downtime, flapping, and its event stream between polls; read-only",
		Example: example,
		New:     factory,
	})
}

// Options is an icinga2 source's part of the config.
type Options struct {
	URL           string `yaml:"url"`
	HostFilter    string `yaml:"host_filter"`
	ServiceFilter string `yaml:"service_filter"`
	MaxResponseMB int    `yaml:"max_response_mb"`
	// EventStream follows Icinga's event stream between polls (default
	// true); without the permission to, the source polls only.
	EventStream *bool `yaml:"event_stream"`

	httpfetch.Auth   `yaml:",inline"`
	alerting.Options `yaml:",inline"`
}

func factory(env sources.Env, opts sources.Options) (sources.Source, error) {
	var o Options
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	s, err := New(env, o)
	if err != nil {
		return nil, opts.Errorf("icinga2 %q: %v", env.Name, err)
	}
	if o.InsecureSkipTLS && env.Logf != nil {
		env.Logf("icinga2 %q: insecure_skip_verify is set: Icinga's TLS certificate is NOT checked", env.Name)
	}
	return s, nil
}

// Source reads one Icinga 2.
type Source struct {
	name            string
	hosts, services string // endpoints
	client          *httpfetch.Client
	set             alerting.Settings

	events string // the event stream's endpoint, "" when off

	mu       sync.Mutex
	problems alerting.Problems
	open     sources.OpenEvents
	// the event stream's: started, connected, why not, the problems it
	// closed since the last poll, when it last told of a check, how many
	// events it took
	stop      context.CancelFunc
	streaming bool
	streamErr string
	pending   []sources.Event
	told      map[alerting.Key]time.Time
	streamed  int
}

// New builds a source from decoded options; it does no network I/O.
func New(env sources.Env, o Options) (*Source, error) {
	u, err := httpfetch.CheckURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Username == "" && o.BearerToken == "" && o.BearerTokenFile == "" {
		return nil, errors.New("username and password are required (an ApiUser of Icinga with objects/query/Host and objects/query/Service)")
	}
	set, err := o.Options.Settings(sources.LayerHost)
	if err != nil {
		return nil, err
	}
	if o.MaxResponseMB < 0 {
		return nil, errors.New("max_response_mb must be positive")
	}
	c, err := httpfetch.New(o.Auth, int64(o.MaxResponseMB)<<20)
	if err != nil {
		return nil, err
	}
	endpoint := func(kind, filter string) string {
		e := *u
		e.Path = strings.TrimSuffix(e.Path, "/") + "/v1/objects/" + kind
		q := url.Values{}
		for _, a := range Attrs {
			if kind == "hosts" && a == "host_name" {
				continue // a host has none
			}
			q.Add("attrs", a)
		}
		if filter != "" {
			q.Set("filter", filter)
		}
		e.RawQuery = q.Encode()
		return e.String()
	}
	s := &Source{name: env.Name, client: c, set: set, told: map[alerting.Key]time.Time{},
		hosts: endpoint("hosts", o.HostFilter), services: endpoint("services", o.ServiceFilter)}
	if o.EventStream == nil || *o.EventStream {
		s.events = eventsURL(u, env.Name)
	}
	return s, nil
}

// Close stops the event stream.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	return nil
}

// Poll reads the hosts and the services; both must answer, or nothing
// is said (a poll with the services missing would close their problems).
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	s.mu.Lock()
	if s.events != "" && s.stop == nil {
		var sctx context.Context
		sctx, s.stop = context.WithCancel(context.Background())
		go s.stream(sctx)
	}
	s.mu.Unlock()
	hosts, err := s.get(ctx, s.hosts, "hosts")
	if err != nil {
		return nil, err
	}
	svcs, err := s.get(ctx, s.services, "services")
	if err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// what the stream closed since the last poll, then the present
	evs := s.pending
	s.pending = nil
	for _, list := range [][]Object{hosts, svcs} {
		for i := range list {
			o := &list[i]
			k := alerting.Key{Host: o.Host, Service: o.Service}
			if t, ok := s.told[k]; ok && o.LastCheck.Before(t) {
				// the stream told of a later check than this answer holds
				if ev, ok := s.problems.Open(k); ok {
					evs = append(evs, ev)
				}
				continue
			}
			evs = s.problems.Follow(s.reading(o), now, evs)
		}
	}
	evs = s.open.Close(evs, now, "no longer listed by Icinga: removed from its configuration, or outside the filter")
	s.problems.Forget(evs)
	problems := 0
	for i := range evs {
		if evs[i].Open() {
			problems++
		}
	}
	b := &sources.Batch{Events: evs}
	b.Status.Detail = alerting.Count(len(hosts), "host") + ", " + alerting.Count(len(svcs), "service") + ", " + alerting.Count(problems, "problem")
	switch {
	case s.streaming:
		b.Status.Detail += ", " + alerting.Count(s.streamed, "event") + " streamed"
	case s.streamErr != "":
		b.Status.Detail += "; " + s.streamErr
	}
	b.Status.Watched = &sources.Watched{System: "Icinga 2", Origin: s.set.Origin, Hosts: len(hosts), Services: len(svcs)}
	return b, nil
}

// get fetches and reads one list of objects.
func (s *Source) get(ctx context.Context, u, what string) ([]Object, error) {
	resp, err := s.client.Get(ctx, u, "application/json")
	if err != nil {
		return nil, err
	}
	if httpfetch.LooksLikeHTML(resp.Body) {
		return nil, fmt.Errorf("%s: HTTP %d with an HTML page, not the API's JSON (%s): is url Icinga's API (https://host:5665), not Icinga Web?",
			what, resp.Status, httpfetch.Snippet(resp.Body, 80))
	}
	objs, err := ParseObjects(resp.Body)
	switch {
	case errors.Is(err, ErrNoObjects):
		return nil, nil
	case err != nil && resp.Status == 401:
		return nil, fmt.Errorf("%s: HTTP 401: %v (check username and password: an ApiUser of Icinga)", what, err)
	case err != nil && resp.Status == 403:
		return nil, fmt.Errorf("%s: HTTP 403: %v (give the ApiUser permissions objects/query/Host and objects/query/Service)", what, err)
	case err != nil:
		return nil, fmt.Errorf("%s: HTTP %d: %v", what, resp.Status, err)
	case resp.Status != 200:
		return nil, fmt.Errorf("%s: HTTP %d: %s", what, resp.Status, httpfetch.Snippet(resp.Body, 200))
	}
	return objs, nil
}

// reading is an Icinga object in the shared alert form. A host or service
// never checked has no state yet: no trouble. Flapping is trouble even
// while OK.
func (s *Source) reading(o *Object) *alerting.Reading {
	var word string
	var sev sources.Severity
	if o.Service == "" {
		word, sev = alerting.HostState(o.State)
	} else {
		word, sev = alerting.ServiceState(o.State)
	}
	if o.State == 0 && o.Flapping {
		sev = sources.SevWarning
	}
	labels := map[string]string{"host": o.Host}
	if o.Service != "" {
		labels["service"] = o.Service
	}
	return &alerting.Reading{
		Check: alerting.Check{
			System: "icinga2", Host: o.Host, Service: o.Service, State: word, Severity: sev,
			Layer: s.set.LayerOf(o.Host), Origin: s.set.Origin, Hard: o.Hard, Attempt: o.Attempt, MaxAttempts: o.MaxAttempts,
			Acknowledged: o.Acknowledged, Downtime: o.Downtime, Flapping: o.Flapping,
			Output: o.Output, Long: o.Long, Updated: o.LastCheck, Labels: labels,
		},
		Changed: o.LastStateChange, Trouble: o.Checked && (o.State != 0 || o.Flapping),
	}
}
