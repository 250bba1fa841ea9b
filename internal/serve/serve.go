// Package serve runs opsview's TUI over SSH for pairing (`opsview serve`):
// several engineers, each with their own terminal size and view, on the
// same live or replayed data, and a Follow hub so one can follow another's
// view and cursor.
//
// It authenticates by public key only (keys from an authorized_keys file;
// never passwords or keyboard-interactive), listens on loopback unless told
// otherwise, keeps its host key under the state dir, closes sessions whose
// user typed nothing for the idle timeout and caps concurrent sessions.
// Before login a connection has a short deadline and a few slots per
// source address, so connections that never log in cannot lock anyone
// out. It must not build the UI itself: the caller passes NewModel.
package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/opsview/opsview/internal/config"
)

// Defaults of Options.
const (
	DefaultListen         = "127.0.0.1:2222"
	DefaultIdleTimeout    = 30 * time.Minute
	DefaultMaxConnections = 8
	// DefaultHandshakeTimeout is how long a connection may take to log in.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultPendingPerAddress is how many connections one source address
	// may have waiting to log in; logging in takes milliseconds, so a few
	// are plenty even for a team behind one address.
	DefaultPendingPerAddress = 8
	// maxPending bounds connections waiting to log in from all addresses.
	maxPending = 256
)

// Options configure Run.
type Options struct {
	// Listen is host:port; DefaultListen (loopback) when empty.
	Listen string
	// AuthorizedKeysFile lists the public keys allowed in (OpenSSH
	// authorized_keys format). Required. It is read again at every login,
	// so removing a key takes effect without a restart.
	AuthorizedKeysFile string
	// HostKeyPath is the server's private key; generated (ed25519, mode
	// 0600) on first use. Default $XDG_STATE_HOME/opsview/ssh_host_ed25519.
	HostKeyPath string
	// IdleTimeout closes a session whose user sent no input (no key, no
	// mouse, no paste) for this long; the screen redrawing does not count.
	IdleTimeout time.Duration
	// MaxConnections caps concurrent logged-in sessions; one more gets a
	// one-line message and is closed. Connections not logged in yet do not
	// count (see HandshakeTimeout and PendingPerAddress).
	MaxConnections int
	// HandshakeTimeout closes a connection that has not logged in (and
	// opened its session) this long after it was accepted.
	HandshakeTimeout time.Duration
	// PendingPerAddress caps the connections one source address may have
	// waiting to log in; more are refused and logged with the address.
	PendingPerAddress int
	// NewModel builds the TUI for one session at its terminal size.
	NewModel func(sess ssh.Session, width, height int) tea.Model
	// Follow, when set, has every session join it on start and leave on end
	// (under SessionID(sess)).
	Follow *Follow
	// Ready is called with the listening address once the server accepts
	// connections (useful with port 0).
	Ready func(addr net.Addr)
	// Logf logs connections and refusals (to opsview's log file).
	Logf func(format string, args ...any)
}

// DefaultHostKeyPath is $XDG_STATE_HOME/opsview/ssh_host_ed25519.
func DefaultHostKeyPath() string { return filepath.Join(config.StateDir(), "ssh_host_ed25519") }

type ctxKey struct{ name string }

var sessionIDKey = &ctxKey{"opsview-session-id"}

// SessionID is the id a session has in the Follow hub: "user@addr#n".
func SessionID(sess ssh.Session) string {
	if id, ok := sess.Context().Value(sessionIDKey).(string); ok {
		return id
	}
	return sess.User() + "@" + sess.RemoteAddr().String()
}

