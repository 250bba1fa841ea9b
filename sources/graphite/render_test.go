package graphite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// stdRender is the same answer decoded by encoding/json, the reference.
type stdRender struct {
	Target     string            `json:"target"`
	Tags       map[string]string `json:"tags"`
	Datapoints [][2]*float64     `json:"datapoints"`
}

func decodeStd(b []byte) ([]stdRender, error) {
	var out []stdRender
	err := json.Unmarshal(b, &out)
	return out, err
}

func renderCaptures(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/render_*.json")
	if len(files) < 5 {
		t.Fatalf("render captures missing in testdata: %v", files)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestDecodeRenderAgreesWithEncodingJSONOnRealCaptures(t *testing.T) {
	for name, b := range renderCaptures(t) {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeRender(b)
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeStd(b)
			if err != nil {
				t.Fatal(err)
			}
			compareStd(t, got, want)
		})
	}
}

func compareStd(t *testing.T, got []RenderSeries, want []stdRender) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d series, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Target != w.Target {
			t.Errorf("series %d target %q, want %q", i, g.Target, w.Target)
		}
		if fmt.Sprint(g.Tags) != fmt.Sprint(w.Tags) {
			t.Errorf("series %d tags %v, want %v", i, g.Tags, w.Tags)
		}
		if len(g.Times) != len(w.Datapoints) {
			t.Fatalf("series %d: %d points, want %d", i, len(g.Times), len(w.Datapoints))
		}
		for j, dp := range w.Datapoints {
			if int64(*dp[1]) != g.Times[j] {
				t.Fatalf("series %d point %d time %d, want %v", i, j, g.Times[j], *dp[1])
			}
			if dp[0] == nil {
				if !math.IsNaN(g.Values[j]) {
					t.Fatalf("series %d point %d: null decoded as %v", i, j, g.Values[j])
				}
				continue
			}
			if g.Values[j] != *dp[0] {
				t.Fatalf("series %d point %d value %v, want %v", i, j, g.Values[j], *dp[0])
			}
		}
	}
}

func TestDecodeRenderFunctionsKeepTargetsAndTags(t *testing.T) {
	got, err := DecodeRender(renderCaptures(t)["render_functions.json"])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("want 3 series (alias, perSecond, summarize), got %d", len(got))
	}
	if got[0].Target != "total" || got[0].Tags["aggregatedBy"] != "sum" {
		t.Errorf("alias(sumSeries()) gave target %q tags %v", got[0].Target, got[0].Tags)
	}
}

func TestDecodeRenderPythonSpecialValues(t *testing.T) {
	in := `[{"target":"a\u00e9\"b","tags":{"name":"a","n":3},"extra":{"x":[1,{"y":null}],"z":true},
	"datapoints":[[NaN,10],[Infinity,20],[-Infinity,30],[1e9999,40],[null,50],[-1.5e3,60],[2,null],[3,70.0]]}]`
	got, err := DecodeRender([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := got[0]
	if s.Target != "aé\"b" || s.Tags["n"] != "3" {
		t.Fatalf("target %q tags %v", s.Target, s.Tags)
	}
	wantT := []int64{10, 20, 30, 40, 50, 60, 70}
	if fmt.Sprint(s.Times) != fmt.Sprint(wantT) {
		t.Fatalf("times %v, want %v (a null timestamp is dropped)", s.Times, wantT)
	}
	if !math.IsNaN(s.Values[0]) || !math.IsInf(s.Values[1], 1) || !math.IsInf(s.Values[2], -1) ||
		!math.IsInf(s.Values[3], 1) || !math.IsNaN(s.Values[4]) || s.Values[5] != -1500 || s.Values[6] != 3 {
		t.Fatalf("values %v", s.Values)
	}
}

func TestShortDecimalMatchesStrconv(t *testing.T) {
	for _, in := range []string{"0", "21", "-0.5", "0.1", "1234.125", "99999999999999.9", "0.000000000000001", "123456789012345",
		"-0", "3.", ".5", "1e3", "1234567890123456", "0.3333333333333333", "-", "1.2.3", "+1"} {
		want, werr := strconv.ParseFloat(in, 64)
		got, ok := shortDecimal([]byte(in))
		if !ok {
			continue // strconv handles it
		}
		if werr != nil || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("shortDecimal(%q) = %v, strconv %v %v", in, got, want, werr)
		}
	}
	if _, ok := shortDecimal([]byte("3.")); ok {
		t.Error(`"3." is not JSON`)
	}
}

func FuzzShortDecimal(f *testing.F) {
	for _, s := range []string{"21", "-0.5", "1234.125", "0.000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := shortDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || got != want {
			t.Fatalf("shortDecimal(%q) = %v, strconv %v %v", s, got, want, err)
		}
	})
}

