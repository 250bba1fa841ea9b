package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// CheckReport is `opsview check --format json`. Fields are only ever added.
type CheckReport struct {
	Status   string         `json:"status"` // ok, warning, critical, unknown
	Code     int            `json:"code"`
	Time     time.Time      `json:"time"`
	Sources  []CheckSource  `json:"sources"`
	Checks   []string       `json:"checks,omitempty"` // per-backend lines, Nagios style
	Findings []CheckFinding `json:"findings"`
	// Incidents tell the findings that share a cause as one headline,
	// worst first; each lists its findings by ID.
	Incidents []CheckIncident `json:"incidents"`
	// NotJudged says what the check could not judge in the time it
	// probed (a path needs about 20 probe rounds from every vantage
	// point): with nothing else wrong, the check is UNKNOWN rather than
	// OK.
	NotJudged []string `json:"not_judged,omitempty"`
}

// CheckIncident is findings that share one cause.
type CheckIncident struct {
	ID        string    `json:"id"`
	Severity  string    `json:"severity"`
	Headline  string    `json:"headline"`
	Cause     string    `json:"cause"` // suspect, group, path or own
	CauseKey  string    `json:"cause_key,omitempty"`
	Explained bool      `json:"explained"` // an internal cause (a suspect series) explains it
	Since     time.Time `json:"since,omitzero"`
	Findings  []string  `json:"findings"` // IDs, worst first
	Layer     string    `json:"layer,omitempty"`
	Node      string    `json:"node,omitempty"`
}

// CheckSource is one source's line.
type CheckSource struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Status    string  `json:"status"` // ok, slow, failing, unknown
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	Detail    string  `json:"detail,omitempty"`
}

// CheckFinding is one finding.
type CheckFinding struct {
	ID       string `json:"id,omitempty"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Detail   string `json:"detail,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Layer    string `json:"layer,omitempty"`
	Node     string `json:"node,omitempty"`
	// Compare is, with --compare, an alert's standing against then:
	// new (began since), ongoing (open then already).
	Compare string `json:"compare,omitempty"`
}

var statusNames = map[int]string{ExitOK: "ok", ExitWarning: "warning", ExitCritical: "critical", ExitUnknown: "unknown"}

