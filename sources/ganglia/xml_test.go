package ganglia

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseFile(t testing.TB, name string) *Dump {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func TestRealGmondDumpIsItsClusterHostAndMetrics(t *testing.T) {
	d := parseFile(t, "gmond-3.7.2.xml")
	if d.Source != "gmond" || d.Version != "3.7.2" || len(d.Clusters) != 1 {
		t.Fatalf("%+v", d)
	}
	c := d.Clusters[0]
	if c.Name != "opsview-test" || len(c.Hosts) != 1 || c.Summary != nil || c.LocalTime.Unix() != 1796657802 {
		t.Fatalf("%+v", c)
	}
	h := c.Hosts[0]
	if h.Name != "localhost" || h.IP != "127.0.0.1" || h.Down() || len(h.Metrics) != 32 {
		t.Fatalf("%s %s down=%v %d metrics", h.Name, h.IP, h.Down(), len(h.Metrics))
	}
	byName := map[string]Metric{}
	for _, m := range h.Metrics {
		byName[m.Name] = m
	}
	if m := byName["load_one"]; m.Value != 5.09 || m.Units != "" || m.Slope != "both" || !m.Numeric() || m.Group != "load" {
		t.Errorf("load_one %+v", m)
	}
	if m := byName["os_name"]; m.Numeric() || m.Text != "Linux" {
		t.Errorf("os_name %+v", m)
	}
	if m := byName["mem_free"]; m.Units != "KB" || m.Title != "Free Memory" {
		t.Errorf("mem_free %+v", m)
	}
}

func TestGmetadGridHasClustersAndSummaries(t *testing.T) {
	d := parseFile(t, "gmetad-grid.xml")
	if d.Source != "gmetad" || len(d.Clusters) != 2 {
		t.Fatalf("%+v", d)
	}
	db, west := d.Clusters[0], d.Clusters[1]
	if db.Name != "db" || db.Grid != "dc-east" || len(db.Hosts) != 3 || !db.Hosts[2].Down() || db.Hosts[0].Down() {
		t.Errorf("db %+v", db)
	}
	if !west.GridTotal || west.Name != "dc-west" || west.Summary == nil || west.Summary.Up != 40 || west.Summary.Down != 2 ||
		len(west.Summary.Metrics) != 2 || west.Summary.Metrics[1].Value != 400 || west.Summary.Metrics[1].Num != 40 {
		t.Errorf("west %+v %+v", west, west.Summary)
	}
}

// encoding/xml expands no entity of the DTD and loads nothing external:
// the classic blow-ups and file reads are errors, never expansions.
func TestEntitiesAreNeverExpanded(t *testing.T) {
	for name, doc := range map[string]string{
		"billion laughs": `<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` +
			`<GANGLIA_XML VERSION="&b;" SOURCE="gmond"></GANGLIA_XML>`,
		"external": `<?xml version="1.0"?><!DOCTYPE g [<!ENTITY x SYSTEM "file:///etc/passwd">]><GANGLIA_XML SOURCE="gmond"><CLUSTER NAME="&x;"/></GANGLIA_XML>`,
	} {
		if d, err := Parse(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: parsed %+v", name, d)
		}
	}
}

func TestDeepNestingAndStrayElementsAreRefused(t *testing.T) {
	deep := `<GANGLIA_XML SOURCE="gmond">` + strings.Repeat("<GRID NAME=\"g\">", 20) + strings.Repeat("</GRID>", 20) + `</GANGLIA_XML>`
	if _, err := Parse(strings.NewReader(deep)); err == nil || !strings.Contains(err.Error(), "deeper than 16") {
		t.Errorf("deep: %v", err)
	}
	for _, doc := range []string{
		`<GANGLIA_XML SOURCE="gmond"><HOST NAME="h"/></GANGLIA_XML>`,
		`<html><body>502 Bad Gateway</body></html>`,
		`<GANGLIA_XML SOURCE="gmond"><CLUSTER NAME="c">`,
		`SSH-2.0-OpenSSH_9.2`,
	} {
		if _, err := Parse(strings.NewReader(doc)); err == nil {
			t.Errorf("%q: no error", doc)
		}
	}
}

func TestLatin1NamesAreRead(t *testing.T) {
	doc := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><GANGLIA_XML SOURCE=\"gmond\"><CLUSTER NAME=\"caf\xe9\"></CLUSTER></GANGLIA_XML>")
	d, err := Parse(bytes.NewReader(doc))
	if err != nil || d.Clusters[0].Name != "café" {
		t.Fatalf("%+v %v", d, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"gmond-3.7.2.xml", "gmetad-grid.xml"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Add([]byte(`<GANGLIA_XML><GRID><HOSTS UP="1" DOWN="x"/><METRICS NAME="a" SUM="NaN"/></GRID><METRICS/></GANGLIA_XML>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, c := range d.Clusters {
			for _, h := range c.Hosts {
				for _, m := range h.Metrics {
					if math.IsInf(m.Value, 0) {
						t.Fatalf("%+v", m)
					}
				}
			}
		}
	})
}
