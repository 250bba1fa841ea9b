package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/health"
	htypes "github.com/aws/aws-sdk-go-v2/service/health/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// The AWS Health API has two regional endpoints, active and passive:
// us-east-1 normally, us-east-2 when us-east-1 is impaired. Other regions'
// names (health.eu-west-1.amazonaws.com) do not exist, so the client's
// region is us-east-1 whatever the user's region is, and events are
// filtered by region instead.
const (
	DefaultHealthRegion         = "us-east-1"
	DefaultHealthFailoverRegion = "us-east-2"
	// subscriptionRecheck is how long an account without the support plan
	// the Health API needs is left alone before asking again.
	subscriptionRecheck = time.Hour
	healthPageSize      = 100
	healthMaxPages      = 10
	healthArnsPerCall   = 10 // DescribeEventDetails and the entity filter take at most 10 ARNs
)

func init() {
	sources.Register(sources.Kind{
		Type:    "aws-health",
		Summary: "AWS Health API: your account's open and recent events with affected resources (Business support or higher)",
		Example: `- name: aws-health
  type: aws-health
  interval: 5m
  timeout: 30s                      # several calls per poll on a busy day
  # profile: prod
  regions: [eu-west-1, us-east-1]   # events of these regions (and global ones)
  # services: [EC2, RDS, ELASTICLOADBALANCING]
  # recent: 24h                     # closed events kept in view
  # region: us-east-1               # the Health endpoint's region (active)
  # failover_region: us-east-2      # tried when the active one fails
  # endpoint: https://health.us-east-1.amazonaws.com   # VPC endpoint
  # affected_entities: true
  # organization: true              # every account of the organization
  #                                 # (management or delegated admin account)
`,
		New: newHealthSource,
	})
}

type healthConfig struct {
	Access           `yaml:",inline"`
	FailoverRegion   string        `yaml:"failover_region"`
	FailoverEndpoint string        `yaml:"failover_endpoint"`
	Regions          []string      `yaml:"regions"`
	Services         []string      `yaml:"services"`
	Recent           time.Duration `yaml:"recent"`
	AffectedEntities *bool         `yaml:"affected_entities"`
	Organization     bool          `yaml:"organization"`
}

// HealthSource reads the account's AWS Health events.
type HealthSource struct {
	name     string
	logf     func(string, ...any)
	access   Access
	failover Access // region and endpoint of the passive endpoint
	regions  []string
	services []string
	recent   time.Duration
	entities bool
	org      bool // the organization view (management or delegated admin account)

	mu          sync.Mutex
	clients     [2]*health.Client // active, passive
	active      int
	noPlanUntil time.Time // SubscriptionRequiredException: no call before this
	noPlanSaid  bool
	gate        backoffGate
	details     map[string]eventDetail // by ARN
	open        sources.OpenEvents
}

type eventDetail struct {
	updated     time.Time // the event's lastUpdatedTime the detail belongs to
	description string
	entities    []htypes.AffectedEntity
	haveEnts    bool
	accounts    []string // organization view: the accounts it affects
}

