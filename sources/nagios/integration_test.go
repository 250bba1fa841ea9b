package nagios

import (
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
)

// startNagios runs the real Nagios Core of Debian's nagios4-core with
// one CRITICAL service and one OK one, checks every second.
func startNagios(t *testing.T) *realserver.Nagios {
	t.Helper()
	if r := realserver.MissingAlerting("nagios4", realserver.PluginDir+"/check_dummy"); r != "" {
		if realserver.InCI() {
			t.Fatal(r)
		}
		t.Skip(r)
	}
	n, err := realserver.StartNagios(t.TempDir(), []realserver.NagiosService{
		{Host: "db-1", Name: "disk /var", Command: `$USER1$/check_dummy 2 "DISK CRITICAL - free space: /var 2%"`},
		{Host: "db-1", Name: "load", Command: `$USER1$/check_dummy 0 "LOAD OK"`},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Proc.Stop)
	if err := n.WaitChecked(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRealNagiosCriticalServiceIsAnOpenHardAlert(t *testing.T) {
	n := startNagios(t)
	s, err := New(sources.Env{Name: "nagios"}, Options{StatusFile: n.StatusFile, LogFile: n.LogFile})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b, err := s.Poll(t.Context(), sources.Request{Now: now, From: now.Add(-time.Hour), Until: now, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := b.Status.Watched; w == nil || w.Hosts != 1 || w.Services != 2 {
		t.Fatalf("watched: %+v", w)
	}
	if len(b.Events) != 1 {
		t.Fatalf("events: %+v", b.Events)
	}
	ev := b.Events[0]
	if a := ev.Alert; !ev.Open() || a.Check != "disk /var" || a.State != "CRITICAL" || !a.Hard || ev.Node != "db-1" ||
		ev.Severity != sources.SevCritical || ev.Text != "CRITICAL: DISK CRITICAL - free space: /var 2%" {
		t.Fatalf("%+v %+v", ev, ev.Alert)
	}
	// the log's SERVICE ALERT line and status.dat name the same problem
	if ev.Start.IsZero() || now.Sub(ev.Start) > time.Minute {
		t.Fatalf("start %v", ev.Start)
	}
	// a later read, Nagios having rewritten the file meanwhile, goes on with it
	time.Sleep(1100 * time.Millisecond)
	b2, err := s.Poll(t.Context(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Events) != 1 || b2.Events[0].ID != ev.ID || !b2.Events[0].Open() {
		t.Fatalf("second read: %+v", b2.Events)
	}
}
