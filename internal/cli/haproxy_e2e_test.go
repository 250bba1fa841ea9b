package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/export"
	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources/replay"
)

// haproxyLab is a real HAProxy from Debian's package on loopback:
// frontend web sends everything to one backend, whose server app-1 is an
// HTTP server of the test's and app-2 a port nothing listens on (DOWN
// after its first check); optionally a second backend with no server UP.
// Every test of a real load balancer starts it here.
type haproxyLab struct {
	dir    string
	socket string
	port   int // the frontend's
	proc   *realserver.Proc
}

// lbOptions shape the load balancer.
type lbOptions struct {
	backend     string       // "be_app" by default
	app         http.Handler // app-1; nil: it answers "ok"
	checkPath   string       // what the health checks ask; "/" by default
	appFall     int          // failed checks before app-1 goes DOWN; 1 by default
	deadBackend string       // a backend with one server nothing listens on ("api-1"); none when ""
}

func startLB(t *testing.T, o lbOptions) *haproxyLab {
	t.Helper()
	needServers(t, "haproxy")
	if o.backend == "" {
		o.backend = "be_app"
	}
	if o.checkPath == "" {
		o.checkPath = "/"
	}
	if o.appFall == 0 {
		o.appFall = 1
	}
	if o.app == nil {
		o.app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	}
	up := httptest.NewServer(o.app)
	t.Cleanup(up.Close)
	ports, err := realserver.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := &haproxyLab{dir: dir, socket: filepath.Join(dir, "admin.sock"), port: ports[0]}
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:%d
    default_backend %s
backend %s
    option httpchk GET %s
    server app-1 %s check inter 300 fall %d rise 1
    server app-2 127.0.0.1:%d check inter 300 fall 1 rise 1
`, l.socket, l.port, o.backend, o.backend, o.checkPath, strings.TrimPrefix(up.URL, "http://"), o.appFall, ports[1])
	if o.deadBackend != "" {
		cfg += fmt.Sprintf(`backend %s
    option httpchk GET /
    server api-1 127.0.0.1:%d check inter 300 fall 1 rise 1
`, o.deadBackend, ports[2])
	}
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l.proc, err = realserver.Start(dir, nil, "haproxy", "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.proc.Stop)
	waitFor(t, 10*time.Second, "HAProxy's stats socket", func() bool { _, err := os.Stat(l.socket); return err == nil })
	// the dead servers go DOWN, the live one UP, after their first checks
	time.Sleep(1500 * time.Millisecond)
	if l.proc.Exited() {
		t.Fatalf("haproxy exited:\n%s", l.proc.Output())
	}
	return l
}

func startHAProxy(t *testing.T, withDeadBackend bool) *haproxyLab {
	t.Helper()
	o := lbOptions{}
	if withDeadBackend {
		o.deadBackend = "be_api"
	}
	return startLB(t, o)
}

func (l *haproxyLab) config(t *testing.T) string {
	return writeConfig(t, fmt.Sprintf("sources:\n  - name: lb-1\n    type: haproxy\n    interval: 1s\n    timeout: 2s\n    socket: %s\n", l.socket))
}

func TestCheckRealHAProxyServerDownIsWarning(t *testing.T) {
	l := startHAProxy(t, false)
	t.Setenv("NO_COLOR", "1")
	code, out, errOut := run(t, "check", "--config", l.config(t), "--sample", "1s")
	if code != ExitWarning {
		t.Fatalf("exit %d, want 1 (WARNING)\n%s\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "WARNING") || !strings.Contains(out, "be_app (Active: 1/2)") || !strings.Contains(out, "app-2") {
		t.Errorf("report:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences under NO_COLOR / piped: %q", out)
	}
	code, out, _ = run(t, "check", "--config", l.config(t), "--sample", "1s", "--format", "json")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != ExitWarning || rep.Status != "warning" || len(rep.Sources) != 1 || rep.Sources[0].Status != "ok" || rep.Sources[0].Type != "haproxy" {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	named := false
	for _, f := range rep.Findings {
		if strings.Contains(f.Title+f.Detail, "app-2") {
			named = true
		}
		if f.Severity == "critical" {
			t.Errorf("nothing is critical here: %+v", f)
		}
	}
	if !named {
		t.Errorf("no finding names the DOWN server app-2: %+v", rep.Findings)
	}
}

func TestCheckRealHAProxyBackendWithoutServersIsCritical(t *testing.T) {
	l := startHAProxy(t, true)
	code, out, _ := run(t, "check", "--config", l.config(t), "--sample", "1s", "--format", "json")
	var rep CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != ExitCritical || rep.Status != "critical" {
		t.Fatalf("exit %d, status %s\n%s", code, rep.Status, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Severity == "critical" && strings.Contains(f.Title, "be_api") {
			found = true
		}
	}
	if !found {
		t.Errorf("no critical finding for be_api: %+v", rep.Findings)
	}
}

func TestCheckRealHAProxyGoneIsUnknown(t *testing.T) {
	l := startHAProxy(t, false)
	cfg := l.config(t)
	l.proc.Stop()
	code, out, _ := run(t, "check", "--config", cfg, "--sample", "0")
	if code != ExitUnknown || !strings.Contains(out, "lb-1") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// The recorder is this test binary, re-run as `opsview record`.
func TestMain(m *testing.M) {
	if args := os.Getenv("OPSVIEW_TEST_MAIN"); args != "" {
		os.Exit(Main(strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Record a real HAProxy, kill -9 the recorder, and replay what it wrote:
// every whole frame is there, nothing panics, and the export works.
func TestRecordRealHAProxyKilledThenReplayed(t *testing.T) {
	l := startHAProxy(t, false)
	out := filepath.Join(t.TempDir(), "incident.opsrec")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OPSVIEW_TEST_MAIN="+strings.Join([]string{"record", "--config", l.config(t), "--out", out}, "\x1f"),
		"XDG_STATE_HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(out); err == nil && fi.Size() > 2000 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the recorder wrote nothing")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	rec, err := replay.Open(out)
	if err != nil {
		t.Fatalf("a killed recording must open: %v", err)
	}
	defer rec.Close()
	if rec.Len() < 2 {
		t.Fatalf("%d batches recorded", rec.Len())
	}
	sawDown := false
	for i := 0; i < rec.Len(); i++ {
		b, err := rec.Batch(i)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if b.Source != "lb-1" && b.Source != "engine" {
			t.Errorf("batch %d from %q", i, b.Source)
		}
		for _, n := range b.Nodes {
			if n.Name == "app-2" && strings.HasPrefix(n.State, "DOWN") {
				sawDown = true
			}
		}
	}
	if !sawDown {
		t.Error("the recording does not show app-2 DOWN")
	}
	var md strings.Builder
	if err := export.Markdown(&md, rec, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "lb-1") {
		t.Errorf("export does not name the source:\n%s", md.String())
	}
}
