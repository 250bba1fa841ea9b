package ui

import (
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// Human formats a value with its unit the way an operator reads it:
// 12.3%, 250ms, 1.2s, 3.4K req/s, 1.2MB/s. NaN is "—" (no data).
func Human(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	if math.IsInf(v, 0) {
		if v > 0 {
			return "+Inf"
		}
		return "-Inf"
	}
	switch unit {
	case "%":
		return sig3(v) + "%"
	case "ms":
		if math.Abs(v) >= 1000 {
			return sig3(v/1000) + "s"
		}
		return sig3(v) + "ms"
	case "s":
		if v != 0 && math.Abs(v) < 1 {
			return sig3(v*1000) + "ms"
		}
		if math.Abs(v) >= 3600 {
			return sig3(v/3600) + "h"
		}
		if math.Abs(v) >= 120 {
			return sig3(v/60) + "m"
		}
		return sig3(v) + "s"
	case "B", "B/s", "bytes", "bytes/s":
		u := "B"
		if strings.HasSuffix(unit, "/s") {
			u = "B/s"
		}
		return si(v) + u
	case "", "count":
		return si(v)
	}
	return si(v) + " " + clean(unit)
}

// si scales with K, M, G, T (powers of 1000).
func si(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e12:
		return sig3(v/1e12) + "T"
	case a >= 1e9:
		return sig3(v/1e9) + "G"
	case a >= 1e6:
		return sig3(v/1e6) + "M"
	case a >= 1e3:
		return sig3(v/1e3) + "K"
	}
	return sig3(v)
}

// sig3 prints at most three significant digits, no trailing zeros.
func sig3(v float64) string {
	a := math.Abs(v)
	var s string
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.01:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 2, 64)
		return s
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// shortDur prints a duration compactly: 5m, 1h, 6h, 24h, 1m30s, 350ms.
func shortDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return strconv.Itoa(int(d/time.Millisecond)) + "ms"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// clean makes a string from outside safe for the terminal and one line.
// Sources already clean what they return; the UI does it again because a
// raw escape sequence on screen is worse than a dropped character.
func clean(s string) string { return sources.Clean(s) }

// fit truncates or pads a styled string to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// trunc cuts a plain string to w cells with an ellipsis.
func trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// box makes exactly h lines of exactly w cells from the given lines.
func box(lines []string, w, h int) string {
	if h <= 0 {
		return ""
	}
	var b strings.Builder
	blank := strings.Repeat(" ", max(w, 0))
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(fit(lines[i], w))
		} else {
			b.WriteString(blank)
		}
	}
	return b.String()
}

// splitLines splits a rendered block into lines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// hjoin puts two blocks side by side, each padded to its width.
func hjoin(left []string, lw int, right []string, rw int, gap int) []string {
	n := max(len(left), len(right))
	out := make([]string, n)
	sp := strings.Repeat(" ", gap)
	for i := 0; i < n; i++ {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out[i] = fit(l, lw) + sp + fit(r, rw)
	}
	return out
}

// sevMark is a severity as symbol + word in its style: "✖ critical".
func sevMark(c *Context, s sources.Severity) string {
	return c.Theme.SevStyle(int(s)).Render(sevSym(c, s) + " " + s.String())
}

// sevSym is a severity's mark alone.
func sevSym(c *Context, s sources.Severity) string {
	switch s {
	case sources.SevOK:
		return c.Symbols.OK
	case sources.SevInfo:
		return c.Symbols.Info
	case sources.SevWarning:
		return c.Symbols.Warning
	case sources.SevCritical:
		return c.Symbols.Critical
	}
	return c.Symbols.Unknown
}

// healthLevel maps a source's health onto the severity styles.
func healthLevel(h sources.Health) int {
	switch h {
	case sources.HealthOK:
		return 0
	case sources.HealthSlow:
		return 2
	case sources.HealthFailing:
		return 3
	}
	return -1
}

