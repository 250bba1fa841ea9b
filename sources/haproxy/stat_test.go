package haproxy

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func find(st *Stats, px, sv string) *Row {
	for i := range st.Rows {
		if st.Rows[i].Proxy == px && st.Rows[i].Server == sv {
			return &st.Rows[i]
		}
	}
	return nil
}

func TestEveryCSVCaptureParses(t *testing.T) {
	files, _ := filepath.Glob("testdata/haproxy-2.6/*.csv")
	series, _ := filepath.Glob("testdata/haproxy-2.6/series/*.csv")
	other, _ := filepath.Glob("testdata/haproxy-csv/*.csv")
	files = append(append(files, series...), other...)
	if len(files) < 20 {
		t.Fatalf("only %d captures found", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			st, err := ParseStat(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Rows) == 0 {
				t.Fatal("no rows")
			}
			// every line with a name pair becomes a row
			want := 0
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "pxname,") {
					want++
				}
			}
			if len(st.Rows)+st.Skipped != want {
				t.Errorf("rows %d + skipped %d != data lines %d", len(st.Rows), st.Skipped, want)
			}
			for _, r := range st.Rows {
				if r.Type < TypeFrontend || r.Type > TypeListener {
					t.Errorf("%s/%s: type %d", r.Proxy, r.Server, r.Type)
				}
			}
		})
	}
}

func TestShowStatKeyFields(t *testing.T) {
	st, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 0 || st.BadValues != 0 {
		t.Errorf("skipped %d bad %d", st.Skipped, st.BadValues)
	}
	cases := []struct {
		px, sv, status, check string
		typ                   ObjType
	}{
		{"fe_web", "FRONTEND", "OPEN", "", TypeFrontend},
		{"be_app", "app1", "UP", "L7OK", TypeServer},
		{"be_app", "app3", "DOWN", "L4CON", TypeServer},
		{"be_app", "app4", "DRAIN", "", TypeServer},
		{"be_api", "api1", "DOWN", "L7STS", TypeServer},
		{"be_api", "api3", "MAINT", "", TypeServer},
		{"be_api", "BACKEND", "DOWN", "", TypeBackend},
		{"li_tcp", "t2", "DOWN", "L4CON", TypeServer},
	}
	for _, c := range cases {
		r := find(st, c.px, c.sv)
		if r == nil {
			t.Errorf("%s/%s missing", c.px, c.sv)
			continue
		}
		if r.Status != c.status || r.CheckStatus != c.check || r.Type != c.typ {
			t.Errorf("%s/%s: status %q check %q type %v", c.px, c.sv, r.Status, r.CheckStatus, r.Type)
		}
	}
	api := find(st, "be_api", "BACKEND")
	if api.Get(Hrsp5xx) != 7 {
		t.Errorf("be_api hrsp_5xx = %v, want 7", api.Get(Hrsp5xx))
	}
	app3 := find(st, "be_app", "app3")
	if app3.LastChk != "Connection refused" || app3.CheckDesc != "Layer4 connection problem" {
		t.Errorf("app3 last_chk %q desc %q", app3.LastChk, app3.CheckDesc)
	}
	if app3.Addr != "127.0.0.1:18003" {
		t.Errorf("app3 addr %q", app3.Addr)
	}
	fe := find(st, "fe_web", "FRONTEND")
	if !math.IsNaN(fe.Get(Qcur)) {
		t.Errorf("frontend qcur should be NaN (empty), got %v", fe.Get(Qcur))
	}
	if fe.Get(Slim) != 256 || fe.Mode != "http" {
		t.Errorf("fe slim %v mode %q", fe.Get(Slim), fe.Mode)
	}
}

func TestHTTPCSVHasNoAddrButParses(t *testing.T) {
	st, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-2.6/stats_http.csv")))
	if err != nil {
		t.Fatal(err)
	}
	r := find(st, "be_app", "app3")
	if r == nil || r.Status != "DOWN" || r.Addr != "" {
		t.Fatalf("app3 over HTTP: %+v", r)
	}
}

func TestUnderLoadQueueIsOnBackend(t *testing.T) {
	st, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat_under_load.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if q := find(st, "be_app", "BACKEND").Get(Qcur); q != 28 {
		t.Errorf("BACKEND qcur %v, want 28", q)
	}
}

