package config

import (
	"strings"

	"github.com/opsview/opsview/sources"
)

// Example is a commented configuration: the common sections, then one
// entry for every registered kind of source.
func Example() string {
	var b strings.Builder
	b.WriteString("# yaml-language-server: $schema=" + SchemaURL + "\n")
	b.WriteString(`# opsview configuration.
# opsview reads --config FILE, else $OPSVIEW_CONFIG, else
# $XDG_CONFIG_HOME/opsview/config.yaml (~/.config/opsview/config.yaml).
# Values written ${VAR} come from the environment (${VAR:-default} too);
# they are never printed or logged.
# The first line lets editors check and complete this file with the schema
# ('opsview config schema' prints it); 'opsview config check' says every
# mistake with its line and column.

# theme: dark, light, high-contrast or mono (NO_COLOR forces mono).
theme: dark

# The store keeps every series on one clock, in ring buffers.
store:
  step: 5s          # one bucket; graphs move once per bucket
  retention: 24h    # history kept per series
  # max_series: 50000 # new series beyond it are dropped, naming the source

# Sources: each has a name, a type, an interval and a timeout, and its own
# options. A source that hangs or fails shows as failing; the others go on.
sources:
`)
	for _, k := range sources.Kinds() {
		if k.Example == "" {
			continue
		}
		b.WriteString("\n  # " + k.Type + ": " + k.Summary + "\n")
		for _, line := range strings.Split(strings.TrimRight(k.Example, "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	b.WriteString(`
# Rules say what a series is: its role (symptom, resource, traffic), its
# layer (edge, lb, app, db, host, network, provider), the node it describes
# ($label takes a label's value), its unit, its kind (gauge, rate, ratio,
# counter) and which way it hurts (harm: up, down or both; "bad:" is the
# same key). The first match wins.
rules:
  - match: "servers.db*.cpu.iowait"
    role: resource
    layer: db
  - match: "node_*"
    labels: {instance: "db-*"}
    layer: db
    node: $instance
  - match: "stats.gauges.cache.hit_ratio"
    kind: ratio
    bad: down

# Dependencies between nodes, outside in: the engine blames the deepest
# anomalous dependency first.
dependencies:
  - "www -> app -> db-1"

# Keys can be remapped: action: [keys].
# keys:
#   quit: [q, ctrl+c]
`)
	return b.String()
}
