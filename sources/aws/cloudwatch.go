package aws

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// GetMetricData limits (AWS CloudWatch API reference).
const (
	MaxQueriesPerCall    = 500
	MaxDatapointsPerCall = 100800
	maxPagesPerCall      = 100 // a safety stop for a NextToken that never ends
)

func init() {
	sources.Register(sources.Kind{
		Type:    "cloudwatch",
		History: true,
		Summary: "CloudWatch GetMetricData: EC2, EBS, ELB/ALB and RDS presets and your own queries",
		Example: `- name: cloudwatch
  type: cloudwatch
  interval: 60s
  timeout: 20s
  region: eu-west-1           # default: AWS_REGION / the profile's region
  # profile: prod             # a profile of ~/.aws/config (SSO works)
  # endpoint: https://monitoring.eu-west-1.amazonaws.com   # VPC endpoint
  ec2_instances: [i-0123456789abcdef0]       # CPUUtilization
  # ec2_detailed_monitoring: true             # 1-minute EC2 metrics
  ebs_volumes: [vol-0123456789abcdef0]       # queue length, I/O time
  load_balancers: [app/web/50dc6c495c0c9188] # ALB 5xx, target response time
  # classic_load_balancers: [web-elb]
  rds_instances: [db-1]                      # CPU, replica lag
  queries:
    - namespace: AWS/SQS
      metric: ApproximateNumberOfMessagesVisible
      dimensions: {QueueName: jobs}
      stat: Maximum
      period: 60s
      role: resource          # symptom | resource | traffic
      layer: app
      node: jobs
`,
		New: newCloudWatchSource,
	})
}

type cwConfig struct {
	Access               `yaml:",inline"`
	EC2Instances         []string        `yaml:"ec2_instances"`
	EC2Detailed          bool            `yaml:"ec2_detailed_monitoring"`
	EBSVolumes           []string        `yaml:"ebs_volumes"`
	LoadBalancers        []string        `yaml:"load_balancers"`
	ClassicLoadBalancers []string        `yaml:"classic_load_balancers"`
	RDSInstances         []string        `yaml:"rds_instances"`
	Queries              []cwQueryConfig `yaml:"queries"`
}

type cwQueryConfig struct {
	Name           string            `yaml:"name"`
	Namespace      string            `yaml:"namespace"`
	Metric         string            `yaml:"metric"`
	Dimensions     map[string]string `yaml:"dimensions"`
	Stat           string            `yaml:"stat"`
	Period         time.Duration     `yaml:"period"`
	HighResolution bool              `yaml:"high_resolution"`
	Role           string            `yaml:"role"`
	Layer          string            `yaml:"layer"`
	Unit           string            `yaml:"unit"`
	Node           string            `yaml:"node"`
	PerSecond      bool              `yaml:"per_second"`
}

// MetricQuery is one CloudWatch metric the source asks for.
type MetricQuery struct {
	Namespace  string
	Metric     string
	Dimensions [][2]string // sorted by name
	Stat       string
	MinPeriod  int32 // seconds; the metric's own resolution
	HighRes    bool
	// PerSecond divides each value by the period (Sum of counts → rate).
	PerSecond bool
	Scale     float64 // multiplies each value (s → ms); 0 means 1
	// Combine names a series several queries add up to (EBS read + write
	// time → I/O time); "" for a series of its own.
	Combine string
	Series  sources.Series // name, labels, unit, role, layer, node
}

// CloudWatchSource reads metrics with GetMetricData.
type CloudWatchSource struct {
	name    string
	logf    func(string, ...any)
	access  Access
	queries []MetricQuery

	mu     sync.Mutex
	client *cloudwatch.Client
	calls  []callCount // metrics requested, last hour
	gate   backoffGate // throttled: no call before gate.notBefore
}

type callCount struct {
	at      time.Time
	metrics int
}

