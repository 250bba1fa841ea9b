package sources

import (
	"path"
	"testing"
)

// A compiled glob answers what path.Match answers, for any pattern and
// name (the classifier must not change which rules apply).
func FuzzGlobAgreesWithPathMatch(f *testing.F) {
	for _, c := range [][2]string{
		{"*.db*.*", "servers.db-1.cpu"}, {"node_*", "node_load1"}, {"*cpu*.cpu-wait", "a.cpu-0.cpu-wait"},
		{"a*b*c", "a/bc"}, {"*a*b", "a/ab"}, {"x[ab]*", "xa.y"}, {`a\*b`, "a*b"}, {"bad[", "bad["},
		{"", ""}, {"*", ""}, {"**", "a/b"}, {`node_load1{instance="*"}`, `node_load1{instance="h:1"}`},
		{"*.cpu.*.iowait", "s.cpu.cpu.iowait.iowait"}, {"a*a*a", "aa"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		want, _ := path.Match(pat, name)
		g := compileGlob(pat)
		if got := g.match(name); got != want {
			t.Fatalf("glob %q on %q: %v, path.Match %v", pat, name, got, want)
		}
	})
}
