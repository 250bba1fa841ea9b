package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	_ "github.com/opsview/opsview/sources/alertmanager" // alertmanager
	_ "github.com/opsview/opsview/sources/aws"          // aws-status, cloudwatch, aws-health
	_ "github.com/opsview/opsview/sources/ganglia"      // ganglia
	"github.com/opsview/opsview/sources/graphite"
	"github.com/opsview/opsview/sources/haproxy"
	_ "github.com/opsview/opsview/sources/httpcheck" // http
	_ "github.com/opsview/opsview/sources/icinga2"   // icinga2
	_ "github.com/opsview/opsview/sources/munin"     // munin
	_ "github.com/opsview/opsview/sources/nagios"    // nagios
	_ "github.com/opsview/opsview/sources/probe"     // probe
	"github.com/opsview/opsview/sources/prometheus"
	_ "github.com/opsview/opsview/sources/replay" // replay
)

// defaultRules classify the common Graphite trees and node_exporter; the
// config's own rules come first and win.
func defaultRules() sources.Rules {
	return append(graphite.DefaultRules(), prometheus.DefaultRules()...)
}

func init() {
	app.Discoverers = append(app.Discoverers, discoverHAProxy, discoverPrometheus)
}

// discoverHAProxy uses every readable stats socket at the usual paths.
func discoverHAProxy(ctx context.Context, logf func(string, ...any)) []sources.Entry {
	var out []sources.Entry
	for i, path := range haproxy.Discover() {
		name := "haproxy"
		if i > 0 {
			name = fmt.Sprintf("haproxy-%d", i+1)
		}
		src, err := haproxy.NewFromSocket(name, path)
		if err != nil {
			logf("debug: discovery: %s: %v", path, err)
			continue
		}
		logf("discovery: HAProxy stats socket %s", path)
		out = append(out, sources.Entry{Name: name, Type: "haproxy", Source: src, Interval: 2 * time.Second, Timeout: time.Second})
	}
	return out
}

// discoverPrometheus uses a Prometheus on :9090 when it answers, else a
// node_exporter on :9100 (a bastion often has one and no Prometheus).
func discoverPrometheus(ctx context.Context, logf func(string, ...any)) []sources.Entry {
	var out []sources.Entry
	promURL, exporterURL := prometheus.DiscoverLocal(ctx)
	if promURL != "" {
		if src, err := prometheus.NewPrometheus("prometheus", promURL); err == nil {
			logf("discovery: Prometheus at %s", promURL)
			out = append(out, sources.Entry{Name: "prometheus", Type: "prometheus", Source: src, Interval: 10 * time.Second, Timeout: 5 * time.Second})
		}
	}
	if exporterURL != "" && promURL == "" { // a Prometheus already has the node metrics
		if src, err := prometheus.NewExporter("node", exporterURL); err == nil {
			logf("discovery: node_exporter at %s", exporterURL)
			out = append(out, sources.Entry{Name: "node", Type: "exporter", Source: src, Interval: 5 * time.Second, Timeout: 3 * time.Second})
		}
	}
	return out
}
