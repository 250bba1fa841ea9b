package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gen man writes opsview.1 and a page per command, from the command
// tree: every flag is in its command's page, and groff reads them without
// a warning.
func TestManPagesFromTheCommandTree(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, "gen", "man", dir); code != 0 {
		t.Fatalf("gen man: %d %s", code, errOut)
	}
	root := newRoot(nil, nil, nil)
	root.InitDefaultCompletionCmd()
	var want []string
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" {
			continue
		}
		want = append(want, "opsview-"+c.Name()+".1")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" {
				want = append(want, "opsview-"+c.Name()+"-"+sub.Name()+".1")
			}
		}
	}
	want = append(want, "opsview.1")
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("no page %s", name)
		}
	}
	if strings.Contains(strings.Join(want, " "), "opsview-gen") {
		t.Errorf("the hidden gen command has a page")
	}
	page, err := os.ReadFile(filepath.Join(dir, "opsview-check.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{".TH \"OPSVIEW-CHECK\" 1", ".SH NAME\nopsview-check \\- ", `\fB\-\-format\fR \fIstring\fR`, `\fB\-\-demo\fR`,
		".SH \"OPTIONS INHERITED FROM PARENT COMMANDS\"", `\fB\-\-log-level\fR`, ".SH \"SEE ALSO\"\n\\fBopsview\\fR(1)"} {
		if !strings.Contains(string(page), s) {
			t.Errorf("opsview-check.1 lacks %q:\n%s", s, page)
		}
	}
	// the paths as the user's environment makes them, not the build's
	if !strings.Contains(string(page), "$XDG_STATE_HOME/opsview/opsview.log") || strings.Contains(string(page), os.Getenv("XDG_STATE_HOME")+"/opsview") {
		t.Errorf("opsview-check.1 names the build's paths:\n%s", page)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("groff is needed to read the pages: %v", err)
		}
		t.Skipf("groff is needed to read the pages: %v", err)
	}
	for _, name := range want {
		cmd := exec.Command(groff, "-k", "-man", "-Tutf8", "-ww", "-z", filepath.Join(dir, name))
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", name, err, out)
		}
	}
}

// Shells complete the values of --theme, --format and --log-level, and
// gen completions writes the scripts for bash, zsh and fish.
func TestFlagValuesComplete(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "--theme", ""}, []string{"dark", "light", "high-contrast", "mono"}},
		{[]string{"__complete", "check", "--format", ""}, []string{"text", "json"}},
		{[]string{"__complete", "demo", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{[]string{"__complete", "probe", "--backend", ""}, []string{"auto", "raw-icmp", "ping", "udp"}},
	} {
		code, out, _ := run(t, tc.args...)
		lines := strings.Split(out, "\n")
		for _, w := range tc.want {
			found := false
			for _, l := range lines {
				found = found || l == w
			}
			if code != 0 || !found {
				t.Errorf("%q: exit %d, no %q in\n%s", tc.args, code, w, out)
			}
		}
	}
	dir := t.TempDir()
	if code, _, errOut := run(t, "gen", "completions", dir); code != 0 {
		t.Fatalf("gen completions: %d %s", code, errOut)
	}
	for name, marker := range map[string]string{"opsview.bash": "__start_opsview", "_opsview": "#compdef opsview", "opsview.fish": "complete -c opsview"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.Contains(string(b), marker) {
			t.Errorf("%s: %v, no %q", name, err, marker)
		}
	}
	if sh, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(sh, "-n", filepath.Join(dir, "opsview.bash")).CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v\n%s", err, out)
		}
	}
}