func newHealthSource(env sources.Env, opts sources.Options) (sources.Source, error) {
	var c healthConfig
	if err := opts.Decode(&c); err != nil {
		return nil, err
	}
	if err := c.Access.check("aws-health", env.Name, opts.Errorf); err != nil {
		return nil, err
	}
	s := &HealthSource{
		name: env.Name, logf: env.Logf, access: c.Access,
		recent:   c.Recent,
		entities: c.AffectedEntities == nil || *c.AffectedEntities,
		org:      c.Organization,
		details:  map[string]eventDetail{},
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.access.Region == "" {
		s.access.Region = DefaultHealthRegion
	}
	s.failover = Access{Profile: c.Profile, Region: c.FailoverRegion, Endpoint: c.FailoverEndpoint}
	if s.failover.Region == "" {
		s.failover.Region = DefaultHealthFailoverRegion
	}
	if err := s.failover.check("aws-health", env.Name, opts.Errorf); err != nil {
		return nil, err
	}
	if s.recent == 0 {
		s.recent = 24 * time.Hour
	}
	if s.recent < 0 {
		return nil, opts.Errorf("aws-health %q: recent must be positive", env.Name)
	}
	for _, r := range c.Regions {
		r = strings.ToLower(strings.TrimSpace(r))
		if !keyPartRE().MatchString(r) {
			return nil, opts.Errorf("aws-health %q: region %q: use names like eu-west-1", env.Name, r)
		}
		s.regions = append(s.regions, r)
	}
	if len(s.regions) > 0 {
		s.regions = append(s.regions, "global") // account-wide events (IAM, billing)
	}
	for _, sv := range c.Services {
		s.services = append(s.services, strings.ToUpper(strings.TrimSpace(sv)))
	}
	return s, nil
}

// backoffGate keeps calls away from an API that throttled us: 30 s, then
// doubling up to 15 minutes, reset by a success.
type backoffGate struct {
	notBefore time.Time
	backoff   time.Duration
}

func (g *backoffGate) closed(now time.Time) (time.Time, bool) {
	return g.notBefore, now.Before(g.notBefore)
}

func (g *backoffGate) throttled(now time.Time) time.Time {
	if g.backoff == 0 {
		g.backoff = 30 * time.Second
	} else {
		g.backoff = min(2*g.backoff, 15*time.Minute)
	}
	g.notBefore = now.Add(g.backoff)
	return g.notBefore
}

func (g *backoffGate) ok() { g.backoff = 0 }

func (s *HealthSource) client(ctx context.Context, i int) (*health.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[i] != nil {
		return s.clients[i], nil
	}
	a := s.access
	if i == 1 {
		a = s.failover
	}
	cfg, err := a.load(ctx, a.Region)
	if err != nil {
		return nil, err
	}
	if err := a.credentials(ctx, cfg); err != nil {
		return nil, err
	}
	s.clients[i] = health.NewFromConfig(cfg, func(o *health.Options) {
		o.Region = a.Region
		if a.Endpoint != "" {
			o.BaseEndpoint = sdkaws.String(a.Endpoint)
		}
		o.RetryMaxAttempts = sdkAttempts
		o.HTTPClient = httpfetch.Bounded(cfg.HTTPClient, maxHealthResponse)
	})
	return s.clients[i], nil
}

// endpointDown reports whether an error means the endpoint itself is not
// answering (so the passive one should be tried), as opposed to an answer.
func endpointDown(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	if apiCode(err) != "" {
		return false // the endpoint answered
	}
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de)
}

