package nagios

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"

	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func TestTheAlertsOfNagios446sLog(t *testing.T) {
	es, err := ParseLog(bytes.NewReader(sourcetest.Testdata(t, "nagios.log")))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("entries: %+v", es)
	}
	e := es[0]
	if e.Kind != LogAlert || e.Host != "web01" || e.Service != "http-refused" || e.State != 2 || !e.Hard || e.Attempt != 1 ||
		e.At.Unix() != 1795420957 || e.Output != "connect to address 127.0.0.1 and port 18061: Connection refused" {
		t.Fatalf("%+v", e)
	}
}

const history = `[1795410000] LOG VERSION: 2.0
[1795410000] CURRENT HOST STATE: db-1;UP;HARD;1;PING OK
[1795410000] CURRENT SERVICE STATE: db-1;disk /var;OK;HARD;1;DISK OK
[1795411000] SERVICE ALERT: db-1;disk /var;WARNING;SOFT;1;DISK WARNING - free space: /var 9%
[1795411060] SERVICE ALERT: db-1;disk /var;CRITICAL;HARD;3;DISK CRITICAL - free space: /var 2%; inode 1%
[1795411100] SERVICE FLAPPING ALERT: db-1;disk /var;STARTED; Service appears to have started flapping (24.2% change >= 20.0% threshold)
[1795411500] SERVICE ALERT: db-1;disk /var;OK;HARD;3;DISK OK
[1795412000] HOST ALERT: db-1;DOWN;SOFT;1;PING CRITICAL - Packet loss = 100%
[1795412030] HOST ALERT: db-1;UP;SOFT;2;PING OK
[1795419000] HOST DOWNTIME ALERT: db-1;STARTED; Host has entered a period of scheduled downtime
[1795419100] SERVICE ALERT: db-1;load;CRITICAL;HARD;1;LOAD CRITICAL - load average: 31.2
[1795419200] Warning: something else entirely
`

func TestTheLogTellsEachProblemFromItsStartToItsRecovery(t *testing.T) {
	es, err := ParseLog(strings.NewReader(history))
	if err != nil {
		t.Fatal(err)
	}
	eps := Episodes(es)
	if len(eps) != 3 {
		t.Fatalf("episodes: %+v", eps)
	}
	disk := eps[0]
	if disk.Service != "disk /var" || disk.Start.Unix() != 1795411000 || disk.End.Unix() != 1795411500 || disk.Worst != 2 ||
		!disk.Hard || !disk.Flapping || disk.Output != "DISK CRITICAL - free space: /var 2%; inode 1%" {
		t.Fatalf("disk: %+v", disk)
	}
	host := eps[1]
	if host.Service != "" || host.Hard || host.End.Unix() != 1795412030 {
		t.Fatalf("host: %+v", host)
	}
	load := eps[2]
	if load.Service != "load" || !load.End.IsZero() || load.Downtime {
		t.Fatalf("load (its host's downtime is not its own): %+v", load)
	}
}