// Run serves until ctx is cancelled, then closes every session and
// returns nil; it returns an error when it cannot start.
func Run(ctx context.Context, opt Options) error {
	if opt.Listen == "" {
		opt.Listen = DefaultListen
	}
	if opt.HostKeyPath == "" {
		opt.HostKeyPath = DefaultHostKeyPath()
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = DefaultIdleTimeout
	}
	if opt.MaxConnections <= 0 {
		opt.MaxConnections = DefaultMaxConnections
	}
	if opt.HandshakeTimeout <= 0 {
		opt.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opt.PendingPerAddress <= 0 {
		opt.PendingPerAddress = DefaultPendingPerAddress
	}
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opt.NewModel == nil {
		return errors.New("serve: no model to serve (NewModel is nil)")
	}
	if opt.AuthorizedKeysFile == "" {
		return errors.New("serve: --authorized-keys FILE is required: only the public keys listed there may connect")
	}
	keys, err := readAuthorizedKeys(opt.AuthorizedKeysFile)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("serve: %s lists no keys: add one public key per line (the contents of ~/.ssh/id_ed25519.pub)", opt.AuthorizedKeysFile)
	}
	hostPEM, err := HostKey(opt.HostKeyPath)
	if err != nil {
		return err
	}

	var sessions atomic.Int64
	var seq atomic.Int64
	limit := func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			// a session is opened only after login: the connection leaves
			// the pending slots and its login deadline
			if gc, ok := sess.Context().Value(guardKey).(*guardConn); ok {
				gc.loggedIn()
			}
			n := sessions.Add(1)
			defer sessions.Add(-1)
			if n > int64(opt.MaxConnections) {
				logf("serve: refused %s@%s: %d sessions already (limit %d)", sess.User(), sess.RemoteAddr(), n-1, opt.MaxConnections)
				wish.Fatalf(sess, "opsview: %d engineers are already connected (limit %d); try again later or ask the host to raise --max-connections\r\n", n-1, opt.MaxConnections)
				return
			}
			id := fmt.Sprintf("%s@%s#%d", sess.User(), sess.RemoteAddr(), seq.Add(1))
			sess.Context().SetValue(sessionIDKey, id)
			if opt.Follow != nil {
				leave := opt.Follow.Join(id)
				defer leave()
			}
			logf("serve: session %s started", id)
			watch := newIdleWatch(opt.IdleTimeout)
			ended := make(chan struct{})
			defer close(ended)
			go watch.run(ended, func() {
				logf("serve: session %s closed: no input for %s", id, opt.IdleTimeout)
				closeIdle(sess, opt.IdleTimeout)
			})
			next(&inputSession{Session: sess, watch: watch})
			logf("serve: session %s ended", id)
		}
	}
	teaHandler := func(sess ssh.Session) (tea.Model, []tea.ProgramOption) {
		pty, _, _ := sess.Pty()
		return opt.NewModel(sess, pty.Window.Width, pty.Window.Height), nil
	}

	srv, err := wish.NewServer(
		wish.WithAddress(opt.Listen),
		wish.WithHostKeyPEM(hostPEM),
		// no wish.WithIdleTimeout: the SSH library resets it on every
		// write, so a live screen was never idle; idleWatch counts input
		wish.WithPublicKeyAuth(func(ctx ssh.Context, key ssh.PublicKey) bool {
			ok := authorized(opt.AuthorizedKeysFile, key, logf)
			if !ok {
				logf("serve: refused key %s from %s", gossh.FingerprintSHA256(key), hostOf(ctx.RemoteAddr()))
			}
			return ok
		}),
		// bubbletea runs innermost; the limit check runs first
		wish.WithMiddleware(bm.Middleware(teaHandler), limit),
	)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// never offer other methods, whatever a library default might do
	srv.PasswordHandler = nil
	srv.KeyboardInteractiveHandler = nil
	g := newGate(opt.PendingPerAddress, maxPending, opt.HandshakeTimeout, logf)
	srv.ConnCallback = func(ctx ssh.Context, c net.Conn) net.Conn {
		gc := g.admit(c)
		if gc == nil {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "opsview: too many connections waiting to log in, try again later\r\n")
			return nil
		}
		ctx.SetValue(guardKey, gc)
		return gc
	}
	srv.ConnectionFailedCallback = func(c net.Conn, err error) {
		logf("serve: login from %s failed: %v", hostOf(c.RemoteAddr()), err)
	}

	ln, err := net.Listen("tcp", opt.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w (choose another --listen address)", opt.Listen, err)
	}
	if opt.Ready != nil {
		opt.Ready(ln.Addr())
	}
	logf("serve: listening on %s", ln.Addr())
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		logf("serve: %s is reachable from other hosts; only keys in %s get in", ln.Addr(), opt.AuthorizedKeysFile)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, ssh.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

var guardKey = &ctxKey{"opsview-guard"}

// inputSession is a session whose reads are its user's input: each one
// tells the idle watch the user is there.
type inputSession struct {
	ssh.Session
	watch *idleWatch
}

func (s *inputSession) Read(p []byte) (int, error) {
	n, err := s.Session.Read(p)
	if n > 0 {
		s.watch.touch()
	}
	return n, err
}

// closeIdle tells the user why, without waiting on a client that does not
// read, and closes the connection (which ends the program on it).
func closeIdle(sess ssh.Session, timeout time.Duration) {
	said := make(chan struct{})
	go func() {
		fmt.Fprintf(sess.Stderr(), "\r\nopsview: closed after %s without input\r\n", timeout)
		close(said)
	}()
	select {
	case <-said:
	case <-time.After(time.Second):
	}
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn); ok {
		c.Close()
		return
	}
	sess.Close()
}

// readAuthorizedKeys parses an authorized_keys file, naming the line of a
// bad entry.
func readAuthorizedKeys(path string) ([]gossh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: read authorized keys: %w", err)
	}
	var keys []gossh.PublicKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("serve: %s:%d: not a public key (%v): one OpenSSH public key per line", path, line, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("serve: read authorized keys: %w", err)
	}
	return keys, nil
}

func authorized(path string, key ssh.PublicKey, logf func(string, ...any)) bool {
	keys, err := readAuthorizedKeys(path)
	if err != nil {
		logf("%v", err)
		return false
	}
	for _, k := range keys {
		if ssh.KeysEqual(key, k) {
			return true
		}
	}
	return false
}

// HostKey returns the PEM of the server's private key at path, generating
// an ed25519 key there (directory 0700, file 0600) on first use. A key
// file readable by others is refused, as sshd does.
func HostKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("serve: host key: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("serve: host key %s is readable by others (mode %o): chmod 600 %s", path, st.Mode().Perm(), path)
		}
		if _, err := gossh.ParsePrivateKey(data); err != nil {
			return nil, fmt.Errorf("serve: host key %s: %v (remove it to generate a new one)", path, err)
		}
		return data, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("serve: host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("serve: generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "opsview host key")
	if err != nil {
		return nil, fmt.Errorf("serve: generate host key: %w", err)
	}
	pemData := pem.EncodeToMemory(block)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("serve: host key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return HostKey(path) // another opsview made it just now
		}
		return nil, fmt.Errorf("serve: write host key: %w", err)
	}
	if _, err := f.Write(pemData); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("serve: write host key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("serve: write host key: %w", err)
	}
	return pemData, nil
}
