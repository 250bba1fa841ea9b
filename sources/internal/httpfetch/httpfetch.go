// Package httpfetch is the HTTP plumbing shared by opsview's HTTP-based
// metric sources (Graphite, Prometheus, exporter scrapes): one client per
// source with its TLS settings, credentials and headers, and a bounded read
// of every answer. It must not know any protocol and must not retry: the
// scheduler does that.
package httpfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/opsview/opsview/sources"
)

// Auth is how a source identifies itself to a server. The yaml tags let a
// source embed it in its options.
type Auth struct {
	Username        string            `yaml:"username"`
	Password        string            `yaml:"password"`
	BearerToken     string            `yaml:"bearer_token"`
	BearerTokenFile string            `yaml:"bearer_token_file"`
	Headers         map[string]string `yaml:"headers"`
	CAFile          string            `yaml:"ca_file"`
	InsecureSkipTLS bool              `yaml:"insecure_skip_verify"`
}

// Client fetches URLs of one server with one Auth.
type Client struct {
	HTTP *http.Client
	Auth Auth
	// Limit is the largest body read; a larger answer is an error.
	Limit int64
	// UserAgent sent with every request.
	UserAgent string
}

// DefaultLimit bounds an answer when a source sets no limit of its own.
const DefaultLimit = 32 << 20

// New builds a client. It reads the CA file (a local file, cheap) but does
// no network I/O.
func New(a Auth, limit int64) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	tr.ResponseHeaderTimeout = 0 // the caller's ctx bounds every request
	if a.CAFile != "" || a.InsecureSkipTLS {
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
		tr.TLSClientConfig = cfg
	}
	if a.BearerToken != "" && a.BearerTokenFile != "" {
		return nil, errors.New("bearer_token and bearer_token_file are exclusive: give one")
	}
	if (a.BearerToken != "" || a.BearerTokenFile != "") && a.Username != "" {
		return nil, errors.New("basic auth (username) and a bearer token are exclusive: give one")
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Client{HTTP: &http.Client{Transport: tr}, Auth: a, Limit: limit, UserAgent: "opsview"}, nil
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
}

// TooLargeError says an answer passed the read limit.
type TooLargeError struct {
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("answer from %s is larger than %d MiB: narrow the query (fewer targets, a shorter window) or raise max_response_mb", e.URL, e.Limit>>20)
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

// PostForm posts a form (long queries do not fit in a URL).
func (c *Client) PostForm(ctx context.Context, u string, form url.Values, accept string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req, accept)
}

// Do sends req with the client's credentials and reads a bounded body.
func (c *Client) Do(req *http.Request, accept string) (*Response, error) {
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
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
			return nil, fmt.Errorf("bearer_token_file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, explain(err, req.Context())
	}
	defer resp.Body.Close()
	body, err := ReadLimited(resp.Body, c.Limit)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, &TooLargeError{URL: redactURL(req.URL), Limit: c.Limit}
		}
		return nil, fmt.Errorf("reading the answer from %s: %w", redactURL(req.URL), explain(err, req.Context()))
	}
	return &Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, Body: body}, nil
}

var errTooLarge = errors.New("answer too large")

// ReadLimited reads r to the end, failing once more than limit bytes came.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// explain adds what to do to the usual transport failures.
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
			return fmt.Errorf("%s %s: connection refused (is the server running and listening there?)", ue.Op, redactRaw(ue.URL))
		case strings.Contains(msg, "certificate"):
			return fmt.Errorf("%s %s: %v (set ca_file to the server's CA, or insecure_skip_verify: true for a test server)", ue.Op, redactRaw(ue.URL), ue.Err)
		case strings.Contains(msg, "no such host"):
			return fmt.Errorf("%s %s: %v (check the host name in url)", ue.Op, redactRaw(ue.URL), ue.Err)
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