func TestTheLogsHistoryIsBackfilledAndStatusDatGoesOnWithIt(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "nagios.log")
	if err := os.WriteFile(logPath, []byte(history), 0o644); err != nil {
		t.Fatal(err)
	}
	now := int64(1795419300)
	// status.dat: load still CRITICAL, its last state change later than
	// the log's first line of the problem (it was WARNING first, say)
	s, _ := newTestSource(t, statusDat(now, svc{name: "load", state: 2, stateType: 1, change: 1795419150, problem: 4}),
		Options{LogFile: logPath})
	b, err := s.Poll(t.Context(), sources.Request{Now: time.Unix(now, 0), From: time.Unix(1795400000, 0), Until: time.Unix(now, 0), Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	var closed, open []sources.Event
	for _, ev := range b.Events {
		if ev.Open() {
			open = append(open, ev)
		} else {
			closed = append(closed, ev)
		}
	}
	if len(closed) != 2 || closed[0].Alert.Check != "disk /var" || closed[0].Alert.State != "CRITICAL" || closed[0].End.Unix() != 1795411500 ||
		!closed[0].Alert.Flapping || closed[0].Severity != sources.SevCritical {
		t.Fatalf("history: %+v", closed)
	}
	if len(open) != 1 || open[0].Start.Unix() != 1795419100 || open[0].ID != "service/db-1/load@1795419100" {
		t.Fatalf("the open problem starts where the log says: %+v", open)
	}
	// a later poll is not a backfill: no history again
	b2, err := s.Poll(t.Context(), sources.Request{Now: time.Unix(now+10, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Events) != 1 || b2.Events[0].ID != open[0].ID {
		t.Fatalf("second poll: %+v", b2.Events)
	}
}

func TestHistoryOutsideTheWindowIsLeftOut(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "nagios.log")
	if err := os.WriteFile(logPath, []byte(history), 0o644); err != nil {
		t.Fatal(err)
	}
	now := int64(1795419300)
	s, _ := newTestSource(t, statusDat(now, svc{name: "load", state: 0, stateType: 1, change: 1795419200}), Options{LogFile: logPath})
	b, err := s.Poll(t.Context(), sources.Request{Now: time.Unix(now, 0), From: time.Unix(1795411800, 0), Until: time.Unix(now, 0), Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	// disk /var ended before the window; the host's blip is in it; load
	// was open in the log and is OK in status.dat: closed at its change
	var got []string
	for _, ev := range b.Events {
		got = append(got, fmt.Sprintf("%s-%d", ev.ID, ev.End.Unix()))
	}
	if strings.Join(got, " ") != "host/db-1@1795412000-1795412030 service/db-1/load@1795419100-1795419200" {
		t.Fatalf("events: %v", got)
	}
}

func TestAnUnreadableLogLosesNothingElse(t *testing.T) {
	now := int64(1795419300)
	s, _ := newTestSource(t, statusDat(now, svc{name: "load", state: 2, stateType: 1, change: now}), Options{LogFile: "/nonexistent/nagios.log"})
	b := poll(t, s, time.Unix(now, 0))
	if len(b.Events) != 1 || !strings.Contains(b.Status.Detail, "log unreadable") {
		t.Fatalf("%+v %q", b.Events, b.Status.Detail)
	}
}

func TestOnlyTheTailOfALongLogIsRead(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "nagios.log")
	var b strings.Builder
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, "[%d] SERVICE ALERT: db-1;old;CRITICAL;HARD;1;%s\n", 1795400000+i, strings.Repeat("x", 200))
		fmt.Fprintf(&b, "[%d] SERVICE ALERT: db-1;old;OK;HARD;1;ok\n", 1795400000+i)
	}
	b.WriteString("[1795419100] SERVICE ALERT: db-1;load;CRITICAL;HARD;1;LOAD CRITICAL\n")
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := newTestSource(t, statusDat(1795419300), Options{LogFile: logPath, MaxLogMB: 1})
	es, err := s.readLog()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(es); n == 0 || n > (1<<20)/40 || es[len(es)-1].Service != "load" {
		t.Fatalf("%d entries read from the last MB", n)
	}
	if es[0].Host != "db-1" {
		t.Fatalf("the first line read is whole: %+v", es[0])
	}
}

// bigStatusDat writes a status.dat of about size bytes: hosts of 20
// services each, one service in 50 CRITICAL with a long output.
func bigStatusDat(t *testing.T, path string, size int) (hosts, services int) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &strings.Builder{}
	fmt.Fprintf(w, "info {\n\tcreated=1795420000\n\tversion=4.4.6\n\t}\n\n")
	long := strings.Repeat(`line of long output\n`, 40)
	written := 0
	for written < size {
		hosts++
		fmt.Fprintf(w, "hoststatus {\n\thost_name=host-%05d\n\thas_been_checked=1\n\tcurrent_state=0\n\tstate_type=1\n\tplugin_output=PING OK\n\t}\n\n", hosts)
		for j := 0; j < 20; j++ {
			services++
			state := 0
			if services%50 == 0 {
				state = 2
			}
			fmt.Fprintf(w, "servicestatus {\n\thost_name=host-%05d\n\tservice_description=service %d\n\thas_been_checked=1\n\tcurrent_state=%d\n\tstate_type=1\n", hosts, j, state)
			fmt.Fprintf(w, "\tplugin_output=%s\n\tlong_plugin_output=%s\n\tperformance_data=time=0.1s;;;0 size=%dB\n", strings.Repeat("o", 300), long, j)
			fmt.Fprintf(w, "\tlast_check=1795420000\n\tlast_state_change=1795419000\n\tcurrent_problem_id=%d\n\t}\n\n", services)
		}
		written += w.Len()
		if _, err := f.WriteString(w.String()); err != nil {
			t.Fatal(err)
		}
		w.Reset()
	}
	return hosts, services
}

