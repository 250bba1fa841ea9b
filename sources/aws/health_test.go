package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

const healthARN = "arn:aws:health:eu-west-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_5A8F1_4E2F7C0D99B"

type healthCall struct {
	Op   string
	Body map[string]any
	Auth string
}

// healthServer answers the AWS Health API in awsJson1_1.
type healthServer struct {
	*httptest.Server
	t     *testing.T
	mu    sync.Mutex
	calls []healthCall
	step  string // recording answered
	err   string // an error recording instead, e.g. "SubscriptionRequired"
	code  string // its X-Amzn-Errortype
}

func newHealthServer(t *testing.T) *healthServer {
	s := &healthServer{t: t, step: "step1"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *healthServer) set(step, errFile, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step, s.err, s.code = step, errFile, code
}

func (s *healthServer) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || !strings.HasPrefix(target, "AWSHealth_20160804.") {
		s.t.Errorf("unexpected request %s %s %v", r.Method, r.URL.Path, r.Header)
		return
	}
	op := strings.TrimPrefix(target, "AWSHealth_20160804.")
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Errorf("%s: body %q: %v", op, raw, err)
	}
	s.mu.Lock()
	s.calls = append(s.calls, healthCall{Op: op, Body: body, Auth: r.Header.Get("Authorization")})
	step, errFile, code := s.step, s.err, s.code
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if errFile != "" {
		w.Header().Set("X-Amzn-Errortype", code)
		w.WriteHeader(400)
		w.Write(readTestdata(s.t, "health/"+errFile+".error.json"))
		return
	}
	var rec map[string]map[string]any
	if err := json.Unmarshal(readTestdata(s.t, "health/"+step+".json"), &rec); err != nil {
		s.t.Fatal(err)
	}
	var out any
	if strings.HasSuffix(op, "ForOrganization") {
		var org map[string]any
		if err := json.Unmarshal(readTestdata(s.t, "health/org.json"), &org); err != nil {
			s.t.Fatal(err)
		}
		switch op {
		case "DescribeEventsForOrganization":
			if strings.Contains(fmt.Sprint(body["filter"]), "closed") {
				out = org["closed"]
			} else {
				out = org["open"]
			}
		case "DescribeAffectedAccountsForOrganization":
			out = org["accounts"]
		case "DescribeEventDetailsForOrganization":
			out = org["details"]
		case "DescribeAffectedEntitiesForOrganization":
			out = org["entities"]
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	switch op {
	case "DescribeEvents":
		codes := fmt.Sprint(body["filter"].(map[string]any)["eventStatusCodes"])
		if strings.Contains(codes, "closed") {
			out = rec["closed"]
		} else {
			out = rec["open"]
		}
	case "DescribeEventDetails":
		asked := fmt.Sprint(body["eventArns"])
		d := rec["details"]
		var keep []any
		for _, x := range d["successfulSet"].([]any) {
			if strings.Contains(asked, x.(map[string]any)["event"].(map[string]any)["arn"].(string)) {
				keep = append(keep, x)
			}
		}
		out = map[string]any{"successfulSet": keep, "failedSet": []any{}}
	case "DescribeAffectedEntities":
		asked := fmt.Sprint(body["filter"].(map[string]any)["eventArns"])
		var keep []any
		for _, x := range rec["entities"]["entities"].([]any) {
			if strings.Contains(asked, x.(map[string]any)["eventArn"].(string)) {
				keep = append(keep, x)
			}
		}
		out = map[string]any{"entities": keep}
	default:
		s.t.Errorf("unexpected operation %s", op)
	}
	json.NewEncoder(w).Encode(out)
}

func (s *healthServer) callsSoFar() []healthCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]healthCall(nil), s.calls...)
}

func (s *healthServer) ops() string {
	var ops []string
	for _, c := range s.callsSoFar() {
		ops = append(ops, c.Op)
	}
	return strings.Join(ops, ",")
}

