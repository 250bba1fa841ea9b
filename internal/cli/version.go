package cli

import (
	"runtime/debug"
	"strings"
)

// buildVersion is what a binary says it is.
type buildVersion struct {
	Version  string // a release (1.2.0), a module version (v1.2.0, a pseudo-version), or dev
	Revision string // the commit, as far as it is known
	Time     string // the commit's or the build's time
	Modified bool   // built from a checkout with uncommitted changes
}

func (b buildVersion) String() string {
	s := b.Version
	var extra []string
	if b.Revision != "" {
		extra = append(extra, b.Revision)
	}
	if b.Time != "" {
		extra = append(extra, b.Time)
	}
	if b.Modified {
		extra = append(extra, "modified")
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// currentVersion is this binary's version: what the release build stamps
// with -ldflags (Version, Commit, Date) wins; else what Go records in a
// binary built by go build or go install: the module's version (a tag, or
// a pseudo-version from the checkout) and the VCS revision and time.
func currentVersion() buildVersion {
	info, ok := debug.ReadBuildInfo()
	return resolveVersion(Version, Commit, Date, info, ok)
}

func resolveVersion(version, commit, date string, info *debug.BuildInfo, ok bool) buildVersion {
	b := buildVersion{Version: version, Revision: commit, Time: date}
	if b.Version == "" {
		b.Version = "dev"
	}
	if !ok || info == nil {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	if b.Revision != "" {
		return b // stamped by the release build
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
			if len(b.Revision) > 12 {
				b.Revision = b.Revision[:12]
			}
		case "vcs.time":
			if b.Time == "" {
				b.Time = s.Value
			}
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}
