package cli

import (
	"fmt"
	"strings"
	"time"
)

// parseWindow reads --from/--until: absolute ("2026-11-20 14:00", RFC 3339,
// "14:00" today), relative to now ("-6h", "now"), or, for until, relative to
// from ("+2h").
func parseWindow(from, until string, now time.Time) (time.Time, time.Time, error) {
	var f, u time.Time
	var err error
	if from == "" {
		return f, u, fmt.Errorf("--until needs --from")
	}
	if f, err = parseTime(from, now, time.Time{}); err != nil {
		return f, u, fmt.Errorf("--from %q: %v", from, err)
	}
	if until == "" {
		u = now
	} else if u, err = parseTime(until, now, f); err != nil {
		return f, u, fmt.Errorf("--until %q: %v", until, err)
	}
	if !u.After(f) {
		return f, u, fmt.Errorf("--until (%s) must be after --from (%s)", u.Format(time.RFC3339), f.Format(time.RFC3339))
	}
	if u.After(now) {
		u = now
	}
	return f, u, nil
}

func parseTime(s string, now, base time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "+"):
		if base.IsZero() {
			return time.Time{}, fmt.Errorf("'+' is relative to --from and only works for --until")
		}
		d, err := time.ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		return base.Add(d), nil
	case strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			y, m, d := now.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, now.Location()), nil
		}
	}
	return time.Time{}, fmt.Errorf(`not a time: use "2026-11-20 14:00", RFC 3339, "14:00", -6h or now`)
}