func newCloudWatchSource(env sources.Env, opts sources.Options) (sources.Source, error) {
	var c cwConfig
	if err := opts.Decode(&c); err != nil {
		return nil, err
	}
	if err := c.Access.check("cloudwatch", env.Name, opts.Errorf); err != nil {
		return nil, err
	}
	s := &CloudWatchSource{name: env.Name, logf: env.Logf, access: c.Access}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	s.queries = append(s.queries, presetQueries(c)...)
	for i, q := range c.Queries {
		mq, err := q.metricQuery()
		if err != nil {
			return nil, opts.Errorf("cloudwatch %q: queries[%d]: %v", env.Name, i, err)
		}
		s.queries = append(s.queries, mq)
	}
	if len(s.queries) == 0 {
		return nil, opts.Errorf("cloudwatch %q: nothing to read: list ec2_instances, ebs_volumes, load_balancers, rds_instances or queries", env.Name)
	}
	return s, nil
}

var validStats = map[string]bool{"Average": true, "Sum": true, "Minimum": true, "Maximum": true, "SampleCount": true, "IQM": true}

func (q cwQueryConfig) metricQuery() (MetricQuery, error) {
	if q.Namespace == "" || q.Metric == "" {
		return MetricQuery{}, errors.New("namespace and metric are required")
	}
	stat := q.Stat
	if stat == "" {
		stat = "Average"
	}
	if !validStats[stat] && !isPercentileStat(stat) {
		return MetricQuery{}, fmt.Errorf("stat %q: use Average, Sum, Minimum, Maximum, SampleCount or a percentile like p99", stat)
	}
	mq := MetricQuery{Namespace: q.Namespace, Metric: q.Metric, Stat: stat, HighRes: q.HighResolution, PerSecond: q.PerSecond}
	switch {
	case q.Period == 0:
		mq.MinPeriod = 60
	case q.Period < time.Second || q.Period%time.Second != 0:
		return MetricQuery{}, fmt.Errorf("period %v: use whole seconds", q.Period)
	default:
		mq.MinPeriod = int32(q.Period / time.Second)
		if mq.MinPeriod < 60 && !q.HighResolution {
			return MetricQuery{}, fmt.Errorf("period %v: below 60s needs high_resolution: true (a high-resolution metric)", q.Period)
		}
		if mq.MinPeriod < 60 && !isHighResPeriod(mq.MinPeriod) {
			return MetricQuery{}, fmt.Errorf("period %v: high-resolution periods are 1, 5, 10, 20, 30 s or a multiple of 60 s", q.Period)
		}
		if mq.MinPeriod >= 60 && mq.MinPeriod%60 != 0 {
			return MetricQuery{}, fmt.Errorf("period %v: use a multiple of 60 s", q.Period)
		}
	}
	role, ok := sources.ParseRole(q.Role)
	if !ok {
		return MetricQuery{}, fmt.Errorf("role %q: use symptom, resource or traffic", q.Role)
	}
	layer, ok := sources.ParseLayer(q.Layer)
	if !ok {
		return MetricQuery{}, fmt.Errorf("layer %q: use edge, lb, app, db, host, network or provider", q.Layer)
	}
	for k, v := range q.Dimensions {
		mq.Dimensions = append(mq.Dimensions, [2]string{k, v})
	}
	sortDims(mq.Dimensions)
	name := q.Name
	if name == "" {
		name = q.Metric
	}
	mq.Series = seriesTemplate(name, mq, q.Unit, role, layer, q.Node)
	return mq, nil
}

func isPercentileStat(s string) bool {
	if len(s) < 2 || (s[0] != 'p' && s[0] != 'P') {
		return false
	}
	v, err := strconv.ParseFloat(s[1:], 64)
	return err == nil && v >= 0 && v <= 100
}

func isHighResPeriod(p int32) bool {
	switch p {
	case 1, 5, 10, 20, 30:
		return true
	}
	return p >= 60 && p%60 == 0
}

func sortDims(d [][2]string) {
	sort.Slice(d, func(i, j int) bool { return d[i][0] < d[j][0] })
}

