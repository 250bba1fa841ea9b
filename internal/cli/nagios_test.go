package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// A usage error of a Nagios plugin is UNKNOWN (3), said on the status
// line; cobra's default (1) reads as WARNING.
func TestCheckUsageErrorIsUnknownOnTheStatusLine(t *testing.T) {
	for _, args := range [][]string{
		{"check", "--bogus"},
		{"check", "extra"},
		{"check", "--format", "xml"},
		{"check", "--sample", "soon"},
		{"check", "--compare", "yesterday"},
	} {
		code, out, errOut := run(t, args...)
		if code != ExitUnknown || !strings.HasPrefix(out, "UNKNOWN - ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	// --format json keeps its shape
	code, out, _ := run(t, "check", "--format", "json", "--bogus")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitUnknown || rep.Status != "unknown" || rep.Code != ExitUnknown ||
		len(rep.Findings) != 1 || !strings.Contains(rep.Findings[0].Detail, "--bogus") {
		t.Errorf("json: exit %d, %v, %q", code, err, out)
	}
}

// statusText is the status line without its performance data.
func statusText(line string) string {
	text, _, _ := strings.Cut(line, " | ")
	return text
}

// 'label'=value[UOM];[warn];[crit];[min];[max], space separated
var perfRE = regexp.MustCompile(`^'(?:[^']|'')+'=-?[0-9.]+(?:[a-zA-Z%]+)?(?:;[^; ]*){0,4}$`)

func checkPerf(t *testing.T, first string) map[string]string {
	t.Helper()
	text, perf, ok := strings.Cut(first, " | ")
	if !ok || strings.Contains(perf, "|") {
		t.Fatalf("status line without performance data: %q", first)
	}
	if !regexp.MustCompile(`^(OK|WARNING|CRITICAL|UNKNOWN) - `).MatchString(text) {
		t.Errorf("status line %q", text)
	}
	got := map[string]string{}
	for _, item := range regexp.MustCompile(`'(?:[^']|'')+'=\S*`).FindAllString(perf, -1) {
		if !perfRE.MatchString(item) {
			t.Errorf("performance datum %q is not 'label'=value[UOM];warn;crit;min;max", item)
		}
		label, value, _ := strings.Cut(item[1:], "'=")
		got[label] = value
	}
	return got
}

// check --demo checks the built-in demo: a newcomer sees the plugin's
// output with no configuration, the status line first with its
// performance data.
func TestCheckDemoPrintsStatusLineWithPerformanceData(t *testing.T) {
	code, out, errOut := run(t, "check", "--demo", "--sample", "0", "--paths-wait", "0")
	if code == ExitOK || code == ExitUnknown {
		t.Errorf("the demo starts inside its incident: exit %d\n%s%s", code, out, errOut)
	}
	first, rest, _ := strings.Cut(out, "\n")
	perf := checkPerf(t, first)
	if perf["sources"] != "6;;;0" || perf["sources_failing"] != "0;;;0" || !strings.HasSuffix(perf["lb-1 latency"], "ms;;;0") {
		t.Errorf("performance data %q", perf)
	}
	if !strings.Contains(rest, "lb-1 (demo)") {
		t.Errorf("no source lines:\n%s", out)
	}
	code2, js, _ := run(t, "check", "--demo", "--sample", "0", "--paths-wait", "0", "--format", "json")
	var rep CheckReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil || code2 != rep.Code || len(rep.Sources) != 6 || len(rep.Findings) == 0 {
		t.Errorf("json: exit %d, %v\n%s", code2, err, js)
	}
}

// Labels are quoted with quotes doubled; a '|' in outside text cannot
// start performance data early.
func TestCheckTextKeepsPipesOutOfTheStatusLine(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	rep := buildReport(&correlate.Snapshot{Now: now, Status: []sources.Status{{Source: "o'brien=lb|1", Type: "haproxy", Health: sources.HealthOK, Latency: 1500 * time.Microsecond}}},
		[]correlate.Finding{{ID: "x", Severity: sources.SevCritical, Title: "backend a|b has no server UP"}})
	var b bytes.Buffer
	writeText(&b, rep, false)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	perf := checkPerf(t, lines[0])
	if perf["o''brien_lb¦1 latency"] != "1.500ms;;;0" || perf["findings_critical"] != "1;;0;0" {
		t.Errorf("performance data %q", perf)
	}
	for _, l := range lines[1:] {
		if strings.Contains(l, "|") {
			t.Errorf("'|' in the long output: %q", l)
		}
	}
}

// A configuration with several mistakes: the status line says the first,
// the long output the others.
func TestCheckBadConfigSaysEveryMistakeAfterTheStatusLine(t *testing.T) {
	cfg := writeConfig(t, "theme: drak\nsources:\n  - name: a\n    type: demo\n    prt: lb-1\n")
	code, out, _ := run(t, "check", "--config", cfg)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != ExitUnknown || len(lines) != 2 || lines[0] != "UNKNOWN - "+cfg+`:1:8: unknown theme "drak" (did you mean "dark"?)` ||
		lines[1] != "  "+cfg+`:5:5: unknown key "prt" (did you mean "part"?)` {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
