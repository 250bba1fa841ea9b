package sources

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	now := time.Date(2026, 11, 23, 20, 30, 0, 0, time.UTC) // 21:30 in Paris
	at := func(y int, mo time.Month, d, h, mi, s int, loc *time.Location) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, loc)
	}
	cases := []struct {
		from, until string
		loc         *time.Location
		wantFrom    time.Time
		wantUntil   time.Time
	}{
		{"2026-11-20 14:00", "+2h", time.UTC, at(2026, 11, 20, 14, 0, 0, time.UTC), at(2026, 11, 20, 16, 0, 0, time.UTC)},
		{"2026-11-20 14:00", "+2h", paris, at(2026, 11, 20, 13, 0, 0, time.UTC), at(2026, 11, 20, 15, 0, 0, time.UTC)},
		{"2026-11-20 14:00:30", "2026-11-20 15:00", time.UTC, at(2026, 11, 20, 14, 0, 30, time.UTC), at(2026, 11, 20, 15, 0, 0, time.UTC)},
		{"2026-11-20T14:00", "", time.UTC, at(2026, 11, 20, 14, 0, 0, time.UTC), now},
		{"2026-11-20", "+1d", time.UTC, at(2026, 11, 20, 0, 0, 0, time.UTC), at(2026, 11, 21, 0, 0, 0, time.UTC)},
		{"2026-11-20T14:00:00+01:00", "2026-11-20T15:00:00Z", paris, at(2026, 11, 20, 13, 0, 0, time.UTC), at(2026, 11, 20, 15, 0, 0, time.UTC)},
		{"-6h", "", time.UTC, now.Add(-6 * time.Hour), now},
		{"-6h", "now", time.UTC, now.Add(-6 * time.Hour), now},
		{"-1h30m", "-30m", time.UTC, now.Add(-90 * time.Minute), now.Add(-30 * time.Minute)},
		{"-2d", "+1d12h", time.UTC, now.Add(-48 * time.Hour), now.Add(-12 * time.Hour)},
		{"now-1w", "now-6d", time.UTC, now.Add(-7 * 24 * time.Hour), now.Add(-6 * 24 * time.Hour)},
		{"14:00", "+2h", time.UTC, at(2026, 11, 23, 14, 0, 0, time.UTC), at(2026, 11, 23, 16, 0, 0, time.UTC)},
		{"14:00", "", paris, at(2026, 11, 23, 13, 0, 0, time.UTC), now},
		// a clock time still to come today means yesterday
		{"22:15", "+1h", time.UTC, at(2026, 11, 22, 22, 15, 0, time.UTC), at(2026, 11, 22, 23, 15, 0, time.UTC)},
		{"@1795420000", "+10m", time.UTC, time.Unix(1795420000, 0), time.Unix(1795420600, 0)},
		{"  -15m ", " ", time.UTC, now.Add(-15 * time.Minute), now},
	}
	for _, c := range cases {
		f, u, err := ParseWindow(c.from, c.until, now, c.loc)
		if err != nil {
			t.Errorf("%q %q: %v", c.from, c.until, err)
			continue
		}
		if !f.Equal(c.wantFrom) || !u.Equal(c.wantUntil) {
			t.Errorf("%q %q (%v) = %v … %v, want %v … %v", c.from, c.until, c.loc, f.UTC(), u.UTC(), c.wantFrom.UTC(), c.wantUntil.UTC())
		}
	}
}

func TestParseWindowErrors(t *testing.T) {
	now := time.Date(2026, 11, 23, 20, 30, 0, 0, time.UTC)
	for _, c := range []struct{ from, until, want string }{
		{"", "", "--from is empty"},
		{"+2h", "", "only for --until"},
		{"yesterday", "", "not a time"},
		{"2026-13-40 14:00", "", "not a time"},
		{"-6x", "", "bad offset"},
		{"-", "", "needs a length"},
		{"--6h", "", "one sign"},
		{"-0s", "", "not positive"},
		{"2026-11-24 10:00", "", "after now"},
		{"now+1h", "", "after now"},
		{"-1h", "-2h", "not after --from"},
		{"-1h", "+0s", "not positive"},
		{"-1h", "+", "needs a length"},
		{"-1h", "soon", "not a time"},
		{"@abc", "", "Unix seconds"},
		{"-30000w", "", "20 years"},
	} {
		_, _, err := ParseWindow(c.from, c.until, now, time.UTC)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %q: error %v, want %q", c.from, c.until, err, c.want)
		}
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"2026-11-20 14:00", "-6h", "+2h", "14:00", "now-1w", "@1795420000", "2026-11-20T14:00:00+01:00", "1d12h"} {
		f.Add(s, "+2h")
		f.Add(s, "")
	}
	now := time.Date(2026, 11, 23, 20, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, until string) {
		a, b, err := ParseWindow(from, until, now, time.UTC)
		if err != nil {
			return
		}
		if !b.After(a) || a.After(now) {
			t.Fatalf("%q %q gave %v … %v", from, until, a, b)
		}
	})
}