func healthSym(sy themes.Symbols, h sources.Health) string {
	switch h {
	case sources.HealthOK:
		return sy.OK
	case sources.HealthSlow:
		return sy.Warning
	case sources.HealthFailing:
		return sy.Critical
	}
	return sy.Unknown
}

// healthMark is a source's health as symbol + word in its style.
func healthMark(c *Context, h sources.Health) string {
	return c.Theme.SevStyle(healthLevel(h)).Render(healthSym(c.Symbols, h) + " " + h.String())
}

// fg is a style with a foreground colour, or the plain style when the
// colour is nil (mono).
func fg(base lipgloss.Style, c color.Color) lipgloss.Style {
	if c == nil {
		return base
	}
	return base.Foreground(c)
}

// matchFilter reports whether any of the strings contains the filter,
// case-insensitively.
func matchFilter(filter string, s ...string) bool {
	if filter == "" {
		return true
	}
	f := strings.ToLower(filter)
	for _, x := range s {
		if strings.Contains(strings.ToLower(x), f) {
			return true
		}
	}
	return false
}

// dot is the separator between items on a line.
func (c *Context) dot() string {
	if c.ASCII {
		return " - "
	}
	return " · "
}

// wrap breaks text into at most max lines of width w, marking a cut with "…".
func wrap(s string, w, max int) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		line := ""
		for _, wd := range words {
			switch {
			case line == "":
				line = wd
			case ansi.StringWidth(line)+1+ansi.StringWidth(wd) <= w:
				line += " " + wd
			default:
				out = append(out, line)
				line = wd
			}
		}
		if line != "" {
			out = append(out, line)
		}
	}
	if len(out) > max {
		out = out[:max]
		out[max-1] = ansi.Truncate(out[max-1]+" …", w, "…")
	}
	return out
}

// incidentHead is an incident's headline in w cells: when it does not
// fit, what broke is said by its places only ("www and app: likely …"),
// then shortened, and the cause is kept whole, since the cause is what
// the person reading it needs.
func incidentHead(inc *correlate.Incident, w int) string {
	head := sources.Clean(inc.Headline)
	if ansi.StringWidth(head) <= w {
		return head
	}
	why := sources.Clean(inc.Why)
	if where := sources.Clean(inc.Where); where != "" && why != "" {
		if h := sources.Clean(inc.HeadlineWith(where)); ansi.StringWidth(h) <= w {
			return h
		}
	}
	if why == "" || ansi.StringWidth(why)+2+8 > w {
		return ansi.Truncate(head, w, "…")
	}
	sep := ansi.StringWidth(sources.Clean(inc.HeadlineWith(""))) - ansi.StringWidth(why) // ": " or " ← "
	broke := ansi.Truncate(sources.Clean(inc.Broke), w-sep-ansi.StringWidth(why), "…")
	return sources.Clean(inc.HeadlineWith(broke))
}

// truncMiddle cuts a plain string to w cells in its middle, keeping its
// start and its end: series of one chart differ mostly at the end
// (hrsp_5xx{app,app-1}, hrsp_5xx{app,app-2}).
func truncMiddle(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	if w < 5 {
		return trunc(s, w)
	}
	r := []rune(s)
	head := (w - 1) / 3
	tail := w - 1 - head
	for tail > 0 && ansi.StringWidth(string(r[len(r)-tail:])) > w-1-head {
		tail--
	}
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// causeFirst fits an error in w cells by dropping its leading context
// first ("GET http://graphite:8080/render: context deadline exceeded"
// keeps "…context deadline exceeded"), since the cause comes last in a
// wrapped Go error; what still does not fit is cut at its end.
func causeFirst(s string, w int) string {
	for ansi.StringWidth(s) > w {
		i := strings.Index(s, ": ")
		if i < 0 {
			break
		}
		s = "…" + strings.TrimPrefix(s[i+2:], "…")
	}
	return trunc(s, w)
}