func TestHealthEventOpensUpdatesResolves(t *testing.T) {
	isolateAWS(t, true)
	srv := newHealthServer(t)
	src := newSource(t, "aws-health", "health", "endpoint: "+srv.URL+"\nregions: [eu-west-1]\nservices: [ec2]\n")
	id := "aws-health:" + healthARN
	t0 := time.Unix(1795417200, 0)

	b := poll(t, src, testNow)
	calls := srv.callsSoFar()
	if srv.ops() != "DescribeEvents,DescribeEvents,DescribeEventDetails,DescribeAffectedEntities" {
		t.Fatalf("calls %s", srv.ops())
	}
	f := calls[0].Body["filter"].(map[string]any)
	if fmt.Sprint(f["eventStatusCodes"]) != "[open upcoming]" || fmt.Sprint(f["regions"]) != "[eu-west-1 global]" || fmt.Sprint(f["services"]) != "[EC2]" {
		t.Errorf("open filter %v", f)
	}
	cf := calls[1].Body["filter"].(map[string]any)
	from := cf["lastUpdatedTimes"].([]any)[0].(map[string]any)["from"].(float64)
	if fmt.Sprint(cf["eventStatusCodes"]) != "[closed]" || int64(from) != testNow.Add(-24*time.Hour).Unix() {
		t.Errorf("recent filter %v", cf)
	}
	if !strings.Contains(calls[0].Auth, "/us-east-1/health/aws4_request") {
		t.Errorf("Health must be signed for us-east-1 whatever AWS_REGION says: %q", calls[0].Auth)
	}
	ev := eventByID(b, id)
	if ev == nil || !ev.Open() || ev.Severity != sources.SevCritical || !ev.Start.Equal(t0) || ev.Layer != sources.LayerProvider || ev.Node != "ec2-eu-west-1" ||
		ev.Kind != sources.EventProvider {
		t.Fatalf("step 1: %+v", ev)
	}
	if !strings.Contains(ev.Text, "i-0a1b2c3d4e5f60001 (IMPAIRED)") || !strings.Contains(ev.Text, "investigating increased network packet loss") || !strings.Contains(ev.Title, "eu-west-1a") {
		t.Errorf("step 1 text %q title %q", ev.Text, ev.Title)
	}
	retire := b.Events[len(b.Events)-1]
	if !strings.Contains(retire.ID, "RETIREMENT") || retire.Severity != sources.SevInfo || !retire.Open() || retire.Labels["status"] != "upcoming" {
		t.Errorf("scheduled retirement: %+v", retire)
	}

	// step 2: the event changed; the unchanged retirement is not asked again
	srv.set("step2", "", "")
	n := len(srv.callsSoFar())
	b = poll(t, src, testNow.Add(5*time.Minute))
	later := srv.callsSoFar()[n:]
	for _, c := range later {
		if c.Op != "DescribeEvents" && strings.Contains(fmt.Sprint(c.Body), "RETIREMENT") {
			t.Errorf("unchanged event fetched again: %s %v", c.Op, c.Body)
		}
	}
	ev = eventByID(b, id)
	if ev == nil || !ev.Open() || !ev.Updated.Equal(t0.Add(30*time.Minute)) || !strings.Contains(ev.Text, "shifting traffic") || !strings.Contains(ev.Text, "(2 impaired)") {
		t.Fatalf("step 2: %+v", ev)
	}
	if r := b.Events[len(b.Events)-1]; !strings.Contains(r.Text, "underlying hardware") {
		t.Errorf("cached detail lost: %q", r.Text)
	}
	// step 3: closed
	srv.set("step3", "", "")
	b = poll(t, src, testNow.Add(10*time.Minute))
	ev = eventByID(b, id)
	if ev == nil || ev.Open() || !ev.End.Equal(t0.Add(2*time.Hour)) || ev.Severity != sources.SevWarning || !strings.Contains(ev.Text, "has been resolved") {
		t.Fatalf("step 3: %+v", ev)
	}
	if b.Status.Detail != "1 open, 1 recent events" {
		t.Errorf("detail %q", b.Status.Detail)
	}
	// a quiet poll: nothing changed, only the two listings are asked
	n = len(srv.callsSoFar())
	poll(t, src, testNow.Add(15*time.Minute))
	if got := len(srv.callsSoFar()) - n; got != 2 {
		t.Errorf("%d calls on a quiet poll, want 2 (details are cached)", got)
	}
}

