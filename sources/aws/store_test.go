package aws

import (
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// What `opsview check` and the engine will read: the watched services'
// states and the open provider events, through the real store.
func TestStatusBatchThroughTheStoreAndEngine(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-update.json"))
	src := newSource(t, "aws-status", "aws-status", statusYAML(srv, "rss: false"))
	store := correlate.NewStore(correlate.StoreOptions{Step: 10 * time.Second, Retention: time.Hour})

	now := time.Unix(1795420800, 0).UTC()
	b := poll(t, src, now)
	b.Source, b.Type = "aws-status", "aws-status"
	store.Apply(b)
	snap := store.Snapshot(now.Add(-time.Hour), now, nil)

	states := map[string]sources.NodeState{}
	for _, n := range snap.Nodes {
		states[n.ID] = n
	}
	if states["ec2-us-east-1"].State != "disruption" || states["rds-us-east-1"].State != "operational" || states["rds-us-east-1"].Severity != sources.SevOK {
		t.Errorf("nodes in the snapshot: %+v", snap.Nodes)
	}
	open := 0
	var evTitle string
	for _, ev := range snap.Events {
		if ev.Open() && ev.Layer == sources.LayerProvider {
			open++
			evTitle = ev.Title
			if ev.Kind != sources.EventProvider {
				t.Errorf("provider event of kind %v: %+v", ev.Kind, ev)
			}
		}
	}
	if open != 1 {
		t.Errorf("%d open provider events in the snapshot, want 1", open)
	}
	var nodeF, eventF bool
	for _, f := range correlate.Detect(snap) {
		switch {
		case f.ID == "node/ec2-us-east-1":
			nodeF = f.Severity == sources.SevCritical && strings.HasPrefix(f.Title, "AWS says ec2 us-east-1 has a disruption") && f.Layer == sources.LayerProvider
			// the service's open event is told in the service's finding
			eventF = evTitle != "" && strings.Contains(f.Explanation, evTitle)
		case strings.HasPrefix(f.ID, "event/aws-status/"):
			t.Errorf("the event stands beside its service's finding: %+v", f)
		case strings.HasPrefix(f.ID, "node/rds"):
			t.Errorf("an operational service raised a finding: %+v", f)
		}
	}
	if !nodeF || !eventF {
		t.Errorf("findings: node %v event %v", nodeF, eventF)
	}

	// resolution reaches the store: the event closes, the service is green
	srv.set("/public/currentevents", "application/json", readTestdata(t, "status/ce-resolved.json"))
	b = poll(t, src, now.Add(time.Minute))
	b.Source, b.Type = "aws-status", "aws-status"
	store.Apply(b)
	snap = store.Snapshot(now.Add(-time.Hour), now.Add(time.Minute), nil)
	for _, ev := range snap.Events {
		if ev.Open() {
			t.Errorf("event still open after resolution: %+v", ev)
		}
	}
	for _, f := range correlate.Detect(snap) {
		if strings.Contains(f.ID, "aws-status") || strings.HasPrefix(f.ID, "node/") {
			t.Errorf("finding left after resolution: %+v", f)
		}
	}
}