// call runs fn against the active endpoint, and against the passive one
// when the active one is down; the one that answered becomes active.
func (s *HealthSource) call(ctx context.Context, fn func(*health.Client) error) error {
	s.mu.Lock()
	first := s.active
	s.mu.Unlock()
	var firstErr error
	for k := 0; k < 2; k++ {
		i := (first + k) % 2
		c, err := s.client(ctx, i)
		if err != nil {
			return err
		}
		err = fn(c)
		if err == nil {
			if i != first {
				s.mu.Lock()
				s.active = i
				s.mu.Unlock()
				s.logf("aws-health %q: endpoint %s did not answer (%v); using %s", s.name, s.regionOf(first), firstErr, s.regionOf(i))
			}
			return nil
		}
		if !endpointDown(err) || ctx.Err() != nil {
			return err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (s *HealthSource) regionOf(i int) string {
	if i == 1 {
		return s.failover.Region
	}
	return s.access.Region
}

// NoPlanLine is the one status line of an account whose support plan does
// not include the Health API.
const NoPlanLine = "AWS Health API unavailable: it needs a Business, Enterprise On-Ramp or Enterprise support plan (SubscriptionRequiredException); the public status feed (type aws-status) still works"

// Poll lists open and recent events, with their details and affected
// resources.
func (s *HealthSource) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	s.mu.Lock()
	if now.Before(s.noPlanUntil) {
		until := s.noPlanUntil
		s.mu.Unlock()
		return s.noPlanBatch(now, until), nil
	}
	if until, closed := s.gate.closed(now); closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("aws-health %q: still backing off after throttling, until %s (no call made)", s.name, until.UTC().Format("15:04:05 MST"))
	}
	s.mu.Unlock()

	var open []htypes.Event
	var err error
	if s.org {
		open, err = s.describeOrgEvents(ctx, now)
		if err == nil {
			err = s.fetchOrgDetails(ctx, open)
		}
	} else {
		open, err = s.describeEvents(ctx, &htypes.EventFilter{
			EventStatusCodes: []htypes.EventStatusCode{htypes.EventStatusCodeOpen, htypes.EventStatusCodeUpcoming},
			Regions:          s.regions,
			Services:         s.services,
		})
		if err == nil {
			var closed []htypes.Event
			closed, err = s.describeEvents(ctx, &htypes.EventFilter{
				EventStatusCodes: []htypes.EventStatusCode{htypes.EventStatusCodeClosed},
				LastUpdatedTimes: []htypes.DateTimeRange{{From: sdkaws.Time(now.Add(-s.recent))}},
				Regions:          s.regions,
				Services:         s.services,
			})
			open = append(open, closed...)
		}
		if err == nil {
			err = s.fetchDetails(ctx, open)
		}
	}
	if err != nil {
		return s.failed(err, now)
	}
	s.mu.Lock()
	s.gate.ok()
	if s.noPlanSaid {
		s.logf("aws-health %q: the Health API answers again", s.name)
		s.noPlanSaid = false
	}
	b := s.build(now, open)
	s.mu.Unlock()
	return b, nil
}

func (s *HealthSource) noPlanBatch(now, until time.Time) *sources.Batch {
	return &sources.Batch{At: now, Status: sources.Status{
		Detail: NoPlanLine + "; next check " + until.UTC().Format("15:04 MST"),
	}}
}

// failed turns an error into the poll's answer. A missing support plan is
// not an outage: it is said once, and asked again an hour later.
func (s *HealthSource) failed(err error, now time.Time) (*sources.Batch, error) {
	code := apiCode(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case code == "SubscriptionRequiredException":
		s.noPlanUntil = now.Add(subscriptionRecheck)
		if !s.noPlanSaid {
			s.logf("aws-health %q: %s", s.name, NoPlanLine)
			s.noPlanSaid = true
		}
		return s.noPlanBatch(now, s.noPlanUntil), nil
	case isThrottle(code):
		until := s.gate.throttled(now)
		return nil, fmt.Errorf("aws-health %q: the Health API throttled us (%s): backing off until %s; raise interval", s.name, code, until.UTC().Format("15:04:05 MST"))
	}
	if s.org {
		return nil, fmt.Errorf("aws-health %q: %w (the organization view must be enabled from the management account: aws health enable-health-service-access-for-organization)", s.name,
			s.access.explain(err, "Health API (organization view)", "health:DescribeEventsForOrganization, health:DescribeAffectedAccountsForOrganization, health:DescribeEventDetailsForOrganization and health:DescribeAffectedEntitiesForOrganization"))
	}
	return nil, fmt.Errorf("aws-health %q: %w", s.name, s.access.explain(err, "Health API", "health:DescribeEvents, health:DescribeEventDetails and health:DescribeAffectedEntities"))
}

func (s *HealthSource) describeEvents(ctx context.Context, f *htypes.EventFilter) ([]htypes.Event, error) {
	var out []htypes.Event
	in := &health.DescribeEventsInput{Filter: f, MaxResults: sdkaws.Int32(healthPageSize)}
	for page := 0; page < healthMaxPages; page++ {
		var resp *health.DescribeEventsOutput
		err := s.call(ctx, func(c *health.Client) error {
			var err error
			resp, err = c.DescribeEvents(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.Events...)
		if resp.NextToken == nil || *resp.NextToken == "" {
			break
		}
		in.NextToken = resp.NextToken
	}
	return out, nil
}

// fetchDetails asks for the description (and, for events not closed, the
// affected resources) of events that are new or changed since last time.
func (s *HealthSource) fetchDetails(ctx context.Context, evs []htypes.Event) error {
	stale, updated := s.staleEvents(evs)
	var needEnts []string
	if s.entities {
		needEnts = stale
	}

	fresh := map[string]eventDetail{}
	for lo := 0; lo < len(stale); lo += healthArnsPerCall {
		arns := stale[lo:min(lo+healthArnsPerCall, len(stale))]
		var resp *health.DescribeEventDetailsOutput
		err := s.call(ctx, func(c *health.Client) error {
			var err error
			resp, err = c.DescribeEventDetails(ctx, &health.DescribeEventDetailsInput{EventArns: arns})
			return err
		})
		if err != nil {
			return err
		}
		for _, d := range resp.SuccessfulSet {
			if d.Event == nil {
				continue
			}
			arn := sdkaws.ToString(d.Event.Arn)
			ed := eventDetail{updated: updated[arn]}
			if d.EventDescription != nil {
				ed.description = sdkaws.ToString(d.EventDescription.LatestDescription)
			}
			fresh[arn] = ed
		}
		for _, f := range resp.FailedSet {
			s.logf("aws-health %q: details of %s: %s: %s", s.name, sources.Clean(sdkaws.ToString(f.EventArn)),
				sources.Clean(sdkaws.ToString(f.ErrorName)), sources.Clean(sdkaws.ToString(f.ErrorMessage)))
		}
	}
	for lo := 0; lo < len(needEnts); lo += healthArnsPerCall {
		arns := needEnts[lo:min(lo+healthArnsPerCall, len(needEnts))]
		in := &health.DescribeAffectedEntitiesInput{
			Filter:     &htypes.EntityFilter{EventArns: arns},
			MaxResults: sdkaws.Int32(healthPageSize),
		}
		for page := 0; page < healthMaxPages; page++ {
			var resp *health.DescribeAffectedEntitiesOutput
			err := s.call(ctx, func(c *health.Client) error {
				var err error
				resp, err = c.DescribeAffectedEntities(ctx, in)
				return err
			})
			if err != nil {
				return err
			}
			for _, ent := range resp.Entities {
				arn := sdkaws.ToString(ent.EventArn)
				ed, ok := fresh[arn]
				if !ok {
					ed = eventDetail{updated: updated[arn]}
				}
				ed.entities = append(ed.entities, ent)
				fresh[arn] = ed
			}
			if resp.NextToken == nil || *resp.NextToken == "" {
				break
			}
			in.NextToken = resp.NextToken
		}
		for _, arn := range arns {
			ed, ok := fresh[arn]
			if !ok {
				ed = eventDetail{updated: updated[arn]}
			}
			ed.haveEnts = true
			fresh[arn] = ed
		}
	}
	s.mu.Lock()
	for arn, d := range fresh {
		if !d.haveEnts {
			// details refreshed without entities: keep what we had
			d.entities, d.haveEnts = s.details[arn].entities, s.details[arn].haveEnts
		}
		s.details[arn] = d
	}
	s.mu.Unlock()
	return nil
}

// staleEvents lists the events whose details are missing or older than
// the event, and forgets the details of events no longer listed.
func (s *HealthSource) staleEvents(evs []htypes.Event) ([]string, map[string]time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var stale []string
	updated := map[string]time.Time{}
	for _, e := range evs {
		arn := sdkaws.ToString(e.Arn)
		updated[arn] = sdkaws.ToTime(e.LastUpdatedTime)
		d, ok := s.details[arn]
		if !ok || !d.updated.Equal(updated[arn]) {
			stale = append(stale, arn)
		}
	}
	for arn := range s.details {
		if _, ok := updated[arn]; !ok {
			delete(s.details, arn)
		}
	}
	return stale, updated
}

// build makes the batch; s.mu is held.
func (s *HealthSource) build(now time.Time, evs []htypes.Event) *sources.Batch {
	b := &sources.Batch{At: now}
	seen := map[string]bool{}
	open := 0
	for _, e := range evs {
		ev := s.healthEvent(e, s.details[sdkaws.ToString(e.Arn)])
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		if ev.Open() {
			open++
		}
		b.Events = append(b.Events, ev)
	}
	b.Events = s.open.Close(b.Events, now, "no longer listed by the AWS Health API")
	sort.SliceStable(b.Events, func(i, j int) bool { return b.Events[i].Start.Before(b.Events[j].Start) })
	via := ""
	if s.active == 1 {
		via = fmt.Sprintf(" (via %s: %s did not answer)", s.failover.Region, s.access.Region)
	}
	b.Status.Detail = fmt.Sprintf("%d open, %d recent events%s", open, len(b.Events)-open, via)
	return b
}

func (s *HealthSource) healthEvent(e htypes.Event, d eventDetail) sources.Event {
	arn := sources.Clean(sdkaws.ToString(e.Arn))
	service := sources.Clean(sdkaws.ToString(e.Service))
	region := sources.Clean(sdkaws.ToString(e.Region))
	code := sources.Clean(sdkaws.ToString(e.EventTypeCode))
	ev := sources.Event{
		ID:      "aws-health:" + arn,
		Kind:    sources.EventProvider,
		Start:   sdkaws.ToTime(e.StartTime),
		Updated: sdkaws.ToTime(e.LastUpdatedTime),
		Layer:   sources.LayerProvider,
		Labels: map[string]string{
			"provider": "aws", "arn": arn, "service": strings.ToLower(service), "region": region,
			"category": string(e.EventTypeCategory), "code": code, "status": string(e.StatusCode),
			"scope": string(e.EventScopeCode),
		},
	}
	if az := sdkaws.ToString(e.AvailabilityZone); az != "" {
		ev.Labels["availability_zone"] = sources.Clean(az)
	}
	ev.Node = strings.ToLower(service)
	if region != "" && region != "global" {
		ev.Node += "-" + region
	}
	if e.StatusCode == htypes.EventStatusCodeClosed {
		ev.End = sdkaws.ToTime(e.EndTime)
		if ev.End.IsZero() {
			ev.End = ev.Updated
		}
	}
	impaired := 0
	var ents []string
	for _, ent := range d.entities {
		if ent.StatusCode == htypes.EntityStatusCodeImpaired {
			impaired++
		}
		v := sdkaws.ToString(ent.EntityValue)
		if v == "" {
			v = sdkaws.ToString(ent.EntityArn)
		}
		ents = append(ents, sources.Clean(fmt.Sprintf("%s (%s)", v, ent.StatusCode)))
	}
	switch e.EventTypeCategory {
	case htypes.EventTypeCategoryIssue, htypes.EventTypeCategoryInvestigation:
		ev.Severity = sources.SevWarning
		if impaired > 0 {
			ev.Severity = sources.SevCritical
		}
	default: // scheduledChange, accountNotification
		ev.Severity = sources.SevInfo
	}
	if len(ents) > 0 {
		sort.Strings(ents)
		ev.Labels["entities"] = strings.Join(ents, ",")
	}
	if len(d.accounts) > 0 {
		ev.Labels["accounts"] = strings.Join(d.accounts, ",")
	}
	where := region
	if az := ev.Labels["availability_zone"]; az != "" {
		where = az
	}
	ev.Title = sources.Clean(fmt.Sprintf("AWS Health %s %s: %s", service, where, humanCode(code, service)))
	var tb strings.Builder
	if len(d.accounts) > 0 {
		fmt.Fprintf(&tb, "Affected accounts: %s\n", strings.Join(d.accounts, ", "))
	}
	if len(ents) > 0 {
		fmt.Fprintf(&tb, "Affected resources (%d impaired): %s\n", impaired, strings.Join(ents, ", "))
	}
	tb.WriteString(d.description)
	ev.Text = sources.CleanText(strings.TrimSpace(tb.String()))
	return ev
}

// humanCode turns AWS_EC2_OPERATIONAL_ISSUE into "operational issue".
func humanCode(code, service string) string {
	c := strings.TrimPrefix(code, "AWS_")
	c = strings.TrimPrefix(c, strings.ToUpper(service)+"_")
	return strings.ToLower(strings.ReplaceAll(c, "_", " "))
}
