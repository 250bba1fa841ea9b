package munin

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

// startNode runs a real munin-node on loopback (realserver.MuninNode);
// allow is the regexp of its allow line.
func startNode(t testing.TB, allow string) string {
	t.Helper()
	p, addr, err := realserver.MuninNode(t.TempDir(), allow)
	if errors.Is(err, realserver.ErrNotInstalled) && !realserver.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return addr
}

func newSource(t testing.TB, yaml string) *Source {
	return sourcetest.New[*Source](t, factory, "munin", yaml)
}

func find(b *sources.Batch, name string) *sources.Series {
	for i := range b.Series {
		if b.Series[i].Name == name {
			return &b.Series[i]
		}
	}
	return nil
}

func TestRealMuninNodeGraphsBecomeResourceSeries(t *testing.T) {
	addr := startNode(t, `^127\.0\.0\.1$`)
	s := newSource(t, fmt.Sprintf("nodes: [%s]\nplugins: [cpu, load, memory, df, diskstats]\n", addr))
	b, err := sourcetest.PollAt(t, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	load := find(b, "load.load")
	host, _ := os.Hostname()
	if load == nil || load.Unit != "load" || load.Role != sources.RoleResource || load.Layer != sources.LayerHost ||
		load.Kind != sources.SeriesGauge || load.Node == "" || load.Labels["node"] != load.Node || len(load.Labels) != 1 ||
		math.IsNaN(load.Points[0].V) {
		t.Fatalf("load %+v (host %s)", load, host)
	}
	if apps := find(b, "memory.apps"); apps == nil || apps.Unit != "B" || apps.Points[0].V <= 0 {
		t.Errorf("memory.apps %+v", apps)
	}
	user := find(b, "cpu.user")
	if user == nil || user.Kind != sources.SeriesRate || user.Unit != "%" || !math.IsNaN(user.Points[0].V) {
		t.Fatalf("a counter's first fetch has no rate yet: %+v", user)
	}
	// a second fetch a moment later: counters become rates
	time.Sleep(1100 * time.Millisecond)
	b, err = sourcetest.PollAt(t, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	user = find(b, "cpu.user")
	if user == nil || math.IsNaN(user.Points[0].V) || user.Points[0].V < 0 {
		t.Errorf("cpu.user rate %+v", user)
	}
	var df, disk int
	for _, sr := range b.Series {
		if strings.HasPrefix(sr.Name, "df.") && sr.Unit == "%" && sr.Labels["label"] != "" {
			df++
		}
		if strings.HasPrefix(sr.Name, "diskstats_") {
			disk++
		}
	}
	if df == 0 {
		t.Errorf("no df series with %% and a mount point label")
	}
	if disk == 0 {
		t.Logf("no diskstats series (no block device visible here?)")
	}
	if !strings.HasPrefix(b.Status.Detail, "1/1 nodes, 5 plugins,") {
		t.Errorf("detail %q", b.Status.Detail)
	}
}

func TestPluginsAreChosenByNameOrGlob(t *testing.T) {
	addr := startNode(t, `^127\.0\.0\.1$`)
	s := newSource(t, fmt.Sprintf("nodes: [%s]\nplugins: [\"loa*\"]\n", addr))
	b, err := sourcetest.PollAt(t, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range b.Series {
		if !strings.HasPrefix(sr.Name, "load.") {
			t.Errorf("unasked %s", sr.Name)
		}
	}
	s = newSource(t, fmt.Sprintf("nodes: [%s]\nplugins: [nosuch]\n", addr))
	if _, err := sourcetest.PollAt(t, s, time.Now()); err == nil || !strings.Contains(err.Error(), "none of plugins [nosuch]") {
		t.Errorf("want the list of the node's plugins, got %v", err)
	}
}

func TestANodeThatRefusesUsSaysWhy(t *testing.T) {
	denied := startNode(t, `^10\.9\.9\.9$`)
	port, _ := realserver.FreePort()
	for addr, want := range map[string]string{
		denied:                "allow list",
		realserver.Addr(port): "is munin-node running",
	} {
		s := newSource(t, fmt.Sprintf("nodes: [%s]\n", addr))
		_, err := sourcetest.PollAt(t, s, time.Now())
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `munin "munin"`) {
			t.Errorf("%s: want %q, got %v", addr, want, err)
		}
	}
}

func configOpts(yaml string) (sources.Options, error) {
	return config.OptionsFromYAML("munin.yaml", yaml)
}
