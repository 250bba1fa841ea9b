package munin

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "munin-node-2.0.73", name))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := readAnswer(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return lines
}

func TestCPUConfigHasItsDerivedFieldsAndPercentUnit(t *testing.T) {
	gs, err := ParseConfig("cpu", fixture(t, "config_cpu.txt"))
	if err != nil || len(gs) != 1 {
		t.Fatalf("%v %v", gs, err)
	}
	g := gs[0]
	if g.Name != "cpu" || g.Title != "CPU usage" || g.Category != "system" || Unit(g.VLabel, g.Period) != "%" {
		t.Errorf("%+v", g)
	}
	io := g.has("iowait")
	if io == nil || io.Type != "DERIVE" || io.Label != "iowait" || io.Min != 0 || !math.IsNaN(io.Max) || io.Scale != 1 {
		t.Errorf("iowait %+v", io)
	}
	if len(g.Fields) != 9 {
		t.Errorf("%d fields", len(g.Fields))
	}
}

func TestMultigraphConfigIsOneGraphPerSection(t *testing.T) {
	gs, err := ParseConfig("diskstats", fixture(t, "config_diskstats.txt"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*Graph{}
	for i := range gs {
		names[gs[i].Name] = &gs[i]
	}
	lat := names["diskstats_latency.vda"]
	if len(gs) != 8 || lat == nil || lat.has("avgwait").Label != "IO Wait time" || Unit(lat.VLabel, lat.Period) != "s" {
		t.Fatalf("%d graphs, latency %+v", len(gs), lat)
	}
	if u := names["diskstats_throughput"]; Unit(u.VLabel, u.Period) != "B/s" {
		t.Errorf("throughput unit %q from %q", Unit(u.VLabel, u.Period), u.VLabel)
	}
	vals, err := ParseFetch("diskstats", fixture(t, "fetch_diskstats_second.txt"))
	if err != nil || len(vals) != 17 || vals[0].Graph != "diskstats_latency" || vals[0].Field != "vda_avgwait" {
		t.Fatalf("%d values %v: %+v", len(vals), err, vals[:1])
	}
	if first, _ := ParseFetch("diskstats", fixture(t, "fetch_diskstats.txt")); len(first) != 0 {
		t.Errorf("the first fetch of a stateful plugin has no values: %v", first)
	}
}

func TestInterfaceTrafficIsInBitsByItsCdef(t *testing.T) {
	gs, _ := ParseConfig("if_eth0", fixture(t, "config_if_eth0.txt"))
	g := gs[0]
	if down := g.has("down"); down.Scale != 8 || down.Type != "DERIVE" || down.Label != "received" {
		t.Errorf("down %+v", down)
	}
	if u := Unit(g.VLabel, g.Period); u != "bit/s" {
		t.Errorf("unit %q from %q", u, g.VLabel)
	}
}

func TestFetchValuesUnknownsAndTimestamps(t *testing.T) {
	vals, err := ParseFetch("load", fixture(t, "fetch_load.txt"))
	if err != nil || len(vals) != 1 || vals[0].Field != "load" || vals[0].V != 6.41 {
		t.Fatalf("%+v %v", vals, err)
	}
	vals, err = ParseFetch("x", []string{"a.value U", "b.value 1700000000:2.5", "c.extinfo words", "d.value -Inf"})
	if err != nil || len(vals) != 3 || !math.IsNaN(vals[0].V) || vals[1].V != 2.5 || vals[1].At.Unix() != 1700000000 || !math.IsNaN(vals[2].V) {
		t.Fatalf("%+v %v", vals, err)
	}
	for _, bad := range []string{"a.value twelve", "a.value x:1", "multigraph"} {
		if _, err := ParseFetch("x", []string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestTheNodeRefusingIsAnErrorInItsWords(t *testing.T) {
	_, err := readAnswer(bufio.NewReader(strings.NewReader("# Unknown service\n.\n")))
	if !errors.Is(err, ErrNodeSays) || !strings.Contains(err.Error(), `"Unknown service"`) {
		t.Fatalf("%v", err)
	}
	if _, err := readAnswer(bufio.NewReader(strings.NewReader("load.value 1\n"))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("an answer without its end: %v", err)
	}
}

func TestLongLinesAndEndlessAnswersAreRefused(t *testing.T) {
	long := strings.Repeat("x", MaxLine+1) + "\n.\n"
	if _, err := readAnswer(bufio.NewReader(strings.NewReader(long))); err == nil || !strings.Contains(err.Error(), "longer than 64 KiB") {
		t.Errorf("long line: %v", err)
	}
	many := strings.Repeat("a.value 1\n", MaxAnswerLines+1) + ".\n"
	if _, err := readAnswer(bufio.NewReader(strings.NewReader(many))); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("many lines: %v", err)
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"%", ""}:     "%",
		{"Bytes", ""}: "B",
		{"bits in (-) / out (+) per ${graph_period}", ""}:  "bit/s",
		{"Bytes/${graph_period} read (-) / write (+)", ""}: "B/s",
		{"IOs/${graph_period} read (-) / write (+)", ""}:   "IOs/s",
		{"forks / ${graph_period}", "minute"}:              "forks / min",
		{"load", ""}:                                       "load",
		{"seconds", ""}:                                    "s",
		{strings.Repeat("long ", 10), ""}:                  "long long long long long…",
	} {
		if got := Unit(in[0], in[1]); got != want {
			t.Errorf("%q %q: %q, want %q", in[0], in[1], got, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, n := range []string{"config_cpu.txt", "config_diskstats.txt", "config_if_eth0.txt", "config_df.txt", "config_memory.txt"} {
		b, _ := os.ReadFile(filepath.Join("testdata", "munin-node-2.0.73", n))
		f.Add(b)
	}
	f.Add([]byte("multigraph\n.\n"))
	f.Add([]byte("a.cdef a,0,/\na.type derive\n.\n"))
	f.Add([]byte("a.warning 5:\na.critical :1e400\nb.warning nan:-inf\n.\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := readAnswer(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		gs, err := ParseConfig("p", lines)
		if err != nil {
			return
		}
		for _, g := range gs {
			for _, fl := range g.Fields {
				if fl.Scale == 0 || math.IsNaN(fl.Scale) || math.IsInf(fl.Scale, 0) {
					t.Fatalf("field %+v", fl)
				}
				for _, r := range []Range{fl.Warning, fl.Critical} {
					if r.HasMin && (math.IsNaN(r.Min) || math.IsInf(r.Min, 0)) || r.HasMax && (math.IsNaN(r.Max) || math.IsInf(r.Max, 0)) || r.Outside(math.NaN()) {
						t.Fatalf("threshold %+v of %+v", r, fl)
					}
				}
			}
			_ = Unit(g.VLabel, g.Period)
		}
	})
}

func FuzzParseFetch(f *testing.F) {
	for _, n := range []string{"fetch_cpu.txt", "fetch_diskstats_second.txt", "fetch_memory.txt", "fetch_if_eth0.txt"} {
		b, _ := os.ReadFile(filepath.Join("testdata", "munin-node-2.0.73", n))
		f.Add(b)
	}
	f.Add([]byte("a.value 1:U\nb.value 99999999999999999999:1\n.\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := readAnswer(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		vals, err := ParseFetch("p", lines)
		if err != nil {
			return
		}
		for _, v := range vals {
			if math.IsInf(v.V, 0) || v.Graph == "" || v.Field == "" {
				t.Fatalf("%+v", v)
			}
		}
	})
}
