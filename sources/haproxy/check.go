package haproxy

import (
	"fmt"
	"sort"

	"github.com/opsview/opsview/sources"
)

// CheckResult is the Nagios-style verdict over HAProxy node states, for
// `opsview check`.
type CheckResult struct {
	// Severity: critical when a backend has no server UP, warning when a
	// server is DOWN or flapping, ok otherwise.
	Severity sources.Severity
	// Lines has one `be_app (Active: 2/4) sessions 3/256` line per backend
	// (each LB's, then the fleet sums), worst first.
	Lines []string
	// Problems names what made the severity: the backend without a server,
	// each DOWN or flapping server.
	Problems []string
}

// Check reads the node states of HAProxy sources (other kinds are ignored).
// Exit codes: 0 ok, 1 warning, 2 critical (the caller adds 3 for a source
// that could not be read).
func Check(nodes []sources.NodeState) CheckResult {
	var r CheckResult
	type line struct {
		sev  sources.Severity
		text string
	}
	var lines []line
	for _, n := range nodes {
		switch {
		case n.Kind == "backend" && n.Attrs["check"] != "":
			text := n.Attrs["check"]
			if n.Instance != "" {
				text = n.Instance + ": " + text
			}
			lines = append(lines, line{n.Severity, text})
			if n.Severity == sources.SevCritical {
				r.Problems = append(r.Problems, n.Attrs["finding"])
				r.Severity = sources.SevCritical
			}
		case n.Kind == "server" && n.Attrs["backend"] != "":
			where := n.Attrs["backend"] + "/" + n.Name
			if n.Instance != "" {
				where += " on " + n.Instance
			}
			switch {
			case classOf(n.State) == "DOWN":
				p := fmt.Sprintf("server %s is %s", where, n.State)
				if cs := n.Attrs["check_status"]; cs != "" {
					p += " (" + cs
					if lc := n.Attrs["last_chk"]; lc != "" {
						p += ": " + lc
					}
					p += ")"
				}
				r.Problems = append(r.Problems, p)
			case n.Attrs["flapping"] != "":
				r.Problems = append(r.Problems, fmt.Sprintf("server %s is flapping: %s", where, n.Attrs["flapping"]))
			default:
				continue
			}
			if r.Severity < sources.SevWarning {
				r.Severity = sources.SevWarning
			}
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].sev > lines[j].sev })
	for _, l := range lines {
		r.Lines = append(r.Lines, l.text)
	}
	return r
}

// ExitCode is the Nagios exit code of the result.
func (r CheckResult) ExitCode() int {
	switch r.Severity {
	case sources.SevCritical:
		return 2
	case sources.SevWarning:
		return 1
	}
	return 0
}
