package replay

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources"
)

// captureBatch turns a real HAProxy `show stat` capture into a batch: one
// series per numeric column of each row (empty cells are NaN), one node
// state per row.
func captureBatch(t testing.TB) *sources.Batch {
	t.Helper()
	data, err := os.ReadFile("testdata/bkrs_haproxy_2_5_5_show_stat.csv")
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(data), "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := rows[0]
	b := &sources.Batch{Source: "lb-real", Type: "haproxy", At: t0, Nodes: []sources.NodeState{}}
	for _, row := range rows[1:] {
		labels := map[string]string{"pxname": row[0], "svname": row[1]}
		for i := 2; i < len(row) && i < len(head); i++ {
			v := math.NaN()
			if row[i] != "" {
				f, err := strconv.ParseFloat(row[i], 64)
				if err != nil {
					continue
				}
				v = f
			}
			b.Series = append(b.Series, sources.Series{Name: head[i], Labels: labels, Role: sources.RoleTraffic, Layer: sources.LayerLB, Node: row[0], Points: []sources.Point{{T: t0, V: v}}})
		}
		b.Nodes = append(b.Nodes, sources.NodeState{Kind: "server", ID: row[0] + "/" + row[1], Name: row[1], Parent: row[0], State: row[17]})
	}
	return b
}

func TestRealHAProxyCaptureRoundTrips(t *testing.T) {
	in := captureBatch(t)
	if len(in.Series) < 100 || len(in.Nodes) < 3 {
		t.Fatalf("capture gave %d series, %d nodes", len(in.Series), len(in.Nodes))
	}
	rec := loadBytes(t, writeRecording(t, []*sources.Batch{in}, nil))
	got, err := rec.Batch(0)
	if err != nil {
		t.Fatal(err)
	}
	if dump(got) != dump(in) {
		t.Fatal("the real capture changed on the way through the recording")
	}
}
