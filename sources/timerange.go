package sources

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ParseWindow reads the --from/--until of historical mode.
//
// from is absolute ("2026-11-20 14:00", "2026-11-20T14:00:05",
// "2026-11-20", RFC 3339 with its own zone, "14:00" for today — or
// yesterday when that is still to come —, "@1795420000" Unix seconds) or
// relative to now ("now", "-6h", "-90m", "-2d", "now-1w").
// until takes the same forms, "" for now, or "+2h" for a span after from.
// Times without a zone are read in loc (nil: the local zone). The window
// must be non-empty and start before now.
func ParseWindow(from, until string, now time.Time, loc *time.Location) (time.Time, time.Time, error) {
	if loc == nil {
		loc = time.Local
	}
	from, until = strings.TrimSpace(from), strings.TrimSpace(until)
	if from == "" {
		return time.Time{}, time.Time{}, errors.New(`--from is empty: give a time ("2026-11-20 14:00", "14:00") or an offset from now ("-6h")`)
	}
	if strings.HasPrefix(from, "+") {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %q: a +offset is only for --until (a span after --from); use -%s for the past", from, from[1:])
	}
	f, err := parsePoint(from, now, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %q: %w", from, err)
	}
	var u time.Time
	switch {
	case until == "":
		u = now
	case strings.HasPrefix(until, "+"):
		d, err := parseOffset(until[1:])
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--until %q: %w", until, err)
		}
		u = f.Add(d)
	default:
		u, err = parsePoint(until, now, loc)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--until %q: %w", until, err)
		}
	}
	if f.After(now) {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %q is %s, after now (%s)", from, f.Format("2006-01-02 15:04:05 MST"), now.In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	if !u.After(f) {
		return time.Time{}, time.Time{}, fmt.Errorf("--until %q (%s) is not after --from (%s): the window is empty", until, u.Format("2006-01-02 15:04:05"), f.Format("2006-01-02 15:04:05"))
	}
	return f, u, nil
}

var absLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02",
	"2006/01/02 15:04",
	"2006/01/02 15:04:05",
}

var zonedLayouts = []string{
	time.RFC3339,
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04Z07:00",
}

// parsePoint reads one instant.
func parsePoint(s string, now time.Time, loc *time.Location) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "now-") || strings.HasPrefix(s, "now+"):
		d, err := parseOffset(s[4:])
		if err != nil {
			return time.Time{}, err
		}
		if s[3] == '-' {
			d = -d
		}
		return now.Add(d), nil
	case strings.HasPrefix(s, "-"):
		d, err := parseOffset(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d), nil
	case strings.HasPrefix(s, "@"):
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n < 0 || n > 1e11 {
			return time.Time{}, errors.New("@ takes Unix seconds, e.g. @1795420000")
		}
		return time.Unix(n, 0), nil
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	for _, l := range absLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	for _, l := range []string{"15:04", "15:04:05"} {
		if c, err := time.Parse(l, s); err == nil {
			n := now.In(loc)
			t := time.Date(n.Year(), n.Month(), n.Day(), c.Hour(), c.Minute(), c.Second(), 0, loc)
			if t.After(now) {
				// "14:00" at 09:00 means yesterday afternoon
				t = t.AddDate(0, 0, -1)
			}
			return t, nil
		}
	}
	return time.Time{}, errors.New(`not a time: use "2026-11-20 14:00", "14:00", RFC 3339, "@<unix seconds>", "now" or an offset like "-6h"`)
}

var dayWeek = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\d+(?:\.\d+)?)([dw])`) })

// parseOffset reads a positive duration: Go's units plus d (24 h) and w.
func parseOffset(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("an offset needs a length, e.g. 2h, 90m, 1d")
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, errors.New("one sign is enough")
	}
	const maxOffset = 20 * 365 * 24 * time.Hour
	var extra time.Duration
	tooBig := false
	rest := dayWeek().ReplaceAllStringFunc(s, func(m string) string {
		sub := dayWeek().FindStringSubmatch(m)
		f, _ := strconv.ParseFloat(sub[1], 64)
		unit := 24 * time.Hour
		if sub[2] == "w" {
			unit *= 7
		}
		if x := f * float64(unit); x > float64(maxOffset) || float64(extra)+x > float64(maxOffset) {
			tooBig = true
		} else {
			extra += time.Duration(x)
		}
		return ""
	})
	if tooBig {
		return 0, fmt.Errorf("offset %q is more than 20 years", s)
	}
	var d time.Duration
	if rest != "" {
		var err error
		d, err = time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("bad offset %q: use units s, m, h, d, w (e.g. 90m, 2h, 1d12h)", s)
		}
	}
	if d < 0 || d > maxOffset || extra+d > maxOffset {
		return 0, fmt.Errorf("offset %q is more than 20 years", s)
	}
	d += extra
	if d <= 0 {
		return 0, fmt.Errorf("offset %q is not positive", s)
	}
	if d > maxOffset {
		return 0, fmt.Errorf("offset %q is more than 20 years", s)
	}
	return d, nil
}
