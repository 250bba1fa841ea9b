package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
	_ "github.com/opsview/opsview/sources/ganglia" // ganglia
	_ "github.com/opsview/opsview/sources/munin"   // munin
)

func needServer(t *testing.T, p *realserver.Proc, err error) {
	t.Helper()
	if errors.Is(err, realserver.ErrNotInstalled) && !realserver.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
}

// Munin's and Ganglia's graphs reach the store through the whole runtime
// (config, scheduler, session) from a real munin-node and a real gmond,
// with their units: what the Graphs view draws.
func TestMuninAndGangliaGraphsReachTheStoreWithTheirUnits(t *testing.T) {
	p, munin, err := realserver.MuninNode(t.TempDir(), `^127\.0\.0\.1$`)
	needServer(t, p, err)
	p, gmond, err := realserver.Gmond(t.TempDir(), "opsview-it")
	needServer(t, p, err)
	cfg := filepath.Join(t.TempDir(), "opsview.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sources:
  - name: munin
    type: munin
    interval: 1s
    timeout: 30s
    nodes: [%s]
    plugins: [load, memory, cpu]
  - name: ganglia
    type: ganglia
    interval: 1s
    address: %s
`, munin, gmond)), 0o600)
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := EntriesFromConfig(c, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	rt := New(Options{Entries: entries, Store: correlate.StoreOptions{Step: time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rt.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()

	// the units each source gives, and a value for each (counters need a
	// second fetch, gmond a moment to report)
	want := map[string]string{
		"munin/load.load":          "load",
		"munin/memory.apps":        "B",
		"munin/cpu.user":           "%",
		"ganglia/load_one":         "",
		"ganglia/mem_free":         "B",
		"ganglia/cpu_user":         "%",
		"ganglia/ganglia_hosts_up": "hosts",
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		snap := rt.Store().Snapshot(rt.Store().Now().Add(-5*time.Minute), rt.Store().Now(), nil)
		missing := map[string]string{}
		for k, v := range want {
			missing[k] = v
		}
		for _, s := range snap.Series {
			k := s.Source + "/" + s.Name
			u, ok := missing[k]
			if !ok {
				continue
			}
			if s.Unit != u || s.Role != sources.RoleResource {
				t.Fatalf("%s: unit %q role %v, want %q resource", k, s.Unit, s.Role, u)
			}
			if _, at := s.Last(); at >= 0 {
				delete(missing, k)
			}
		}
		health := map[string]sources.Health{}
		for _, st := range snap.Status {
			health[st.Source] = st.Health
		}
		if len(missing) == 0 {
			if health["munin"] != sources.HealthOK && health["munin"] != sources.HealthSlow || health["ganglia"] != sources.HealthOK && health["ganglia"] != sources.HealthSlow {
				t.Errorf("status %+v", snap.Status)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still missing %v after 90 s; status %+v", missing, snap.Status)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
