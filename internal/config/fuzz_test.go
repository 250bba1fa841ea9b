package config

import (
	"strings"
	"testing"
	"time"
)

// maxFuzzInput bounds the inputs tried: big enough for any real
// configuration's shape, small enough that a run tries many.
const maxFuzzInput = 64 << 10

// fuzzAllocBound is the allocation allowed for parsing n bytes: the YAML
// parser allocates up to about 1.7 KB per byte read (a list of flow
// mappings); input whose cost grows faster than its size goes beyond.
func fuzzAllocBound(n int) uint64 { return 8<<20 + 4096*uint64(n) }

// FuzzParse feeds the loader arbitrary text: it must never panic, and
// never allocate far beyond the input's size (deep nesting once took 10 GB
// from 200 KB).
func FuzzParse(f *testing.F) {
	f.Add([]byte(Example()))
	f.Add([]byte("sources: [{name: lb, type: secret-test, url: \"http://u:p@h/\", headers: {Authorization: x}}]\n"))
	f.Add([]byte("sources:\n  - name: lb\n    type: secret-test\n    token: |\n      x\n    instances:\n      - {name: &a lb-2, password: *a}\n"))
	// deep enough that the parser alone would pass the bound
	f.Add([]byte("theme: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n"))
	f.Add([]byte("theme: [" + strings.Repeat(`x:'[[[[[[[[[[ `, 1000) + "]\n"))
	f.Add([]byte(strings.Repeat("- ", 10000) + "x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			var c *Config
			var err error
			if alloc := allocated(func() { c, err = Parse("fuzz.yaml", data) }); alloc > fuzzAllocBound(len(data)) {
				t.Errorf("parsing %d bytes allocated %d MB", len(data), alloc>>20)
			}
			if err == nil {
				_ = c.Redacted()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("parsing %d bytes did not end in 10 s: %q", len(data), data)
		}
	})
}
