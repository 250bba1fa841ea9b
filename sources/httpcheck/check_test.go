package httpcheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

func TestJudgeSaysWhatIsWrong(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	yes, no, stay := true, false, false
	lim := CertLimits{Warning: 14, Critical: 3}
	cases := []struct {
		name  string
		t     Target
		r     Result
		up    bool
		sev   sources.Severity
		state string
	}{
		{"200", Target{}, Result{Status: 200}, true, sources.SevOK, "200"},
		{"204 expected", Target{ExpectStatus: Statuses{204}}, Result{Status: 204}, true, sources.SevOK, "204"},
		{"503", Target{}, Result{Status: 503}, false, sources.SevCritical, "503"},
		{"404", Target{}, Result{Status: 404}, false, sources.SevCritical, "404"},
		{"301 followed is not 2xx", Target{}, Result{Status: 301}, false, sources.SevCritical, "301"},
		{"301 not followed", Target{FollowRedirects: &stay}, Result{Status: 301}, true, sources.SevOK, "301"},
		{"body found", Target{ExpectBody: "x"}, Result{Status: 200, BodyFound: &yes}, true, sources.SevOK, "200"},
		{"body missing", Target{ExpectBody: "x"}, Result{Status: 200, BodyFound: &no}, false, sources.SevCritical, "body mismatch"},
		{"refused", Target{}, Result{Error: "connection refused"}, false, sources.SevCritical, "connection refused"},
		{"timeout", Target{}, Result{Error: "timeout after 9s", Timeout: true}, false, sources.SevCritical, "timeout after 9s"},
		{"tls", Target{}, Result{Error: "TLS: certificate expired or not yet valid"}, false, sources.SevCritical, "TLS error"},
		{"cert 30 days", Target{}, Result{Status: 200, CertNotAfter: now.Add(30 * 24 * time.Hour)}, true, sources.SevOK, "200"},
		{"cert 10 days", Target{}, Result{Status: 200, CertNotAfter: now.Add(10 * 24 * time.Hour)}, true, sources.SevWarning, "certificate expiring"},
		{"cert 1 day", Target{}, Result{Status: 200, CertNotAfter: now.Add(24 * time.Hour)}, true, sources.SevCritical, "certificate expiring"},
	}
	for _, c := range cases {
		v := Judge(c.t, c.r, now, lim)
		if v.Up != c.up || v.Severity != c.sev || v.State != c.state || (c.sev != sources.SevOK) != (v.Problem != "") {
			t.Errorf("%s: %+v", c.name, v)
		}
	}
}

func TestConfigMistakesAreRefusedWithTheReason(t *testing.T) {
	for yaml, want := range map[string]string{
		"":                              "targets is required",
		"targets:\n  - url: ftp://x/\n": "scheme must be http or https",
		"targets:\n  - url: http://x/\n    method: POST\n":                                                                                  "use GET or HEAD",
		"targets:\n  - url: http://x/\n    method: HEAD\n    expect_body: ok\n":                                                             "HEAD answer has no body",
		"targets:\n  - url: http://x/\n    expect_status: 999\n":                                                                            "not an HTTP status",
		"targets:\n  - url: http://x/\n    expect_status: ok\n":                                                                             "expect_status",
		"targets:\n  - url: http://x/\n  - url: http://x/\n":                                                                                "listed twice",
		"targets:\n  - url: http://x/\nvantages:\n  - name: dc\n    type: mtr\n":                                                            "path probes only",
		"targets:\n  - url: http://x/\nvantages:\n  - name: dc\n    type: agent\n":                                                          "url is required",
		"targets:\n  - url: http://x/\nusername: u\npassword: p\nvantages:\n  - name: dc\n    type: agent\n    url: http://10.0.0.5:9475\n": "give the agent an https url",
		"targets:\n  - url: http://x/\nvantages:\n  - name: b\n    type: exec\n":                                                            "needs command",
		"targets:\n  - url: http://x/\ncert_warning_days: 2\ncert_critical_days: 5\n":                                                       "more than cert_warning_days",
		"targets:\n  - url: http://x/\nbogus: 1\n":                                                                                          "bogus",
	} {
		opts, err := config.OptionsFromYAML("checks.yaml", yaml)
		if err == nil {
			_, err = factory(sources.Env{Name: "checks"}, opts)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", yaml, want, err)
		}
	}
}