func TestDecodeRenderRejectsMalformed(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `[`, `[{]`, `[{"target": 1}]`, `[{"datapoints": [[1]]}]`, `[{"datapoints": [[1, "x"]]}]`,
		`[{"datapoints": [[abc, 1]]}]`, `[] trailing`, `[{"target": "unterminated}]`,
		`<html><body>Internal error</body></html>`, `[{"datapoints": [[1, 2]]},]`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
		`[{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]`,
	} {
		if _, err := DecodeRender([]byte(in)); err == nil {
			t.Errorf("DecodeRender(%.40q) gave no error", in)
		}
	}
}

func TestAlignAveragesFinePointsPerBucket(t *testing.T) {
	// 1 s Graphite points on a 10 s store clock
	rs := &RenderSeries{}
	for i := int64(0); i < 25; i++ {
		rs.Times = append(rs.Times, 1000+i)
		v := float64(i)
		if i >= 10 && i < 20 {
			v = math.NaN() // a whole bucket of nulls is a gap
		}
		rs.Values = append(rs.Values, v)
	}
	pts, _ := Align(rs, 10*time.Second)
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3: %v", len(pts), pts)
	}
	if pts[0].T.Unix() != 1000 || pts[0].V != 4.5 {
		t.Errorf("bucket 1000: %v, want mean 4.5", pts[0])
	}
	if !pts[1].Missing() {
		t.Errorf("bucket 1010 should be a gap, got %v", pts[1].V)
	}
	if pts[2].T.Unix() != 1020 || pts[2].V != 22 {
		t.Errorf("bucket 1020: %v, want 22", pts[2])
	}
}

func TestAlignRepeatsCoarsePointsOverTheirSlot(t *testing.T) {
	// 60 s Graphite archive on a 10 s store clock, not aligned to it
	rs := &RenderSeries{Times: []int64{1205, 1265}, Values: []float64{1, math.Inf(1)}}
	pts, infs := Align(rs, 10*time.Second)
	if infs != 1 {
		t.Errorf("infs %d, want 1", infs)
	}
	// 1205 covers 1200…1250 (it stops where the next slot starts), 1265 covers 1260…1320
	if len(pts) != 13 {
		t.Fatalf("%d points, want 13: %v", len(pts), pts)
	}
	for i, p := range pts {
		if p.T.Unix() != 1200+int64(i)*10 {
			t.Fatalf("point %d at %d, want on the 10 s clock", i, p.T.Unix())
		}
		if i < 6 && p.V != 1 || i >= 6 && !p.Missing() {
			t.Fatalf("point %d = %v", i, p.V)
		}
	}
}

func TestAlignEqualStepKeepsEveryPoint(t *testing.T) {
	got, err := DecodeRender(renderCaptures(t)["render_2h_uses_10s_archive.json"])
	if err != nil {
		t.Fatal(err)
	}
	rs := &got[0]
	pts, _ := Align(rs, 10*time.Second)
	if len(pts) != len(rs.Times) {
		t.Fatalf("%d points from %d", len(pts), len(rs.Times))
	}
	for i := range pts {
		if pts[i].T.Unix() != rs.Times[i] || (pts[i].V != rs.Values[i] && !(pts[i].Missing() && math.IsNaN(rs.Values[i]))) {
			t.Fatalf("point %d: %v vs %d %v", i, pts[i], rs.Times[i], rs.Values[i])
		}
	}
}

