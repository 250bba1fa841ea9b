package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

// what `go version -m` shows of a binary built by go build in a checkout
// with uncommitted changes (Go 1.24 and later)
const checkoutBuild = "go\tgo1.26.8\n" +
	"path\tgithub.com/opsview/opsview/cmd/opsview\n" +
	"mod\tgithub.com/opsview/opsview\tv0.3.1-0.20261207174946-b24c28d1a2b3+dirty\t\n" +
	"build\t-buildmode=exe\n" +
	"build\tvcs=git\n" +
	"build\tvcs.revision=b24c28d1a2b3c4d5e6f708192a3b4c5d6e7f8091\n" +
	"build\tvcs.time=2026-12-07T17:49:46Z\n" +
	"build\tvcs.modified=true\n"

func TestVersionFromBuildInfo(t *testing.T) {
	info, err := debug.ParseBuildInfo(checkoutBuild)
	if err != nil {
		t.Fatal(err)
	}
	got := resolveVersion("dev", "", "", info, true).String()
	if want := "v0.3.1-0.20261207174946-b24c28d1a2b3+dirty (b24c28d1a2b3, 2026-12-07T17:49:46Z, modified)"; got != want {
		t.Errorf("go build in a checkout: %q, want %q", got, want)
	}
	// go install …@v1.2.0: the module version, no VCS settings
	installed, err := debug.ParseBuildInfo(strings.Replace(checkoutBuild[:strings.Index(checkoutBuild, "build\t")],
		"v0.3.1-0.20261207174946-b24c28d1a2b3+dirty", "v1.2.0", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := resolveVersion("dev", "", "", installed, true).String(); got != "v1.2.0" {
		t.Errorf("go install: %q", got)
	}
	// a test binary or a build without module information
	devel, _ := debug.ParseBuildInfo("go\tgo1.26.8\npath\tx\nmod\tgithub.com/opsview/opsview\t(devel)\t\n")
	if got := resolveVersion("dev", "", "", devel, true).String(); got != "dev" {
		t.Errorf("devel: %q", got)
	}
}

// The release build stamps Version, Commit and Date; they win over what
// Go recorded.
func TestVersionStampedWins(t *testing.T) {
	info, err := debug.ParseBuildInfo(checkoutBuild)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolveVersion("1.4.0", "abcdef1", "2026-11-20T14:00:00Z", info, true).String(); got != "1.4.0 (abcdef1, 2026-11-20T14:00:00Z)" {
		t.Errorf("stamped: %q", got)
	}
}

func TestVersionFlags(t *testing.T) {
	want := "opsview " + currentVersion().String() + "\n"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		code, out, errOut := run(t, args...)
		if code != 0 || out != want {
			t.Errorf("%q: exit %d, %q %q, want %q", args, code, out, errOut, want)
		}
	}
}
