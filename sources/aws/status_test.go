package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

const ceARN = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_7A1C2_0B5D2E61F94"

func TestParseCurrentEventsCapture(t *testing.T) {
	evs, err := ParseCurrentEvents(readTestdata(t, "currentevents.json"), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	e := evs[0]
	if e.Service != "multipleservices-us-west-2" || e.Status != 0 || !e.Resolved() {
		t.Errorf("first event: service %q status %d resolved %v", e.Service, e.Status, e.Resolved())
	}
	if got, want := e.End, time.Unix(1788480474, 0).UTC(); !got.Equal(want) {
		t.Errorf("end %v, want %v", got, want)
	}
	if e.Impacted["sts-us-west-2"].Max != 1 || e.Impacted["sts-us-west-2"].Current != 0 {
		t.Errorf("sts impact: %+v", e.Impacted["sts-us-west-2"])
	}
	if evs[1].Resolved() || evs[1].Status != StatusDisruption || evs[1].Impacted["bedrock-me-central-1"].Current != 3 {
		t.Errorf("second event should be an open disruption: %+v", evs[1])
	}
	if evs[1].Log[0].At != time.Unix(1772369485, 0).UTC() {
		t.Errorf("log time %v", evs[1].Log[0].At)
	}
}

func TestParseCurrentEventsUTF16BOMSameAsUTF8(t *testing.T) {
	want, err := ParseCurrentEvents(readTestdata(t, "currentevents.json"), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCurrentEvents(readTestdata(t, "currentevents.utf16be-bom.json"), "application/json;charset=utf-16")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UTF-16 feed parsed differently:\n%+v\n%+v", got, want)
	}
}

func TestParseRSSCapture(t *testing.T) {
	items, skipped, err := ParseRSS(readTestdata(t, "all.rss"), "application/rss+xml", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 50 || skipped != 0 {
		t.Fatalf("got %d items (%d skipped), want 50", len(items), skipped)
	}
	keys := map[string]int{}
	for _, it := range items {
		keys[it.Key]++
		// the guid carries the item's own epoch: the PDT/PST pubDate must
		// land on the same instant
		_, guidAt := parseGUID(it.GUID)
		if !guidAt.Equal(it.At) {
			t.Errorf("%s: pubDate gives %v, guid %v", it.GUID, it.At, guidAt)
		}
	}
	want := map[string]int{"directconnect-eu-central-1": 20, "multipleservices-me-central-1": 17, "multipleservices-me-south-1": 13}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	first := items[0]
	if !first.Resolved || first.Status != StatusOperational || first.Title != "Increased Packet loss" {
		t.Errorf("first item: %+v", first)
	}
	if !first.At.Equal(time.Date(2026, 8, 18, 4, 1, 19, 0, time.UTC)) {
		t.Errorf("first item at %v", first.At)
	}
	var dc []StatusThread
	for _, th := range Threads(items) {
		if th.Key == "directconnect-eu-central-1" {
			dc = append(dc, th)
		}
	}
	if len(dc) != 1 || dc[0].Open() || len(dc[0].Items) != 20 || dc[0].Worst() != StatusDegraded {
		t.Errorf("directconnect thread: %d threads, %+v", len(dc), dc)
	}
}

func TestSplitKey(t *testing.T) {
	for _, c := range []struct{ key, svc, region string }{
		{"ec2-us-east-1", "ec2", "us-east-1"},
		{"bedrock-agentcore-us-east-1", "bedrock-agentcore", "us-east-1"},
		{"multipleservices-me-central-1", "multipleservices", "me-central-1"},
		{"ec2-us-gov-west-1", "ec2", "us-gov-west-1"},
		{"cloudfront", "cloudfront", ""},
	} {
		s, r := SplitKey(c.key)
		if s != c.svc || r != c.region {
			t.Errorf("SplitKey(%q) = %q, %q", c.key, s, r)
		}
	}
}

func statusYAML(srv *feedServer, extra string) string {
	return fmt.Sprintf("url: %s/public/currentevents\nrss_base_url: %s/rss/\nservices: [ec2, elasticloadbalancing, rds]\nregions: [us-east-1]\n%s", srv.URL, srv.URL, extra)
}

func poll(t *testing.T, src sources.Source, now time.Time) *sources.Batch {
	t.Helper()
	b, err := src.Poll(context.Background(), sources.Request{Now: now})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return b
}

func TestStatusEventOpensUpdatesResolves(t *testing.T) {
	srv := newFeedServer(t)
	src := newSource(t, "aws-status", "aws-status", statusYAML(srv, "rss: false"))
	id := "aws-status:" + ceARN

	steps := []struct {
		file                  string
		sev                   sources.Severity
		open                  bool
		ec2, elb              string
		ec2Sev, elbSev, rdsSv sources.Severity
	}{
		{"ce-open.json", sources.SevWarning, true, "degraded", "informational", sources.SevWarning, sources.SevInfo, sources.SevOK},
		{"ce-update.json", sources.SevCritical, true, "disruption", "degraded", sources.SevCritical, sources.SevWarning, sources.SevOK},
		{"ce-resolved.json", sources.SevCritical, false, "operational", "operational", sources.SevOK, sources.SevOK, sources.SevOK},
	}
	for i, st := range steps {
		srv.set("/public/currentevents", "application/json", readTestdata(t, "status/"+st.file))
		b := poll(t, src, testNow.Add(time.Duration(i)*time.Minute))
		ev := eventByID(b, id)
		if ev == nil {
			t.Fatalf("%s: no event %s in %+v", st.file, id, b.Events)
		}
		if ev.Open() != st.open || ev.Severity != st.sev || ev.Layer != sources.LayerProvider {
			t.Errorf("%s: open %v severity %v layer %q", st.file, ev.Open(), ev.Severity, ev.Layer)
		}
		if !ev.Start.Equal(time.Unix(1795417200, 0)) || ev.Node != "ec2-us-east-1" {
			t.Errorf("%s: start %v node %q", st.file, ev.Start, ev.Node)
		}
		if ev.Labels["services"] != "ec2-us-east-1,elasticloadbalancing-us-east-1" || ev.Labels["regions"] != "us-east-1" {
			t.Errorf("%s: labels %v", st.file, ev.Labels)
		}
		for _, n := range []struct {
			id    string
			state string
			sev   sources.Severity
		}{{"ec2-us-east-1", st.ec2, st.ec2Sev}, {"elasticloadbalancing-us-east-1", st.elb, st.elbSev}, {"rds-us-east-1", "operational", st.rdsSv}} {
			ns := nodeByID(b, n.id)
			if ns == nil {
				t.Fatalf("%s: no node %s", st.file, n.id)
			}
			if ns.State != n.state || ns.Severity != n.sev || ns.Kind != "service" || ns.Layer != sources.LayerProvider {
				t.Errorf("%s: node %s = %q/%v (kind %q), want %q/%v", st.file, n.id, ns.State, ns.Severity, ns.Kind, n.state, n.sev)
			}
		}
		switch i {
		case 1:
			if !ev.Updated.Equal(time.Unix(1795419000, 0)) || !strings.Contains(ev.Text, "use1-az4") {
				t.Errorf("update: updated %v text %q", ev.Updated, ev.Text)
			}
			if ns := nodeByID(b, "ec2-us-east-1"); ns.Provider == nil || ns.Provider.EventID != id || !ns.Since.Equal(ev.Start) || ns.Class != sources.ClassDown ||
				*ns.Provider != (sources.ProviderNode{Provider: "AWS", Service: "ec2", Region: "us-east-1", EventID: id,
					Event: "AWS Amazon Elastic Compute Cloud (N. Virginia): Increased API Error Rates"}) {
				t.Errorf("node does not point at its event: %+v %+v", ns, ns.Provider)
			}
		case 2:
			if !ev.End.Equal(time.Unix(1795424400, 0)) || strings.Contains(ev.Title, "[RESOLVED]") {
				t.Errorf("resolved: end %v title %q", ev.End, ev.Title)
			}
		}
	}
	// the resolved event leaves the snapshot: nothing to re-send
	srv.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-empty.json"))
	b := poll(t, src, testNow.Add(time.Hour))
	if len(b.Events) != 0 || len(b.Nodes) != 3 {
		t.Errorf("after the snapshot emptied: %d events, %d nodes", len(b.Events), len(b.Nodes))
	}
}

func TestStatusEventLeavingTheSnapshotIsClosed(t *testing.T) {
	srv := newFeedServer(t)
	src := newSource(t, "aws-status", "aws-status", statusYAML(srv, "rss: false"))
	srv.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-update.json"))
	poll(t, src, testNow)
	srv.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-empty.json"))
	later := testNow.Add(5 * time.Minute)
	b := poll(t, src, later)
	ev := eventByID(b, "aws-status:"+ceARN)
	if ev == nil || ev.Open() || !ev.End.Equal(later) {
		t.Fatalf("an open event that left the feed must be closed at the poll: %+v", ev)
	}
	if n := nodeByID(b, "ec2-us-east-1"); n.State != "operational" || n.Severity != sources.SevOK {
		t.Errorf("node %+v", n)
	}
	// and only once
	if b := poll(t, src, later.Add(time.Minute)); len(b.Events) != 0 {
		t.Errorf("closed event sent again: %+v", b.Events)
	}
}

func TestStatusRSSThreadOpensUpdatesResolves(t *testing.T) {
	srv := newFeedServer(t)
	src := newSource(t, "aws-status", "aws-status", fmt.Sprintf("current_events: false\nrss_base_url: %s/rss\nservices: [ec2, rds]\nregions: [us-east-1]\n", srv.URL))
	srv.set("/rss/rds-us-east-1.rss", "application/rss+xml", readTestdata(t, "status/ec2-us-east-1.empty.rss"))
	id := "aws-status:rss:ec2-us-east-1_1795417200"
	for i, st := range []struct {
		file  string
		open  bool
		sev   sources.Severity
		state string
		nsev  sources.Severity
	}{
		{"empty", false, 0, "operational", sources.SevOK},
		{"open", true, sources.SevWarning, "degraded", sources.SevWarning},
		{"update", true, sources.SevCritical, "disruption", sources.SevCritical},
		{"resolved", false, sources.SevCritical, "operational", sources.SevOK},
	} {
		srv.set("/rss/ec2-us-east-1.rss", "application/rss+xml", readTestdata(t, "status/ec2-us-east-1."+st.file+".rss"))
		b := poll(t, src, testNow.Add(time.Duration(i)*time.Minute))
		n := nodeByID(b, "ec2-us-east-1")
		if n == nil || n.State != st.state || n.Severity != st.nsev {
			t.Errorf("%s: node %+v, want %s/%v", st.file, n, st.state, st.nsev)
		}
		if r := nodeByID(b, "rds-us-east-1"); r == nil || r.State != "operational" || r.Severity != sources.SevOK {
			t.Errorf("%s: rds must be explicitly operational: %+v", st.file, r)
		}
		ev := eventByID(b, id)
		if st.file == "empty" {
			if len(b.Events) != 0 {
				t.Errorf("empty feed gave events %+v", b.Events)
			}
			continue
		}
		if ev == nil {
			t.Fatalf("%s: no event %s in %+v", st.file, id, b.Events)
		}
		if ev.Open() != st.open || ev.Severity != st.sev || !ev.Start.Equal(time.Unix(1795417200, 0)) {
			t.Errorf("%s: event %+v", st.file, ev)
		}
		if st.file == "resolved" && !ev.End.Equal(time.Unix(1795424400, 0)) {
			t.Errorf("resolved at %v", ev.End)
		}
	}
}

func TestStatusUTF16FeedFromTheWire(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/public/currentevents", "application/json;charset=utf-16", readTestdata(t, "currentevents.utf16be-bom.json"))
	src := newSource(t, "aws-status", "aws-status", fmt.Sprintf("url: %s/public/currentevents\nrss: false\nservices: [sts, signin, ec2]\nregions: [me-central-1, us-west-2]\n", srv.URL))
	b := poll(t, src, testNow)
	if n := nodeByID(b, "sts-me-central-1"); n == nil || n.State != "disruption" || n.Severity != sources.SevCritical {
		t.Errorf("sts-me-central-1: %+v", n)
	}
	if n := nodeByID(b, "ec2-me-central-1"); n == nil || n.State != "operational" {
		t.Errorf("ec2-me-central-1 (not impacted) must be operational: %+v", n)
	}
	if n := nodeByID(b, "sts-us-west-2"); n == nil || n.State != "operational" {
		t.Errorf("sts-us-west-2 (resolved event) must be operational: %+v", n)
	}
	if len(b.Events) != 2 {
		t.Fatalf("want the me-central-1 and the resolved us-west-2 event, got %d", len(b.Events))
	}
	for _, ev := range b.Events {
		if strings.Contains(ev.ID, "me-south-1") {
			t.Errorf("event of an unwatched region: %s", ev.ID)
		}
	}
}

func TestStatusFeedsThatLie(t *testing.T) {
	html := []byte("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>proxy</body></html>")
	full := readTestdata(t, "status/ce-update.json")
	cases := []struct {
		name string
		set  func(*feedServer)
		want string
	}{
		{"html", func(s *feedServer) { s.set("/public/currentevents", "text/html", html) }, "HTML page"},
		{"html as json", func(s *feedServer) { s.set("/public/currentevents", "application/json", html) }, "HTML page"},
		{"truncated", func(s *feedServer) { s.set("/public/currentevents", "application/json", full[:len(full)/2]) }, "truncated"},
		{"truncated utf-16", func(s *feedServer) {
			b := readTestdata(t, "currentevents.utf16be-bom.json")
			s.set("/public/currentevents", "application/json;charset=utf-16", b[:len(b)-3])
		}, "truncated"},
		{"50 MB announced", func(s *feedServer) {
			s.set("/public/currentevents", "application/json", append([]byte("["), bytes.Repeat([]byte(" "), 50<<20)...))
		}, "larger than 8 MiB"},
		{"500", func(s *feedServer) {
			s.mu.Lock()
			s.bodies["/public/currentevents"] = feedBody{status: 500, body: []byte("oops")}
			s.mu.Unlock()
		}, "HTTP 500"},
		{"rss html", func(s *feedServer) {
			s.set("/public/currentevents", "application/json", []byte("[]"))
			s.set("/rss/ec2-us-east-1.rss", "text/html", html)
		}, "ec2-us-east-1.rss: got an HTML page"},
		{"rss missing", func(s *feedServer) {
			s.set("/public/currentevents", "application/json", []byte("[]"))
		}, "HTTP 404 (no such feed"},
		{"rss truncated", func(s *feedServer) {
			s.set("/public/currentevents", "application/json", []byte("[]"))
			b := readTestdata(t, "status/ec2-us-east-1.update.rss")
			s.set("/rss/ec2-us-east-1.rss", "application/rss+xml", b[:len(b)/2])
		}, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newFeedServer(t)
			c.set(srv)
			src := newSource(t, "aws-status", "aws-status", fmt.Sprintf("url: %s/public/currentevents\nrss_base_url: %s/rss/\nservices: [ec2]\nregions: [us-east-1]\n", srv.URL, srv.URL))
			b, err := src.Poll(context.Background(), sources.Request{Now: testNow})
			if err == nil {
				t.Fatalf("no error; batch %+v", b)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `aws-status "aws-status"`) {
				t.Errorf("error %q should contain %q and name the source", err, c.want)
			}
		})
	}
}

func TestStatus50MBStreamedFeedIsCutAtTheLimit(t *testing.T) {
	srv := newFeedServer(t)
	var written atomic.Int64
	srv.setHandler("/public/currentevents", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte(`{"a":1},`), 8192)
		w.Write([]byte("["))
		for written.Load() < 50<<20 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	src := newSource(t, "aws-status", "aws-status", fmt.Sprintf("url: %s/public/currentevents\nrss: false\nmax_bytes: 1048576\n", srv.URL))
	_, err := src.Poll(context.Background(), sources.Request{Now: testNow})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("want a read-limit error, got %v", err)
	}
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if w := written.Load(); w >= 50<<20 {
		t.Errorf("the server wrote the whole 50 MB (%d): the read was not bounded", w)
	}
	// a good feed right after: the source recovers, nothing is left over
	srv.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-open.json"))
	if _, err := src.Poll(context.Background(), sources.Request{Now: testNow}); err != nil {
		t.Errorf("good feed after a bad one: %v", err)
	}
}