func TestOldAndNewHeaders(t *testing.T) {
	// HAProxy 1.5 header (no '#', fewer columns)
	h15 := "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,\n"
	row := "be,s1,0,0,3,5,10,100,1,2,,0,,4,5,0,0,UP,1,1,0,6,7,8,9,,1,2,3,,10,,2,0,,1,L7OK,200,12,0,90,0,0,11,0,,,,,0,0,0,0,0,0,5,\n"
	st, err := ParseStat(strings.NewReader(h15 + row))
	if err != nil {
		t.Fatal(err)
	}
	r := find(st, "be", "s1")
	if r == nil || r.Get(Scur) != 3 || r.Get(Hrsp5xx) != 11 || r.Get(Econ) != 4 || r.Get(Chkdown) != 7 || r.CheckStatus != "L7OK" {
		t.Fatalf("1.5 row: %+v", r)
	}
	if !math.IsNaN(r.Get(Rtime)) || r.CheckDesc != "" {
		t.Errorf("columns absent from a 1.5 header must be NaN/empty")
	}
	// the same data with the columns shuffled and unknown ones added: found by name
	cols := strings.Split(strings.TrimSuffix(h15, ",\n"), ",")
	vals := strings.Split(strings.TrimSuffix(row, ",\n"), ",")
	for i := 0; i < len(cols)/2; i++ {
		j := len(cols) - 1 - i
		cols[i], cols[j] = cols[j], cols[i]
		vals[i], vals[j] = vals[j], vals[i]
	}
	shuffled := "# " + strings.Join(cols, ",") + ",-,future_a,h9_x,\n" + strings.Join(vals, ",") + ",,7,hello,\n"
	st2, err := ParseStat(strings.NewReader(shuffled))
	if err != nil {
		t.Fatal(err)
	}
	r2 := find(st2, "be", "s1")
	if r2 == nil {
		t.Fatal("row lost")
	}
	r.LastChk, r2.LastChk = "", ""
	if fmt.Sprint(*r) != fmt.Sprint(*r2) {
		t.Errorf("shuffled header gives a different row:\n%v\n%v", *r, *r2)
	}
}

func TestHAProxy25And26DifferAtAggColumnsButParse(t *testing.T) {
	for _, f := range []string{"haproxy-csv/bkrs_haproxy_2_5_5_show_stat.csv", "haproxy-2.6/show_stat.csv"} {
		st, err := ParseStat(bytes.NewReader(readTestdata(t, f)))
		if err != nil {
			t.Fatal(f, err)
		}
		if len(st.Columns) < 100 || st.BadValues != 0 {
			t.Errorf("%s: %d columns, %d bad values", f, len(st.Columns), st.BadValues)
		}
	}
}

func TestShortRowFromDrainAgentBug(t *testing.T) {
	// header taken from the 1.7 layout; the exporter fixture has none
	st, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-csv/exporter_broken_csv_missing_comma.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if !st.NoHeader || len(st.Rows) != 4 {
		t.Fatalf("rows %d noheader %v", len(st.Rows), st.NoHeader)
	}
	r := find(st, "foo", "bug-missing-comma")
	if r == nil || !strings.HasPrefix(r.Status, "DRAIN (agent)") {
		t.Fatalf("short row: %+v", r)
	}
}

func TestTruncatedAnswerSkipsTheCutLine(t *testing.T) {
	b := readTestdata(t, "haproxy-2.6/show_stat.csv")
	full, _ := ParseStatBytes(b)
	cut := b[:len(b)-200]
	st, err := ParseStatBytes(cut)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 || len(st.Rows) != len(full.Rows)-1 {
		t.Errorf("rows %d (full %d) skipped %d", len(st.Rows), len(full.Rows), st.Skipped)
	}
}

