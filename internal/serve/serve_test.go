package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// screenModel is the smallest TUI: it shows a known line with its size.
type screenModel struct{ w, h int }

func (m screenModel) Init() tea.Cmd { return nil }
func (m screenModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if msg.String() == "q" {
			return m, tea.Quit
		}
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	}
	return m, nil
}
func (m screenModel) View() tea.View {
	return tea.NewView(fmt.Sprintf("opsview-test-screen %dx%d", m.w, m.h))
}

type server struct {
	addr     string
	hostKey  gossh.PublicKey
	good     gossh.Signer
	stranger gossh.Signer
	stop     func()
}

func newSigner(t *testing.T) gossh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testLogf is t.Logf until the test ends: Run returns when its context
// is cancelled, but a session's goroutine may still log that it ended,
// and t.Logf after the test is over races with the test's end.
func testLogf(t *testing.T) func(string, ...any) {
	var mu sync.Mutex
	over := false
	t.Cleanup(func() { // registered first, so it runs after the server stops
		mu.Lock()
		over = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !over {
			t.Logf(format, args...)
		}
	}
}

func startServer(t *testing.T, mod func(*Options)) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{good: newSigner(t), stranger: newSigner(t)}
	ak := filepath.Join(dir, "authorized_keys")
	content := "# the pairing team\n\n" + string(gossh.MarshalAuthorizedKey(s.good.PublicKey()))
	if err := os.WriteFile(ak, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	opt := Options{
		Listen:             "127.0.0.1:0",
		AuthorizedKeysFile: ak,
		HostKeyPath:        filepath.Join(dir, "state", "ssh_host_ed25519"),
		MaxConnections:     4,
		NewModel: func(sess ssh.Session, w, h int) tea.Model {
			return screenModel{w, h}
		},
		Ready: func(a net.Addr) { ready <- a },
		Logf:  testLogf(t),
	}
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opt) }()
	select {
	case a := <-ready:
		s.addr = a.String()
	case err := <-done:
		t.Fatalf("serve did not start: %v", err)
	}
	pemData, err := os.ReadFile(opt.HostKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := gossh.ParsePrivateKey(pemData)
	if err != nil {
		t.Fatal(err)
	}
	s.hostKey = hk.PublicKey()
	s.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(s.stop)
	return s
}

func (s *server) dial(auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", s.addr, &gossh.ClientConfig{
		User:            "ana",
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(s.hostKey),
		Timeout:         20 * time.Second,
	})
}

// syncBuf collects a session's output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *syncBuf) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// waitFor waits until the output holds want; the generous limit only
// keeps a broken server from hanging the test.
func waitFor(t *testing.T, out *syncBuf, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q; got %q", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type shell struct {
	client *gossh.Client
	sess   *gossh.Session
	out    *syncBuf
	in     io.WriteCloser
}

