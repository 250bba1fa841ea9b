package haproxy

import (
	"bytes"
	"strings"
	"testing"
)

// The typed and JSON answers of the same HAProxy at the same moment give
// the same rows and values as its CSV.
func TestTypedAndJSONCapturesParseLikeTheCSV(t *testing.T) {
	csv, err := ParseStat(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat.csv")))
	if err != nil {
		t.Fatal(err)
	}
	typed, err := ParseStatTyped(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat_typed.txt")))
	if err != nil {
		t.Fatal(err)
	}
	js, err := ParseStatJSON(bytes.NewReader(readTestdata(t, "haproxy-2.6/show_stat.json")))
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*Stats{"typed": typed, "json": js} {
		if len(st.Rows) != len(csv.Rows) {
			t.Fatalf("%s: %d rows, csv %d", name, len(st.Rows), len(csv.Rows))
		}
		compared := 0
		for i := range csv.Rows {
			c := &csv.Rows[i]
			r := find(st, c.Proxy, c.Server)
			if r == nil {
				t.Errorf("%s: %s/%s missing", name, c.Proxy, c.Server)
				continue
			}
			if r.Status != c.Status || r.Type != c.Type {
				t.Errorf("%s: %s/%s status %q type %v, csv %q %v", name, c.Proxy, c.Server, r.Status, r.Type, c.Status, c.Type)
			}
			for _, f := range []Field{Scur, Stot, Hrsp5xx, Econ, Chkfail, Chkdown, Weight, Act, Lastchg} {
				a, b := r.Get(f), c.Get(f)
				if a != b && !(a != a && b != b) {
					t.Errorf("%s: %s/%s %s = %v, csv %v", name, c.Proxy, c.Server, f, a, b)
				}
				compared++
			}
		}
		if compared < 100 {
			t.Errorf("%s: only %d values compared", name, compared)
		}
	}
}

func TestTypedAndJSONBadInput(t *testing.T) {
	for _, in := range []string{"", "garbage\n", "F.x.y:z\n"} {
		if _, err := ParseStatTyped(strings.NewReader(in)); err == nil {
			t.Errorf("typed %q accepted", in)
		}
	}
	for _, in := range []string{"", "{", `{"a":1}`, "[]"} {
		if _, err := ParseStatJSON(strings.NewReader(in)); err == nil {
			t.Errorf("json %q accepted", in)
		}
	}
	// a value with a comma survives the trip through the CSV form
	st, err := ParseStatTyped(strings.NewReader("S.3.1.0.pxname.1:KNS:str:be\nS.3.1.1.svname.1:KNS:str:a,b\nS.3.1.17.status.1:SGP:str:UP\n"))
	if err != nil || len(st.Rows) != 1 || st.Rows[0].Server != "a,b" {
		t.Fatalf("%+v %v", st, err)
	}
}

func FuzzParseStatTyped(f *testing.F) {
	f.Add(readTestdata(f, "haproxy-2.6/show_stat_typed.txt"))
	f.Add([]byte("S.3.1.0.pxname.1:KNS:str:be\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatTyped(bytes.NewReader(b))
		if err == nil && st == nil {
			t.Fatal("nil stats without an error")
		}
	})
}

func FuzzParseStatJSON(f *testing.F) {
	f.Add(readTestdata(f, "haproxy-2.6/show_stat.json"))
	f.Add([]byte(`[[{"objType":"Server","field":{"pos":0,"name":"pxname"},"value":{"value":"be"}}]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatJSON(bytes.NewReader(b))
		if err == nil && st == nil {
			t.Fatal("nil stats without an error")
		}
	})
}
