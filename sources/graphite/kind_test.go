package graphite

import (
	"testing"

	"github.com/opsview/opsview/sources"
)

func TestTargetFunctionSaysTheKind(t *testing.T) {
	for target, want := range map[string]sources.SeriesKind{
		"perSecond(servers.web-1.nginx.requests)":                  sources.SeriesRate,
		"scaleToSeconds(stats_counts.api.errors,1)":                sources.SeriesRate,
		"asPercent(stats.api.errors,stats.api.requests)":           sources.SeriesRatio,
		"divideSeries(stats.api.errors,stats.api.requests)":        sources.SeriesRatio,
		"integral(stats.api.errors)":                               sources.SeriesCounter,
		"servers.db-1.cpu.total.iowait":                            sources.SeriesUnknown,
		"movingAverage(perSecond(servers.web-1.nginx.requests),5)": sources.SeriesUnknown,
	} {
		if got := targetKind(target); got != want {
			t.Errorf("%s: %v, want %v", target, got, want)
		}
	}
}
