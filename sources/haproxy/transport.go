package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsview/opsview/sources/internal/bounded"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// The only bytes opsview ever writes to a stats socket. Both are `show`
// commands: read-only at every access level. Nothing else is sent, so an
// admin-level socket is safe too.
const (
	pollCommand  = "show info;show stat\n"
	levelCommand = "show cli level\n"
)

// answer is what one poll of one instance brought back.
type answer struct {
	stat []byte
	info []byte // nil when the transport has no `show info` (HTTP)
}

// fetcher reads one instance. It is a field of the instance so tests can
// count and inspect what a transport does without a fake HAProxy.
type fetcher interface {
	fetch(ctx context.Context) (answer, error)
	String() string
}

// address classifies what the config gave: a unix socket path
// (`/run/haproxy/admin.sock`, `unix@/…`), a TCP stats socket
// (`tcp://host:port`, `ipv4@host:port`) or a stats page (`http(s)://…`).
func parseAddress(s string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", "", fmt.Errorf("bad stats URL %q: want http(s)://host:port/stats", s)
		}
		return "http", s, nil
	case strings.HasPrefix(s, "tcp://"):
		addr = strings.TrimPrefix(s, "tcp://")
	case strings.HasPrefix(s, "ipv4@"), strings.HasPrefix(s, "ipv6@"):
		addr = s[5:]
	case strings.HasPrefix(s, "unix://"):
		return "unix", strings.TrimPrefix(s, "unix://"), nil
	case strings.HasPrefix(s, "unix@"):
		return "unix", s[5:], nil
	case strings.Contains(s, "://"):
		return "", "", fmt.Errorf("address %q: unknown scheme (use a socket path, tcp://host:port or http(s)://host:port/stats)", s)
	default:
		if s == "" {
			return "", "", errors.New("empty address")
		}
		return "unix", s, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("address %q: want host:port (%v)", s, err)
	}
	return "tcp", addr, nil
}

// socketFetcher talks to a unix or TCP stats socket: one connection per
// poll, one line written, read to EOF (worker sockets close after one
// answer).
type socketFetcher struct {
	network, addr string
	max           int64
	lastSize      int // of the last answer: the next read buffer's size
}

func (f *socketFetcher) String() string {
	if f.network == "tcp" {
		return "tcp://" + f.addr
	}
	return f.addr
}

// exchange writes one command and reads the whole answer, bounded by max
// and by ctx.
func (f *socketFetcher) exchange(ctx context.Context, cmd string) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, f.network, f.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, f.ioErr(ctx, "dial", err)
		}
		return nil, dialHint(f, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// a cancel without a deadline must unblock the read too
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, cmd); err != nil {
		return nil, f.ioErr(ctx, "write", err)
	}
	b, err := bounded.ReadAll(conn, f.max, int64(f.lastSize))
	if err == nil && cmd == pollCommand {
		f.lastSize = len(b)
	}
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%s: %w (raise max_answer_mb if this fleet is that large)", f, err)
	}
	if err != nil {
		return nil, f.ioErr(ctx, "read", err)
	}
	return b, nil
}

func (f *socketFetcher) ioErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s: no complete answer before the timeout (the socket accepts but does not answer: a master CLI socket, or HAProxy stuck? point at the worker's stats socket): %w", f, context.DeadlineExceeded)
	}
	return fmt.Errorf("%s: %s: %w", f, op, err)
}

func dialHint(f *socketFetcher, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: %w (add this user to the socket's group, e.g. haproxy, or set `stats socket … mode 660`)", f, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: %w (is HAProxy running, and is `stats socket` set to this path?)", f, err)
	}
	return fmt.Errorf("%s: %w (is HAProxy running and its stats socket configured here?)", f, err)
}

func (f *socketFetcher) fetch(ctx context.Context) (answer, error) {
	b, err := f.exchange(ctx, pollCommand)
	if err != nil {
		return answer{}, err
	}
	// `show info` ends with an empty line, then `show stat` follows and
	// ends with one too. Without that last empty line the answer was cut.
	i := bytes.Index(b, []byte("\n\n"))
	if i < 0 {
		return answer{}, fmt.Errorf("%s: answer cut short after %d bytes (no end of show info); HAProxy restarting?", f, len(b))
	}
	info, stat := b[:i+1], b[i+2:]
	if !bytes.HasSuffix(stat, []byte("\n\n")) {
		if isCLIText(stat) || isCLIText(info) {
			return answer{}, fmt.Errorf("%s: HAProxy refused: %q", f, clip(firstLine(info), 100))
		}
		return answer{}, fmt.Errorf("%s: show stat answer cut short after %d bytes (no final empty line); HAProxy restarting or the connection dropped", f, len(stat))
	}
	return answer{stat: stat, info: info}, nil
}

// level asks the socket's access level (`show cli level`, HAProxy ≥ 2.0).
func (f *socketFetcher) level(ctx context.Context) string {
	b, err := f.exchange(ctx, levelCommand)
	if err != nil {
		return ""
	}
	l := strings.TrimSpace(string(b))
	switch l {
	case "admin", "operator", "user":
		return l
	}
	return ""
}

func isCLIText(b []byte) bool {
	return bytes.HasPrefix(b, []byte("Permission denied")) || bytes.HasPrefix(b, []byte("Unknown command"))
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// httpFetcher reads the stats page in CSV (`…/stats;csv`).
type httpFetcher struct {
	url    string
	client *httpfetch.Client
}

func (f *httpFetcher) String() string { return redactURL(f.url) }

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// csvURL turns a stats page URL into its CSV form.
func csvURL(s string) string {
	if strings.Contains(s, ";csv") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if u.Path == "" {
		u.Path = "/stats"
	}
	u.Path += ";csv;norefresh"
	return u.String()
}

func newHTTPFetcher(rawURL, user, pass, caFile string, insecure bool, max int64, timeout time.Duration) (*httpFetcher, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.User != nil && user == "" {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	c, err := httpfetch.NewClient(httpfetch.Auth{Username: user, Password: pass, CAFile: caFile, InsecureSkipTLS: insecure},
		httpfetch.Options{Limit: max, LimitHint: "raise max_answer_mb if this fleet is that large", HeaderTimeout: timeout, NoRedirects: true})
	if err != nil {
		return nil, err
	}
	return &httpFetcher{url: csvURL(u.String()), client: c}, nil
}

func (f *httpFetcher) fetch(ctx context.Context) (answer, error) {
	resp, err := f.client.Get(ctx, f.url, "")
	switch {
	case err != nil && errors.Is(err, ErrTooLarge):
		return answer{}, fmt.Errorf("%s: %w", f, err)
	case err != nil && ctx.Err() != nil:
		return answer{}, fmt.Errorf("%s: no complete answer before the timeout: %w", f, context.DeadlineExceeded)
	case err != nil:
		return answer{}, fmt.Errorf("%s: %w", f, err)
	case resp.Status == http.StatusUnauthorized:
		if f.client.Auth.Username == "" {
			return answer{}, fmt.Errorf("%s: 401 Unauthorized: the stats page wants a login (set username and password, as in `stats auth` of haproxy.cfg)", f)
		}
		return answer{}, fmt.Errorf("%s: 401 Unauthorized: wrong username or password for user %q (compare with `stats auth` in haproxy.cfg)", f, f.client.Auth.Username)
	case resp.Status != http.StatusOK:
		return answer{}, fmt.Errorf("%s: HTTP %d %s (is this the `stats uri` of a `stats enable` section?)", f, resp.Status, http.StatusText(resp.Status))
	}
	return answer{stat: resp.Body}, nil
}
