package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type addLog struct {
	added []string
	bad   string
}

func (a *addLog) AddSeries(id string, _ time.Duration) error {
	if id == a.bad {
		return errors.New("no such source")
	}
	a.added = append(a.added, id)
	return nil
}

// Series added with the picker are polled again on the next start under
// the same configuration, and only under it.
func TestPickedSeriesAreRememberedPerConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state", "picked-series")
	var logs []string
	logf := func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }

	first := &addLog{bad: "gone/x"}
	add := rememberPicks(first, file, "/etc/opsview/a.yaml", logf)
	if len(first.added) != 0 {
		t.Fatalf("nothing remembered yet, but added %v", first.added)
	}
	for _, id := range []string{"graphite/servers.db-1.load", "prometheus/up", "graphite/servers.db-1.load"} {
		if err := add(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := add("gone/x"); err == nil {
		t.Fatal("a failed add must say so")
	}
	other := rememberPicks(&addLog{}, file, "/etc/opsview/b.yaml", logf)
	if err := other("graphite/only.b"); err != nil {
		t.Fatal(err)
	}

	// the next start under a.yaml polls a.yaml's picks, once each, in order
	next := &addLog{}
	rememberPicks(next, file, "/etc/opsview/a.yaml", logf)
	if got := strings.Join(next.added, " "); got != "graphite/servers.db-1.load prometheus/up" {
		t.Fatalf("re-added %q", got)
	}
	// a remembered series whose source is gone is logged and skipped
	gone := &addLog{bad: "prometheus/up"}
	logs = nil
	rememberPicks(gone, file, "/etc/opsview/a.yaml", logf)
	if len(gone.added) != 1 || len(logs) != 1 || !strings.Contains(logs[0], "prometheus/up") {
		t.Fatalf("added %v, logged %q", gone.added, logs)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("picks file: %v %v", fi, err)
	}
	// an id with a newline cannot forge a line
	if err := savePicked(file, "/etc/opsview/a.yaml", "graphite/x\n/etc/opsview/b.yaml\tevil"); err == nil {
		t.Fatal("a newline in an id was written")
	}
}

// A picks file that is not ours (binary, huge) is read within a bound and
// gives nothing for a configuration it does not name.
func TestPickedFileIsReadWithinABound(t *testing.T) {
	file := filepath.Join(t.TempDir(), "picked-series")
	big := strings.Repeat("x", maxPickedBytes+10) + "\n/c.yaml\tgraphite/late\n"
	if err := os.WriteFile(file, []byte("# comment\n/c.yaml\tgraphite/early\n"+big), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, _ := loadPicked(file, "/c.yaml")
	if strings.Join(ids, " ") != "graphite/early" {
		t.Fatalf("ids %q: the read must stop at the bound", ids)
	}
}

func FuzzLoadPicked(f *testing.F) {
	f.Add([]byte("/c.yaml\tgraphite/a\n# x\n/c.yaml\tprometheus/up\n"))
	f.Add([]byte("\t\t\n/c.yaml\t\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "p")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ids, _ := loadPicked(file, "/c.yaml")
		seen := map[string]bool{}
		for _, id := range ids {
			if id == "" || strings.ContainsAny(id, "\n") || seen[id] {
				t.Fatalf("id %q from %q", id, data)
			}
			seen[id] = true
		}
	})
}