func TestMalformedRowsAreCountedAndSkipped(t *testing.T) {
	in := "# pxname,svname,scur,status,\n,,1,UP,\nbe,s1,2,UP,\njunk\nbe,s2,x,DOWN,\n\n"
	st, err := ParseStat(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 2 || st.Skipped != 2 || st.BadValues != 1 {
		t.Errorf("rows %d skipped %d bad %d", len(st.Rows), st.Skipped, st.BadValues)
	}
	if s2 := find(st, "be", "s2"); s2 == nil || !math.IsNaN(s2.Get(Scur)) {
		t.Errorf("bad value must read NaN: %+v", s2)
	}
}

func TestQuotedFields(t *testing.T) {
	in := "# pxname,svname,status,last_chk,scur,\nbe,s1,DOWN,\"HTTP status check returned code <\"\"500\"\">, oops\",4,\n"
	st, err := ParseStat(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	r := find(st, "be", "s1")
	if r == nil || r.LastChk != `HTTP status check returned code <"500">, oops` || r.Get(Scur) != 4 {
		t.Fatalf("%+v", r)
	}
}

func TestNotAStatAnswer(t *testing.T) {
	for _, in := range []string{"Permission denied\n\n", "Unknown command, but maybe one of the following ones is a better match:\n", ""} {
		if _, err := ParseStat(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseStatIsBounded(t *testing.T) {
	big := strings.Repeat("be,s1,0,0,1,1,10,\n", 1000)
	_, err := ParseStatLimit(strings.NewReader("# pxname,svname,qcur,qmax,scur,smax,slim,\n"+big), 4096)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
}

// The JSON form of the same capture (show stat json) must agree with the
// CSV on the fields opsview uses.
func TestJSONCaptureAgreesWithCSV(t *testing.T) {
	st, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat.csv")))
	if err != nil {
		t.Fatal(err)
	}
	var objs [][]struct {
		ObjType string `json:"objType"`
		Field   struct {
			Name string `json:"name"`
		} `json:"field"`
		Value struct {
			Value any `json:"value"`
		} `json:"value"`
	}
	if err := json.Unmarshal(readTestdata(t, "haproxy-2.6/show_stat.json"), &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(st.Rows) {
		t.Fatalf("json %d objects, csv %d rows", len(objs), len(st.Rows))
	}
	checked := 0
	for _, o := range objs {
		kv := map[string]any{}
		for _, f := range o {
			kv[f.Field.Name] = f.Value.Value
		}
		r := find(st, fmt.Sprint(kv["pxname"]), fmt.Sprint(kv["svname"]))
		if r == nil {
			t.Errorf("%v/%v not in CSV", kv["pxname"], kv["svname"])
			continue
		}
		if s, ok := kv["status"]; ok && s != r.Status {
			t.Errorf("%s/%s status json %v csv %v", r.Proxy, r.Server, s, r.Status)
		}
		for _, f := range []Field{Scur, Stot, Hrsp5xx, Econ, Chkdown, Act} {
			if v, ok := kv[f.String()]; ok {
				if v.(float64) != r.Get(f) {
					t.Errorf("%s/%s %s json %v csv %v", r.Proxy, r.Server, f, v, r.Get(f))
				}
				checked++
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d values compared", checked)
	}
}

// show stat typed: `S.4.1.4.scur.1:MGP:u32:0`; compare with the CSV.
func TestTypedCaptureAgreesWithCSV(t *testing.T) {
	st, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat.csv")))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ obj, name string }
	vals := map[key]string{}
	names := map[string][2]string{}
	for _, l := range strings.Split(string(readTestdata(t, "haproxy-2.6/show_stat_typed.txt")), "\n") {
		p := strings.SplitN(l, ":", 4)
		if len(p) != 4 {
			continue
		}
		d := strings.Split(p[0], ".")
		if len(d) < 6 {
			continue
		}
		obj := strings.Join(d[:3], ".")
		vals[key{obj, d[4]}] = p[3]
		n := names[obj]
		if d[4] == "pxname" {
			n[0] = p[3]
		}
		if d[4] == "svname" {
			n[1] = p[3]
		}
		names[obj] = n
	}
	checked := 0
	for obj, n := range names {
		r := find(st, n[0], n[1])
		if r == nil {
			t.Errorf("%v not in CSV", n)
			continue
		}
		for _, f := range []Field{Scur, Stot, Hrsp5xx, Chkfail, Weight} {
			if v, ok := vals[key{obj, f.String()}]; ok {
				if fmt.Sprint(r.Get(f)) != v {
					t.Errorf("%v %s typed %s csv %v", n, f, v, r.Get(f))
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Errorf("only %d compared", checked)
	}
}

func FuzzParseStat(f *testing.F) {
	files, _ := filepath.Glob("testdata/haproxy-*/*.csv")
	series, _ := filepath.Glob("testdata/haproxy-2.6/series/*.csv")
	for _, p := range append(files, series...) {
		b, err := os.ReadFile(p)
		if err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("# pxname,svname,status,\n\"a\"\"b\",\"c,d\",UP\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatLimit(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		for _, r := range st.Rows {
			if r.Proxy == "" || r.Server == "" {
				t.Fatalf("row without names: %+v", r)
			}
			for _, v := range r.V {
				if math.IsInf(v, 0) {
					t.Fatal("infinite value")
				}
			}
		}
	})
}

// bigStat builds a 2.6-layout `show stat` with n servers from the capture.
func bigStat(tb testing.TB, n int) []byte {
	b := readTestdata(tb, "haproxy-2.6/show_stat.csv")
	lines := strings.Split(string(b), "\n")
	var server string
	for _, l := range lines {
		if strings.HasPrefix(l, "be_app,app1,") {
			server = strings.TrimPrefix(l, "be_app,app1,")
		}
	}
	var out bytes.Buffer
	out.WriteString(lines[0] + "\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&out, "be_%d,srv%d,%s\n", i/100, i, server)
	}
	out.WriteString("\n")
	return out.Bytes()
}

func BenchmarkParseStat10k(b *testing.B) {
	data := bigStat(b, 10000)
	b.Run("opsview", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			st, err := ParseStatBytes(data)
			if err != nil || len(st.Rows) != 10000 {
				b.Fatal(err, len(st.Rows))
			}
		}
	})
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.FieldsPerRecord = -1
			r.ReuseRecord = true
			n := 0
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 10001 {
				b.Fatal(n)
			}
		}
	})
}
