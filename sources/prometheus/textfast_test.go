package prometheus

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// sameAsFull fails when the fast path accepts a page that the full parser
// reads otherwise (or refuses); it reports whether the fast path took it.
func sameAsFull(t *testing.T, page []byte) bool {
	t.Helper()
	fast, ok := parseTextFast(page, nil)
	if !ok {
		return false
	}
	full, err := parseTextFull(page)
	if err != nil {
		t.Fatalf("the fast path took a page the full parser refuses (%v):\n%q", err, page)
	}
	if a, b := dump(fast), dump(full); a != b {
		t.Fatalf("the fast path reads the page otherwise:\nfast %s\nfull %s\npage %q", a, b, page)
	}
	return true
}

func dump(m map[string]*dto.MetricFamily) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s\n", m[n].String())
	}
	return b.String()
}

// withoutSummaries is a real page less its summaries and histograms: the
// common shape the fast path takes whole.
func withoutSummaries(page []byte) []byte {
	drop := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[1] == "TYPE" && (f[3] == "summary" || f[3] == "histogram") {
			drop[f[2]] = true
		}
	}
	var out bytes.Buffer
	sc = bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		name := ""
		switch {
		case len(f) >= 3 && f[0] == "#":
			name = f[2]
		case len(f) > 0:
			name = strings.SplitN(f[0], "{", 2)[0]
		}
		base := name
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, s)
		}
		if drop[name] || drop[base] {
			continue
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}

// TestTextFastMatchesTheFullParser: pages the fast path takes are read
// exactly as prometheus/common reads them; the pages it leaves (a summary,
// an escape, a syntax error) go to the full parser.
func TestTextFastMatchesTheFullParser(t *testing.T) {
	for _, fn := range []string{"testdata/node_exporter_metrics.txt", "testdata/prometheus_self_metrics.txt"} {
		page := read(t, fn)
		if sameAsFull(t, page) {
			t.Errorf("%s: the fast path took a page with summaries", fn)
		}
		plain := withoutSummaries(page)
		if len(plain) < len(page)/2 || !sameAsFull(t, plain) {
			t.Errorf("%s without summaries (%d of %d bytes): the fast path left it", fn, len(plain), len(page))
		}
	}
	for _, c := range []struct {
		page string
		took bool
	}{
		{"", true},
		{"# HELP a the a\n# TYPE a gauge\na{x=\"1\",y=\"\"} 1.5\na 2 1700000000000\n\nb NaN\nc +Inf\n# another comment\n", true},
		{"# TYPE a counter\na{x=\"1\",} 3e3\n# TYPE b untyped\nb -1\n", true},
		{"a{x=\"a\\\"b\"} 1\n", false},         // an escape
		{"# TYPE s summary\ns_sum 1\n", false}, // a summary
		{"a 1", false},                         // no newline at the end
		{"a{x=\"1\",x=\"2\"} 1\n", false},      // a label twice
		{"a 1\n# TYPE a gauge\n", false},       // TYPE after samples
		{"# TYPE a gauge\n# TYPE a gauge\na 1\n", false},
		{"a  1\n", false},
		{"a 0x1p3\n", false},
		{"a 1_0\n", false},
		{"a{__name__=\"b\"} 1\n", false},
		{"{\"a\"} 1\n", false},
		{"a 1 2 3\n", false},
		{"a 1 \n", false},
		{"#\tTYPE a gauge\na 1\n", false},
	} {
		if got := sameAsFull(t, []byte(c.page)); got != c.took {
			t.Errorf("%q: fast path took it %v, want %v", c.page, got, c.took)
		}
	}
}

// FuzzTextFastMatchesTheFullParser: whatever the fast path takes, the full
// parser reads the same.
func FuzzTextFastMatchesTheFullParser(f *testing.F) {
	f.Add([]byte("# HELP a the a\n# TYPE a gauge\na{x=\"1\",y=\"\"} 1.5\na 2 1700000000000\n\nb NaN\n"))
	f.Add([]byte("# TYPE a counter\na{x=\"1\",} 3e3\n# TYPE b untyped\nb -1\n#c\n"))
	f.Add(withoutSummaries(read(f, "testdata/node_exporter_metrics.txt"))[:4096])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		sameAsFull(t, b)
	})
}
