package prometheus

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// The addresses DiscoverLocal tries.
const (
	LocalPrometheus = "http://localhost:9090"
	LocalExporter   = "http://localhost:9100/metrics"
)

// discoverTimeout bounds each probe: discovery must not delay the start.
const discoverTimeout = 700 * time.Millisecond

// DiscoverLocal looks for a Prometheus on localhost:9090 and a
// node_exporter on localhost:9100, both at once, each for at most 0.7 s.
// An empty string means nothing usable answered there.
func DiscoverLocal(ctx context.Context) (promURL, exporterURL string) {
	return DiscoverAt(ctx, LocalPrometheus, LocalExporter)
}

// DiscoverAt is DiscoverLocal for other addresses.
func DiscoverAt(ctx context.Context, prom, exporter string) (promURL, exporterURL string) {
	c, err := httpfetch.New(httpfetch.Auth{}, 4<<20)
	if err != nil {
		return "", ""
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if prom != "" && probe(ctx, c, strings.TrimSuffix(prom, "/")+"/-/ready", "", func(b []byte) bool { return true }) {
			promURL = prom
		}
	}()
	go func() {
		defer wg.Done()
		// text, to recognise the page by its # TYPE lines
		if exporter != "" && probe(ctx, c, exporter, "text/plain;version=0.0.4", looksLikeExposition) {
			exporterURL = exporter
		}
	}()
	wg.Wait()
	return promURL, exporterURL
}

func probe(ctx context.Context, c *httpfetch.Client, u, accept string, ok func([]byte) bool) bool {
	ctx, cancel := context.WithTimeout(ctx, discoverTimeout)
	defer cancel()
	resp, err := c.Get(ctx, u, accept)
	if err != nil || resp.Status != http.StatusOK {
		return false
	}
	return ok(resp.Body)
}

// looksLikeExposition accepts a page with at least one # TYPE line.
func looksLikeExposition(b []byte) bool {
	return strings.Contains(string(b[:min(len(b), 1<<20)]), "# TYPE ")
}

// NewPrometheus is a prometheus source with DefaultQueries, for a server
// found by discovery.
func NewPrometheus(name, url string) (sources.Source, error) {
	return New(name, Options{URL: url, Queries: DefaultQueries()})
}

// NewExporter is an exporter source for a page found by discovery,
// without the exporters' own Go runtime metrics.
func NewExporter(name, url string) (sources.Source, error) {
	return NewExporterWith(name, ExporterOptions{URL: url, Exclude: []string{"go_*", "promhttp_*", "process_*", "node_scrape_collector_*"}})
}