func seriesTemplate(name string, mq MetricQuery, unit string, role sources.Role, layer sources.Layer, node string) sources.Series {
	labels := map[string]string{"namespace": mq.Namespace, "stat": mq.Stat}
	for _, d := range mq.Dimensions {
		labels[d[0]] = d[1]
	}
	if node == "" && len(mq.Dimensions) > 0 {
		node = mq.Dimensions[0][1]
	}
	s := sources.Series{Name: name, Labels: labels, Unit: unit, Role: role, Layer: layer, Node: node}
	if mq.PerSecond {
		s.Kind = sources.SeriesRate
	}
	return s
}

// presetQueries turns the id lists into the metrics an on-call engineer
// looks at first.
func presetQueries(c cwConfig) []MetricQuery {
	var out []MetricQuery
	add := func(ns, metric, stat string, dims [][2]string, minPeriod int32, unit string, role sources.Role, layer sources.Layer, node string, f func(*MetricQuery)) {
		mq := MetricQuery{Namespace: ns, Metric: metric, Stat: stat, Dimensions: dims, MinPeriod: minPeriod}
		if f != nil {
			f(&mq)
		}
		name := metric
		if mq.Combine != "" {
			name = mq.Combine
		}
		mq.Series = seriesTemplate(name, mq, unit, role, layer, node)
		if mq.Combine != "" {
			mq.Series.Labels["stat"] = "Sum"
		}
		out = append(out, mq)
	}
	perSecond := func(q *MetricQuery) { q.PerSecond = true }
	ec2Period := int32(300) // basic monitoring publishes every 5 minutes
	if c.EC2Detailed {
		ec2Period = 60
	}
	for _, id := range c.EC2Instances {
		add("AWS/EC2", "CPUUtilization", "Average", [][2]string{{"InstanceId", id}}, ec2Period, "%", sources.RoleResource, sources.LayerHost, id, nil)
	}
	for _, id := range c.EBSVolumes {
		d := [][2]string{{"VolumeId", id}}
		add("AWS/EBS", "VolumeQueueLength", "Average", d, 60, "", sources.RoleResource, sources.LayerHost, id, nil)
		// seconds spent in reads and writes per second of wall time: how
		// busy the volume is, comparable across periods
		for _, m := range []string{"VolumeTotalReadTime", "VolumeTotalWriteTime"} {
			add("AWS/EBS", m, "Sum", d, 60, "s/s", sources.RoleResource, sources.LayerHost, id, func(q *MetricQuery) {
				q.PerSecond = true
				q.Combine = "VolumeIOTime"
			})
		}
	}
	for _, lb := range c.LoadBalancers {
		d := [][2]string{{"LoadBalancer", lb}}
		node := albName(lb)
		add("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", d, 60, "req/s", sources.RoleSymptom, sources.LayerLB, node, perSecond)
		add("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", d, 60, "req/s", sources.RoleSymptom, sources.LayerLB, node, perSecond)
		add("AWS/ApplicationELB", "TargetResponseTime", "Average", d, 60, "ms", sources.RoleSymptom, sources.LayerLB, node, func(q *MetricQuery) { q.Scale = 1000 })
	}
	for _, lb := range c.ClassicLoadBalancers {
		d := [][2]string{{"LoadBalancerName", lb}}
		add("AWS/ELB", "HTTPCode_ELB_5XX", "Sum", d, 60, "req/s", sources.RoleSymptom, sources.LayerLB, lb, perSecond)
		add("AWS/ELB", "HTTPCode_Backend_5XX", "Sum", d, 60, "req/s", sources.RoleSymptom, sources.LayerLB, lb, perSecond)
		add("AWS/ELB", "Latency", "Average", d, 60, "ms", sources.RoleSymptom, sources.LayerLB, lb, func(q *MetricQuery) { q.Scale = 1000 })
	}
	for _, id := range c.RDSInstances {
		d := [][2]string{{"DBInstanceIdentifier", id}}
		add("AWS/RDS", "CPUUtilization", "Average", d, 60, "%", sources.RoleResource, sources.LayerDB, id, nil)
		add("AWS/RDS", "ReplicaLag", "Average", d, 60, "s", sources.RoleResource, sources.LayerDB, id, nil)
	}
	return out
}