func TestStatusEscapesAreStripped(t *testing.T) {
	body := bytes.ReplaceAll(readTestdata(t, "status/ce-open.json"), []byte("Increased API Error Rates"), []byte(`Increased \u001b[2J\u001b]0;pwned\u0007API Error Rates`))
	srv := newFeedServer(t)
	srv.set("/public/currentevents", "application/json", body)
	src := newSource(t, "aws-status", "aws-status", statusYAML(srv, "rss: false"))
	b := poll(t, src, testNow)
	for _, ev := range b.Events {
		if strings.ContainsRune(ev.Title+ev.Text, 0x1b) || strings.Contains(ev.Title, "pwned") {
			t.Errorf("escape survived: %q", ev.Title)
		}
		if !strings.Contains(ev.Title, "Increased API Error Rates") {
			t.Errorf("title %q", ev.Title)
		}
	}
}

func TestStatusConfigErrors(t *testing.T) {
	kind, _ := sources.Lookup("aws-status")
	for _, c := range []struct{ yaml, want string }{
		{"services: [ec2]\n", "services without regions"},
		{"services: [EC2 !]\nregions: [us-east-1]\n", "lowercase names"},
		{"url: ftp://x\n", "not an http(s) URL"},
		{"current_events: false\n", "nothing to read"},
		{"servics: [ec2]\n", "servics"},
	} {
		opts, err := configOptions(c.yaml)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kind.New(sources.Env{Name: "s"}, opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}

// The real captures, served as the live endpoints serve them: the UTF-16
// current-events feed and per service-region RSS feeds cut from all.rss.
func TestStatusRealCapturesThroughTheWire(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/public/currentevents", "application/json;charset=utf-16", readTestdata(t, "currentevents.utf16be-bom.json"))
	all := readTestdata(t, "all.rss")
	start := bytes.Index(all, []byte("<item>"))
	end := bytes.LastIndex(all, []byte("</item>")) + len("</item>")
	items := strings.SplitAfter(string(all[start:end]), "</item>")
	for _, key := range []string{"directconnect-eu-central-1", "directconnect-me-central-1", "multipleservices-eu-central-1", "multipleservices-me-central-1", "sts-eu-central-1", "sts-me-central-1"} {
		var b strings.Builder
		b.Write(all[:start])
		for _, it := range items {
			if strings.Contains(it, "#"+key+"_") {
				b.WriteString(it)
			}
		}
		b.Write(all[end:])
		srv.set("/rss/"+key+".rss", "application/rss+xml", []byte(b.String()))
	}
	src := newSource(t, "aws-status", "aws-status", fmt.Sprintf("url: %s/public/currentevents\nrss_base_url: %s/rss/\nservices: [directconnect, multipleservices, sts]\nregions: [eu-central-1, me-central-1]\n", srv.URL, srv.URL))
	now := time.Date(2026, 8, 18, 12, 0, 0, 0, time.UTC)
	b := poll(t, src, now)
	for id, want := range map[string]string{
		"directconnect-eu-central-1":    "operational",
		"directconnect-me-central-1":    "operational",
		"multipleservices-me-central-1": "disruption",
		"sts-me-central-1":              "disruption",
		"sts-eu-central-1":              "operational",
	} {
		if n := nodeByID(b, id); n == nil || n.State != want {
			t.Errorf("%s: %+v, want %s", id, n, want)
		}
	}
	var dc, me []sources.Event
	for _, ev := range b.Events {
		switch ev.Node {
		case "directconnect-eu-central-1":
			dc = append(dc, ev)
		case "multipleservices-me-central-1", "sts-me-central-1", "signin-me-central-1":
			me = append(me, ev)
		}
	}
	if len(dc) != 1 || dc[0].Open() || !dc[0].End.Equal(time.Date(2026, 8, 18, 4, 1, 19, 0, time.UTC)) || dc[0].Severity != sources.SevWarning {
		t.Errorf("direct connect: %+v", dc)
	}
	// the dashboard entry and the RSS thread tell one story: one event
	if len(me) != 1 || !strings.HasPrefix(me[0].ID, "aws-status:arn:") || me[0].Severity != sources.SevCritical || !me[0].Open() {
		t.Errorf("me-central-1 events: %+v", me)
	}
}
