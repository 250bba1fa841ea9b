package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/opsview/opsview/sources"
)

// cwCall is what one GetMetricData request carried.
type cwCall struct {
	IDs       []string
	Periods   []int64
	Start     time.Time
	End       time.Time
	NextToken string
	ScanBy    string
	Auth      string
}

// cwServer answers GetMetricData in Smithy RPC v2 CBOR, as CloudWatch does
// for cloudwatch v1.75.5.
type cwServer struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	calls   []cwCall
	respond func(n int, c cwCall) (status int, header map[string]string, body any)
}

func newCWServer(t *testing.T) *cwServer {
	s := &cwServer{t: t}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *cwServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/service/GraniteServiceVersion20100801/operation/GetMetricData" ||
		r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || r.Header.Get("Content-Type") != "application/cbor" {
		s.t.Errorf("unexpected request %s %s %v", r.Method, r.URL.Path, r.Header)
		http.Error(w, "bad request", 400)
		return
	}
	body, _ := io.ReadAll(r.Body)
	v, err := cbor.Decode(body)
	if err != nil {
		s.t.Errorf("request is not CBOR: %v", err)
		return
	}
	m := v.(cbor.Map)
	c := cwCall{Auth: r.Header.Get("Authorization")}
	c.Start = cborTime(s.t, m["StartTime"])
	c.End = cborTime(s.t, m["EndTime"])
	if tok, ok := m["NextToken"].(cbor.String); ok {
		c.NextToken = string(tok)
	}
	if sb, ok := m["ScanBy"].(cbor.String); ok {
		c.ScanBy = string(sb)
	}
	for _, q := range m["MetricDataQueries"].(cbor.List) {
		qm := q.(cbor.Map)
		c.IDs = append(c.IDs, string(qm["Id"].(cbor.String)))
		ms := qm["MetricStat"].(cbor.Map)
		p, _ := cbor.AsInt64(ms["Period"])
		c.Periods = append(c.Periods, p)
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	n := len(s.calls)
	s.mu.Unlock()
	status, header, out := s.respond(n, c)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	w.Write(cbor.Encode(toCBOR(out, "")))
}

func (s *cwServer) callsSoFar() []cwCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cwCall(nil), s.calls...)
}

func cborTime(t *testing.T, v cbor.Value) time.Time {
	tm, err := cbor.AsTime(v)
	if err != nil {
		t.Errorf("timestamp: %v", err)
	}
	return tm
}

// toCBOR encodes a recorded JSON answer the way CloudWatch's RPC v2 CBOR
// does: timestamps as tag 1 with float seconds, numbers as doubles.
func toCBOR(v any, key string) cbor.Value {
	switch x := v.(type) {
	case map[string]any:
		m := cbor.Map{}
		for k, e := range x {
			m[k] = toCBOR(e, k)
		}
		return m
	case []any:
		l := cbor.List{}
		for _, e := range x {
			l = append(l, toCBOR(e, key))
		}
		return l
	case string:
		return cbor.String(x)
	case float64:
		if key == "Timestamps" {
			return &cbor.Tag{ID: 1, Value: cbor.Float64(x)}
		}
		return cbor.Float64(x)
	case bool:
		return cbor.Bool(x)
	case nil:
		return &cbor.Nil{}
	}
	panic(fmt.Sprintf("toCBOR: %T", v))
}

func recording(t *testing.T, name string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(readTestdata(t, "cloudwatch/"+name), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func cwYAML(srv *cwServer, extra string) string {
	return "endpoint: " + srv.URL + "\n" + extra
}

func seriesByID(b *sources.Batch, name string, labels map[string]string) *sources.Series {
	for i := range b.Series {
		s := &b.Series[i]
		if s.Name != name {
			continue
		}
		ok := true
		for k, v := range labels {
			if s.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			return s
		}
	}
	return nil
}

func values(ps []sources.Point) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.V
	}
	return out
}