// albName takes "app/web/50dc6c495c0c9188" to "web".
func albName(lb string) string {
	parts := strings.Split(lb, "/")
	if len(parts) == 3 {
		return parts[1]
	}
	return lb
}

// ChoosePeriod picks a GetMetricData period (seconds) for a query: at least
// the step the screen asks for and the metric's own resolution, and one
// CloudWatch still has data for at the window's age. Periods under 60 s
// exist only for high-resolution metrics kept 3 hours; after that 60 s
// data is kept 15 days, 300 s data 63 days and 3600 s data 455 days.
func ChoosePeriod(step time.Duration, from, now time.Time, minPeriod int32, highRes bool) int32 {
	want := int64(math.Ceil(step.Seconds()))
	if want < int64(minPeriod) {
		want = int64(minPeriod)
	}
	if want < 1 {
		want = 1
	}
	age := now.Sub(from)
	var p int64
	if highRes && want < 60 && age <= 3*time.Hour {
		for _, c := range []int64{1, 5, 10, 20, 30, 60} {
			if c >= want {
				p = c
				break
			}
		}
	} else {
		p = roundUp(max(want, 60), 60)
	}
	switch {
	case age > 63*24*time.Hour:
		p = roundUp(p, 3600)
	case age > 15*24*time.Hour:
		p = roundUp(p, 300)
	}
	if p > math.MaxInt32 {
		p = math.MaxInt32 / 3600 * 3600
	}
	return int32(p)
}

func roundUp(v, m int64) int64 {
	if v%m == 0 {
		return v
	}
	return (v/m + 1) * m
}

// MetricsPerHour is how many metrics the source requested in the hour up
// to now (GetMetricData is billed per metric requested).
func (s *CloudWatchSource) MetricsPerHour(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metricsPerHourLocked(now)
}

func (s *CloudWatchSource) metricsPerHourLocked(now time.Time) int {
	cut := now.Add(-time.Hour)
	keep := s.calls[:0]
	n := 0
	for _, c := range s.calls {
		if c.at.After(cut) {
			keep = append(keep, c)
			n += c.metrics
		}
	}
	s.calls = keep
	return n
}

func (s *CloudWatchSource) countCall(at time.Time, metrics int) {
	s.mu.Lock()
	s.calls = append(s.calls, callCount{at: at, metrics: metrics})
	s.mu.Unlock()
}

func (s *CloudWatchSource) getClient(ctx context.Context) (*cloudwatch.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	cfg, err := s.access.load(ctx, s.access.Region)
	if err != nil {
		return nil, err
	}
	if err := s.access.credentials(ctx, cfg); err != nil {
		return nil, err
	}
	s.client = cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		if s.access.Endpoint != "" {
			o.BaseEndpoint = sdkaws.String(s.access.Endpoint)
		}
		o.RetryMaxAttempts = sdkAttempts
		o.HTTPClient = httpfetch.Bounded(cfg.HTTPClient, maxCloudWatchResponse)
	})
	return s.client, nil
}

// throttled is the error of a poll CloudWatch throttled.
type throttled struct {
	code  string
	until time.Time
}

func (e *throttled) Error() string {
	return fmt.Sprintf("CloudWatch throttled GetMetricData (%s): backing off until %s; raise interval or watch fewer metrics",
		e.code, e.until.UTC().Format("15:04:05 MST"))
}

