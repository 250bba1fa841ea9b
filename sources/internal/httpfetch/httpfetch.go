// Package httpfetch is the one HTTP/TLS client builder of opsview's
// sources (Graphite, Prometheus, exporter scrapes, the HAProxy stats page,
// the AWS feeds and SDK clients, the external HTTP checks): one client per
// source with its TLS settings (CA file, skip-verify), credentials (basic
// auth, bearer token), headers, timeouts and redirect policy, and every
// answer read through the one bounded reader. It must not know any
// protocol and must not retry: the scheduler does that.
package httpfetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/bounded"
)

// Auth is how a source identifies itself to a server and checks the
// server's certificate. The yaml tags let a source embed it in its options.
type Auth struct {
	Username        string            `yaml:"username"`
	Password        string            `yaml:"password"`
	BearerToken     string            `yaml:"bearer_token"`
	BearerTokenFile string            `yaml:"bearer_token_file"`
	Headers         map[string]string `yaml:"headers"`
	CAFile          string            `yaml:"ca_file"`
	InsecureSkipTLS bool              `yaml:"insecure_skip_verify"`
}

// Options are what a source asks of its client beyond its Auth.
type Options struct {
	// Limit is the largest body read; a larger answer is an error.
	// DefaultLimit when 0.
	Limit int64
	// LimitHint says what to do about a too large answer ("raise
	// max_response_mb").
	LimitHint string
	// HeaderTimeout bounds the wait for the response headers; 0 leaves it
	// to the request's context.
	HeaderTimeout time.Duration
	// DialTimeout bounds connecting; 0 leaves it to the request's context.
	DialTimeout time.Duration
	// NoRedirects returns a 3xx answer as it is instead of following it.
	NoRedirects bool
	// NoReuse opens a new connection for every request (a check that
	// measures connect and TLS every time).
	NoReuse bool
	// UserAgent sent with every request; "opsview" when empty.
	UserAgent string
}

// Client fetches URLs of one server with one Auth.
type Client struct {
	HTTP *http.Client
	Auth Auth
	// Limit is the largest body read; a larger answer is an error.
	Limit int64
	// LimitHint is added to a too-large error.
	LimitHint string
	// UserAgent sent with every request.
	UserAgent string
}

// DefaultLimit bounds an answer when a source sets no limit of its own.
const DefaultLimit = 32 << 20

// New builds a client with a body limit and nothing else asked.
func New(a Auth, limit int64) (*Client, error) { return NewClient(a, Options{Limit: limit}) }

// NewClient builds a client. It reads the CA file (a local file, cheap)
// but does no network I/O.
func NewClient(a Auth, o Options) (*Client, error) {
	if a.BearerToken != "" && a.BearerTokenFile != "" {
		return nil, errors.New("bearer_token and bearer_token_file are exclusive: give one")
	}
	if (a.BearerToken != "" || a.BearerTokenFile != "") && a.Username != "" {
		return nil, errors.New("basic auth (username) and a bearer token are exclusive: give one")
	}
	tr, err := Transport(a, o)
	if err != nil {
		return nil, err
	}
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.LimitHint == "" {
		o.LimitHint = "narrow the query (fewer targets, a shorter window) or raise max_response_mb"
	}
	if o.UserAgent == "" {
		o.UserAgent = "opsview"
	}
	hc := &http.Client{Transport: tr}
	if o.NoRedirects {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &Client{HTTP: hc, Auth: a, Limit: o.Limit, LimitHint: o.LimitHint, UserAgent: o.UserAgent}, nil
}

// Transport builds the transport of a client alone (an SDK client takes
// one): TLS from a, timeouts and connection reuse from o.
func Transport(a Auth, o Options) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	tr.ResponseHeaderTimeout = o.HeaderTimeout
	if o.DialTimeout > 0 {
		d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
		tr.DialContext = d.DialContext
		tr.TLSHandshakeTimeout = o.DialTimeout
	}
	if o.NoReuse {
		tr.DisableKeepAlives = true
	}
	cfg, err := a.TLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		tr.TLSClientConfig = cfg
	}
	return tr, nil
}

