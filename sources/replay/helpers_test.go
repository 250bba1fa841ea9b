package replay

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

var t0 = time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)

// syntheticBatch is one poll of a source with n series of one point each;
// every seventh value is missing (NaN).
func syntheticBatch(source string, at time.Time, n int) *sources.Batch {
	b := &sources.Batch{Source: source, Type: "synthetic", At: at, Status: sources.Status{Source: source, Health: sources.HealthOK, LastSuccess: at}}
	b.Series = make([]sources.Series, n)
	k := at.Unix() / 10
	for i := range b.Series {
		v := float64((int64(i)*31+k*17)%1000) / 10
		if (int64(i)+k)%7 == 0 {
			v = math.NaN()
		}
		b.Series[i] = sources.Series{
			Name:   "node_load",
			Labels: map[string]string{"instance": fmt.Sprintf("host-%04d:9100", i), "job": "node"},
			Unit:   "", Role: sources.RoleResource, Layer: sources.LayerHost,
			Node:   fmt.Sprintf("host-%04d", i),
			Points: []sources.Point{{T: at, V: v}},
		}
	}
	return b
}

// incidentBatches is a small HAProxy-like incident: a server goes DOWN at
// minute 2 and comes back at minute 5, 5xx rise meanwhile.
func incidentBatches() []*sources.Batch {
	var out []*sources.Batch
	for i := 0; i < 48; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		down := i >= 12 && i < 30
		fivexx := 0.2
		state, sev := "UP", sources.SevOK
		if down {
			fivexx, state, sev = 14.5, "DOWN", sources.SevCritical
		}
		if i == 20 {
			fivexx = math.NaN()
		}
		lb := &sources.Batch{Source: "lb-1", Type: "haproxy", At: at,
			Series: []sources.Series{{
				Name: "hrsp_5xx_rate", Labels: map[string]string{"backend": "be_app"}, Unit: "req/s",
				Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "be_app",
				Points: []sources.Point{{T: at, V: fivexx}},
			}},
			Nodes: []sources.NodeState{{Kind: "server", ID: "lb-1/be_app/app-2", Name: "app-2", Parent: "lb-1/be_app",
				Layer: sources.LayerApp, State: state, Severity: sev, Since: t0,
				Attrs: map[string]string{"check_status": "L4CON"}}},
			Status: sources.Status{Source: "lb-1", Health: sources.HealthOK},
		}
		if i == 12 {
			lb.Events = []sources.Event{{ID: "srv/app-2", Start: at, Severity: sources.SevCritical, Layer: sources.LayerApp, Node: "app-2", Title: "server app-2 DOWN", Text: "Layer4 connection problem"}}
		}
		if i == 30 {
			lb.Events = []sources.Event{{ID: "srv/app-2", Start: t0.Add(120 * time.Second), End: at, Severity: sources.SevOK, Layer: sources.LayerApp, Node: "app-2", Title: "server app-2 UP"}}
		}
		out = append(out, lb)
		iow := 3.0
		if i >= 10 && i < 31 {
			iow = 92
		}
		prom := &sources.Batch{Source: "prom", Type: "prometheus", At: at.Add(2 * time.Second),
			Series: []sources.Series{{
				Name: "node_cpu_iowait", Labels: map[string]string{"instance": "db-1"}, Unit: "%",
				Role: sources.RoleResource, Layer: sources.LayerDB, Node: "db-1",
				Points: []sources.Point{{T: at, V: iow}},
			}},
			Status: sources.Status{Source: "prom", Health: sources.HealthOK},
		}
		if i == 40 {
			prom.Status.Health = sources.HealthFailing
			prom.Status.LastError = "connection refused"
		}
		out = append(out, prom)
	}
	return out
}

// writeRecording records batches (and notes) into memory.
func writeRecording(t testing.TB, batches []*sources.Batch, notes []Annotation) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Created: t0, Config: "sources:\n  - name: lb-1\n    type: haproxy\n", Producer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := w.WriteBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range notes {
		if err := w.WriteAnnotation(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func loadBytes(t testing.TB, data []byte) *Recording {
	t.Helper()
	rec, err := Load(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
