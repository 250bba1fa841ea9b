package alertmanager

import (
	"strings"
	"testing"

	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func FuzzParseAlerts(f *testing.F) {
	for _, name := range []string{"alerts.json", "alerts-filter-job-node.json", "v1-alerts.json", "ui.html"} {
		f.Add(sourcetest.Testdata(f, name))
	}
	f.Add([]byte(`[{"labels":{"a\u001b[1m":"\u009b2J"},"annotations":{"summary":"\u001b]8;;http://x\u0007y"},"startsAt":"0001-01-01T00:00:00Z","status":{"silencedBy":["x"]}}]`))
	f.Add([]byte(`{"status":"error","error":"\u001b[31mno"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		as, err := ParseAlerts(body)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\x1b\x07") {
				t.Fatalf("escape in the error %q", err)
			}
			return
		}
		for _, a := range as {
			for k, v := range a.Labels {
				if strings.ContainsAny(k+v, "\x1b\x07\n") {
					t.Fatalf("label %q=%q", k, v)
				}
			}
			for k, v := range a.Annotations {
				if strings.ContainsAny(k+v, "\x1b\x07") {
					t.Fatalf("annotation %q=%q", k, v)
				}
			}
			if strings.ContainsAny(a.Fingerprint+a.State+a.GeneratorURL, "\x1b\x07") {
				t.Fatalf("%+v", a)
			}
		}
	})
}

func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{`job="blackbox"`, `severity=~"crit.*|page"`, `a!~b`, `x=`, `"`, `a=~"(("`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil {
			return
		}
		// what the API is sent reads back as the same matcher
		back, err := ParseMatcher(m.String())
		if err != nil || back.Name != m.Name || back.Op != m.Op || back.Value != m.Value {
			t.Fatalf("%q → %q → %+v, %v", s, m.String(), back, err)
		}
		m.Matches(map[string]string{m.Name: m.Value})
	})
}
