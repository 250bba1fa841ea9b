package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// Public endpoints of the AWS Health Dashboard.
const (
	DefaultCurrentEventsURL = "https://health.aws.amazon.com/public/currentevents"
	DefaultRSSBaseURL       = "https://status.aws.amazon.com/rss/"
)

func init() {
	sources.Register(sources.Kind{
		Type:    "aws-status",
		Summary: "public AWS Health Dashboard: current events and per service-region RSS (no credentials)",
		Example: `- name: aws-status
  type: aws-status
  interval: 60s               # the feeds update about every 5 minutes
  services: [ec2, elasticloadbalancing, rds]   # feed service keys
  regions: [eu-west-1, us-east-1]
  # global_services: [cloudfront, route53]     # feeds without a region
  # current_events: true      # the dashboard's current-events JSON
  # rss: true                 # one RSS feed per service×region
  # url: https://health.aws.amazon.com/public/currentevents
  # rss_base_url: https://status.aws.amazon.com/rss/
  # max_bytes: 8388608        # bound on each feed body
`,
		New: newStatusSource,
	})
}

type statusConfig struct {
	URL            string   `yaml:"url"`
	RSSBaseURL     string   `yaml:"rss_base_url"`
	CurrentEvents  *bool    `yaml:"current_events"`
	RSS            *bool    `yaml:"rss"`
	Services       []string `yaml:"services"`
	Regions        []string `yaml:"regions"`
	GlobalServices []string `yaml:"global_services"`
	MaxBytes       int64    `yaml:"max_bytes"`
}

var keyPartRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`) })

type rssOpen struct {
	id    string
	start time.Time
}

// StatusSource reads the public AWS Health Dashboard without credentials.
type StatusSource struct {
	name          string
	logf          func(string, ...any)
	client        *httpfetch.Client
	eventsURL     string // "" when current events are off
	rssBase       string // "" when RSS is off
	keys          []string
	services      map[string]bool
	regions       map[string]bool
	globalService map[string]bool
	maxBytes      int64

	mu     sync.Mutex
	open   sources.OpenEvents
	rssIDs map[string]rssOpen // key → the open RSS thread
}

func newStatusSource(env sources.Env, opts sources.Options) (sources.Source, error) {
	var c statusConfig
	if err := opts.Decode(&c); err != nil {
		return nil, err
	}
	s := &StatusSource{
		name:          env.Name,
		logf:          env.Logf,
		services:      map[string]bool{},
		regions:       map[string]bool{},
		globalService: map[string]bool{},
		maxBytes:      c.MaxBytes,
		rssIDs:        map[string]rssOpen{},
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	client, err := httpfetch.NewClient(httpfetch.Auth{}, httpfetch.Options{Limit: s.maxBytes, LimitHint: "raise max_bytes if the feed really is that big"})
	if err != nil {
		return nil, opts.Errorf("aws-status %q: %v", env.Name, err)
	}
	s.client = client
	for _, list := range []struct {
		name string
		in   []string
		set  map[string]bool
	}{{"services", c.Services, s.services}, {"regions", c.Regions, s.regions}, {"global_services", c.GlobalServices, s.globalService}} {
		for _, v := range list.in {
			v = strings.ToLower(strings.TrimSpace(v))
			if !keyPartRE().MatchString(v) {
				return nil, opts.Errorf("aws-status %q: %s entry %q: use the feed's lowercase names, e.g. ec2, elasticloadbalancing, us-east-1", env.Name, list.name, v)
			}
			list.set[v] = true
		}
	}
	if len(s.services) > 0 && len(s.regions) == 0 {
		return nil, opts.Errorf("aws-status %q: services without regions: add regions (e.g. [us-east-1])", env.Name)
	}
	for _, sv := range sortedKeys(s.services) {
		for _, r := range sortedKeys(s.regions) {
			s.keys = append(s.keys, sv+"-"+r)
		}
	}
	s.keys = append(s.keys, sortedKeys(s.globalService)...)

	if c.CurrentEvents == nil || *c.CurrentEvents {
		s.eventsURL = c.URL
		if s.eventsURL == "" {
			s.eventsURL = DefaultCurrentEventsURL
		}
		if err := checkURL(s.eventsURL); err != nil {
			return nil, opts.Errorf("aws-status %q: url: %v", env.Name, err)
		}
	}
	if (c.RSS == nil || *c.RSS) && len(s.keys) > 0 {
		s.rssBase = c.RSSBaseURL
		if s.rssBase == "" {
			s.rssBase = DefaultRSSBaseURL
		}
		if err := checkURL(s.rssBase); err != nil {
			return nil, opts.Errorf("aws-status %q: rss_base_url: %v", env.Name, err)
		}
		if !strings.HasSuffix(s.rssBase, "/") {
			s.rssBase += "/"
		}
	}
	if s.eventsURL == "" && s.rssBase == "" {
		return nil, opts.Errorf("aws-status %q: nothing to read: enable current_events, or give services and regions for the RSS feeds", env.Name)
	}
	return s, nil
}

func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	if p.Scheme != "http" && p.Scheme != "https" || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", u)
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fetch GETs a feed with a bounded read.
func (s *StatusSource) fetch(ctx context.Context, u, accept string) ([]byte, string, error) {
	resp, err := s.client.Get(ctx, u, accept)
	if errors.Is(err, ErrTooLarge) {
		return nil, "", err // it names the feed and the limit
	}
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w (is there a proxy to set in HTTPS_PROXY?)", u, err)
	}
	if resp.Status != http.StatusOK {
		hint := ""
		if resp.Status == http.StatusNotFound || resp.Status == http.StatusForbidden {
			hint = " (no such feed: check the url, services and regions)"
		}
		return nil, resp.ContentType, fmt.Errorf("GET %s: HTTP %d%s", u, resp.Status, hint)
	}
	return resp.Body, resp.ContentType, nil
}

// watched reports whether a feed key is one of the watched services×regions.
func (s *StatusSource) watched(key string) bool {
	svc, region := SplitKey(key)
	if region == "" {
		return s.globalService[svc]
	}
	return s.services[svc] && s.regions[region]
}

// relevant reports whether a dashboard event concerns what is watched: a
// watched key is impacted, or (no services given) its region is watched, or
// it is a multiple-services event in a watched region.
func (s *StatusSource) relevant(e *DashboardEvent) bool {
	if len(s.keys) == 0 && len(s.regions) == 0 {
		return true
	}
	keys := append([]string{e.Service}, mapKeys(e.Impacted)...)
	for _, k := range keys {
		if s.watched(k) {
			return true
		}
		svc, region := SplitKey(k)
		if region != "" && s.regions[region] && (len(s.services) == 0 || svc == "multipleservices") {
			return true
		}
	}
	return false
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Severity maps a dashboard status code to opsview's severity.
func Severity(status int) sources.Severity {
	switch status {
	case StatusOperational:
		return sources.SevOK
	case StatusInformational:
		return sources.SevInfo
	case StatusDegraded:
		return sources.SevWarning
	}
	return sources.SevCritical
}

// StateWord is the state shown for a service: green is said explicitly.
func StateWord(status int) string {
	switch status {
	case StatusOperational:
		return "operational"
	case StatusInformational:
		return "informational"
	case StatusDegraded:
		return "degraded"
	}
	return "disruption"
}

// stateClass says what a status means: an informational notice leaves
// the service up, a degraded one serves with trouble, a disruption is down.
func stateClass(status int) sources.StateClass {
	switch status {
	case StatusOperational, StatusInformational:
		return sources.ClassUp
	case StatusDegraded:
		return sources.ClassDegraded
	}
	return sources.ClassDown
}

type feedResult struct {
	key   string
	items []StatusItem
	err   error
}

// Poll reads the feeds and reports every relevant event and the current
// state of each watched service×region. A feed that cannot be read fails
// the poll: a service is never shown green from a feed that was not read.
func (s *StatusSource) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	var dash []DashboardEvent
	if s.eventsURL != "" {
		body, ct, err := s.fetch(ctx, s.eventsURL, "application/json")
		if err != nil {
			return nil, fmt.Errorf("aws-status %q: current events: %w", s.name, err)
		}
		all, err := ParseCurrentEvents(body, ct)
		if err != nil {
			return nil, fmt.Errorf("aws-status %q: current events from %s: %w", s.name, s.eventsURL, err)
		}
		for i := range all {
			if s.relevant(&all[i]) {
				dash = append(dash, all[i])
			}
		}
	}
	var threads []StatusThread
	if s.rssBase != "" {
		results := make([]feedResult, len(s.keys))
		sem := make(chan struct{}, 4)
		var wg sync.WaitGroup
		for i, key := range s.keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				u := s.rssBase + key + ".rss"
				r := feedResult{key: key}
				body, ct, err := s.fetch(ctx, u, "application/rss+xml, application/xml, text/xml")
				if err == nil {
					var skipped int
					r.items, skipped, err = ParseRSS(body, ct, key)
					if err != nil {
						err = fmt.Errorf("%s: %w", u, err)
					} else if skipped > 0 {
						s.logf("aws-status %q: %s: skipped %d items without a readable date", s.name, u, skipped)
					}
				}
				r.err = err
				results[i] = r
			}()
		}
		wg.Wait()
		var errs []error
		for _, r := range results {
			if r.err != nil {
				errs = append(errs, r.err)
				continue
			}
			for _, t := range Threads(r.items) {
				if t.Key == r.key || s.watched(t.Key) {
					threads = append(threads, t)
				}
			}
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("aws-status %q: RSS: %w", s.name, errors.Join(errs...))
		}
	}
	return s.build(now, dash, threads), nil
}

// build turns what the feeds said into a batch. It is pure apart from the
// memory of which events were open, so an event that leaves the
// current-events snapshot is closed rather than left open for ever.
func (s *StatusSource) build(now time.Time, dash []DashboardEvent, threads []StatusThread) *sources.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &sources.Batch{At: now}
	seen := map[string]bool{}
	worst := map[string]int{}                 // key → worst current status
	worstEvent := map[string]*sources.Event{} // key → event behind it
	note := func(key string, status int, ev *sources.Event) {
		if !s.watched(key) {
			return
		}
		if cur, ok := worst[key]; !ok || status > cur {
			worst[key] = status
			worstEvent[key] = ev
		}
	}

	for i := range dash {
		e := &dash[i]
		ev := s.dashboardEvent(e)
		b.Events = append(b.Events, ev)
		seen[ev.ID] = true
		if ev.Open() {
			evc := ev
			for _, k := range append([]string{e.Service}, mapKeys(e.Impacted)...) {
				if st, ok := e.CurrentFor(k); ok {
					note(k, st, &evc)
				}
			}
		}
	}
	for i := range threads {
		t := &threads[i]
		id := threadID(t)
		// a thread starting at the feed's oldest item may have lost its
		// start to the 50-item window: keep the ID it had when first seen
		if prev, ok := s.rssIDs[t.Key]; ok && t.Truncated && prev.start.Before(t.Start()) {
			id = prev.id
		}
		if t.Open() {
			s.rssIDs[t.Key] = rssOpen{id: id, start: t.Start()}
		} else if s.rssIDs[t.Key].id == id {
			delete(s.rssIDs, t.Key)
		}
		ev := s.threadEvent(t, id)
		if t.Open() {
			evc := ev
			note(t.Key, t.Current(), &evc)
		}
		if duplicateOf(t, dash, now) {
			continue // the current-events entry tells the same story, richer
		}
		b.Events = append(b.Events, ev)
		seen[ev.ID] = true
	}
	// events that were open and are no longer listed have ended
	b.Events = s.open.Close(b.Events, now, "no longer listed by the AWS Health Dashboard")

	b.Nodes = make([]sources.NodeState, 0, len(s.keys))
	for _, key := range s.keys {
		svc, region := SplitKey(key)
		st := worst[key]
		n := sources.NodeState{
			Kind:     sources.NodeService,
			ID:       key,
			Name:     key, // the same name the events carry as their Node
			Layer:    sources.LayerProvider,
			State:    StateWord(st),
			Class:    stateClass(st),
			Severity: Severity(st),
			Provider: &sources.ProviderNode{Provider: "AWS", Service: svc, Region: region},
		}
		if ev := worstEvent[key]; ev != nil && st > StatusOperational {
			n.Since = ev.Start
			n.Provider.Event, n.Provider.EventID = ev.Title, ev.ID
		}
		b.Nodes = append(b.Nodes, n)
	}
	open := 0
	for _, ev := range b.Events {
		if ev.Open() {
			open++
		}
	}
	b.Status.Detail = fmt.Sprintf("%d services watched, %d open events", len(s.keys), open)
	return b
}

func (s *StatusSource) dashboardEvent(e *DashboardEvent) sources.Event {
	id := e.ARN
	if id == "" {
		id = e.Service + "_" + fmt.Sprint(e.Date.Unix())
	}
	svc, region := SplitKey(e.Service)
	ev := sources.Event{
		ID:      "aws-status:" + id,
		Kind:    sources.EventProvider,
		Start:   e.Start(),
		Updated: e.Updated(),
		Layer:   sources.LayerProvider,
		Node:    e.Service,
		Labels:  map[string]string{"provider": "aws", "feed": "currentevents", "service": svc},
	}
	if region != "" {
		ev.Labels["region"] = region
	}
	if e.ARN != "" {
		ev.Labels["arn"] = e.ARN
	}
	// prefer a watched impacted key as the node, so the event sits on the
	// service the user watches
	impacted := mapKeys(e.Impacted)
	for _, k := range impacted {
		if s.watched(k) {
			ev.Node = k
			break
		}
	}
	if len(impacted) > 0 {
		ev.Labels["services"] = strings.Join(impacted, ",")
	}
	regions := map[string]bool{}
	for _, k := range append([]string{e.Service}, impacted...) {
		if _, r := SplitKey(k); r != "" {
			regions[r] = true
		}
	}
	if len(regions) > 0 {
		ev.Labels["regions"] = strings.Join(sortedKeys(regions), ",")
	}
	if e.Resolved() {
		ev.End = e.End
		if ev.End.IsZero() {
			ev.End = ev.Updated
		}
		ev.Severity = Severity(e.Worst())
	} else {
		cur := e.Status
		for _, k := range impacted {
			cur = max(cur, e.Impacted[k].Current)
		}
		ev.Severity = Severity(max(cur, StatusInformational))
	}
	title := strings.TrimSpace(strings.ReplaceAll(e.Summary, "[RESOLVED]", ""))
	where := e.ServiceName
	if e.RegionName != "" {
		where += " (" + e.RegionName + ")"
	}
	ev.Title = sources.Clean(strings.TrimSpace("AWS " + where + ": " + title))
	var tb strings.Builder
	if len(impacted) > 0 {
		names := make([]string, 0, len(impacted))
		for _, k := range impacted {
			is := e.Impacted[k]
			names = append(names, fmt.Sprintf("%s [%s] now %s, worst %s", is.Name, k, StateWord(is.Current), StateWord(is.Max)))
		}
		tb.WriteString("Affected: " + strings.Join(names, "; ") + "\n")
	}
	for _, l := range e.Log {
		fmt.Fprintf(&tb, "%s  %s\n%s\n", l.At.Format("2006-01-02 15:04 MST"), l.Summary, l.Message)
	}
	ev.Text = sources.CleanText(strings.TrimSpace(tb.String()))
	return ev
}

func threadID(t *StatusThread) string {
	return fmt.Sprintf("aws-status:rss:%s_%d", t.Key, t.Start().Unix())
}

func (s *StatusSource) threadEvent(t *StatusThread, id string) sources.Event {
	svc, region := SplitKey(t.Key)
	last := t.Items[len(t.Items)-1]
	ev := sources.Event{
		ID:       id,
		Kind:     sources.EventProvider,
		Start:    t.Start(),
		Updated:  t.Updated(),
		Severity: Severity(max(t.Worst(), StatusInformational)),
		Layer:    sources.LayerProvider,
		Node:     t.Key,
		Title:    sources.Clean(fmt.Sprintf("AWS %s %s: %s", svc, region, t.Items[0].Title)),
		Labels:   map[string]string{"provider": "aws", "feed": "rss", "service": svc, "services": t.Key},
	}
	if region != "" {
		ev.Labels["region"] = region
		ev.Labels["regions"] = region
	}
	if !t.Open() {
		ev.End = last.At
	}
	var tb strings.Builder
	for i := len(t.Items) - 1; i >= 0; i-- { // newest first, as AWS shows them
		it := t.Items[i]
		fmt.Fprintf(&tb, "%s  %s: %s\n%s\n", it.At.Format("2006-01-02 15:04 MST"), StateWord(it.Status), it.Title, it.Text)
	}
	ev.Text = sources.CleanText(strings.TrimSpace(tb.String()))
	return ev
}

// duplicateOf reports whether a current-events entry tells the same story
// as an RSS thread: it covers the same key, and their spans overlap (with
// an hour's slack, the two feeds are not published at the same instant).
// The RSS window holds 50 items, so a long event's thread often starts
// long after the dashboard's entry does.
func duplicateOf(t *StatusThread, dash []DashboardEvent, now time.Time) bool {
	tEnd := now
	if !t.Open() {
		tEnd = t.Updated()
	}
	for i := range dash {
		e := &dash[i]
		_, impacted := e.Impacted[t.Key]
		if e.Service != t.Key && !impacted {
			continue
		}
		eEnd := now
		if e.Resolved() {
			eEnd = e.Updated()
		}
		if !e.Start().After(tEnd.Add(time.Hour)) && !t.Start().After(eEnd.Add(time.Hour)) {
			return true
		}
	}
	return false
}