// Poll asks GetMetricData for every query over the request's window.
func (s *CloudWatchSource) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	s.mu.Lock()
	if until, closed := s.gate.closed(now); closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("cloudwatch %q: still backing off after throttling, until %s (no call made)", s.name, until.UTC().Format("15:04:05 MST"))
	}
	s.mu.Unlock()

	client, err := s.getClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("cloudwatch %q: %w", s.name, err)
	}
	start, end, step := window(req, now)
	queries := make([]cwtypes.MetricDataQuery, len(s.queries))
	periods := make([]int32, len(s.queries))
	for i, q := range s.queries {
		periods[i] = ChoosePeriod(step, start, now, q.MinPeriod, q.HighRes)
		dims := make([]cwtypes.Dimension, len(q.Dimensions))
		for j, d := range q.Dimensions {
			dims[j] = cwtypes.Dimension{Name: sdkaws.String(d[0]), Value: sdkaws.String(d[1])}
		}
		queries[i] = cwtypes.MetricDataQuery{
			Id: sdkaws.String("q" + strconv.Itoa(i)),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: sdkaws.String(q.Namespace), MetricName: sdkaws.String(q.Metric), Dimensions: dims},
				Period: sdkaws.Int32(periods[i]),
				Stat:   sdkaws.String(q.Stat),
			},
			ReturnData: sdkaws.Bool(true),
		}
	}
	coarsest := int64(60)
	for _, p := range periods {
		coarsest = max(coarsest, int64(p))
	}
	// CloudWatch publishes late: an incremental poll re-reads the last few
	// periods so points that arrived after the previous poll are not lost.
	if lookback := max(5*time.Minute, 3*time.Duration(coarsest)*time.Second); !req.Backfill && end.Sub(start) < lookback {
		start = end.Add(-lookback)
	}
	// StartTime rounded down to the coarsest period keeps buckets aligned
	// (CloudWatch rounds it too: minute, 5 minutes or hour by age).
	start = time.Unix(start.Unix()/coarsest*coarsest, 0)
	if !end.After(start) {
		end = start.Add(time.Duration(coarsest) * time.Second)
	}

	points := make([][]sources.Point, len(s.queries))
	var problems []string
	forbidden := 0
	for lo := 0; lo < len(queries); lo += MaxQueriesPerCall {
		hi := min(lo+MaxQueriesPerCall, len(queries))
		in := &cloudwatch.GetMetricDataInput{
			MetricDataQueries: queries[lo:hi],
			StartTime:         sdkaws.Time(start),
			EndTime:           sdkaws.Time(end),
			ScanBy:            cwtypes.ScanByTimestampAscending,
		}
		for page := 0; ; page++ {
			if page >= maxPagesPerCall {
				problems = append(problems, fmt.Sprintf("stopped after %d pages", maxPagesPerCall))
				break
			}
			s.countCall(now, hi-lo)
			out, err := client.GetMetricData(ctx, in)
			if err != nil {
				return nil, s.callFailed(err, now)
			}
			for _, r := range out.MetricDataResults {
				i, ok := queryIndex(sdkaws.ToString(r.Id), len(s.queries))
				if !ok {
					continue
				}
				switch r.StatusCode {
				case cwtypes.StatusCodeForbidden:
					forbidden++
					fallthrough
				case cwtypes.StatusCodeInternalError:
					problems = append(problems, fmt.Sprintf("%s: %s%s", s.queries[i].Series.ID(), r.StatusCode, messageText(r.Messages)))
				}
				n := min(len(r.Timestamps), len(r.Values))
				for k := 0; k < n; k++ {
					// a Sum over a period not yet over reads as a drop in
					// the rate: leave that period out until it is complete
					if s.queries[i].PerSecond && r.Timestamps[k].Add(time.Duration(periods[i])*time.Second).After(now) {
						continue
					}
					points[i] = append(points[i], sources.Point{T: r.Timestamps[k].UTC(), V: s.queries[i].value(r.Values[k], periods[i])})
				}
			}
			for _, m := range out.Messages {
				problems = append(problems, sources.Clean(sdkaws.ToString(m.Code)+": "+sdkaws.ToString(m.Value)))
			}
			if out.NextToken == nil || *out.NextToken == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	if forbidden > 0 && forbidden >= len(s.queries) {
		return nil, fmt.Errorf("cloudwatch %q: every metric came back Forbidden (%s): give the role cloudwatch:GetMetricData, and check the account and region", s.name, problems[0])
	}
	s.mu.Lock()
	s.gate.ok()
	perHour := s.metricsPerHourLocked(now)
	s.mu.Unlock()

	b := &sources.Batch{At: now, Series: s.series(points, periods)}
	b.Status.Detail = fmt.Sprintf("metrics/hour %s", thousands(perHour))
	if len(problems) > 0 {
		sort.Strings(problems)
		b.Status.Detail += "; " + sources.Clean(strings.Join(problems, "; "))
		s.logf("cloudwatch %q: %s", s.name, strings.Join(problems, "; "))
	}
	return b, nil
}

func messageText(ms []cwtypes.MessageData) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, sdkaws.ToString(m.Value))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + sources.Clean(strings.Join(parts, "; ")) + ")"
}