func openShell(t *testing.T, s *server, w, h int) *shell {
	t.Helper()
	c, err := s.dial(gossh.PublicKeys(s.good))
	if err != nil {
		t.Fatalf("authorized key refused: %v", err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	sess.Stdout = out
	sess.Stderr = out
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	sh := &shell{client: c, sess: sess, out: out, in: in}
	t.Cleanup(func() { sess.Close(); c.Close() })
	return sh
}

func TestAuthorizedKeyGetsTheScreen(t *testing.T) {
	s := startServer(t, nil)
	sh := openShell(t, s, 100, 30)
	waitFor(t, sh.out, "opsview-test-screen 100x30")
	// q quits the program and ends the session
	sh.in.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { done <- sh.sess.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("session did not end after q")
	}
}

func TestUnknownKeyIsRefused(t *testing.T) {
	s := startServer(t, nil)
	if c, err := s.dial(gossh.PublicKeys(s.stranger)); err == nil {
		c.Close()
		t.Fatal("a key not in authorized_keys got in")
	}
}

func TestPasswordAndKeyboardInteractiveAreRefused(t *testing.T) {
	s := startServer(t, nil)
	if c, err := s.dial(gossh.Password("hunter2")); err == nil {
		c.Close()
		t.Fatal("a password got in")
	} else if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("password: %v", err)
	}
	ki := gossh.KeyboardInteractive(func(user, instr string, qs []string, echos []bool) ([]string, error) {
		return make([]string, len(qs)), nil
	})
	if c, err := s.dial(ki); err == nil {
		c.Close()
		t.Fatal("keyboard-interactive got in")
	}
}

func TestConnectionLimitHolds(t *testing.T) {
	s := startServer(t, func(o *Options) { o.MaxConnections = 1 })
	first := openShell(t, s, 80, 24)
	waitFor(t, first.out, "opsview-test-screen 80x24")

	second := openShell(t, s, 80, 24)
	waitFor(t, second.out, "already connected (limit 1)")
	err := second.sess.Wait()
	if ee, ok := err.(*gossh.ExitError); !ok || ee.ExitStatus() != 1 {
		t.Fatalf("the refused session ended with %v, want exit status 1", err)
	}
	if strings.Contains(second.out.String(), "opsview-test-screen") {
		t.Fatal("the refused session saw the screen")
	}
	// once the first leaves, there is room again
	first.in.Write([]byte("q"))
	first.sess.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		third := openShell(t, s, 80, 24)
		waitFor(t, third.out, "opsview")
		if strings.Contains(third.out.String(), "opsview-test-screen") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no room after the first session left")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	s := startServer(t, func(o *Options) { o.IdleTimeout = 2 * time.Second })
	sh := openShell(t, s, 80, 24)
	waitFor(t, sh.out, "opsview-test-screen")
	done := make(chan error, 1)
	go func() { done <- sh.sess.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("an idle connection stayed open")
	}
}

func TestHostKeyIsMadeOnceAndKeptPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "opsview", "ssh_host_ed25519")
	k1, err := HostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %o", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %o", dst.Mode().Perm())
	}
	k2, err := HostKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second start made a new key (%v)", err)
	}
	os.Chmod(path, 0o644)
	if _, err := HostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable host key was used: %v", err)
	}
	t.Setenv("XDG_STATE_HOME", dir)
	if DefaultHostKeyPath() != filepath.Join(dir, "opsview", "ssh_host_ed25519") {
		t.Fatalf("default path %s", DefaultHostKeyPath())
	}
}

func TestRunRefusesBadSetup(t *testing.T) {
	dir := t.TempDir()
	model := func(ssh.Session, int, int) tea.Model { return screenModel{} }
	bad := filepath.Join(dir, "ak")
	os.WriteFile(bad, []byte("ssh-ed25519 not-base64!\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{NewModel: model}, "--authorized-keys FILE is required"},
		{Options{NewModel: model, AuthorizedKeysFile: filepath.Join(dir, "missing")}, "no such file"},
		{Options{NewModel: model, AuthorizedKeysFile: bad}, "ak:1: not a public key"},
		{Options{NewModel: model, AuthorizedKeysFile: empty}, "lists no keys"},
		{Options{AuthorizedKeysFile: empty}, "NewModel is nil"},
	} {
		c.opt.HostKeyPath = filepath.Join(dir, "hk")
		c.opt.Listen = "127.0.0.1:0"
		err := Run(context.Background(), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opt, err, c.want)
		}
	}
}

// tickModel redraws on its own every 100 ms, as a live screen does when
// a source answers every second.
type tickModel struct{ n int }

type tick struct{}

func (m tickModel) Init() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return tick{} })
}
func (m tickModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if msg.String() == "q" {
			return m, tea.Quit
		}
	case tick:
		m.n++
		return m, m.Init()
	}
	return m, nil
}
func (m tickModel) View() tea.View { return tea.NewView(fmt.Sprintf("live-screen frame %d", m.n)) }

func waitEnd(sh *shell) <-chan error {
	done := make(chan error, 1)
	go func() { done <- sh.sess.Wait() }()
	return done
}

func TestIdleSessionOnALiveScreenIsClosed(t *testing.T) {
	s := startServer(t, func(o *Options) {
		o.IdleTimeout = 2 * time.Second
		o.NewModel = func(ssh.Session, int, int) tea.Model { return tickModel{} }
	})
	sh := openShell(t, s, 80, 24)
	waitFor(t, sh.out, "live-screen frame")
	waitRedraws(t, sh.out) // the screen redraws by itself
	select {
	case <-waitEnd(sh):
	case <-time.After(30 * time.Second):
		t.Fatal("a session without input stayed open on a redrawing screen: redraws must not count as activity")
	}
	if !strings.Contains(sh.out.String(), "without input") {
		t.Errorf("the user was not told why the session ended: %q", tail(sh.out.String()))
	}
}