func TestA50MBStatusDatIsReadInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50 MB")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "status.dat")
	hosts, services := bigStatusDat(t, path, 50<<20)
	s, err := New(sources.Env{}, Options{StatusFile: path})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b := poll(t, s, time.Unix(1795420000, 0))
	runtime.GC()
	runtime.ReadMemStats(&after)
	if w := b.Status.Watched; w.Hosts != hosts || w.Services != services || len(b.Events) != services/50 {
		t.Fatalf("watched %+v (want %d hosts, %d services), %d events", w, hosts, services, len(b.Events))
	}
	t.Logf("kept %d KB, allocated %d KB", (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>10, (after.TotalAlloc-before.TotalAlloc)>>10)
	// what stays is the problems and the followed state, not the file
	if live := int64(after.HeapAlloc) - int64(before.HeapAlloc); live > 16<<20 {
		t.Fatalf("%d MB kept after reading a 50 MB status.dat", live>>20)
	}
	// and the read itself never held the file: allocations stay a fraction of it
	if total := after.TotalAlloc - before.TotalAlloc; total > 16<<20 {
		t.Fatalf("%d MB allocated to read a 50 MB status.dat", total>>20)
	}
}

func TestAStatusDatLargerThanTheLimitIsAClearError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.dat")
	bigStatusDat(t, path, 2<<20)
	s, err := New(sources.Env{}, Options{StatusFile: path, MaxFileMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Poll(t.Context(), sources.Request{Now: time.Unix(1795420000, 0)})
	if err == nil || !strings.Contains(err.Error(), "more than max_file_mb 1: raise max_file_mb") {
		t.Fatalf("err: %v", err)
	}
}

func TestTheLogSaysWhichProblemsWereOpenAtAnInstant(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "nagios.log")
	if err := os.WriteFile(logPath, []byte(history), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := newTestSource(t, statusDat(1795419300), Options{LogFile: logPath})
	var _ sources.PastAlerts = s
	at := func(sec int64) string {
		evs, err := s.AlertsAt(t.Context(), time.Unix(sec, 0))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.ID+" "+ev.Alert.State)
		}
		return strings.Join(got, ", ")
	}
	// WARNING then, CRITICAL later: the state it was in then
	if got := at(1795411030); got != "service/db-1/disk /var@1795411000 WARNING" {
		t.Errorf("at 1795411030: %q", got)
	}
	if got := at(1795411600); got != "" {
		t.Errorf("disk /var recovered at 1795411500: %q", got)
	}
	if got := at(1795419200); got != "service/db-1/load@1795419100 CRITICAL" {
		t.Errorf("at 1795419200: %q", got)
	}
	// before the log's first state line it cannot tell
	if _, err := s.AlertsAt(t.Context(), time.Unix(1795400000, 0)); err == nil || !strings.Contains(err.Error(), "does not reach back") {
		t.Errorf("before the log: %v", err)
	}
	s2, _ := newTestSource(t, statusDat(1795419300), Options{})
	if _, err := s2.AlertsAt(t.Context(), time.Unix(1795419200, 0)); err != ErrNoLog {
		t.Errorf("without log_file: %v", err)
	}
}
