package haproxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// Tests against the real HAProxy from Debian's `haproxy` package, started
// here in the foreground on loopback with free ports.

func requireHAProxy(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy binary missing under CI=true: apt-get install -y haproxy")
		}
		t.Skip("haproxy not installed (apt-get install -y haproxy)")
	}
	return p
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// backend is a tiny HTTP server haproxy balances to; Stop and Start keep
// its port.
type backend struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func newBackend(t *testing.T) *backend {
	b := &backend{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

func (b *backend) Start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })}
	go b.srv.Serve(ln)
}

func (b *backend) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

type lab struct {
	dir      string
	sock     string
	tcpSock  string
	master   string
	fe, st   int
	tls      int    // HTTPS stats page port
	caFile   string // the self-signed certificate of that page
	cmd      *exec.Cmd
	stderr   *strings.Builder
	backends []*backend
	inter    time.Duration
}

func startLab(t *testing.T, masterWorker bool, inter ...time.Duration) *lab {
	bin := requireHAProxy(t)
	l := &lab{dir: t.TempDir(), fe: freePort(t), st: freePort(t), inter: 300 * time.Millisecond}
	if len(inter) > 0 {
		l.inter = inter[0]
	}
	l.sock = filepath.Join(l.dir, "admin.sock")
	l.master = filepath.Join(l.dir, "master.sock")
	l.tcpSock = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	l.backends = []*backend{newBackend(t), newBackend(t)}
	l.tls = freePort(t)
	crt := filepath.Join(l.dir, "site.pem")
	l.caFile = filepath.Join(l.dir, "ca.pem")
	selfSigned(t, crt, l.caFile)
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
    stats socket ipv4@%s level operator
    stats timeout 5s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 300ms
frontend web
    bind 127.0.0.1:%d
    default_backend app
backend app
    option httpchk GET /
    default-server inter %dms fall 1 rise 1
    server app-1 %s check
    server app-2 %s check
listen stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /stats
    stats auth admin:secret
listen stats_tls
    bind 127.0.0.1:%d ssl crt %s
    stats enable
    stats uri /stats
    stats auth admin:secret
`, l.sock, l.tcpSock, l.fe, l.inter.Milliseconds(), l.backends[0].addr, l.backends[1].addr, l.st, l.tls, crt)
	cfgPath := filepath.Join(l.dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-db", "-f", cfgPath}
	if masterWorker {
		args = []string{"-W", "-db", "-S", l.master, "-f", cfgPath}
	}
	l.cmd = exec.Command(bin, args...)
	l.stderr = &strings.Builder{}
	l.cmd.Stderr = &syncWriter{w: l.stderr}
	l.cmd.Stdout = io.Discard
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { l.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			l.cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("unix", l.sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy socket not ready: %s", l.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return l
}

// selfSigned writes a certificate for 127.0.0.1 with its key (for
// HAProxy's `crt`) and the certificate alone (for ca_file).
func selfSigned(t *testing.T, combined, caFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opsview test LB"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(caFile, cert, 0o600)
	os.WriteFile(combined, append(cert, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...), 0o600)
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (l *lab) traffic(t *testing.T, n int) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	for i := 0; i < n; i++ {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", l.fe))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

func pollCtx(t *testing.T, s *Source) (*sources.Batch, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.Poll(ctx, sources.Request{Now: time.Now()})
}

func serverState(b *sources.Batch, id string) string {
	if n := findNode(b, id); n != nil {
		return n.State
	}
	return "(missing)"
}

// waitState polls until the server shows the state class; it returns how
// long that took.
func waitState(t *testing.T, s *Source, id, class string, limit time.Duration) (*sources.Batch, time.Duration, []sources.Event) {
	start := time.Now()
	var evs []sources.Event
	for {
		b, err := pollCtx(t, s)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, b.Events...)
		if classOf(serverState(b, id)) == class {
			return b, time.Since(start), evs
		}
		if time.Since(start) > limit {
			t.Fatalf("%s still %q after %v, want %s", id, serverState(b, id), limit, class)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRealHAProxyServerGoesDownAndComesBack(t *testing.T) {
	// a 1 s check interval keeps "within two intervals" meaningful on a busy machine
	l := startLab(t, false, time.Second)
	s, err := New(sources.Env{Name: "lb", Logf: t.Logf}, Options{Socket: l.sock})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "lb/app/app-2", "UP", 5*time.Second)
	l.traffic(t, 10)
	l.backends[1].Stop()
	stopped := time.Now()
	// HAProxy checks every inter with fall 1: two intervals must be enough
	time.Sleep(2 * l.inter)
	b, err := pollCtx(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if st := serverState(b, "lb/app/app-2"); classOf(st) != "DOWN" {
		t.Errorf("app-2 is %q %v after its backend stopped (2 check intervals)", st, time.Since(stopped))
		b, _, _ = waitState(t, s, "lb/app/app-2", "DOWN", 5*time.Second)
	}
	n := findNode(b, "lb/app/app-2")
	if cs := n.LB.Check.Status; n.Severity != sources.SevWarning || n.Class != sources.ClassDown || !n.LB.Check.Failed || cs != "L4CON" && cs != "L7RSP" && cs != "L4TOUT" {
		t.Errorf("DOWN node: %+v", n)
	}
	var down *sources.Event
	for _, e := range b.Events {
		if strings.Contains(e.ID, "/down/") && e.Open() {
			down = &e
		}
	}
	if down == nil || !strings.Contains(down.Text, "check") {
		t.Fatalf("no open DOWN event with the check reason: %+v", b.Events)
	}
	if be := findNode(b, "lb/app/BACKEND"); be == nil || be.Attrs["check"] == "" || !strings.HasPrefix(be.Attrs["check"], "app (Active: 1/2)") {
		t.Errorf("backend check line: %+v", be)
	}
	// it comes back
	l.backends[1].Start()
	_, took, evs := waitState(t, s, "lb/app/app-2", "UP", 5*time.Second)
	t.Logf("app-2 back UP seen after %v (inter %v)", took, l.inter)
	closed := false
	for _, e := range evs {
		if e.ID == down.ID && !e.Open() {
			closed = true
		}
	}
	if !closed {
		t.Error("the DOWN event was not closed when the server came back")
	}
	// both DOWN: the backend has no server UP
	l.backends[0].Stop()
	l.backends[1].Stop()
	b, _, _ = waitState(t, s, "lb/app/app-1", "DOWN", 5*time.Second)
	b, _, _ = waitState(t, s, "lb/app/app-2", "DOWN", 5*time.Second)
	if be := findNode(b, "lb/app/BACKEND"); be.Severity != sources.SevCritical || be.LB.Up != 0 || be.LB.Total != 2 || be.LB.Down != 2 {
		t.Errorf("backend with no server UP: %+v", be)
	}
}

// recorder sits between opsview and HAProxy's admin socket and keeps every
// byte opsview writes.
type recorder struct {
	mu  sync.Mutex
	out []byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, p...)
	return len(p), nil
}

func recordingProxy(t *testing.T, target string) (string, *recorder) {
	path := filepath.Join(t.TempDir(), "proxy.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rec := &recorder{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("unix", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() {
					io.Copy(io.MultiWriter(rec, up), c) // record before forwarding: the answer may come back at once
				}()
				io.Copy(c, up)
			}()
		}
	}()
	return path, rec
}

func TestRealHAProxyAdminSocketOnlySeesShowCommands(t *testing.T) {
	l := startLab(t, false)
	proxy, rec := recordingProxy(t, l.sock)
	var warned []string
	s, _ := New(sources.Env{Name: "lb", Logf: func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }}, Options{Socket: proxy})
	for i := 0; i < 3; i++ {
		if _, err := pollCtx(t, s); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	written := string(rec.out)
	rec.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(written))
	lines := 0
	for sc.Scan() {
		lines++
		for _, c := range strings.Split(sc.Text(), ";") {
			if !strings.HasPrefix(strings.TrimSpace(c), "show ") {
				t.Errorf("wrote a non-show command: %q", c)
			}
		}
	}
	if lines != 4 {
		t.Errorf("wrote %d lines: %q", lines, written)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "admin-level") {
		t.Errorf("admin socket warning: %q", warned)
	}
}

func TestRealHAProxyTCPSocketAndStatsPage(t *testing.T) {
	l := startLab(t, false)
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: "tcp://" + l.tcpSock})
	b, err := pollCtx(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if findNode(b, "lb/app/app-1") == nil {
		t.Fatalf("tcp socket: nodes %d", len(b.Nodes))
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/stats", l.st)
	good, _ := New(sources.Env{Name: "lb"}, Options{URL: url, Username: "admin", Password: "secret"})
	b, err = pollCtx(t, good)
	if err != nil {
		t.Fatal(err)
	}
	if n := findNode(b, "lb/app/app-1"); n == nil || n.LB.Addr != "" {
		t.Errorf("stats page: %+v (addr is empty over HTTP)", n)
	}
	bad, _ := New(sources.Env{Name: "lb"}, Options{URL: url, Username: "admin", Password: "nope"})
	if _, err := pollCtx(t, bad); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong password: %v", err)
	}
	none, _ := New(sources.Env{Name: "lb"}, Options{URL: url})
	if _, err := pollCtx(t, none); err == nil || !strings.Contains(err.Error(), "wants a login") {
		t.Errorf("no password: %v", err)
	}
	// HTTPS: refused without the CA, read with ca_file or skip-verify
	tlsURL := fmt.Sprintf("https://127.0.0.1:%d/stats", l.tls)
	noCA, _ := New(sources.Env{Name: "lb"}, Options{URL: tlsURL, Username: "admin", Password: "secret"})
	if _, err := pollCtx(t, noCA); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("HTTPS without ca_file: %v", err)
	}
	withCA, err := New(sources.Env{Name: "lb"}, Options{URL: tlsURL, Username: "admin", Password: "secret", CAFile: l.caFile})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := pollCtx(t, withCA); err != nil || findNode(b, "lb/app/app-1") == nil {
		t.Errorf("HTTPS with ca_file: %v", err)
	}
	var warned int
	skip, _ := New(sources.Env{Name: "lb", Logf: func(string, ...any) { warned++ }}, Options{URL: tlsURL, Username: "admin", Password: "secret", InsecureSkipVerify: true})
	if _, err := pollCtx(t, skip); err != nil || warned != 1 {
		t.Errorf("HTTPS with skip-verify: %v, %d warnings", err, warned)
	}
}

func TestRealHAProxyReloadMakesNoSpike(t *testing.T) {
	l := startLab(t, true)
	s, _ := New(sources.Env{Name: "lb", Logf: t.Logf}, Options{Socket: l.sock})
	waitState(t, s, "lb/app/app-1", "UP", 5*time.Second)
	l.traffic(t, 20)
	if _, err := pollCtx(t, s); err != nil {
		t.Fatal(err)
	}
	oldPid := s.insts[0].pid
	l.traffic(t, 20)
	time.Sleep(100 * time.Millisecond)
	b, err := pollCtx(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if r := findSeries(b, "req_tot", map[string]string{"instance": "lb", "frontend": "web"}); r == nil || r.Points[0].V <= 0 {
		t.Fatalf("no traffic rate before the reload: %+v", r)
	}
	// reload through the master CLI (a new worker with fresh counters);
	// asked again if the master was not ready for it yet
	reload := func() {
		for i := 0; i < 100; i++ {
			c, err := net.Dial("unix", l.master)
			if err == nil {
				io.WriteString(c, "reload\n")
				c.SetReadDeadline(time.Now().Add(time.Second))
				io.Copy(io.Discard, c)
				c.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("master CLI %s not ready", l.master)
	}
	reload()
	var reloaded *sources.Event
	deadline := time.Now().Add(10 * time.Second)
	asked := time.Now()
	for reloaded == nil && time.Now().Before(deadline) {
		if time.Since(asked) > 3*time.Second {
			reload()
			asked = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
		b, err := pollCtx(t, s)
		if err != nil {
			continue // the socket is briefly re-bound during the reload
		}
		for _, x := range b.Series {
			for _, p := range x.Points {
				if p.V < 0 || p.V > 1e6 {
					t.Errorf("spike across the reload: %s = %v", x.ID(), p.V)
				}
			}
		}
		for i := range b.Events {
			if strings.Contains(b.Events[i].Title, "reloaded") {
				reloaded = &b.Events[i]
				if findSeries(b, "req_tot", map[string]string{"instance": "lb", "frontend": "web"}) != nil {
					t.Error("a rate was computed across the reload")
				}
			}
		}
	}
	if reloaded == nil {
		t.Fatalf("no reload event (pid was %d): %s", oldPid, l.stderr)
	}
	if reloaded.Severity != sources.SevInfo || !strings.Contains(reloaded.Text, fmt.Sprint(oldPid)) {
		t.Errorf("reload event: %+v", reloaded)
	}
	l.traffic(t, 5)
	b, err = pollCtx(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if r := findSeries(b, "req_tot", map[string]string{"instance": "lb", "frontend": "web"}); r == nil || r.Points[0].V < 0 {
		t.Errorf("rates must resume after the reload: %+v", r)
	}
}

// Field story 4: a server that keeps going DOWN and UP stands out as
// flapping, with its count, even when polls miss some of the transitions.
func TestRealHAProxyFlappingServerStandsOut(t *testing.T) {
	l := startLab(t, false)
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: l.sock, FlapTransitions: 3, FlapWindow: time.Minute})
	waitState(t, s, "lb/app/app-2", "UP", 5*time.Second)
	var flap *sources.Event
	var node *sources.NodeState
	for i := 0; i < 4 && flap == nil; i++ {
		l.backends[1].Stop()
		_, _, evs := waitState(t, s, "lb/app/app-2", "DOWN", 5*time.Second)
		l.backends[1].Start()
		b, _, more := waitState(t, s, "lb/app/app-2", "UP", 5*time.Second)
		evs = append(evs, more...)
		for j := range evs {
			if strings.Contains(evs[j].ID, "/flap/") {
				flap = &evs[j]
			}
		}
		node = findNode(b, "lb/app/app-2")
	}
	if flap == nil {
		t.Fatal("no flapping event after 4 DOWN/UP cycles")
	}
	if flap.Severity != sources.SevWarning || !strings.Contains(flap.Title, "3 DOWN transitions") {
		t.Errorf("flap event: %+v", flap)
	}
	if !node.Flapping || node.Flaps < 3 || node.Severity != sources.SevWarning {
		t.Errorf("flapping server node: %+v", node)
	}
	if be := findNode(mustPoll(t, s), "lb/app/BACKEND"); be.Severity != sources.SevWarning || be.LB.Flapping != 1 {
		t.Errorf("backend of a flapping server: %+v", be)
	}
}

func mustPoll(t *testing.T, s *Source) *sources.Batch {
	b, err := pollCtx(t, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