func TestHealthWithoutSupportPlanSaysSoOnceAnHour(t *testing.T) {
	isolateAWS(t, true)
	srv := newHealthServer(t)
	srv.set("", "SubscriptionRequired", "SubscriptionRequiredException")
	kind, _ := sources.Lookup("aws-health")
	opts, _ := configOptions("endpoint: " + srv.URL + "\n")
	var logMu sync.Mutex
	var logs []string
	src, err := kind.New(sources.Env{Name: "health", Logf: func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		logMu.Unlock()
	}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 { // an hour of 5-minute polls
		b, err := src.Poll(context.Background(), sources.Request{Now: testNow.Add(time.Duration(i) * 5 * time.Minute)})
		if err != nil {
			t.Fatalf("poll %d: a missing support plan is not a failure: %v", i, err)
		}
		if !strings.Contains(b.Status.Detail, "Business") || !strings.Contains(b.Status.Detail, "aws-status") || len(b.Events) != 0 || b.Nodes != nil {
			t.Fatalf("poll %d: %+v", i, b)
		}
	}
	if n := len(srv.callsSoFar()); n != 1 {
		t.Errorf("%d calls in the hour, want 1", n)
	}
	if len(logs) != 1 {
		t.Errorf("logged %d times, want once: %q", len(logs), logs)
	}
	// an hour later it asks again (once)
	if _, err := src.Poll(context.Background(), sources.Request{Now: testNow.Add(61 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.callsSoFar()); n != 2 {
		t.Errorf("%d calls after the hour, want 2", n)
	}
	// the plan was upgraded: events flow
	srv.set("step1", "", "")
	b, err := src.Poll(context.Background(), sources.Request{Now: testNow.Add(122 * time.Minute)})
	if err != nil || eventByID(b, "aws-health:"+healthARN) == nil {
		t.Fatalf("after the upgrade: %v %+v", err, b)
	}
}

func TestHealthFailsOverToThePassiveEndpoint(t *testing.T) {
	isolateAWS(t, true)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there now
	srv := newHealthServer(t)
	src := newSource(t, "aws-health", "health", fmt.Sprintf("endpoint: %s\nfailover_endpoint: %s\n", downURL, srv.URL))
	b := poll(t, src, testNow)
	if eventByID(b, "aws-health:"+healthARN) == nil {
		t.Fatalf("no event through the passive endpoint: %+v", b)
	}
	if !strings.Contains(b.Status.Detail, "via us-east-2") {
		t.Errorf("detail %q", b.Status.Detail)
	}
	if c := srv.callsSoFar()[0]; !strings.Contains(c.Auth, "/us-east-2/health/aws4_request") {
		t.Errorf("passive endpoint must be signed for us-east-2: %q", c.Auth)
	}
}

func TestHealthErrorsSayWhatToDo(t *testing.T) {
	isolateAWS(t, true)
	srv := newHealthServer(t)
	src := newSource(t, "aws-health", "health", "endpoint: "+srv.URL+"\n")
	srv.set("", "ExpiredToken", "ExpiredTokenException")
	_, err := src.Poll(context.Background(), sources.Request{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "aws sso login") {
		t.Errorf("expired: %v", err)
	}
	srv.set("", "Throttling", "ThrottlingException")
	n := len(srv.callsSoFar())
	_, err = src.Poll(context.Background(), sources.Request{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("throttled: %v", err)
	}
	if _, err := src.Poll(context.Background(), sources.Request{Now: testNow.Add(10 * time.Second)}); err == nil || !strings.Contains(err.Error(), "no call made") {
		t.Errorf("during back-off: %v", err)
	}
	if got := len(srv.callsSoFar()) - n; got != 1 {
		t.Errorf("%d calls while throttled, want 1", got)
	}
}

func TestHealthWithoutCredentialsGivesAHint(t *testing.T) {
	isolateAWS(t, false)
	srv := newHealthServer(t)
	src := newSource(t, "aws-health", "health", "endpoint: "+srv.URL+"\nprofile: \"\"\n")
	_, err := src.Poll(context.Background(), sources.Request{Now: testNow})
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "aws sso login") {
		t.Fatalf("error %v", err)
	}
	if len(srv.callsSoFar()) != 0 {
		t.Error("a call was made without credentials")
	}
}

// The public feed keeps working where the credentialed parts cannot.
func TestPublicStatusWorksWithoutCredentials(t *testing.T) {
	isolateAWS(t, false)
	feeds := newFeedServer(t)
	feeds.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-open.json"))
	status := newSource(t, "aws-status", "aws-status", statusYAML(feeds, "rss: false"))
	srv := newHealthServer(t)
	hs := newSource(t, "aws-health", "health", "endpoint: "+srv.URL+"\n")
	if _, err := hs.Poll(context.Background(), sources.Request{Now: testNow}); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("health without credentials: %v", err)
	}
	b := poll(t, status, testNow)
	if n := nodeByID(b, "ec2-us-east-1"); n == nil || n.State != "degraded" {
		t.Errorf("status without credentials: %+v", n)
	}
}

func TestHealthFailsOverWhenTheActiveEndpointAnswers503(t *testing.T) {
	isolateAWS(t, true)
	var hits atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(503)
		w.Write([]byte(`{"__type":"ServiceUnavailableException","message":"Service Unavailable"}`))
	}))
	defer bad.Close()
	srv := newHealthServer(t)
	src := newSource(t, "aws-health", "health", fmt.Sprintf("endpoint: %s\nfailover_endpoint: %s\n", bad.URL, srv.URL))
	b := poll(t, src, testNow)
	if eventByID(b, "aws-health:"+healthARN) == nil {
		t.Fatalf("no event via the passive endpoint")
	}
	// the passive endpoint stays in use: the broken one is not asked every call
	before := hits.Load()
	poll(t, src, testNow.Add(5*time.Minute))
	if hits.Load() != before {
		t.Errorf("the failed endpoint was asked again (%d → %d)", before, hits.Load())
	}
}