func TestTypingKeepsASessionOpen(t *testing.T) {
	s := startServer(t, func(o *Options) {
		o.IdleTimeout = 1500 * time.Millisecond
		o.NewModel = func(ssh.Session, int, int) tea.Model { return tickModel{} }
	})
	sh := openShell(t, s, 80, 24)
	waitFor(t, sh.out, "live-screen frame")
	done := waitEnd(sh)
	// keys every 200 ms for more than twice the timeout
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		select {
		case err := <-done:
			t.Fatalf("a session with a typing user was closed as idle: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		sh.in.Write([]byte("j"))
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the session stayed open after the user stopped typing")
	}
}

// waitRedraws waits until the screen has written more after its first
// frame.
func waitRedraws(t *testing.T, out *syncBuf) {
	t.Helper()
	first := len(out.String())
	deadline := time.Now().Add(30 * time.Second)
	for len(out.String()) < first+20 {
		if time.Now().After(deadline) {
			t.Fatalf("the screen did not redraw: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 200 {
		return s[len(s)-200:]
	}
	return s
}

// flood opens n TCP connections from the loopback address src that never
// start the SSH handshake, and counts those the server closes.
type flood struct {
	conns  []net.Conn
	mu     sync.Mutex
	closed int
}

func startFlood(t *testing.T, addr string, srcs []string, perSrc int) *flood {
	t.Helper()
	f := &flood{}
	for _, src := range srcs {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		for i := 0; i < perSrc; i++ {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("flood from %s: %v", src, err)
			}
			f.conns = append(f.conns, c)
			go func() {
				io.Copy(io.Discard, c) // until the server closes it
				f.mu.Lock()
				f.closed++
				f.mu.Unlock()
			}()
		}
	}
	t.Cleanup(func() {
		for _, c := range f.conns {
			c.Close()
		}
	})
	return f
}

func (f *flood) waitClosed(t *testing.T, n int, why string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		f.mu.Lock()
		closed := f.closed
		f.mu.Unlock()
		if closed >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d flood connections closed by the server, want %d: %s", closed, len(f.conns), n, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuf collects the server's log lines.
type logBuf struct{ syncBuf }

func (l *logBuf) logf(format string, args ...any) { fmt.Fprintf(&l.syncBuf, format+"\n", args...) }

func TestPreAuthFloodLeavesAnAuthorizedLoginWorking(t *testing.T) {
	log := &logBuf{}
	s := startServer(t, func(o *Options) {
		o.MaxConnections = 1
		o.HandshakeTimeout = time.Minute // the flood must not simply expire
		o.Logf = log.logf
	})
	// 50 connections from five other loopback addresses, 10 each: each
	// address has more than its pending slots, so some are refused
	srcs := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}
	f := startFlood(t, s.addr, srcs, 10)
	f.waitClosed(t, 10, "the flood beyond the pending slots is refused at once")

	start := time.Now()
	sh := openShell(t, s, 80, 24)
	waitFor(t, sh.out, "opsview-test-screen 80x24")
	// the issue asks for 2 s; the bound is loose so a slow machine passes,
	// and the flood above lasts a minute, so the login did not wait it out
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the authorized login took %s under a pre-auth flood", took)
	} else {
		t.Logf("authorized login under a 50-connection flood: %s", took)
	}
	for _, src := range srcs {
		if want := "refused a connection from " + src; !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestLoginsThatNeverStartAreClosedAtTheirDeadline(t *testing.T) {
	log := &logBuf{}
	s := startServer(t, func(o *Options) {
		o.HandshakeTimeout = 500 * time.Millisecond
		o.Logf = log.logf
	})
	// from the address the engineer logs in from too
	f := startFlood(t, s.addr, []string{"127.0.0.1"}, 50)
	f.waitClosed(t, 50, "connections that never log in must be closed at the handshake deadline")
	sh := openShell(t, s, 80, 24)
	waitFor(t, sh.out, "opsview-test-screen 80x24")
	if want := "from 127.0.0.1: no login within 500ms"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, tail(log.String()))
	}
}
