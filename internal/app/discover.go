package app

import (
	"context"

	"github.com/opsview/opsview/sources"
)

// Discoverers find local servers worth watching when there is no
// configuration (a stats socket, a Prometheus on :9090, a node_exporter on
// :9100). Each returns ready entries; source packages add theirs here via
// the wiring in this package.
var Discoverers []func(ctx context.Context, logf func(string, ...any)) []sources.Entry

// Discover runs every discoverer.
func Discover(ctx context.Context, logf func(string, ...any)) []sources.Entry {
	var out []sources.Entry
	for _, d := range Discoverers {
		out = append(out, d(ctx, logf)...)
	}
	return out
}