func TestHealthOrganizationView(t *testing.T) {
	isolateAWS(t, true)
	srv := newHealthServer(t)
	src := newSource(t, "aws-health", "health", "endpoint: "+srv.URL+"\norganization: true\nregions: [eu-west-1]\n")
	b := poll(t, src, testNow)
	if got := srv.ops(); got != "DescribeEventsForOrganization,DescribeEventsForOrganization,DescribeAffectedAccountsForOrganization,DescribeEventDetailsForOrganization,DescribeAffectedEntitiesForOrganization" {
		t.Fatalf("calls %s", got)
	}
	calls := srv.callsSoFar()
	// details: the public event without an account, the account-specific one per account
	filters := fmt.Sprint(calls[3].Body["organizationEventDetailFilters"])
	if !strings.Contains(filters, "awsAccountId:123456789012") || !strings.Contains(filters, "awsAccountId:210987654321") || strings.Count(filters, "eventArn") != 3 {
		t.Errorf("detail filters %s", filters)
	}
	if ef := fmt.Sprint(calls[4].Body["organizationEntityFilters"]); strings.Contains(ef, "ELASTICLOADBALANCING") {
		t.Errorf("entities asked for a public event: %s", ef)
	}
	rds := eventByID(b, "aws-health:arn:aws:health:eu-west-1::event/RDS/AWS_RDS_OPERATIONAL_ISSUE/AWS_RDS_OPERATIONAL_ISSUE_9C2D4_77A0E1F3B21")
	if rds == nil || !rds.Open() || rds.Severity != sources.SevCritical || rds.Node != "rds-eu-west-1" ||
		rds.Labels["accounts"] != "123456789012,210987654321" || !strings.Contains(rds.Text, "orders-db (IMPAIRED)") || !strings.Contains(rds.Text, "replication lag") {
		t.Fatalf("rds event %+v", rds)
	}
	var elb *sources.Event
	for i := range b.Events {
		if strings.Contains(b.Events[i].ID, "ELASTICLOADBALANCING") {
			elb = &b.Events[i]
		}
	}
	if elb == nil || elb.Open() || elb.Node != "elasticloadbalancing-eu-west-1" || !strings.Contains(elb.Text, "elevated 5xx") {
		t.Fatalf("elb event %+v", elb)
	}
}