// TLSConfig is the TLS configuration a's ca_file and insecure_skip_verify
// ask for; nil when they ask for nothing (the system's roots).
func (a Auth) TLSConfig() (*tls.Config, error) {
	if a.CAFile == "" && !a.InsecureSkipTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: a.InsecureSkipTLS} //nolint:gosec // the user asked for it
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found (give a PEM bundle)", a.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// CheckURL validates a base URL from the config.
func CheckURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q: no host", raw)
	}
	return u, nil
}

// Response is a fetched answer, read whole.
type Response struct {
	Status      int
	ContentType string
	Header      http.Header
	Body        []byte
	// TLS is the connection's TLS state (the server's certificates); nil
	// over plain HTTP.
	TLS *tls.ConnectionState
	// URL is where the answer came from, after any redirects followed.
	URL *url.URL
}

// Get fetches u with the client's credentials and reads at most Limit bytes.
// Any HTTP status is returned as a Response; only transport failures and an
// oversized body are errors.
func (c *Client) Get(ctx context.Context, u string, accept string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req, accept)
}

// GetInto is Get reading the body into buf's memory when it is large
// enough: a poller that reads the same page every time keeps one buffer
// (the last answer's Body), which the answer overwrites.
func (c *Client) GetInto(ctx context.Context, u string, accept string, buf []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, accept, buf)
}

// PostForm posts a form (long queries do not fit in a URL).
func (c *Client) PostForm(ctx context.Context, u string, form url.Values, accept string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req, accept)
}

// Open sends req with the client's credentials and headers and returns
// the answer unread, for a stream (Icinga's events): the caller closes
// its body and bounds what it reads. Only transport failures are errors.
func (c *Client) Open(req *http.Request, accept string) (*http.Response, error) {
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if err := c.authorize(req); err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, explain(err, req.Context())
	}
	return resp, nil
}

// Do sends req with the client's credentials and reads a bounded body. A
// body larger than Limit is an error wrapping a *bounded.TooLargeError
// (errors.Is(err, bounded.ErrTooLarge)) that names the URL and the limit.
func (c *Client) Do(req *http.Request, accept string) (*Response, error) {
	return c.do(req, accept, nil)
}

func (c *Client) do(req *http.Request, accept string, buf []byte) (*Response, error) {
	resp, err := c.Open(req, accept)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	from := redactURL(req.URL)
	if resp.ContentLength > c.Limit {
		return nil, c.tooLarge(&bounded.TooLargeError{From: from, Limit: c.Limit, Announced: resp.ContentLength})
	}
	body, err := bounded.ReadAllInto(buf, resp.Body, c.Limit, resp.ContentLength)
	if err != nil {
		var tl *bounded.TooLargeError
		if errors.As(err, &tl) {
			tl.From = from
			return nil, c.tooLarge(tl)
		}
		return nil, fmt.Errorf("reading the answer from %s: %w", from, explain(err, req.Context()))
	}
	r := &Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, Body: body, TLS: resp.TLS, URL: req.URL}
	if resp.Request != nil {
		r.URL = resp.Request.URL
	}
	return r, nil
}

// Stream sends req like Do but hands the body to read as a stream,
// bounded at limit bytes (a larger answer fails the read with a
// *bounded.TooLargeError), instead of reading it whole: for answers
// decoded piece by piece that would be too large to hold at once.
func (c *Client) Stream(req *http.Request, accept string, limit int64, read func(status int, h http.Header, body io.Reader) error) error {
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if err := c.authorize(req); err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return explain(err, req.Context())
	}
	defer resp.Body.Close()
	from := redactURL(req.URL)
	if resp.ContentLength > limit {
		return c.tooLarge(&bounded.TooLargeError{From: from, Limit: limit, Announced: resp.ContentLength})
	}
	err = read(resp.StatusCode, resp.Header, bounded.NewReader(resp.Body, limit, from))
	var tl *bounded.TooLargeError
	if errors.As(err, &tl) {
		return c.tooLarge(tl)
	}
	if err != nil && req.Context().Err() != nil {
		return explain(err, req.Context())
	}
	return err
}

func (c *Client) tooLarge(e *bounded.TooLargeError) error {
	if c.LimitHint == "" {
		return e
	}
	return fmt.Errorf("%w: %s", e, c.LimitHint)
}