func checkCmd(g *globals, stdout io.Writer) *cobra.Command {
	var format, compare string
	var sample, timeout, pathsWait time.Duration
	var demoCheck bool
	c := &cobra.Command{
		Use:   "check",
		Short: "Poll every source once, print a compact report, exit like a Nagios plugin",
		Long: `check runs the same session as the screen: it backfills the engine's
window from the sources that keep history (Prometheus, Graphite, CloudWatch),
polls every source twice, --sample apart, so that counters become rates (a
load balancer's share of 5xx answers is judged without history) and, with
path probes, on until every path is judged, for at most --paths-wait, then prints
the status line (the worst incident), one line per source, and the incidents
with their findings, worst first. What the sample was too short to judge (a
path verdict needs several windows of probes) is said, and an otherwise OK
check is then UNKNOWN. Alerts of Nagios, Icinga and Alertmanager count as
Nagios counts them: an unacknowledged HARD problem or a flapping check at
its severity; acknowledged ones, those in downtime (silenced) and SOFT
states are listed at info and leave the exit code alone. --compare 24h also
says what is unusual against the same time a day earlier, where sources
keep history, and of every alert whether it is new since then or was open
then already (Nagios from its log_file, Alertmanager and Icinga by when
the alert began), with the alerts open then and gone since. It exits 0 OK,
1 WARNING, 2 CRITICAL or 3 UNKNOWN.

As a Nagios plugin: the first line of standard output is always the status
line, also when the check cannot run (no configuration, a bad flag: UNKNOWN,
exit 3); performance data follow it after '|' ('name'=value[UOM];warn;crit;min;max):
the number of sources and of failing ones, of findings by severity, of
incidents, and each source's answer time.
--format json prints the same for machines. --demo checks the built-in demo.
Colour only on a terminal, never under NO_COLOR.`,
		Example: `  opsview check --demo
  opsview check --config /etc/opsview/config.yaml --format json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return checkUnknown(stdout, format, "usage", fmt.Sprintf("check takes no arguments, got %q (see 'opsview check --help')", args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return checkUnknown(stdout, "text", "usage", fmt.Sprintf("--format %q: use text or json", format))
			}
			var shift time.Duration
			if compare != "" {
				var err error
				if shift, err = parseShift(compare); err != nil {
					return checkUnknown(stdout, format, "usage", fmt.Sprintf("--compare %q: %v", compare, err))
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			logf, closeLog := openLog(g)
			defer closeLog()
			var p *plan
			if demoCheck {
				p = demoPlan(0, "demo")
			} else {
				var err error
				if p, err = loadPlan(ctx, g, logf, false); err != nil {
					msg := err.Error()
					var ee *ExitError
					if asExit(err, &ee) {
						msg = ee.Msg
					}
					return checkUnknown(stdout, format, "no sources", msg)
				}
			}
			defer app.Close(p.entries)
			// the same session as live: the config's rules, store and
			// dependencies, and the history the engine judges with
			ro := runtimeOptions(p, logf)
			ro.Backfill = app.EngineWindow
			rt := app.New(ro)
			probes := false // path probes configured: their verdicts are awaited
			for _, e := range p.entries {
				probes = probes || e.Type == "probe"
			}
			findings := rt.Once(ctx, sample)
			if waited := waitForPaths(ctx, rt, pathsWait, probes); waited > 0 {
				findings = rt.Session.Findings()
				sample += waited
			}
			var ages map[string]correlate.AlertAge
			if shift > 0 {
				findings = append(findings, compareWith(ctx, p, rt, shift, logf)...)
				findings, ages = compareAlerts(ctx, p, rt, shift, findings, logf)
			}
			st := rt.Store()
			rep := buildReport(st.Snapshot(st.Now(), st.Now(), nil), findings)
			for i := range rep.Findings {
				rep.Findings[i].Compare = string(ages[rep.Findings[i].ID])
			}
			rep.notJudged(rt.Session.Paths(), sample, probes)
			if format == "json" {
				writeJSON(stdout, rep)
			} else {
				writeText(stdout, rep, useColor(g, stdout))
			}
			if rep.Code != 0 {
				return &ExitError{Code: rep.Code}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output: text or json")
	c.Flags().DurationVar(&sample, "sample", 2*time.Second, "time between the two polls that turn counters into rates (0: one poll)")
	c.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long (sources not answered count as failing)")
	c.Flags().StringVar(&compare, "compare", "", "also compare with the same time 24h or 7d ago: series where sources keep history, alerts new since then")
	c.Flags().DurationVar(&pathsWait, "paths-wait", 25*time.Second, "with path probes, poll on until every path is judged, for at most this long (within --timeout)")
	c.Flags().BoolVar(&demoCheck, "demo", false, "check the built-in demo (the 'melting volume' incident) instead of the configuration")
	// a usage error is UNKNOWN (3), said on the status line, as Nagios
	// expects of a plugin; cobra's own would exit 1, which reads WARNING
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return checkUnknown(stdout, format, "usage", err.Error()+" (see 'opsview check --help')")
	})
	return c
}

// checkUnknown is a check that could not run: the status line UNKNOWN
// with why on standard output (or the JSON report saying so), exit 3.
// The JSON report's one finding is titled title.
func checkUnknown(stdout io.Writer, format, title, msg string) error {
	if format == "json" {
		writeJSON(stdout, CheckReport{Status: "unknown", Code: ExitUnknown, Time: time.Now().UTC(), Sources: []CheckSource{},
			Findings: []CheckFinding{{Severity: "unknown", Title: title, Detail: msg}}})
	} else {
		// the first line is the status line; more (every mistake of a
		// configuration) follow it as the long output
		first, rest, _ := strings.Cut(msg, "\n")
		fmt.Fprintln(stdout, "UNKNOWN - "+noPipe(oneLine(first)))
		for _, l := range strings.Split(rest, "\n") {
			if l != "" {
				fmt.Fprintln(stdout, "  "+noPipe(bounded(l, maxMessageText)))
			}
		}
	}
	return &ExitError{Code: ExitUnknown}
}

// pathJudged reports whether a path verdict is decided, of its loss and
// of its latency (a queue with no RTT from before needs its jitter
// judged on about 20 rounds).
func pathJudged(v *correlate.PathVerdict) bool {
	return v.Persistent && v.Kind != correlate.VerdictInsufficient && v.LatencyPersistent
}

// waitForPaths polls on, every two seconds, while a path verdict is not
// yet judged, for at most wait: a verdict needs about 20 probe rounds
// from every vantage point. It returns how long it polled.
func waitForPaths(ctx context.Context, rt *app.Runtime, wait time.Duration, probes bool) time.Duration {
	judged := func() bool {
		vs := rt.Session.Paths()
		if probes && len(vs) == 0 {
			return false // no round has come back yet (a vantage still starting)
		}
		for _, v := range vs {
			if !pathJudged(&v) {
				return false
			}
			for _, p := range v.Paths {
				if p.LatencyUndecided {
					return false // a vantage may yet join the latency verdict
				}
			}
		}
		return true
	}
	start := time.Now()
	for !judged() && time.Since(start) < wait {
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-time.After(2 * time.Second):
		}
		rt.Sched.RunOnce(ctx, 2)
		rt.Session.Evaluate() // as Once does: every batch of the round judged
	}
	return time.Since(start).Round(time.Second)
}

func asExit(err error, ee **ExitError) bool {
	e, ok := err.(*ExitError)
	if ok {
		*ee = e
	}
	return ok
}

// buildReport turns statuses, node checks and findings into the report.
func buildReport(snap *correlate.Snapshot, findings []correlate.Finding) CheckReport {
	rep := CheckReport{Time: snap.Now.UTC(), Sources: []CheckSource{}, Findings: []CheckFinding{}}
	anyFailing := false
	for _, st := range snap.Status {
		cs := CheckSource{Name: st.Source, Type: st.Type, Status: st.Health.String(), Error: st.LastError,
			LatencyMS: float64(st.Latency.Microseconds()) / 1000, Detail: st.Detail}
		if st.Health == sources.HealthFailing || st.Health == sources.HealthUnknown {
			anyFailing = true
			if cs.Error == "" {
				cs.Error = "no answer"
			}
		}
		rep.Sources = append(rep.Sources, cs)
	}
	for _, n := range snap.Nodes {
		if line := n.Attrs["check"]; line != "" {
			rep.Checks = append(rep.Checks, oneLine(line))
		}
	}
	sort.Strings(rep.Checks)
	worst := sources.SevOK
	var reported []correlate.Finding
	for _, f := range findings {
		if f.Rule == "source-failing" {
			continue // said on the source's line, and counted as UNKNOWN
		}
		if f.Severity > worst {
			worst = f.Severity
		}
		reported = append(reported, f)
		rep.Findings = append(rep.Findings, CheckFinding{ID: oneLine(f.ID), Severity: f.Severity.String(), Title: oneLine(f.Title),
			Detail: oneLine(f.Explanation), Rule: f.Rule, Layer: string(f.Layer), Node: oneLine(f.Node)})
	}
	rep.Incidents = checkIncidents(reported)
	switch {
	case worst >= sources.SevCritical:
		rep.Code = ExitCritical
	case anyFailing || len(rep.Sources) == 0:
		rep.Code = ExitUnknown
	case worst >= sources.SevWarning:
		rep.Code = ExitWarning
	default:
		rep.Code = ExitOK
	}
	rep.Status = statusNames[rep.Code]
	return rep
}

// notJudged adds the path targets whose verdict needs more probing than
// the sample held; an OK that could not look at them becomes UNKNOWN.
func (rep *CheckReport) notJudged(verdicts []correlate.PathVerdict, sample time.Duration, probes bool) {
	if probes && len(verdicts) == 0 {
		rep.NotJudged = append(rep.NotJudged, fmt.Sprintf("paths: no probe round came back in %s of probing: run the check with a longer --paths-wait and --timeout, or see whether the vantage points start (the Paths view, the log)", sample))
	}
	for _, v := range verdicts {
		if pathJudged(&v) {
			continue
		}
		if v.Persistent && v.Kind != correlate.VerdictInsufficient {
			rep.NotJudged = append(rep.NotJudged, fmt.Sprintf("path to %s: its latency not judged after %s of probing (with no RTT from before to compare with, a queue is told from a long link by its jitter, over about %d probe rounds from every vantage point): run the check with a longer --paths-wait and --timeout, or watch the Paths view",
				oneLine(v.Target), sample, 2*correlate.DefaultLatencyRounds+1))
			continue
		}
		rep.NotJudged = append(rep.NotJudged, fmt.Sprintf("path to %s: not judged after %s of probing (a verdict needs %d probe rounds from every vantage point since its loss last changed, and every path clearly clean or lossy; the fewest had %d): run the check with a longer --paths-wait and --timeout, or watch the Paths view",
			oneLine(v.Target), sample, correlate.DefaultPathMinSample, v.Probes))
	}
	if len(rep.NotJudged) > 0 && rep.Code == ExitOK {
		rep.Code, rep.Status = ExitUnknown, statusNames[ExitUnknown]
	}
}

// checkIncidents are the incidents of the reported findings.
func checkIncidents(fs []correlate.Finding) []CheckIncident {
	out := []CheckIncident{}
	for _, inc := range correlate.Incidents(fs) {
		ids := make([]string, len(inc.Findings))
		for i, id := range inc.Findings {
			ids[i] = oneLine(id)
		}
		out = append(out, CheckIncident{ID: oneLine(inc.ID), Severity: inc.Severity.String(), Headline: oneLine(inc.Summary()),
			Cause: string(inc.Cause), CauseKey: oneLine(inc.CauseKey), Explained: inc.Explained, Since: inc.Since.UTC(),
			Findings: ids, Layer: string(inc.Layer), Node: oneLine(inc.Node)})
	}
	return out
}

func writeJSON(w io.Writer, rep CheckReport) {
	if rep.Incidents == nil {
		rep.Incidents = []CheckIncident{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

// useColor: only on a terminal, never with NO_COLOR or --no-color.
func useColor(g *globals, w io.Writer) bool {
	if g.noColor || themes.NoColor() {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// oneLine is outside text for one line: line breaks become spaces
// (sources.Clean drops them, which ran the words of two lines together)
// and terminal escapes go.
func oneLine(s string) string { return sources.Clean(lineBreaks.Replace(s)) }

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\v", " ", "\f", " ", "\u2028", " ", "\u2029", " ")

// Bounds of the text report, in characters: a longer name or message is
// cut in the middle with "…", so one absurd name (10 kB from a load balancer) cannot
// flood a terminal, a mail or a Nagios status line.
const (
	maxNameText    = 80
	maxMessageText = 300
)

// bounded is s on one line and at most n characters; a longer s loses
// its middle, so both the name's start and what is said of it ("is DOWN",
// "Active: 1/3") stay.
func bounded(s string, n int) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	head := n / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-head-1):])
}

func writeText(w io.Writer, rep CheckReport, color bool) {
	paint := func(code int, s string) string {
		if !color {
			return s
		}
		c := map[int]string{ExitOK: "32", ExitWarning: "33", ExitCritical: "31;1", ExitUnknown: "35"}[code]
		return "\x1b[" + c + "m" + s + "\x1b[0m"
	}
	say := func(line string) { fmt.Fprintln(w, noPipe(line)) }
	fmt.Fprintln(w, noPipe(statusLine(rep, paint))+" | "+perfData(rep))
	for _, s := range rep.Sources {
		code := ExitOK
		switch s.Status {
		case "failing", "unknown":
			code = ExitUnknown
		case "slow":
			code = ExitWarning
		}
		line := fmt.Sprintf("  %-8s %s (%s) %.0fms", strings.ToUpper(s.Status), bounded(s.Name, maxNameText), bounded(s.Type, maxNameText), s.LatencyMS)
		if s.Detail != "" {
			line += "  " + bounded(s.Detail, maxMessageText)
		}
		if s.Error != "" {
			line += "  " + bounded(s.Error, maxMessageText)
		}
		say(paint(code, line))
	}
	for _, c := range rep.Checks {
		say("  " + bounded(c, maxMessageText))
	}
	writeIncidents(w, rep, paint)
	for _, n := range rep.NotJudged {
		say(paint(ExitUnknown, "  NOT JUDGED "+bounded(n, maxMessageText)))
	}
}

// noPipe keeps '|' out of the text: Nagios reads what follows one as
// performance data.
func noPipe(s string) string { return strings.ReplaceAll(s, "|", "¦") }

// perfData is the status line's performance data, as Nagios plugins
// write it ('label'=value[UOM];warn;crit;min;max): the sources and the
// failing ones, the findings by severity (a critical one is critical, a
// warning one a warning, as the exit code says), the incidents, and each
// source's answer time.
func perfData(rep CheckReport) string {
	failing := 0
	for _, s := range rep.Sources {
		if s.Status == "failing" || s.Status == "unknown" {
			failing++
		}
	}
	bySev := map[string]int{}
	for _, f := range rep.Findings {
		bySev[f.Severity]++
	}
	perf := []string{
		perfItem("sources", strconv.Itoa(len(rep.Sources)), "", "", "0"),
		perfItem("sources_failing", strconv.Itoa(failing), "", "", "0"),
		perfItem("findings_critical", strconv.Itoa(bySev["critical"]), "", "0", "0"),
		perfItem("findings_warning", strconv.Itoa(bySev["warning"]), "0", "", "0"),
		perfItem("findings", strconv.Itoa(len(rep.Findings)), "", "", "0"),
		perfItem("incidents", strconv.Itoa(len(rep.Incidents)), "", "", "0"),
	}
	for _, s := range rep.Sources {
		perf = append(perf, perfItem(bounded(s.Name, maxNameText)+" latency", strconv.FormatFloat(s.LatencyMS, 'f', 3, 64)+"ms", "", "", "0"))
	}
	return strings.Join(perf, " ")
}

// perfItem is one performance datum; the label is quoted, a quote in it
// doubled, and '=' (which ends a label) replaced.
func perfItem(label, value, warn, crit, min string) string {
	label = strings.NewReplacer("'", "''", "=", "_", "|", "¦").Replace(label)
	return strings.TrimRight("'"+label+"'="+value+";"+warn+";"+crit+";"+min, ";")
}

// statusLine is the Nagios status line: the state, the worst incident's
// headline, then the counts.
func statusLine(rep CheckReport, paint func(int, string) string) string {
	state := paint(rep.Code, strings.ToUpper(rep.Status))
	if len(rep.Incidents) == 0 {
		if len(rep.NotJudged) > 0 {
			return fmt.Sprintf("%s - %d sources, %d findings, %d not judged yet", state, len(rep.Sources), len(rep.Findings), len(rep.NotJudged))
		}
		return fmt.Sprintf("%s - %d sources, %d findings", state, len(rep.Sources), len(rep.Findings))
	}
	plural := "s"
	if len(rep.Incidents) == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s - %s; %d sources, %d findings in %d incident%s", state, bounded(rep.Incidents[0].Headline, maxMessageText),
		len(rep.Sources), len(rep.Findings), len(rep.Incidents), plural)
}

// writeIncidents writes each incident's headline, worst first, and under
// it its findings; an incident of one finding is one line, its headline
// with the finding's detail.
func writeIncidents(w io.Writer, rep CheckReport, paint func(int, string) string) {
	byID := map[string]CheckFinding{}
	for _, f := range rep.Findings {
		byID[f.ID] = f
	}
	line := func(indent, sev, text, detail string) {
		code := map[string]int{"critical": ExitCritical, "warning": ExitWarning}[sev]
		l := fmt.Sprintf("%s%-8s %s", indent, strings.ToUpper(sev), bounded(text, maxMessageText))
		if detail != "" {
			l += " — " + bounded(firstLine(detail), maxMessageText)
		}
		fmt.Fprintln(w, noPipe(paint(code, l)))
	}
	if len(rep.Incidents) == 0 {
		for _, f := range rep.Findings {
			line("  ", f.Severity, f.Title, f.Detail)
		}
		return
	}
	for _, inc := range rep.Incidents {
		if len(inc.Findings) == 1 {
			line("  ", inc.Severity, inc.Headline, byID[inc.Findings[0]].Detail)
			continue
		}
		line("  ", inc.Severity, inc.Headline, "")
		for _, id := range inc.Findings {
			f := byID[id]
			line("    ", f.Severity, f.Title, f.Detail)
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// parseShift reads --compare: 24h, 7d, 1w or any Go duration.
func parseShift(s string) (time.Duration, error) {
	n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789")
	if (unit == "d" || unit == "w") && n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("use 24h or 7d")
		}
		d := time.Duration(v) * 24 * time.Hour
		if unit == "w" {
			d *= 7
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("use 24h or 7d (an hour at least)")
	}
	return d, nil
}

// compareWith polls the sources that keep history for the same window
// shift earlier and says what is unusual now against it.
func compareWith(ctx context.Context, p *plan, rt *app.Runtime, shift time.Duration, logf func(string, ...any)) []correlate.Finding {
	if p.cfg == nil {
		return nil
	}
	entries, err := app.EntriesFromConfig(p.cfg, logf)
	if err != nil {
		return nil
	}
	defer app.Close(entries)
	var hist []sources.Entry
	for _, e := range entries {
		if k, ok := sources.Lookup(e.Type); ok && k.History {
			hist = append(hist, e)
		}
	}
	if len(hist) == 0 {
		return nil
	}
	now := rt.Store().Now()
	until := now.Add(-shift)
	ro := runtimeOptions(p, logf)
	ro.Entries, ro.From, ro.Until = hist, until.Add(-app.EngineWindow), until
	then := app.New(ro)
	then.Sched.RunOnce(ctx, 2)
	return correlate.Compare(rt.Store().Snapshot(now.Add(-app.EngineWindow), now, nil),
		then.Store().Snapshot(ro.From, ro.Until, nil), shift, correlate.CompareOptions{})
}

// compareAlerts says of each alert finding whether it is new since shift
// ago or was open then already (its title says it, ages by finding ID),
// and adds the alerts open then and gone since, with a count. Sources
// that keep their alert history (Nagios' log) tell what was open then;
// for the others, and where the history does not reach back, an alert
// that began before then was open then.
func compareAlerts(ctx context.Context, p *plan, rt *app.Runtime, shift time.Duration, fs []correlate.Finding, logf func(string, ...any)) ([]correlate.Finding, map[string]correlate.AlertAge) {
	st := rt.Store()
	now := st.Now()
	then := correlate.AlertsThen{At: now.Add(-shift), Told: map[string]bool{}}
	for _, e := range p.entries {
		pa, ok := e.Source.(sources.PastAlerts)
		if !ok {
			continue
		}
		evs, err := pa.AlertsAt(ctx, then.At)
		if err != nil {
			logf("compare: %s: %v", e.Name, err)
			continue
		}
		for i := range evs {
			evs[i].Source = e.Name
		}
		then.Open = append(then.Open, evs...)
		then.Told[e.Name] = true
	}
	cs := correlate.CompareAlerts(st.Snapshot(now.Add(-app.EngineWindow), now, nil), fs, then)
	ages := map[string]correlate.AlertAge{}
	for _, c := range cs {
		if c.Finding != "" {
			ages[c.Finding] = c.Age
		}
	}
	for i := range fs {
		if age, ok := ages[fs[i].ID]; ok {
			fs[i].Title += " — " + correlate.AgeWords(age, shift)
		}
	}
	return append(fs, correlate.AlertCompareFindings(cs, shift)...), ages
}
