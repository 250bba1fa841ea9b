package config

import (
	"runtime"
	"strings"
	"testing"
)

// allocated is the bytes f allocates.
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// The parser is quadratic in depth: 20,000 levels took 5.6 s and 665 MB,
// 100,000 ran for minutes to 10 GB. Such input is refused before parsing,
// for the cost of reading it once.
func TestDeepNestingIsRefusedBeforeParsing(t *testing.T) {
	const depth = 20000
	for _, tc := range []struct{ name, text string }{
		{"flow sequences", "theme: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"},
		{"flow mappings", "keys: " + strings.Repeat("{a: ", depth) + strings.Repeat("}", depth) + "\n"},
		{"compact block sequences", "dependencies:\n" + strings.Repeat("- ", depth) + "x\n"},
		{"quoted closers between the openers", "theme: " + strings.Repeat(`[ "]", `, depth) + "\n"},
		{"quotes the scan may misread", "theme: [" + strings.Repeat(`x:'[[[[[[[[[[ `, depth/10) + "]\n"},
		{"anchors glued to brackets", "theme: " + strings.Repeat("&a[", depth) + "\n"},
		{"indentation", deepIndent(400)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = Parse("deep.yaml", []byte(tc.text)) })
			if err == nil || !strings.Contains(err.Error(), "nested deeper than") {
				t.Fatalf("not refused for its depth: %v", err)
			}
			if alloc > 1<<20 {
				t.Fatalf("refusing %d bytes allocated %d KB: the parser ran", len(tc.text), alloc>>10)
			}
		})
	}
}

func deepIndent(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}

// what real configurations hold passes the pre-scan
func TestOrdinaryNestingPasses(t *testing.T) {
	var rules strings.Builder
	rules.WriteString("rules:\n")
	for i := 0; i < 300; i++ {
		rules.WriteString("  - match: \"servers.[ab]*.{cpu,mem}\"\n    labels: {instance: \"db-[0-9]*\"}   # [[[[ in a comment\n    layer: db\n")
	}
	for _, text := range []string{
		Example(),
		rules.String(),
		"sources:\n  - name: lb\n    type: secret-test\n    token: |\n      if [ -f /x ]; then echo '{\"a\": [1, [2]]}'; fi\n      [[[[[[[[[[[[[[[[[[[[\n",
		"sources: [{name: lb, type: secret-test, instances: [{name: a, url: 'http://x/[it''s]'}]}]\n",
		"keys:\n  quit: [q, \"ctrl+c\"]\n  help: ['?']\n",
	} {
		if err := checkNesting("c.yaml", []byte(text)); err != nil {
			t.Errorf("%v\n%s", err, text[:min(len(text), 300)])
		}
	}
}