func sameValues(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.IsNaN(a[i]) != math.IsNaN(b[i]) || (!math.IsNaN(a[i]) && math.Abs(a[i]-b[i]) > 1e-9) {
			return false
		}
	}
	return true
}

var cwReq = sources.Request{
	Now:      time.Unix(1795420800, 0).UTC(),
	From:     time.Unix(1795420800-3600, 0).UTC(),
	Until:    time.Unix(1795420800, 0).UTC(),
	Step:     60 * time.Second,
	Backfill: true,
}

func TestCloudWatchPresetsRolesLayersAndUnits(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		return 200, nil, recording(t, "GetMetricData.presets.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, `ec2_instances: [i-0123456789abcdef0]
ebs_volumes: [vol-0abc]
load_balancers: [app/web/50dc6c495c0c9188]
rds_instances: [db-1]
`))
	b, err := src.Poll(context.Background(), cwReq)
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.callsSoFar()
	if len(calls) != 1 || len(calls[0].IDs) != 9 {
		t.Fatalf("calls %+v", calls)
	}
	c := calls[0]
	if !strings.Contains(c.Auth, "Credential=AKIDEXAMPLE/") || !strings.Contains(c.Auth, "/eu-west-1/monitoring/aws4_request") {
		t.Errorf("request not signed for monitoring in eu-west-1: %q", c.Auth)
	}
	if c.ScanBy != "TimestampAscending" || !c.Start.Equal(cwReq.From) || !c.End.Equal(cwReq.Until) {
		t.Errorf("window %v..%v scan %q", c.Start, c.End, c.ScanBy)
	}
	// EC2 basic monitoring publishes every 5 minutes: asking for 60 s gives nothing
	if c.Periods[0] != 300 || c.Periods[1] != 60 {
		t.Errorf("periods %v", c.Periods)
	}
	t0 := time.Unix(1795420200, 0).UTC()
	for _, w := range []struct {
		name   string
		labels map[string]string
		role   sources.Role
		layer  sources.Layer
		unit   string
		node   string
		vals   []float64
	}{
		{"CPUUtilization", map[string]string{"InstanceId": "i-0123456789abcdef0"}, sources.RoleResource, sources.LayerHost, "%", "i-0123456789abcdef0", []float64{12.25, 71.5}},
		{"VolumeQueueLength", map[string]string{"VolumeId": "vol-0abc"}, sources.RoleResource, sources.LayerHost, "", "vol-0abc", []float64{0.5, 4, 9.75}},
		{"VolumeIOTime", map[string]string{"VolumeId": "vol-0abc"}, sources.RoleResource, sources.LayerHost, "s/s", "vol-0abc", []float64{0.2, 0.5, 0.9}},
		{"HTTPCode_ELB_5XX_Count", map[string]string{"LoadBalancer": "app/web/50dc6c495c0c9188"}, sources.RoleSymptom, sources.LayerLB, "req/s", "web", []float64{0, 2}},
		{"HTTPCode_Target_5XX_Count", nil, sources.RoleSymptom, sources.LayerLB, "req/s", "web", []float64{0.1, 1, 10}},
		{"TargetResponseTime", nil, sources.RoleSymptom, sources.LayerLB, "ms", "web", []float64{12, 250, 1500}},
		{"CPUUtilization", map[string]string{"DBInstanceIdentifier": "db-1"}, sources.RoleResource, sources.LayerDB, "%", "db-1", []float64{20, 35.5, 97}},
		{"ReplicaLag", nil, sources.RoleResource, sources.LayerDB, "s", "db-1", []float64{}},
	} {
		s := seriesByID(b, w.name, w.labels)
		if s == nil {
			t.Errorf("no series %s %v", w.name, w.labels)
			continue
		}
		if s.Role != w.role || s.Layer != w.layer || s.Unit != w.unit || s.Node != w.node {
			t.Errorf("%s: role %v layer %q unit %q node %q", s.ID(), s.Role, s.Layer, s.Unit, s.Node)
		}
		if got := values(s.Points); !sameValues(got, w.vals) {
			t.Errorf("%s: values %v, want %v", s.ID(), got, w.vals)
		}
		if len(s.Points) > 0 && !s.Points[0].T.Equal(t0) {
			t.Errorf("%s: first point at %v, want %v (ascending)", s.ID(), s.Points[0].T, t0)
		}
	}
	if len(b.Series) != 8 {
		t.Errorf("%d series, want 8 (read and write time make one I/O time)", len(b.Series))
	}
	if b.Status.Detail != "metrics/hour 9" {
		t.Errorf("detail %q", b.Status.Detail)
	}
}

func TestCloudWatchPaginationFollowsNextToken(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(n int, c cwCall) (int, map[string]string, any) {
		if c.NextToken == "" {
			return 200, nil, recording(t, "GetMetricData.page1.json")
		}
		if c.NextToken != "AAAAAgAAAAEAAAAAAAAAAHBhZ2UtMg==" {
			t.Errorf("next token %q", c.NextToken)
		}
		return 200, nil, recording(t, "GetMetricData.page2.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\nec2_detailed_monitoring: true\nrds_instances: [db-1]\n"))
	// q0 is EC2 CPU, q1 RDS CPU, q2 RDS replica lag
	b, err := src.Poll(context.Background(), cwReq)
	if err != nil {
		t.Fatal(err)
	}
	if calls := srv.callsSoFar(); len(calls) != 2 || len(calls[1].IDs) != 3 {
		t.Fatalf("want 2 pages of the same 3 queries, got %+v", calls)
	}
	cpu := seriesByID(b, "CPUUtilization", map[string]string{"InstanceId": "i-1"})
	if cpu == nil || !sameValues(values(cpu.Points), []float64{10, 11, 12, 13, 14}) {
		t.Fatalf("EC2 CPU across pages: %+v", cpu)
	}
	rds := seriesByID(b, "CPUUtilization", map[string]string{"DBInstanceIdentifier": "db-1"})
	if rds == nil || !sameValues(values(rds.Points), []float64{0, 1, 30}) {
		t.Fatalf("q1 across pages: %+v", rds)
	}
	if b.Status.Detail != "metrics/hour 6" {
		t.Errorf("two pages of 3 metrics: detail %q", b.Status.Detail)
	}
}

func TestCloudWatchSplitsBatchesOf500(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(n int, c cwCall) (int, map[string]string, any) {
		one := recording(t, "GetMetricData.one.json")
		tmpl := one["MetricDataResults"].([]any)[0].(map[string]any)
		var results []any
		for _, id := range c.IDs {
			r := map[string]any{}
			for k, v := range tmpl {
				r[k] = v
			}
			r["Id"] = id
			results = append(results, r)
		}
		one["MetricDataResults"] = results
		return 200, nil, one
	}
	var ids []string
	for i := range 1100 {
		ids = append(ids, fmt.Sprintf("i-%017x", i))
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: ["+strings.Join(ids, ", ")+"]\n"))
	b, err := src.Poll(context.Background(), cwReq)
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.callsSoFar()
	var sizes []int
	seen := map[string]bool{}
	for _, c := range calls {
		sizes = append(sizes, len(c.IDs))
		for _, id := range c.IDs {
			if seen[id] {
				t.Errorf("query id %s sent twice", id)
			}
			seen[id] = true
		}
	}
	if fmt.Sprint(sizes) != "[500 500 100]" {
		t.Fatalf("batch sizes %v, want [500 500 100]", sizes)
	}
	if len(b.Series) != 1100 {
		t.Fatalf("%d series", len(b.Series))
	}
	for _, s := range b.Series {
		if len(s.Points) != 2 || s.Points[0].V != 42 {
			t.Fatalf("series %s: %v", s.ID(), s.Points)
		}
	}
	if b.Status.Detail != "metrics/hour 1,100" {
		t.Errorf("detail %q", b.Status.Detail)
	}
	// ten minutes later: the hour holds both polls; an hour later only the last
	r2 := cwReq
	r2.Now = r2.Now.Add(10 * time.Minute)
	if b, err = src.Poll(context.Background(), r2); b == nil || b.Status.Detail != "metrics/hour 2,200" {
		t.Errorf("second poll: %+v %v", b, err)
	}
	r3 := cwReq
	r3.Now = r3.Now.Add(70 * time.Minute)
	if b, err = src.Poll(context.Background(), r3); b == nil || b.Status.Detail != "metrics/hour 1,100" {
		t.Errorf("an hour later: %+v %v", b, err)
	}
}

func TestCloudWatchThrottlingBacksOffWithoutAStorm(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	var throttle sync.Mutex
	throttling := true
	srv.respond = func(n int, c cwCall) (int, map[string]string, any) {
		throttle.Lock()
		defer throttle.Unlock()
		if throttling {
			return 400, map[string]string{"X-Amzn-Query-Error": "Throttling;Sender"}, recording(t, "Throttling.error.json")
		}
		return 200, nil, recording(t, "GetMetricData.one.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\n"))
	at := func(d time.Duration) error {
		r := cwReq
		r.Now = cwReq.Now.Add(d)
		_, err := src.Poll(context.Background(), r)
		return err
	}
	err := at(0)
	var th *throttled
	if !errors.As(err, &th) || !strings.Contains(err.Error(), "backing off until 08:00:30 UTC") {
		t.Fatalf("first throttle: %v", err)
	}
	// the scheduler polls every 10 s: no call until the back-off ends
	for d := 10 * time.Second; d < 30*time.Second; d += 10 * time.Second {
		if err := at(d); err == nil || !strings.Contains(err.Error(), "no call made") {
			t.Errorf("at +%v: %v", d, err)
		}
	}
	if n := len(srv.callsSoFar()); n != 1 {
		t.Fatalf("%d calls during the back-off, want 1 (the SDK must not retry either)", n)
	}
	// throttled again: the back-off doubles
	if err := at(30 * time.Second); !errors.As(err, &th) || !th.until.Equal(cwReq.Now.Add(90*time.Second)) {
		t.Fatalf("second throttle: %v", err)
	}
	for d := 40 * time.Second; d < 90*time.Second; d += 10 * time.Second {
		at(d)
	}
	if n := len(srv.callsSoFar()); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	throttle.Lock()
	throttling = false
	throttle.Unlock()
	if err := at(90 * time.Second); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}
	if err := at(100 * time.Second); err != nil {
		t.Fatalf("a success resets the back-off: %v", err)
	}
	if n := len(srv.callsSoFar()); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
}

func TestCloudWatchExpiredCredentialsSayWhatToDo(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		return 400, map[string]string{"X-Amzn-Query-Error": "ExpiredToken;Sender"}, recording(t, "ExpiredToken.error.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\nprofile: \"\"\n"))
	_, err := src.Poll(context.Background(), cwReq)
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "aws sso login") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
		t.Fatalf("secret in the error: %v", err)
	}
	if n := len(srv.callsSoFar()); n != 1 {
		t.Errorf("%d calls: the SDK retried", n)
	}
}

func TestCloudWatchAccessDeniedNamesThePermission(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		return 400, nil, recording(t, "AccessDenied.error.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\n"))
	_, err := src.Poll(context.Background(), cwReq)
	if err == nil || !strings.Contains(err.Error(), "cloudwatch:GetMetricData") || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("error %v", err)
	}
}

func TestCloudWatchWithoutCredentialsGivesAHint(t *testing.T) {
	isolateAWS(t, false)
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		t.Error("a call was made without credentials")
		return 500, nil, map[string]any{}
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\n"))
	_, err := src.Poll(context.Background(), cwReq)
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_PROFILE") || !strings.Contains(err.Error(), "instance role") {
		t.Fatalf("error %v", err)
	}
}

func TestCloudWatchProfileFromSharedConfig(t *testing.T) {
	isolateAWS(t, false)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(cfg, []byte("[profile prod]\nregion = ap-southeast-2\n"), 0o600)
	os.WriteFile(creds, []byte("[prod]\naws_access_key_id = AKIDPRODEXAMPLE\naws_secret_access_key = prodsecret\n"), 0o600)
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_REGION", "")
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		return 200, nil, recording(t, "GetMetricData.one.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "profile: prod\nec2_instances: [i-1]\n"))
	if _, err := src.Poll(context.Background(), cwReq); err != nil {
		t.Fatal(err)
	}
	auth := srv.callsSoFar()[0].Auth
	if !strings.Contains(auth, "Credential=AKIDPRODEXAMPLE/") || !strings.Contains(auth, "/ap-southeast-2/monitoring/") {
		t.Errorf("not signed with the profile's key and region: %q", auth)
	}
	// a profile that does not exist says so
	bad := newSource(t, "cloudwatch", "cw2", cwYAML(srv, "profile: nope\nec2_instances: [i-1]\n"))
	if _, err := bad.Poll(context.Background(), cwReq); err == nil || !strings.Contains(err.Error(), `profile "nope"`) {
		t.Errorf("missing profile: %v", err)
	}
}

func TestChoosePeriod(t *testing.T) {
	now := time.Unix(1795420800, 0)
	h := time.Hour
	d := 24 * h
	for _, c := range []struct {
		step    time.Duration
		age     time.Duration
		min     int32
		highRes bool
		want    int32
	}{
		{10 * time.Second, h, 60, false, 60},
		{10 * time.Second, h, 1, true, 10},
		{7 * time.Second, h, 1, true, 10},
		{2 * time.Second, 2 * h, 1, true, 5},
		{10 * time.Second, 4 * h, 1, true, 60}, // high resolution is kept 3 h
		{90 * time.Second, h, 60, false, 120},
		{60 * time.Second, h, 300, false, 300},
		{60 * time.Second, 20 * d, 60, false, 300},
		{400 * time.Second, 20 * d, 60, false, 600},
		{60 * time.Second, 100 * d, 60, false, 3600},
		{2 * h, 100 * d, 60, false, 7200},
		{0, h, 60, false, 60},
	} {
		if got := ChoosePeriod(c.step, now.Add(-c.age), now, c.min, c.highRes); got != c.want {
			t.Errorf("step %v age %v min %d hr %v: %d, want %d", c.step, c.age, c.min, c.highRes, got, c.want)
		}
	}
}

func TestCloudWatchConfigErrors(t *testing.T) {
	kind, _ := sources.Lookup("cloudwatch")
	for _, c := range []struct{ yaml, want string }{
		{"region: eu-west-1\n", "nothing to read"},
		{"queries:\n  - namespace: AWS/EC2\n", "namespace and metric"},
		{"queries:\n  - {namespace: AWS/EC2, metric: CPUUtilization, stat: Avg}\n", "stat \"Avg\""},
		{"queries:\n  - {namespace: AWS/EC2, metric: CPUUtilization, period: 10s}\n", "high_resolution"},
		{"queries:\n  - {namespace: AWS/EC2, metric: CPUUtilization, period: 90s}\n", "multiple of 60"},
		{"queries:\n  - {namespace: AWS/EC2, metric: CPUUtilization, role: cause}\n", "role"},
		{"endpoint: nope\nec2_instances: [i-1]\n", "endpoint"},
		{"ec2_instance: [i-1]\n", "ec2_instance"},
	} {
		opts, err := configOptions(c.yaml)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kind.New(sources.Env{Name: "cw"}, opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestCloudWatchOwnQuery(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		return 200, nil, recording(t, "GetMetricData.one.json")
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, `queries:
  - namespace: AWS/SQS
    metric: ApproximateNumberOfMessagesVisible
    dimensions: {QueueName: jobs}
    stat: Maximum
    period: 10s
    high_resolution: true
    role: resource
    layer: app
    node: jobs
    unit: count
`))
	r := cwReq
	r.Step = 10 * time.Second
	b, err := src.Poll(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if p := srv.callsSoFar()[0].Periods[0]; p != 10 {
		t.Errorf("period %d, want 10 for a high-resolution metric in the last 3 h", p)
	}
	s := b.Series[0]
	if s.Name != "ApproximateNumberOfMessagesVisible" || s.Role != sources.RoleResource || s.Layer != sources.LayerApp || s.Node != "jobs" || s.Unit != "count" || s.Labels["QueueName"] != "jobs" {
		t.Errorf("series %+v", s)
	}
}

func TestCloudWatchRunawayAnswerIsCut(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	var wrote atomic.Int64
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		chunk := make([]byte, 64<<10)
		for wrote.Load() < 50<<20 {
			n, err := w.Write(chunk)
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\n"))
	_, err := src.Poll(context.Background(), cwReq)
	if !errors.Is(err, ErrTooLarge) && (err == nil || !strings.Contains(err.Error(), "larger than 32 MiB")) {
		t.Fatalf("want a read-limit error, got %v", err)
	}
	t.Logf("error: %v", err)
	srv.CloseClientConnections()
	if w := wrote.Load(); w >= 50<<20 {
		t.Errorf("the whole 50 MB was read (%d)", w)
	}
}

func TestCloudWatchAllForbiddenIsAFailure(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		return 200, nil, map[string]any{"MetricDataResults": []any{map[string]any{
			"Id": "q0", "Label": "CPUUtilization", "StatusCode": "Forbidden", "Timestamps": []any{}, "Values": []any{},
			"Messages": []any{map[string]any{"Code": "Forbidden", "Value": "not authorized for account 123456789012"}},
		}}, "Messages": []any{}}
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "ec2_instances: [i-1]\n"))
	_, err := src.Poll(context.Background(), cwReq)
	if err == nil || !strings.Contains(err.Error(), "Forbidden") || !strings.Contains(err.Error(), "cloudwatch:GetMetricData") {
		t.Fatalf("error %v", err)
	}
}

func TestCloudWatchIncrementalPollRereadsLateDataAndSkipsOpenPeriods(t *testing.T) {
	isolateAWS(t, true)
	srv := newCWServer(t)
	now := time.Unix(1795420800, 0).UTC()
	srv.respond = func(int, cwCall) (int, map[string]string, any) {
		ts := []any{float64(now.Unix() - 180), float64(now.Unix() - 120), float64(now.Unix() - 60), float64(now.Unix() - 30)}
		return 200, nil, map[string]any{"MetricDataResults": []any{
			map[string]any{"Id": "q0", "StatusCode": "Complete", "Timestamps": ts, "Values": []any{60.0, 120.0, 180.0, 6.0}},
			map[string]any{"Id": "q1", "StatusCode": "Complete", "Timestamps": ts, "Values": []any{60.0, 120.0, 180.0, 6.0}},
		}}
	}
	src := newSource(t, "cloudwatch", "cw", cwYAML(srv, "classic_load_balancers: [web]\n"))
	req := sources.Request{Now: now, From: now.Add(-10 * time.Second), Until: now, Step: 10 * time.Second}
	b, err := src.Poll(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.callsSoFar()[0]
	if !c.Start.Equal(now.Add(-5*time.Minute)) || !c.End.Equal(now) {
		t.Errorf("incremental window %v..%v, want the last 5 minutes", c.Start, c.End)
	}
	elb := seriesByID(b, "HTTPCode_ELB_5XX", nil)
	if elb == nil || !sameValues(values(elb.Points), []float64{1, 2, 3}) {
		t.Errorf("5xx rate %+v: the open period (30 s old) must be left out", elb)
	}
	backend := seriesByID(b, "HTTPCode_Backend_5XX", nil)
	if backend == nil || backend.Role != sources.RoleSymptom || backend.Layer != sources.LayerLB {
		t.Errorf("backend 5xx %+v", backend)
	}
}