// callFailed turns a GetMetricData error into the poll's error, and starts
// or doubles the back-off when CloudWatch throttles.
func (s *CloudWatchSource) callFailed(err error, now time.Time) error {
	code := apiCode(err)
	if isThrottle(code) {
		s.mu.Lock()
		e := &throttled{code: code, until: s.gate.throttled(now)}
		s.mu.Unlock()
		return fmt.Errorf("cloudwatch %q: %w", s.name, e)
	}
	return fmt.Errorf("cloudwatch %q: %w", s.name, s.access.explain(err, "GetMetricData", "cloudwatch:GetMetricData"))
}

func queryIndex(id string, n int) (int, bool) {
	if !strings.HasPrefix(id, "q") {
		return 0, false
	}
	i, err := strconv.Atoi(id[1:])
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

func (q *MetricQuery) value(v float64, period int32) float64 {
	if q.PerSecond && period > 0 {
		v /= float64(period)
	}
	if q.Scale != 0 {
		v *= q.Scale
	}
	return v
}

// series builds the batch's series, adding up the parts of combined ones.
func (s *CloudWatchSource) series(points [][]sources.Point, periods []int32) []sources.Series {
	var out []sources.Series
	combined := map[string]int{} // series ID → index in out
	for i, q := range s.queries {
		ps := points[i]
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].T.Before(ps[b].T) })
		ser := q.Series
		ser.Labels = cloneLabels(ser.Labels)
		ser.Labels["period"] = strconv.Itoa(int(periods[i])) + "s"
		if q.Combine == "" {
			ser.Points = ps
			out = append(out, ser)
			continue
		}
		id := ser.ID()
		j, ok := combined[id]
		if !ok {
			ser.Points = ps
			combined[id] = len(out)
			out = append(out, ser)
			continue
		}
		out[j].Points = addPoints(out[j].Points, ps)
	}
	return out
}

// addPoints adds two series point by point; a time missing in one side is
// missing in the sum (NaN is never read as 0).
func addPoints(a, b []sources.Point) []sources.Point {
	bv := make(map[int64]float64, len(b))
	for _, p := range b {
		bv[p.T.UnixNano()] = p.V
	}
	out := make([]sources.Point, 0, len(a))
	for _, p := range a {
		v, ok := bv[p.T.UnixNano()]
		if !ok {
			v = math.NaN()
		}
		out = append(out, sources.Point{T: p.T, V: p.V + v})
	}
	return out
}

func cloneLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// window is the request's [start, end) and step, with defaults for a
// request that gives none.
func window(req sources.Request, now time.Time) (time.Time, time.Time, time.Duration) {
	end := req.Until
	if end.IsZero() {
		end = now
	}
	start := req.From
	if start.IsZero() || !start.Before(end) {
		start = end.Add(-time.Hour)
	}
	step := req.Step
	if step <= 0 {
		step = 60 * time.Second
	}
	return start, end, step
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
