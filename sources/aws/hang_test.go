package aws

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// A feed or an AWS endpoint that never answers must fail the poll when the
// scheduler's timeout ends it, and say so.
func TestHangingEndpointsFailAtTheTimeout(t *testing.T) {
	isolateAWS(t, true)
	release := make(chan struct{})
	defer close(release)
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	feeds := newFeedServer(t)
	feeds.setHandler("/public/currentevents", hang)
	cw := newCWServer(t)
	cw.Config.Handler = http.HandlerFunc(hang)
	hs := newHealthServer(t)
	hs.Config.Handler = http.HandlerFunc(hang)

	for _, c := range []struct {
		name string
		src  sources.Source
		want string
	}{
		{"aws-status", newSource(t, "aws-status", "s", "url: "+feeds.URL+"/public/currentevents\nrss: false\n"), "context deadline exceeded"},
		{"cloudwatch", newSource(t, "cloudwatch", "cw", "endpoint: "+cw.URL+"\nec2_instances: [i-1]\n"), "raise timeout"},
		{"aws-health", newSource(t, "aws-health", "h", "endpoint: "+hs.URL+"\nfailover_endpoint: "+hs.URL+"\n"), "raise timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := c.src.Poll(ctx, sources.Request{Now: testNow})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want %q", err, c.want)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q should say %q", err, c.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Poll did not return after its context ended")
			}
		})
	}
}
