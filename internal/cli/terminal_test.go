package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runPiped runs this test binary as opsview (see TestMain) with standard
// input and output on pipes, as `opsview | cat` or cron would.
func runPiped(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "OPSVIEW_TEST_MAIN="+strings.Join(args, "\x1f"),
		"XDG_STATE_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "OPSVIEW_CONFIG=")
	cmd.Stdin = strings.NewReader("q")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%q did not end without a terminal:\n%s%s", args, out.String(), errb.String())
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// Without a terminal the dashboard says so in one line and names the
// commands made for pipes and cron; it does not start the screen.
func TestDashboardWithoutATerminalSaysSoInOneLine(t *testing.T) {
	for _, args := range [][]string{{"--no-color"}, {"demo"}, {"replay", writeDemoRecording(t)}} {
		code, out, errOut := runPiped(t, args...)
		if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 ||
			!strings.Contains(errOut, "needs a terminal") || !strings.Contains(errOut, "opsview check") || !strings.Contains(errOut, "opsview record") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