// authorize sets the client's headers and credentials on req.
func (c *Client) authorize(req *http.Request) error {
	for k, v := range c.Auth.Headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	switch {
	case c.Auth.Username != "":
		req.SetBasicAuth(c.Auth.Username, c.Auth.Password)
	case c.Auth.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.Auth.BearerToken)
	case c.Auth.BearerTokenFile != "":
		// read at every request: tokens in files are rotated
		tok, err := os.ReadFile(c.Auth.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("bearer_token_file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	return nil
}

// ReadLimited reads r to the end, failing once more than limit bytes came
// (the one bounded reader, for bodies read outside Do).
func ReadLimited(r io.Reader, limit int64) ([]byte, error) { return bounded.ReadAll(r, limit, 0) }

// Doer is the Do method SDK clients take (the AWS SDK's HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Bounded makes a Doer whose answers' bodies are read through the bounded
// reader: an SDK client given it fails a call with a too-large error
// instead of filling memory. A nil base is http.DefaultClient.
func Bounded(base Doer, limit int64) Doer {
	if base == nil {
		base = http.DefaultClient
	}
	return boundedDoer{base: base, limit: limit}
}

type boundedDoer struct {
	base  Doer
	limit int64
}

func (d boundedDoer) Do(r *http.Request) (*http.Response, error) {
	r, err := ownBody(r)
	if err != nil {
		return nil, err
	}
	resp, err := d.base.Do(r)
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > d.limit {
		resp.Body.Close()
		return nil, &bounded.TooLargeError{From: r.URL.Host, Limit: d.limit, Announced: resp.ContentLength}
	}
	resp.Body = bounded.NewBody(resp.Body, d.limit, r.URL.Host)
	return resp, nil
}

// maxRequestBody bounds a request body the SDK hands over (a CloudWatch
// GetMetricData of 500 queries is some 60 KB).
const maxRequestBody = 8 << 20

// ownBody gives the transport a request body of its own. The AWS SDK
// closes its request body as soon as Do returns, while the transport's
// writer may still be finishing with it (an answer can come back before
// the writer is done); the writer then fails and closes the connection
// under the answer being read: "use of closed network connection" on a
// 200, now and then under load. A copy of the (small, buffered) body
// that only the transport holds cannot be closed under it.
func ownBody(r *http.Request) (*http.Request, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return r, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	if len(data) > maxRequestBody {
		return nil, fmt.Errorf("request body larger than %d bytes", maxRequestBody)
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.ContentLength = int64(len(data))
	return r, nil
}

// explain adds what to do to the usual transport failures; the cause
// stays wrapped (errors.Is(err, syscall.ECONNREFUSED) holds).
func explain(err error, ctx context.Context) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer before the timeout (server overloaded or unreachable; raise the source's timeout or narrow the query): %w", err)
		}
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Err.Error()
		switch {
		case strings.Contains(msg, "connection refused"):
			return fmt.Errorf("%s %s: %w (is the server running and listening there?)", ue.Op, redactRaw(ue.URL), ue.Err)
		case strings.Contains(msg, "certificate"):
			return fmt.Errorf("%s %s: %w (set ca_file to the server's CA, or insecure_skip_verify: true for a test server)", ue.Op, redactRaw(ue.URL), ue.Err)
		case strings.Contains(msg, "no such host"):
			return fmt.Errorf("%s %s: %w (check the host name in url)", ue.Op, redactRaw(ue.URL), ue.Err)
		}
		return fmt.Errorf("%s %s: %w", ue.Op, redactRaw(ue.URL), ue.Err)
	}
	return err
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

func redactRaw(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the server"
	}
	return redactURL(u)
}

// Snippet returns the start of a body for an error message: one line,
// escape sequences removed, at most n bytes.
func Snippet(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	s := strings.Join(strings.Fields(sources.Clean(strings.ToValidUTF8(newlines.Replace(string(b)), ""))), " ")
	if len(b) == n {
		s += "…"
	}
	return s
}

// LooksLikeHTML reports whether a body is an HTML page (a proxy's login or
// error page instead of the API's answer).
func LooksLikeHTML(b []byte) bool {
	s := strings.TrimSpace(string(b[:min(len(b), 512)]))
	s = strings.ToLower(s)
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html") || strings.HasPrefix(s, "<head") || strings.HasPrefix(s, "<body")
}

var newlines = strings.NewReplacer("\n", " ", "\r", " ")
