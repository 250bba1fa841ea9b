package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sh runs a command in dir and returns its standard output.
func sh(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %q: %v\n%s", name, args, err, msg)
	}
	return string(out)
}

// A binary built by go build from a git checkout says the module version
// and the commit Go recorded (not "dev"), on --version, -v and version.
// (That the release build's -ldflags win is TestVersionStampedWins in
// internal/cli.)
func TestVersionOfABinaryBuiltFromACheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed: %v", tool, err)
			}
			t.Skipf("%s is needed: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	root := filepath.Join("..", "..")
	// a checkout of the module as it is now, committed in a repository of
	// its own (a git worktree's .git is a file, which Go does not read)
	files := strings.Split(strings.TrimRight(sh(t, ctx, root, nil, "git", "ls-files", "--cached", "--others", "--exclude-standard"), "\n"), "\n")
	repo := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted, not yet committed
			}
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(repo, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitEnv := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}
	sh(t, ctx, repo, gitEnv, "git", "init", "-q")
	sh(t, ctx, repo, gitEnv, "git", "add", "-A")
	sh(t, ctx, repo, gitEnv, "git", "commit", "-q", "-m", "checkout")
	head := strings.TrimSpace(sh(t, ctx, repo, gitEnv, "git", "rev-parse", "HEAD"))

	goEnv := []string{"GOFLAGS=-buildvcs=true", "GOWORK=off"}
	bin := filepath.Join(t.TempDir(), "opsview")
	sh(t, ctx, repo, goEnv, "go", "build", "-o", bin, "./cmd/opsview")
	var want string
	for _, arg := range []string{"--version", "-v", "version"} {
		got := strings.TrimSpace(sh(t, ctx, repo, nil, bin, arg))
		if !strings.HasPrefix(got, "opsview v") || !strings.Contains(got, head[:12]) || strings.Contains(got, "dev") || strings.Contains(got, "modified") {
			t.Errorf("opsview %s: %q, want the module version and commit %s", arg, got, head[:12])
		}
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("opsview %s: %q, but %q before", arg, got, want)
		}
	}
}
