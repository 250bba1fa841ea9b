package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

func init() {
	// a source with history: iowait at 3 %, but 90 % over the last 20
	// minutes of real time; it answers for any window it is asked
	sources.Register(sources.Kind{Type: "cli-test-history", Summary: "history", History: true, New: func(env sources.Env, o sources.Options) (sources.Source, error) {
		return sources.PollFunc(func(ctx context.Context, req sources.Request) (*sources.Batch, error) {
			from, until, step := req.Window(time.Minute)
			var pts []sources.Point
			for t := from.Truncate(step); !t.After(until); t = t.Add(step) {
				v := 3 + float64(t.Minute()%3)
				if time.Since(t) < 20*time.Minute {
					v = 90 + float64(t.Minute()%3)
				}
				pts = append(pts, sources.Point{T: t, V: v})
			}
			return &sources.Batch{At: until, Series: []sources.Series{{Name: "servers.db-1.cpu.iowait", Unit: "%", Role: sources.RoleResource, Layer: sources.LayerDB, Points: pts}}}, nil
		}), nil
	}})
	sources.Register(sources.Kind{Type: "cli-test-broken", Summary: "always fails", New: func(env sources.Env, o sources.Options) (sources.Source, error) {
		return sources.PollFunc(func(ctx context.Context, req sources.Request) (*sources.Batch, error) {
			return nil, errors.New("dial tcp 127.0.0.1:1: connection refused")
		}), nil
	}})
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("OPSVIEW_CONFIG", "")
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range []string{"demo", "check", "record", "replay", "export", "probe", "agent", "http-check", "serve", "config", "info", "completion", "version"} {
		code, out, _ := run(t, c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: code %d\n%s", c, code, out)
		}
	}
}

func TestCheckHealthyDemoSourceExitsOK(t *testing.T) {
	cfg := writeConfig(t, "sources:\n  - name: aws\n    type: demo\n    part: aws-status\n")
	code, out, errOut := run(t, "check", "--config", cfg, "--format", "json", "--sample", "0")
	if code != ExitOK {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != "ok" || len(rep.Sources) != 1 || rep.Sources[0].Name != "aws" || rep.Sources[0].Status != "ok" || rep.Sources[0].Type != "demo" {
		t.Errorf("%+v", rep)
	}
}

func TestCheckUnreadableSourceIsUnknown(t *testing.T) {
	cfg := writeConfig(t, "sources:\n  - name: lb-9\n    type: cli-test-broken\n    timeout: 1s\n")
	code, out, _ := run(t, "check", "--config", cfg, "--sample", "0")
	if code != ExitUnknown {
		t.Fatalf("code %d\n%s", code, out)
	}
	if !strings.HasPrefix(out, "UNKNOWN") || !strings.Contains(out, "lb-9") || !strings.Contains(out, "connection refused") {
		t.Errorf("report:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape sequences in piped output: %q", out)
	}
	code, out, _ = run(t, "check", "--config", cfg, "--sample", "0", "--format", "json")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitUnknown || rep.Status != "unknown" || rep.Sources[0].Error == "" {
		t.Errorf("json %d %v %+v", code, err, rep)
	}
}

func TestCheckWithoutConfigIsUnknown(t *testing.T) {
	// a Nagios plugin's status line is the first line of standard output,
	// also when it cannot check
	code, out, errOut := run(t, "check")
	if code != ExitUnknown || !strings.HasPrefix(out, "UNKNOWN - no configuration found") || !strings.Contains(out, "check --demo") {
		t.Errorf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestCheckBadConfigNamesFileAndLine(t *testing.T) {
	cfg := writeConfig(t, "sources:\n  - name: a\n    type: demo\n    prt: lb-1\n")
	code, out, errOut := run(t, "check", "--config", cfg)
	if code != ExitUnknown || !strings.HasPrefix(out, "UNKNOWN - "+cfg+":4") || !strings.Contains(out, "prt") {
		t.Errorf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestReportExitCodes(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	ok := sources.Status{Source: "lb", Type: "haproxy", Health: sources.HealthOK}
	bad := sources.Status{Source: "pr", Type: "prometheus", Health: sources.HealthFailing, LastError: "refused"}
	warn := correlate.Finding{Severity: sources.SevWarning, Title: "server app-2 is DOWN"}
	crit := correlate.Finding{Severity: sources.SevCritical, Title: "backend be_api has no server UP"}
	cases := []struct {
		status   []sources.Status
		findings []correlate.Finding
		code     int
	}{
		{[]sources.Status{ok}, nil, ExitOK},
		{[]sources.Status{ok}, []correlate.Finding{warn}, ExitWarning},
		{[]sources.Status{ok}, []correlate.Finding{warn, crit}, ExitCritical},
		{[]sources.Status{ok, bad}, []correlate.Finding{warn}, ExitUnknown},
		{[]sources.Status{ok, bad}, []correlate.Finding{crit}, ExitCritical},
		{nil, nil, ExitUnknown},
	}
	for i, tc := range cases {
		rep := buildReport(&correlate.Snapshot{Now: now, Status: tc.status}, tc.findings)
		if rep.Code != tc.code || rep.Status != statusNames[tc.code] {
			t.Errorf("case %d: %d %s, want %d", i, rep.Code, rep.Status, tc.code)
		}
	}
	rep := buildReport(&correlate.Snapshot{Now: now, Status: []sources.Status{ok},
		Nodes: []sources.NodeState{{Kind: "backend", Attrs: map[string]string{"check": "be_app (Active: 1/2)\x1b[31m"}}}}, []correlate.Finding{warn})
	var b bytes.Buffer
	writeText(&b, rep, false)
	if !strings.Contains(b.String(), "be_app (Active: 1/2)\n") || !strings.Contains(b.String(), "WARNING  server app-2 is DOWN") {
		t.Errorf("text:\n%s", b.String())
	}
}

func TestConfigExampleParses(t *testing.T) {
	code, out, _ := run(t, "config", "example")
	if code != 0 {
		t.Fatal(code)
	}
	cfg := writeConfig(t, out)
	code, msg, errOut := run(t, "config", "check", cfg)
	if code != 0 {
		t.Fatalf("the example does not pass its own check: %s%s\n%s", msg, errOut, out)
	}
}

func TestCheckCompareSaysWhatIsUnusualAgainstYesterday(t *testing.T) {
	cfg := writeConfig(t, "store: {step: 1m}\nsources:\n  - name: gr\n    type: cli-test-history\n")
	code, out, errOut := run(t, "check", "--config", cfg, "--sample", "0", "--compare", "24h")
	if code != ExitOK {
		t.Fatalf("an unusual value is information, not an alert: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "servers.db-1.cpu.iowait is higher than 1d ago") {
		t.Errorf("report does not say what is unusual:\n%s", out)
	}
	for _, bad := range []string{"yesterday", "-1d", "30m"} {
		if code, _, _ := run(t, "check", "--config", cfg, "--compare", bad); code != ExitUnknown {
			t.Errorf("--compare %s: exit %d", bad, code)
		}
	}
}
