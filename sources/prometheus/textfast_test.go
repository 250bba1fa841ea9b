package prometheus

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// sameAsFull fails when the fast path accepts a page that the full parser
// reads otherwise (or refuses); it reports whether the fast path took it.
func sameAsFull(t *testing.T, page []byte) bool {
	t.Helper()
	return sameAsFullWith(t, page, nil)
}

// sameAsFullWith is sameAsFull with the parser's memory of earlier pages.
func sameAsFullWith(t *testing.T, page []byte, a *fastAlloc) bool {
	t.Helper()
	fast, ok := parseTextFast(page, a)
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
// exactly as prometheus/common reads them; the pages it leaves (an
// escape, a syntax error, a gauge histogram) go to the full parser.
func TestTextFastMatchesTheFullParser(t *testing.T) {
	for _, fn := range []string{"testdata/node_exporter_metrics.txt", "testdata/prometheus_self_metrics.txt"} {
		page := read(t, fn)
		if !sameAsFull(t, page) {
			t.Errorf("%s: the fast path left the page, summaries and histograms and all", fn)
		}
		plain := withoutSummaries(page)
		if len(plain) < len(page)/2 || !sameAsFull(t, plain) {
			t.Errorf("%s without summaries (%d of %d bytes): the fast path left it", fn, len(plain), len(page))
		}
		// one after the other with one memory, as an exporter scrapes
		var a fastAlloc
		for i, p := range [][]byte{page, plain, page, page[:bytes.LastIndexByte(page[:len(page)/3], '\n')+1], page} {
			if !sameAsFullWith(t, p, &a) {
				t.Errorf("%s, page %d with the memory of the ones before: the fast path left it", fn, i)
			}
		}
	}
	for _, c := range []struct {
		page string
		took bool
	}{
		{"", true},
		{"# HELP a the a\n# TYPE a gauge\na{x=\"1\",y=\"\"} 1.5\na 2 1700000000000\n\nb NaN\nc +Inf\n# another comment\n", true},
		{"# TYPE a counter\na{x=\"1\",} 3e3\n# TYPE b untyped\nb -1\n", true},
		{"a{x=\"a\\\"b\"} 1\n", false}, // an escape
		// summaries and histograms: lines gathered by label set, in any
		// order and apart, the quantile or le label aside
		{"# TYPE s summary\ns_sum 1\n", true},
		{"# TYPE s summary\ns{a=\"1\",quantile=\"0.5\"} 2\ns{quantile=\"0.9\",a=\"1\"} 3\ns{a=\"2\",quantile=\"0.5\"} 4\ns_sum{a=\"1\"} 9 1700000000000\ns_count{a=\"1\"} 3\ns_count{a=\"2\"} 1.7\ns 5\ns{quantile=\"NaN\"} 6\n", true},
		{"# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\nh_bucket{le=\"1\",x=\"y\"} 0.5\nh_count{x=\"y\"} 3\n", true},
		{"# TYPE h histogram\nh_count 2.5\nh_bucket{le=\"1\"} 2\n", true},             // one float count: all floats
		{"# TYPE s_sum gauge\ns_sum 1\n# TYPE s summary\ns_sum 2\ns_count 1\n", true}, // s_sum is its own family
		{"s_sum 1\n# TYPE s summary\ns_count 1\ns_sum 2\n", true},
		{"# TYPE h histogram\nh_bucket 1\nh 2\nh_x_bucket{le=\"1\"} 3\n", true},
		{"# TYPE h histogram\nh_bucket{le=\"1\"} -0.5\n", false}, // a negative bucket: an error
		{"# TYPE h histogram\nh_count -1.5\n", false},
		{"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", false},
		{"# TYPE s summary\ns{quantile=\"0x1p-1\"} 1\n", false},
		{"# TYPE s summary\ns{quantile=\"0.5\",quantile=\"0.9\"} 1\n", false},
		{"# TYPE s summary\ns{a=\"1\",a=\"2\",quantile=\"0.9\"} 1\n", false},
		{"# TYPE g gaugehistogram\ng_bucket{le=\"1\"} 1\n", false},
		{"a 1", false},                    // no newline at the end
		{"a{x=\"1\",x=\"2\"} 1\n", false}, // a label twice
		{"a 1\n# TYPE a gauge\n", false},  // TYPE after samples
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
	f.Add([]byte("# TYPE s summary\ns{a=\"1\",quantile=\"0.5\"} 2\ns_sum{a=\"1\"} 9 1700000000000\ns_count{a=\"1\"} 3\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2.5\nh_sum 0.3\nh_count 2\n"))
	if page := read(f, "testdata/node_exporter_metrics.txt"); bytes.Contains(page, []byte("# TYPE go_gc_duration_seconds summary")) {
		i := bytes.Index(page, []byte("# HELP go_gc_duration_seconds"))
		f.Add(page[i : i+min(2048, len(page)-i)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		sameAsFull(t, b)
	})
}

// TestTextFastRandomPages: pages made of a small vocabulary (families of
// every type, their _sum, _count and _bucket lines, quantile and le
// labels, odd values) in random order, parsed one after the other with
// one memory; whatever the fast path takes, the full parser reads the
// same, and it takes most of them.
func TestTextFastRandomPages(t *testing.T) {
	var a fastAlloc
	rnd := rand.New(rand.NewPCG(3, 4))
	pick := func(xs ...string) string { return xs[rnd.IntN(len(xs))] }
	took := 0
	const pages = 3000
	for range pages {
		var b strings.Builder
		for _, f := range []string{"s", "h", "c", "s_sum", "h_bucket"} {
			if rnd.IntN(4) == 0 {
				fmt.Fprintf(&b, "# HELP %s the %s\n", f, f)
			}
			if rnd.IntN(5) > 0 {
				fmt.Fprintf(&b, "# TYPE %s %s\n", f, pick("summary", "histogram", "counter", "gauge", "untyped", "SUMMARY"))
			}
		}
		for range 1 + rnd.IntN(12) {
			b.WriteString(pick("s", "s_sum", "s_count", "h", "h_bucket", "h_sum", "h_count", "c", "s_sum_sum"))
			var labels []string
			for _, l := range []string{"a", "quantile", "le", "b"} {
				if rnd.IntN(3) == 0 {
					labels = append(labels, fmt.Sprintf("%s=%q", l, pick("1", "2", "0.5", "+Inf", "NaN", "x", "-1")))
				}
			}
			rnd.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
			if len(labels) > 0 {
				b.WriteString("{" + strings.Join(labels, ",") + "}")
			}
			b.WriteString(" " + pick("1", "2", "-1.5", "2.5", "NaN", "+Inf", "0", "3e3", "-2", "1e20"))
			if rnd.IntN(4) == 0 {
				b.WriteString(pick(" 1700000000000", " 5"))
			}
			b.WriteByte('\n')
		}
		if sameAsFullWith(t, []byte(b.String()), &a) {
			took++
		}
	}
	if took < pages/2 {
		t.Fatalf("the fast path took %d pages of %d", took, pages)
	}
}
