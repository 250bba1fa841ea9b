package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources"
)

func init() {
	// a source whose error carries the credentials of its URL
	sources.Register(sources.Kind{Type: "cli-test-leaky", Summary: "fails with its URL", New: func(env sources.Env, o sources.Options) (sources.Source, error) {
		return sources.PollFunc(func(ctx context.Context, req sources.Request) (*sources.Batch, error) {
			return nil, errors.New(`Get "http://opsview:hunter2@127.0.0.1:1/render?target=x&token=s3cr3t": connection refused`)
		}), nil
	}})
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// The log is log/slog lines with levels: a failing source is a warning,
// --log-level leaves out what is below it, --debug adds the details, and
// no line holds a URL's password or a token.
func TestLogLevelsAndNoSecrets(t *testing.T) {
	cfg := writeConfig(t, "sources:\n  - name: lb-9\n    type: cli-test-leaky\n    timeout: 1s\n")
	dir := t.TempDir()
	check := func(name string, flags ...string) string {
		path := filepath.Join(dir, name+".log")
		args := append([]string{"check", "--config", cfg, "--sample", "0", "--log-file", path}, flags...)
		if code, out, _ := run(t, args...); code != ExitUnknown {
			t.Fatalf("%q: exit %d\n%s", args, code, out)
		}
		return readLog(t, path)
	}
	info := check("info")
	if !strings.Contains(info, "level=WARN") || !strings.Contains(info, "lb-9") || !strings.Contains(info, "connection refused") || strings.Contains(info, "level=DEBUG") {
		t.Errorf("default level:\n%s", info)
	}
	debug := check("debug", "--debug")
	if !strings.Contains(debug, "level=DEBUG") || !strings.Contains(debug, "configuration "+cfg) {
		t.Errorf("--debug:\n%s", debug)
	}
	if quiet := check("error", "--log-level", "error"); strings.Contains(quiet, "level=WARN") || strings.Contains(quiet, "level=INFO") {
		t.Errorf("--log-level error:\n%s", quiet)
	}
	for _, text := range []string{info, debug} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "s3cr3t") {
			t.Errorf("a secret is in the log:\n%s", text)
		}
	}
}

func TestBadLogLevelIsAUsageError(t *testing.T) {
	if code, out, _ := run(t, "check", "--log-level", "loud"); code != ExitUnknown || !strings.HasPrefix(out, "UNKNOWN - --log-level") {
		t.Errorf("check: exit %d %q", code, out)
	}
	if code, _, errOut := run(t, "record", "--log-level", "loud"); code != 2 || !strings.Contains(errOut, "debug, info, warn, error") {
		t.Errorf("record: exit %d %q", code, errOut)
	}
}