func TestExpectStatusIsOneOrAList(t *testing.T) {
	s := newSource(t, "targets:\n  - url: http://x/a\n    expect_status: 301\n  - url: http://x/b\n    expect_status: [200, 204]\n")
	if fmt.Sprint(s.targets[0].ExpectStatus) != "[301]" || fmt.Sprint(s.targets[1].ExpectStatus) != "[200 204]" {
		t.Errorf("%v %v", s.targets[0].ExpectStatus, s.targets[1].ExpectStatus)
	}
}

// What a vantage sends back is outside text: escape sequences in it never
// reach the screen, and a result for a URL nobody asked is refused.
func TestExecVantageOutputIsCleanedAndChecked(t *testing.T) {
	targets := []Target{{URL: "http://x/"}}
	line := `{"v":1,"url":"http://x/","error":"\u001b]0;owned\u0007refused \u001b[31mred"}` + "\n"
	got, err := readResults(strings.NewReader(line), targets)
	if err != nil {
		t.Fatal(err)
	}
	if e := got["http://x/"].Error; e != "refused red" {
		t.Errorf("error %q", e)
	}
	for in, want := range map[string]string{
		`{"v":1,"url":"http://evil/"}`:                       "not asked",
		`{"v":2,"url":"http://x/"}`:                          "update opsview",
		"Last login: yesterday":                              "not an http-check result",
		`{"v":1,"url":"` + strings.Repeat("a", 70000) + `"}`: "longer than 64 KiB",
	} {
		if _, err := readResults(strings.NewReader(in+"\n"), targets); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: want %q, got %v", in, want, err)
		}
	}
}

func TestExecVantageThatIsNotThereSaysSo(t *testing.T) {
	s := newSource(t, "targets:\n  - url: http://127.0.0.1:1/\nvantages:\n  - name: b2\n    type: exec\n    command: sh -c 'echo no opsview here >&2; exit 127' sh\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.Poll(ctx, sources.Request{})
	if err == nil || !strings.Contains(err.Error(), "no opsview here") || !strings.Contains(err.Error(), `http "checks"`) {
		t.Fatalf("got %v", err)
	}
}

func TestTheCommandLineChecksAURLForPeople(t *testing.T) {
	var out bytes.Buffer
	sev, err := RunCLI(context.Background(), CLIOptions{URLs: []string{"http://127.0.0.1:1/"}, Timeout: 2 * time.Second}, nil, &out)
	if err != nil || sev != sources.SevCritical || !strings.HasPrefix(out.String(), "CRITICAL http://127.0.0.1:1/ connection refused") {
		t.Errorf("%v %v %q", sev, err, out.String())
	}
	out.Reset()
	spec := `{"v":1,"targets":[{"url":"http://127.0.0.1:1/"}],"timeout_ms":2000}`
	if _, err := RunCLI(context.Background(), CLIOptions{Spec: "-"}, strings.NewReader(spec), &out); err != nil || !strings.HasPrefix(out.String(), `{"v":1,"url":"http://127.0.0.1:1/"`) {
		t.Errorf("%v %q", err, out.String())
	}
	if _, err := RunCLI(context.Background(), CLIOptions{Spec: "-"}, strings.NewReader(`{"v":1,"targets":[{"url":"http://x/","method":"DELETE"}]}`), &out); err == nil {
		t.Error("a spec asking to DELETE must be refused")
	}
}

func FuzzReadResults(f *testing.F) {
	f.Add([]byte(`{"v":1,"url":"http://x/","status":200,"total_ms":1.5}` + "\n"))
	f.Add([]byte(`{"v":1,"url":"http://x/","error":"\u001b[2Jx"}`))
	f.Add([]byte("\n\n{}"))
	targets := []Target{{URL: "http://x/"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readResults(bytes.NewReader(b), targets)
		if err != nil {
			return
		}
		for u, r := range got {
			if u != "http://x/" || r.Error != sources.Clean(r.Error) {
				t.Fatalf("%q: %+v", u, r)
			}
		}
	})
}

// The example in the Kind loads as a config entry and builds.
func TestExampleLoads(t *testing.T) {
	k, ok := sources.Lookup("http")
	if !ok {
		t.Fatal("http not registered")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("sources:\n"+indent(k.Example)), 0o600)
	if _, err := config.Load(p); err != nil {
		t.Fatal(err)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
