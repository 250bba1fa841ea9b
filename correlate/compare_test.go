package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// iowait on db-1 is far above what it was at this time yesterday; db-2's
// is as noisy as ever; qps is where it was. Only db-1 is unusual.
func TestCompareSaysWhatIsUnusualAgainstYesterday(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	store := NewStore(StoreOptions{Step: time.Minute, Retention: 48 * time.Hour})
	add := func(name, unit string, f func(t time.Time) float64) {
		var pts []sources.Point
		for x := now.Add(-day - 2*time.Hour); !x.After(now); x = x.Add(time.Minute) {
			pts = append(pts, sources.Point{T: x, V: f(x)})
		}
		store.Apply(&sources.Batch{Source: "gr", At: now, Series: []sources.Series{{Name: name, Unit: unit, Points: pts}}})
	}
	wiggle := func(t time.Time) float64 { return float64(t.Minute()%5) - 2 }
	add("servers.db-1.cpu.iowait", "%", func(x time.Time) float64 {
		if x.After(now.Add(-20 * time.Minute)) {
			return 90 + wiggle(x)
		}
		return 3 + wiggle(x)/4
	})
	add("servers.db-2.cpu.iowait", "%", func(x time.Time) float64 { return 10 + 4*wiggle(x) })
	add("mysql.qps", "req/s", func(x time.Time) float64 { return 2400 + 20*wiggle(x) })

	nowSnap := store.Snapshot(now.Add(-time.Hour), now, nil)
	thenSnap := store.Snapshot(now.Add(-day-time.Hour), now.Add(-day), nil)
	fs := Compare(nowSnap, thenSnap, day, CompareOptions{})
	if len(fs) != 1 {
		t.Fatalf("%d findings: %+v", len(fs), fs)
	}
	f := fs[0]
	if !strings.Contains(f.Title, "servers.db-1.cpu.iowait is higher than 1d ago") || !strings.Contains(f.Title, "90 % now") || f.Rule != "compare" || f.Severity != sources.SevInfo {
		t.Errorf("finding %+v", f)
	}
	// nothing to compare with: no findings, no panic
	empty := store.Snapshot(now.Add(-60*day), now.Add(-59*day), nil)
	if fs := Compare(nowSnap, empty, 7*day, CompareOptions{}); len(fs) != 0 {
		t.Errorf("findings without history: %+v", fs)
	}
}