func TestGuessNodeFromCommonTrees(t *testing.T) {
	for name, want := range map[string]string{
		"servers.db-1.cpu.total.iowait":              "db-1",
		"collectd.web01_example_com.load.load.short": "web01_example_com",
		"stats.counters.requests":                    "",
		"servers.*.cpu.total.iowait":                 "",
		"opsview.test.web01.latency_ms":              "",
	} {
		if got := guessNode(name, nil); got != want {
			t.Errorf("guessNode(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestDefaultRulesClassifyCommonTrees(t *testing.T) {
	rules := DefaultRules()
	for _, c := range []struct {
		name  string
		role  sources.Role
		layer sources.Layer
		unit  string
	}{
		{"servers.db-1.cpu.total.iowait", sources.RoleResource, sources.LayerDB, "%"},
		{"servers.web-1.cpu.total.iowait", sources.RoleResource, sources.LayerHost, "%"},
		{"servers.db1.cpu.iowait", sources.RoleResource, sources.LayerDB, "%"},
		{"collectd.host1.aggregation-cpu-average.cpu-wait", sources.RoleResource, sources.LayerHost, "%"},
		{"servers.web-1.loadavg.01", sources.RoleResource, sources.LayerHost, ""},
		{"servers.web-1.network.eth0.rx_errors", sources.RoleResource, sources.LayerNetwork, "/s"},
		{"servers.web-1.network.eth0.rx_byte", sources.RoleTraffic, sources.LayerHost, "B/s"},
		{"servers.lb-1.iostat.sda.await", sources.RoleResource, sources.LayerLB, "ms"},
		{"some.other.metric", sources.RoleUnknown, sources.LayerUnknown, ""},
	} {
		s := sources.Series{Name: c.name}
		rules.Classify("g", &s)
		if s.Role != c.role || s.Layer != c.layer || s.Unit != c.unit {
			t.Errorf("%s → %v/%q/%q, want %v/%q/%q", c.name, s.Role, s.Layer, s.Unit, c.role, c.layer, c.unit)
		}
	}
}

// synthRender builds a render answer of n series × p points as
// graphite-web writes it, with a null every 17th point and values of 16-17
// significant digits (averages), the slow case for float parsing.
func synthRender(n, p int) []byte { return synth(n, p, false) }

// synthRenderShort has values of two decimals, as gauges like iowait
// percentages usually are.
func synthRenderShort(n, p int) []byte { return synth(n, p, true) }

func synth(n, p int, short bool) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"target": "servers.host-%04d.cpu.total.iowait", "tags": {"name": "servers.host-%04d.cpu.total.iowait"}, "datapoints": [`, i, i)
		for j := 0; j < p; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			if j%17 == 0 {
				fmt.Fprintf(&b, "[null, %d]", 1795419760+j*10)
			} else {
				v := float64((i*j)%1000) / 7
				if short {
					v = math.Round(v*100) / 100
				}
				fmt.Fprintf(&b, "[%s, %d]", strconv.FormatFloat(v, 'f', -1, 64), 1795419760+j*10)
			}
		}
		b.WriteString("]}")
	}
	b.WriteByte(']')
	return b.Bytes()
}

func TestDecodeRenderAgreesOnSyntheticLoad(t *testing.T) {
	for _, b := range [][]byte{synthRender(20, 50), synthRenderShort(20, 50)} {
		got, err := DecodeRender(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeStd(b)
		if err != nil {
			t.Fatal(err)
		}
		compareStd(t, got, want)
	}
}

func TestDecodeRenderAgreesOnSyntheticLoadLong(t *testing.T) {
	b := synthRender(20, 50)
	got, err := DecodeRender(b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeStd(b)
	if err != nil {
		t.Fatal(err)
	}
	compareStd(t, got, want)
}

func BenchmarkDecodeRender1000x360(b *testing.B) {
	data := synthRender(1000, 360)
	short := synthRenderShort(1000, 360)
	b.Run("opsview_short_values", func(b *testing.B) {
		b.SetBytes(int64(len(short)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRender(short); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json_short_values", func(b *testing.B) {
		b.SetBytes(int64(len(short)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeStd(short); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("opsview", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRender(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeStd(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("opsview_decode_and_align", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := DecodeRender(data)
			if err != nil {
				b.Fatal(err)
			}
			for i := range out {
				Align(&out[i], 10*time.Second)
			}
		}
	})
}

func FuzzDecodeRender(f *testing.F) {
	for _, b := range renderCaptures(f) {
		f.Add(b)
	}
	f.Add([]byte(`[{"target":"a","datapoints":[[NaN,1],[Infinity,2],[-Infinity,3],[null,4]]}]`))
	f.Add([]byte(`<html>oops</html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := DecodeRender(b)
		if err != nil {
			return
		}
		for i := range out {
			if len(out[i].Times) != len(out[i].Values) {
				t.Fatalf("series %d: %d times, %d values", i, len(out[i].Times), len(out[i].Values))
			}
			pts, _ := Align(&out[i], 10*time.Second)
			if len(pts) > maxAlignedPoints {
				t.Fatalf("Align emitted %d points", len(pts))
			}
			for j := 1; j < len(pts); j++ {
				if !pts[j].T.After(pts[j-1].T) && sortedTimes(out[i].Times) {
					t.Fatalf("points out of order at %d", j)
				}
			}
		}
		// whatever encoding/json accepts (without Python's NaN), we accept,
		// but timestamps outside 1970 to 2100
		if std, err := decodeStd(b); err == nil && std != nil && timesInRange(std) {
			if _, err := DecodeRender(b); err != nil {
				t.Fatalf("encoding/json accepted what DecodeRender refused: %v", err)
			}
		}
	})
}

func timesInRange(std []stdRender) bool {
	for _, r := range std {
		for _, p := range r.Datapoints {
			if p[1] != nil && (*p[1] < 0 || *p[1] > maxTimestamp) {
				return false
			}
		}
	}
	return true
}

// Align works in nanoseconds: Unix seconds after 2262 overflowed, and a
// step of 1e10 s put the points out of order (found by FuzzDecodeRender;
// its input is kept in testdata/fuzz).
func TestTimestampsOutside1970To2100AreRefused(t *testing.T) {
	for _, ts := range []string{"9300000000", "10000000000", "4102444801", "-1", "1e15", "5e9"} {
		in := `[{"target":"a","datapoints":[[1,0],[2,` + ts + `]]}]`
		if _, err := DecodeRender([]byte(in)); err == nil || !strings.Contains(err.Error(), "outside 1970 to 2100") {
			t.Errorf("timestamp %s: %v", ts, err)
		}
	}
	// the widest answer accepted still aligns in order
	out, err := DecodeRender([]byte(`[{"target":"a","datapoints":[[1,0],[2,4102444800]]}]`))
	if err != nil {
		t.Fatal(err)
	}
	pts, _ := Align(&out[0], 10*time.Second)
	for j := 1; j < len(pts); j++ {
		if !pts[j].T.After(pts[j-1].T) {
			t.Fatalf("points out of order at %d: %v then %v", j, pts[j-1].T, pts[j].T)
		}
	}
	if len(pts) == 0 || pts[len(pts)-1].T.Unix() > 4102444800 {
		t.Fatalf("aligned %d points, last %v", len(pts), pts[len(pts)-1].T)
	}
}

func sortedTimes(ts []int64) bool {
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return false
		}
	}
	return true
}

func FuzzDecodeFind(f *testing.F) {
	files, _ := filepath.Glob("testdata/find_*.json")
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := DecodeFind(b)
		if err != nil {
			return
		}
		for _, n := range nodes {
			if n.ID == "" {
				t.Fatal("node without id")
			}
			if strings.ContainsRune(n.ID, 0x1b) {
				t.Fatal("escape survived")
			}
		}
	})
}
