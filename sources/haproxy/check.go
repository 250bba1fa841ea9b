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
		lb := n.LB
		if lb == nil {
			continue
		}
		switch n.Kind {
		case sources.NodeBackend:
			text := CheckLine(n.Name, lb.Up, lb.Total, lb.Sessions, lb.SessionLimit)
			if lb.Instances > 0 {
				text += fmt.Sprintf(" on %d LBs", lb.Instances)
			}
			if n.Instance != "" {
				text = n.Instance + ": " + text
			}
			lines = append(lines, line{n.Severity, text})
			if p := backendProblem(&n); p != "" {
				r.Problems = append(r.Problems, p)
				r.Severity = sources.SevCritical
			}
		case sources.NodeServer:
			where := lb.Proxy + "/" + n.Name
			if n.Instance != "" {
				where += " on " + n.Instance
			}
			switch {
			case n.Class == sources.ClassDown:
				p := fmt.Sprintf("server %s is %s", where, n.State)
				if cs := lb.Check.Status; cs != "" {
					p += " (" + cs
					if lc := lb.Check.Last; lc != "" {
						p += ": " + lc
					}
					p += ")"
				}
				r.Problems = append(r.Problems, p)
			case n.Flapping:
				r.Problems = append(r.Problems, fmt.Sprintf("server %s is flapping: %d DOWN transitions in %s", where, n.Flaps, n.FlapWindow))
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

// backendProblem says why a backend is critical: no server UP (on any LB,
// for a fleet's sum), or DOWN with no server at all; "" otherwise.
func backendProblem(n *sources.NodeState) string {
	lb := n.LB
	switch {
	case lb.Total > 0 && lb.Up == 0 && lb.Instances > 0:
		return fmt.Sprintf("backend %s has no server UP on any LB (Active: 0/%d)", n.Name, lb.Total)
	case lb.Total > 0 && lb.Up == 0:
		return fmt.Sprintf("backend %s has no server UP (Active: 0/%d)", n.Name, lb.Total)
	case lb.Total == 0 && n.Class == sources.ClassDown:
		return fmt.Sprintf("backend %s is DOWN", n.Name)
	}
	return ""
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
