package replay

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// The typed fields of the model travel through a recording: a series'
// kind and harm, an event's kind, a node's class, flaps and load-balancer
// and provider figures (NaN included).
func TestRecordingKeepsTheTypedFields(t *testing.T) {
	lb := sources.NewLBNode("be_app")
	lb.Mode, lb.Backup, lb.Addr, lb.Up, lb.Total, lb.Down, lb.Flapping = sources.LBModeTCP, true, "10.0.0.7:80", 1, 3, 2, 1
	lb.Sessions, lb.SessionLimit, lb.Rates.Resp5xx = 4, 100, 2.5
	lb.Check = sources.LBCheck{Status: "L4CON", Failed: true, Last: "Connection refused", Duration: math.NaN()}
	in := &sources.Batch{Source: "lb-1", Type: "haproxy", At: t0,
		Series: []sources.Series{{Name: "hrsp_5xx", Kind: sources.SeriesRate, Harm: sources.HarmUp, Points: []sources.Point{{T: t0, V: 1}}},
			{Name: "idle", Kind: sources.SeriesRatio, Harm: sources.HarmDown, Points: []sources.Point{{T: t0, V: 90}}}},
		Events: []sources.Event{{ID: "f", Kind: sources.EventFlapping, Start: t0}, {ID: "n", Kind: sources.EventNote, Start: t0}},
		Nodes: []sources.NodeState{
			{Kind: sources.NodeServer, ID: "lb-1/be_app/app1", Class: sources.ClassDown, Flaps: 3, FlapWindow: 5 * time.Minute, Flapping: true, LB: lb},
			{Kind: sources.NodeService, ID: "ec2-us-east-1", Class: sources.ClassDegraded,
				Provider: &sources.ProviderNode{Provider: "AWS", Service: "ec2", Region: "us-east-1", Event: "API errors", EventID: "arn:1"}},
		},
	}
	rec := loadBytes(t, writeRecording(t, []*sources.Batch{in}, nil))
	got, err := rec.Batch(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range got.Series {
		if s.Kind != in.Series[i].Kind || s.Harm != in.Series[i].Harm {
			t.Errorf("series %s: kind %v harm %v", s.Name, s.Kind, s.Harm)
		}
	}
	for i, e := range got.Events {
		if e.Kind != in.Events[i].Kind {
			t.Errorf("event %s: kind %v", e.ID, e.Kind)
		}
	}
	n, p := got.Nodes[0], got.Nodes[1]
	if n.Kind != sources.NodeServer || n.Class != sources.ClassDown || n.Flaps != 3 || n.FlapWindow != 5*time.Minute || !n.Flapping || n.LB == nil {
		t.Fatalf("server node %+v", n)
	}
	if fmt.Sprintf("%+v", *n.LB) != fmt.Sprintf("%+v", *lb) {
		t.Errorf("LB figures\n got %+v\nwant %+v", *n.LB, *lb)
	}
	if p.Class != sources.ClassDegraded || p.Provider == nil || *p.Provider != *in.Nodes[1].Provider || p.LB != nil {
		t.Errorf("provider node %+v", p)
	}
}

// Recordings written before the model had its typed fields still decode:
// the fields they lack are unset, the ones gone (node Values) are skipped.
func TestRecordingWrittenBeforeTheTypedFieldsDecodes(t *testing.T) {
	type oldSeries struct {
		Name   string
		Labels map[string]string
		Unit   string
		Role   sources.Role
		Layer  sources.Layer
		Node   string
		Points []sources.Point
	}
	type oldEvent struct {
		ID, Source          string
		Start, End, Updated time.Time
		Severity            sources.Severity
		Layer               sources.Layer
		Node, Title, Text   string
		Labels              map[string]string
	}
	type oldNode struct {
		Kind, ID, Name, Parent, Instance string
		Layer                            sources.Layer
		State                            string
		Severity                         sources.Severity
		Since                            time.Time
		Attrs                            map[string]string
		Values                           map[string]float64
	}
	type oldBatch struct {
		Source, Type string
		At           time.Time
		Series       []oldSeries
		Events       []oldEvent
		Nodes        []oldNode
		Status       sources.Status
	}
	type oldFrame struct {
		Batch    *oldBatch
		NodesSet bool
	}
	old := &oldBatch{Source: "lb-1", Type: "haproxy", At: t0,
		Series: []oldSeries{{Name: "availability", Unit: "%", Role: sources.RoleSymptom, Points: []sources.Point{{T: t0, V: 99.9}}}},
		Events: []oldEvent{{ID: "e", Start: t0, Severity: sources.SevWarning, Title: "app1 flapping", Labels: map[string]string{"kind": "flapping"}}},
		Nodes: []oldNode{{Kind: "server", ID: "lb-1/be_app/app1", Name: "app1", State: "DOWN", Severity: sources.SevWarning,
			Attrs: map[string]string{"flapping": "3 DOWN transitions in 5m0s"}, Values: map[string]float64{"scur": 3}}},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Created: t0, Producer: "opsview before typed fields"})
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	err = w.writeFrame(KindBatch, FlagEvents|FlagNodes, old.At, oldFrame{Batch: old, NodesSet: true})
	w.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := loadBytes(t, buf.Bytes()).Batch(0)
	if err != nil {
		t.Fatal(err)
	}
	s, e, n := got.Series[0], got.Events[0], got.Nodes[0]
	if s.Name != "availability" || s.Points[0].V != 99.9 || s.Kind != sources.SeriesUnknown || s.Harm != sources.HarmUnset {
		t.Errorf("old series %+v", s)
	}
	if e.ID != "e" || e.Title != "app1 flapping" || e.Kind != sources.EventOther {
		t.Errorf("old event %+v", e)
	}
	if n.Kind != sources.NodeServer || n.State != "DOWN" || n.Class != sources.ClassUnknown || n.Flapping || n.LB != nil || n.Attrs["flapping"] == "" {
		t.Errorf("old node %+v", n)
	}
}
