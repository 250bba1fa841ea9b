package httpcheck

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

// childEnv makes this test binary act as `opsview http-check` on a remote
// vantage: the exec vantage's tests run it through a command prefix.
const childEnv = "OPSVIEW_HTTPCHECK_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild(os.Args[1:]))
	}
	code := m.Run()
	stopNginx()
	os.Exit(code)
}

func runChild(args []string) int {
	if len(args) != 3 || args[0] != "http-check" || args[1] != "--spec" || args[2] != "-" {
		fmt.Fprintf(os.Stderr, "unexpected arguments %q\n", args)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if _, err := RunCLI(ctx, CLIOptions{Spec: "-"}, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

func newSource(t *testing.T, yaml string) *Source {
	return sourcetest.New[*Source](t, factory, "checks", yaml)
}

func poll(t *testing.T, s *Source, timeout time.Duration) *sources.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b, err := s.Poll(ctx, sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return b
}

func value(t *testing.T, b *sources.Batch, name, url, vantage string) (sources.Series, float64) {
	t.Helper()
	for _, s := range b.Series {
		if s.Name == name && s.Labels["url"] == url && s.Labels["vantage"] == vantage {
			return s, s.Points[len(s.Points)-1].V
		}
	}
	t.Fatalf("no series %s for %s from %s in %d series", name, url, vantage, len(b.Series))
	return sources.Series{}, 0
}

func alert(b *sources.Batch, url string) *sources.Event {
	for i := range b.Events {
		if b.Events[i].Alert != nil && b.Events[i].Alert.Check == url {
			return &b.Events[i]
		}
	}
	return nil
}

func TestHealthyPageIsUpWithItsTimeSplit(t *testing.T) {
	n := needNginx(t)
	u := n.plain + "/ok"
	s := newSource(t, fmt.Sprintf("targets:\n  - url: %s\n    expect_status: 200\n    expect_body: hello\n", u))
	b := poll(t, s, 5*time.Second)
	up, v := value(t, b, "http_up", u, "local")
	if v != 100 || up.Role != sources.RoleSymptom || up.Layer != sources.LayerEdge || up.Kind != sources.SeriesRatio ||
		up.Harm != sources.HarmDown || up.Measure != sources.MeasureSuccess || up.Node != "127.0.0.1" || up.Unit != "%" {
		t.Errorf("availability %v: %+v", v, up)
	}
	total, tv := value(t, b, "http_total_ms", u, "local")
	if tv <= 0 || total.Role != sources.RoleSymptom || total.Measure != sources.MeasureLatency || total.Harm != sources.HarmUp || total.Unit != "ms" {
		t.Errorf("total %v: %+v", tv, total)
	}
	conn, c := value(t, b, "http_connect_ms", u, "local")
	if c <= 0 || c > tv {
		t.Errorf("connect %v of total %v", c, tv)
	}
	first, fb := value(t, b, "http_first_byte_ms", u, "local")
	if fb <= 0 || fb > tv {
		t.Errorf("first byte %v of total %v", fb, tv)
	}
	dns, d := value(t, b, "http_dns_ms", u, "local")
	if d != 0 {
		t.Errorf("an IP address needs no DNS, got %v ms", d)
	}
	// the phases are parts of the total: the engine never blames them for it
	for _, p := range []sources.Series{conn, first, dns} {
		if p.Measure != sources.MeasureLatency|sources.MeasurePart || p.Node != total.Node {
			t.Errorf("%s is typed %s on %q, want latency,part on %q", p.Name, p.Measure, p.Node, total.Node)
		}
	}
	for _, sr := range b.Series {
		if sr.Name == "http_tls_ms" || sr.Name == "http_cert_days_left" {
			t.Errorf("plain HTTP has no %s", sr.Name)
		}
	}
	if len(b.Events) != 0 || b.Status.Detail != "1 checks, 0 failing" {
		t.Errorf("events %v, detail %q", b.Events, b.Status.Detail)
	}
}

// A target that answers 503 is an external alert while it does, and the
// alert closes when the page comes back.
func TestServiceUnavailableIsAnExternalAlertUntilItRecovers(t *testing.T) {
	n := needNginx(t)
	os.Remove(n.toggle)
	u := n.plain + "/toggle"
	s := newSource(t, fmt.Sprintf("targets:\n  - url: %s\n", u))
	b := poll(t, s, 5*time.Second)
	ev := alert(b, u)
	if ev == nil {
		t.Fatalf("no alert for a 503: %+v", b.Events)
	}
	a := ev.Alert
	if ev.Kind != sources.EventAlert || !ev.Open() || ev.Severity != sources.SevCritical || ev.Layer != sources.LayerEdge ||
		a.Origin != sources.OriginExternal || a.System != "http" || a.State != "503" || !a.Hard {
		t.Errorf("alert %+v %+v", ev, a)
	}
	if _, v := value(t, b, "http_up", u, "local"); v != 0 {
		t.Errorf("availability %v while 503", v)
	}
	start := ev.Start
	b = poll(t, s, 5*time.Second)
	if ev := alert(b, u); ev == nil || !ev.Open() || !ev.Start.Equal(start) {
		t.Fatalf("the alert must stay open with its start: %+v", ev)
	}
	if err := os.WriteFile(n.toggle, []byte("back\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(n.toggle)
	b = poll(t, s, 5*time.Second)
	ev = alert(b, u)
	if ev == nil || ev.Open() || !ev.Start.Equal(start) || !strings.Contains(ev.Text, "passes again") {
		t.Fatalf("recovery must close the alert: %+v", ev)
	}
	if _, v := value(t, b, "http_up", u, "local"); v != 100 {
		t.Errorf("availability %v after recovery", v)
	}
	if b = poll(t, s, 5*time.Second); len(b.Events) != 0 {
		t.Errorf("a closed alert is not sent again: %+v", b.Events)
	}
}

func TestEachWayOfFailingSaysWhatFailed(t *testing.T) {
	n := needNginx(t)
	port, err := realserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	refused := fmt.Sprintf("http://127.0.0.1:%d/", port)
	cases := []struct {
		target, state, problem string
	}{
		{fmt.Sprintf("url: %s/down", n.plain), "503", "answered 503 Service Unavailable, expected 2xx"},
		{"url: " + refused, "connection refused", "connection refused"},
		{fmt.Sprintf("url: %s/ok\n    expect_body: goodbye", n.plain), "body mismatch", `without "goodbye" in the body`},
		{fmt.Sprintf("url: %s/ok\n    expect_status: [204, 301]", n.plain), "200", "expected 204 or 301"},
		{fmt.Sprintf("url: %s/old\n    follow_redirects: true\n    expect_status: 302", n.plain), "200", "expected 302"},
		{"url: " + n.tlsOld, "TLS error", "TLS: certificate expired or not yet valid"},
		{"url: " + n.tls2d + "\n    follow_redirects: true", "TLS error", "unknown authority (set ca_file)"},
	}
	for _, c := range cases {
		s := newSource(t, "targets:\n  - "+c.target+"\n")
		b := poll(t, s, 5*time.Second)
		u := s.targets[0].URL
		ev := alert(b, u)
		if ev == nil {
			t.Errorf("%s: no alert", c.target)
			continue
		}
		if ev.Alert.State != c.state || !strings.Contains(ev.Text, c.problem) || ev.Severity != sources.SevCritical {
			t.Errorf("%s: state %q, text %q; want %q, %q", c.target, ev.Alert.State, ev.Text, c.state, c.problem)
		}
	}
}

func TestRedirectsAreFollowedOrAreTheAnswer(t *testing.T) {
	n := needNginx(t)
	u := n.plain + "/old"
	for _, c := range []struct {
		yaml  string
		up    bool
		final string
	}{
		{"url: " + u, true, n.plain + "/ok"},                      // followed to a 200
		{"url: " + u + "\n    follow_redirects: false", true, ""}, // a 3xx is fine when not following
		{"url: " + u + "\n    follow_redirects: false\n    expect_status: 200", false, ""},
	} {
		s := newSource(t, "targets:\n  - "+c.yaml+"\n")
		r := s.runLocal(context.Background(), 5*time.Second)[u]
		v := Judge(s.targets[0], r, time.Now(), s.cert)
		if v.Up != c.up || r.FinalURL != c.final {
			t.Errorf("%s: up %v final %q (%+v)", c.yaml, v.Up, r.FinalURL, r)
		}
	}
}

// A slow page is slow and still up; a page slower than the source's
// timeout fails as a timeout and the poll still answers in time.
func TestSlowPagesAreMeasuredAndHungOnesTimeOut(t *testing.T) {
	n := needNginx(t)
	slow, hang := n.plain+"/slow", n.plain+"/hang"
	s := newSource(t, fmt.Sprintf("targets:\n  - url: %s\n    expect_body: late\n  - url: %s\n", slow, hang))
	start := time.Now()
	b := poll(t, s, 2*time.Second)
	if took := time.Since(start); took > 2*time.Second+time.Second {
		t.Errorf("the poll took %v, beyond its timeout", took)
	}
	if _, v := value(t, b, "http_up", slow, "local"); v != 100 {
		t.Errorf("the slow page is up: %v", v)
	}
	if _, v := value(t, b, "http_first_byte_ms", slow, "local"); v < 400 {
		t.Errorf("nginx waits 400 ms before answering; first byte %v ms", v)
	}
	if _, v := value(t, b, "http_total_ms", slow, "local"); v < 400 {
		t.Errorf("total %v ms", v)
	}
	ev := alert(b, hang)
	if ev == nil || !strings.HasPrefix(ev.Alert.State, "timeout after") {
		t.Fatalf("want a timeout alert, got %+v", ev)
	}
	if _, v := value(t, b, "http_total_ms", hang, "local"); !math.IsNaN(v) {
		t.Errorf("no answer has no total time, got %v", v)
	}
}

func TestCertificateDaysLeftWarnAndFail(t *testing.T) {
	n := needNginx(t)
	s := newSource(t, fmt.Sprintf("ca_file: %s\ntargets:\n  - url: %s\n  - url: %s\n", n.caFile, n.tls2d, n.tls10d))
	b := poll(t, s, 5*time.Second)
	days, v := value(t, b, "http_cert_days_left", n.tls2d, "local")
	if v < 1.9 || v > 2.01 || days.Harm != sources.HarmDown || days.Unit != "d" {
		t.Errorf("days left %v: %+v", v, days)
	}
	if _, v := value(t, b, "http_up", n.tls2d, "local"); v != 100 {
		t.Errorf("a certificate about to expire still serves: up %v", v)
	}
	if _, v := value(t, b, "http_tls_ms", n.tls2d, "local"); v <= 0 {
		t.Errorf("tls %v ms", v)
	}
	ev := alert(b, n.tls2d)
	if ev == nil || ev.Severity != sources.SevCritical || ev.Alert.State != "certificate expiring" || !strings.Contains(ev.Text, n.notAfter2d.UTC().Format("2006-01-02 15:04")) {
		t.Errorf("2 days left: %+v", ev)
	}
	if ev := alert(b, n.tls10d); ev == nil || ev.Severity != sources.SevWarning {
		t.Errorf("10 days left is a warning: %+v", ev)
	}
	// skip-verify still reads the certificate of a server nobody vouches for
	s = newSource(t, fmt.Sprintf("insecure_skip_verify: true\ncert_warning_days: 30\ncert_critical_days: 1\ntargets:\n  - url: %s\n", n.tls10d))
	b = poll(t, s, 5*time.Second)
	if ev := alert(b, n.tls10d); ev == nil || ev.Severity != sources.SevWarning {
		t.Errorf("10 days under a 30-day warning: %+v", ev)
	}
}

func TestHeadChecksTheStatusOnly(t *testing.T) {
	n := needNginx(t)
	u := n.plain + "/ok"
	s := newSource(t, fmt.Sprintf("method: HEAD\ntargets:\n  - url: %s\n", u))
	r := s.runLocal(context.Background(), 5*time.Second)[u]
	if r.Status != 200 || r.Bytes != 0 || r.BodyFound != nil {
		t.Errorf("%+v", r)
	}
}

// The exec vantage runs `opsview http-check --spec -` behind a command
// prefix (here this test binary, through env); its results are judged
// here like local ones.
func TestExecVantageChecksFromTheOtherSide(t *testing.T) {
	n := needNginx(t)
	ok, down := n.plain+"/ok", n.plain+"/down"
	s := newSource(t, fmt.Sprintf(`targets:
  - url: %s
    expect_body: hello
  - url: %s
vantages:
  - name: here
  - name: there
    type: exec
    command: env %s=1
    opsview: %s
`, ok, down, childEnv, os.Args[0]))
	checkedFromEach(t, poll(t, s, 10*time.Second), ok, down, "here", "there")
}

// checkedFromEach asserts that every vantage checked ok (up, with its
// connect and first-byte times) and down (down, one alert each).
func checkedFromEach(t *testing.T, b *sources.Batch, ok, down string, vantages ...string) {
	t.Helper()
	for _, vantage := range vantages {
		if _, v := value(t, b, "http_up", ok, vantage); v != 100 {
			t.Errorf("%s: /ok up %v", vantage, v)
		}
		if _, v := value(t, b, "http_up", down, vantage); v != 0 {
			t.Errorf("%s: /down up %v", vantage, v)
		}
		for _, phase := range []string{"http_connect_ms", "http_first_byte_ms"} {
			if _, v := value(t, b, phase, ok, vantage); v <= 0 {
				t.Errorf("%s: %s %v", vantage, phase, v)
			}
		}
	}
	from := map[string]int{}
	for _, ev := range b.Events {
		if ev.Alert != nil && ev.Alert.State == "503" {
			from[ev.Labels["vantage"]]++
		}
	}
	for _, vantage := range vantages {
		if from[vantage] != 1 {
			t.Errorf("one alert per vantage: %+v", b.Events)
		}
	}
}

func TestABrokenExecVantageKeepsTheOtherOnesAndItsOpenAlerts(t *testing.T) {
	n := needNginx(t)
	down := n.plain + "/down"
	dir := t.TempDir()
	flag := filepath.Join(dir, "broken")
	// the vantage works until the flag file exists
	script := filepath.Join(dir, "vantage.sh")
	os.WriteFile(script, []byte(fmt.Sprintf("test -e %s && { echo 'ssh: connect to host bastion2: Connection refused' >&2; exit 255; }\nexec env %s=1 \"$@\"\n", flag, childEnv)), 0o755)
	s := newSource(t, fmt.Sprintf(`targets:
  - url: %s
vantages:
  - name: here
  - name: there
    type: exec
    command: sh %s
    opsview: %s
`, down, script, os.Args[0]))
	b := poll(t, s, 10*time.Second)
	if len(b.Events) != 2 {
		t.Fatalf("want an alert per vantage: %+v", b.Events)
	}
	os.WriteFile(flag, nil, 0o644)
	b = poll(t, s, 10*time.Second)
	if len(b.Events) != 2 || !b.Events[0].Open() || !b.Events[1].Open() {
		t.Errorf("the unreachable vantage's alert stays open: %+v", b.Events)
	}
	if !strings.Contains(b.Status.Detail, "1 checks, 1 failing") || !strings.Contains(b.Status.Detail, "Connection refused") {
		t.Errorf("detail %q", b.Status.Detail)
	}
	// with no vantage left, the source fails with the reason
	s.vantages = s.vantages[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Poll(ctx, sources.Request{Now: time.Now()}); err == nil || !strings.Contains(err.Error(), "bastion2: Connection refused") {
		t.Errorf("want the vantage's error, got %v", err)
	}
}
