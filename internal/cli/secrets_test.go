package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources/replay"
)

// A secret given as ${VAR} that fails validation is named, never printed:
// by config check, by check and at start.
func TestEnvSecretIsNeverPrintedByConfigCheckCheckOrStart(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	t.Setenv("OPSVIEW_TEST_GRAPHITE_URL", "ftp://"+secret+"@graphite.internal/")
	t.Setenv("OPSVIEW_TEST_INTERVAL", secret)
	for _, tc := range []struct{ name, config string }{
		{"a url the source refuses", "sources:\n  - name: g\n    type: graphite\n    targets: [x]\n    url: ${OPSVIEW_TEST_GRAPHITE_URL}\n"},
		{"an interval", "sources:\n  - name: g\n    type: graphite\n    targets: [x]\n    url: http://127.0.0.1:1/\n    interval: ${OPSVIEW_TEST_INTERVAL}\n"},
	} {
		cfg := writeConfig(t, tc.config)
		for _, mode := range []struct {
			name string
			args []string
		}{
			{"config check", []string{"config", "check", cfg}},
			{"check", []string{"check", "--config", cfg}},
			{"start", []string{"--config", cfg}},
		} {
			args := mode.args
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				code, out, errOut := run(t, args...)
				if code == 0 {
					t.Fatalf("a bad config passed: %s", out)
				}
				if strings.Contains(out+errOut, secret) {
					t.Fatalf("the secret was printed:\n%s%s", out, errOut)
				}
				if !strings.Contains(out+errOut, "${OPSVIEW_TEST_") {
					t.Errorf("the error does not name the variable:\n%s%s", out, errOut)
				}
			})
		}
	}
}

// the recording keeps the config with its literal secrets removed,
// whatever YAML style they were written in
func TestRecordingKeepsTheConfigRedacted(t *testing.T) {
	cfg := writeConfig(t, `sources:
  - name: h
    type: cli-test-history
    interval: 1s
    url: http://admin:s3cr3t-url@lb-1:8404/stats
    instances:
      - {name: lb-2, password: s3cr3t-flow}
    headers: {Authorization: Bearer s3cr3t-header}
`)
	out := filepath.Join(t.TempDir(), "r.opsrec")
	if code, _, errOut := run(t, "record", "--config", cfg, "--out", out, "--duration", "1500ms"); code != 0 {
		t.Fatalf("record: %d %s", code, errOut)
	}
	rec, err := replay.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if strings.Contains(rec.Header.Config, "s3cr3t") {
		t.Fatalf("a secret is in the recording's config:\n%s", rec.Header.Config)
	}
	for _, want := range []string{"lb-2", "lb-1:8404/stats", "Authorization", "<redacted>"} {
		if !strings.Contains(rec.Header.Config, want) {
			t.Errorf("the recording's config lacks %q:\n%s", want, rec.Header.Config)
		}
	}
}
