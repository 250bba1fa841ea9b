// Package httpcheck is opsview's own external HTTP check, Pingdom-style:
// GET or HEAD a URL, expect a status and a piece of the body, within a
// timeout, following redirects or not, and measure where the time went
// (DNS, connect, TLS, first byte, total, via net/http/httptrace) and how
// long the server's certificate has left. It runs from the vantage points
// path probes use (this host, or another through a command prefix such as
// ssh running `opsview http-check`), and feeds the store with one set of
// series per target and vantage and an alert event while a target fails.
//
// It measures and judges one answer at a time; it must not retry (the
// scheduler polls again) and must not decide what a failure means beyond
// its own check: the engine does.
package httpcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/bounded"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// Target is one URL to check and what a good answer is.
type Target struct {
	URL string `yaml:"url" json:"url"`
	// Method is GET (default) or HEAD.
	Method string `yaml:"method" json:"method,omitempty"`
	// ExpectStatus lists the good statuses; empty means any 2xx (and 3xx
	// when redirects are not followed).
	ExpectStatus Statuses `yaml:"expect_status" json:"expect_status,omitempty"`
	// ExpectBody must appear in the body (a plain substring).
	ExpectBody string `yaml:"expect_body" json:"expect_body,omitempty"`
	// FollowRedirects: true (default) follows up to 10 redirects.
	FollowRedirects *bool `yaml:"follow_redirects" json:"follow_redirects,omitempty"`
	// Node names what the URL serves, for the engine; default its host.
	Node string `yaml:"node" json:"-"`
}

func (t *Target) follows() bool { return t.FollowRedirects == nil || *t.FollowRedirects }

// Statuses are HTTP status codes; the config gives one (200) or a list
// ([200, 301]).
type Statuses []int

// UnmarshalYAML accepts a single status or a list.
func (s *Statuses) UnmarshalYAML(unmarshal func(any) error) error {
	var one int
	if err := unmarshal(&one); err == nil {
		*s = Statuses{one}
		return nil
	}
	var list []int
	if err := unmarshal(&list); err != nil {
		return errors.New("expect_status: give a status (200) or a list of statuses ([200, 301])")
	}
	*s = list
	return nil
}

// Result is what one check of one target measured. It is also the wire
// format of the exec vantage (one JSON line per target), so a check run on
// another host is judged here exactly as a local one.
type Result struct {
	V      int       `json:"v"`
	URL    string    `json:"url"`
	At     time.Time `json:"at"`
	Status int       `json:"status,omitempty"` // 0 when no answer came
	// Error is why no answer came (refused, timeout, TLS), "" when one did.
	Error string `json:"error,omitempty"`
	// Timeout is set when Error is the check's timeout.
	Timeout bool `json:"timeout,omitempty"`
	// Phases in milliseconds; a phase that did not happen (DNS for an IP
	// address, TLS over plain HTTP) is 0.
	DNSms       float64 `json:"dns_ms"`
	ConnectMs   float64 `json:"connect_ms"`
	TLSms       float64 `json:"tls_ms"`
	FirstByteMs float64 `json:"first_byte_ms"` // from the request written to the first byte of the answer
	TotalMs     float64 `json:"total_ms"`      // from the start to the last byte read
	Bytes       int     `json:"bytes"`
	// BodyFound says whether ExpectBody was in the body; nil when there
	// was nothing to look for or no body.
	BodyFound *bool `json:"body_found,omitempty"`
	// CertNotAfter is when the server's certificate expires (zero over
	// plain HTTP).
	CertNotAfter time.Time `json:"cert_not_after,omitzero"`
	// FinalURL is where redirects led, when they were followed somewhere.
	FinalURL string `json:"final_url,omitempty"`
}

// WireVersion is the Result line format's version.
const WireVersion = 1

// Checker runs checks with one set of client settings.
type Checker struct {
	follow, stay *httpfetch.Client
}

// DefaultMaxBody bounds the body read of one check.
const DefaultMaxBody = 1 << 20

// NewChecker builds the clients: one that follows redirects and one that
// does not, both opening a new connection for every check so that DNS,
// connect and TLS are measured every time.
func NewChecker(a httpfetch.Auth, maxBody int64) (*Checker, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	o := httpfetch.Options{Limit: maxBody, LimitHint: "raise max_body_kb", NoReuse: true, UserAgent: "opsview-http-check"}
	follow, err := httpfetch.NewClient(a, o)
	if err != nil {
		return nil, err
	}
	o.NoRedirects = true
	stay, err := httpfetch.NewClient(a, o)
	if err != nil {
		return nil, err
	}
	return &Checker{follow: follow, stay: stay}, nil
}

// phases collects httptrace's callbacks over one check (every hop of its
// redirects).
type phases struct {
	mu                            sync.Mutex
	dns, connect, tls, firstByte  time.Duration
	dnsAt, connAt, tlsAt, wroteAt time.Time
}

func (p *phases) span(start *time.Time, sum *time.Duration, begin bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if begin {
		*start = time.Now()
		return
	}
	if !start.IsZero() {
		*sum += time.Since(*start)
		*start = time.Time{}
	}
}

func (p *phases) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { p.span(&p.dnsAt, &p.dns, true) },
		DNSDone:              func(httptrace.DNSDoneInfo) { p.span(&p.dnsAt, &p.dns, false) },
		ConnectStart:         func(string, string) { p.span(&p.connAt, &p.connect, true) },
		ConnectDone:          func(string, string, error) { p.span(&p.connAt, &p.connect, false) },
		TLSHandshakeStart:    func() { p.span(&p.tlsAt, &p.tls, true) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { p.span(&p.tlsAt, &p.tls, false) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { p.span(&p.wroteAt, &p.firstByte, true) },
		GotFirstResponseByte: func() { p.span(&p.wroteAt, &p.firstByte, false) },
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Check checks one target within timeout. It never fails: what went wrong
// is in the result.
func (c *Checker) Check(ctx context.Context, t Target, timeout time.Duration) Result {
	start := time.Now()
	r := Result{V: WireVersion, URL: t.URL, At: start}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var p phases
	method := strings.ToUpper(t.Method)
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, p.trace()), method, t.URL, nil)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	client := c.follow
	if !t.follows() {
		client = c.stay
	}
	resp, err := client.Do(req, "")
	r.TotalMs = ms(time.Since(start))
	p.mu.Lock()
	r.DNSms, r.ConnectMs, r.TLSms, r.FirstByteMs = ms(p.dns), ms(p.connect), ms(p.tls), ms(p.firstByte)
	p.mu.Unlock()
	if err != nil {
		r.Error, r.Timeout = failure(ctx, err, timeout)
		return r
	}
	r.Status, r.Bytes = resp.Status, len(resp.Body)
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.CertNotAfter = resp.TLS.PeerCertificates[0].NotAfter.UTC()
	}
	if resp.URL != nil && resp.URL.String() != t.URL {
		r.FinalURL = redact(resp.URL)
	}
	if t.ExpectBody != "" && method != http.MethodHead {
		found := strings.Contains(string(resp.Body), t.ExpectBody)
		r.BodyFound = &found
	}
	return r
}

// failure words a failed request the way an operator reads a check:
// "connection refused", "timeout after 5s", "TLS: certificate expired".
func failure(ctx context.Context, err error, timeout time.Duration) (string, bool) {
	var tl *bounded.TooLargeError
	var cv *tls.CertificateVerificationError
	var dns *net.DNSError
	switch {
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout after " + timeout.String(), true
	case errors.As(err, &tl):
		return fmt.Sprintf("page larger than %s (raise max_body_kb)", bounded.Size(tl.Limit)), false
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", false
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset", false
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "DNS: no such host " + dns.Name, false
		}
		return "DNS: " + dns.Err, false
	case errors.As(err, &cv):
		return "TLS: " + certProblem(cv.Err), false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error(), false
}

func certProblem(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "expired or is not yet valid"):
		return "certificate expired or not yet valid"
	case strings.Contains(s, "unknown authority"):
		return "certificate signed by an unknown authority (set ca_file)"
	case strings.Contains(s, "not valid for"), strings.Contains(s, "doesn't contain any IP SANs"):
		return "certificate is not for this host"
	}
	return s
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// Verdict is what a result means for its target.
type Verdict struct {
	Up bool
	// State is the check's word for people: the status ("503"), the
	// failure ("connection refused", "body mismatch"), or the
	// certificate's days left when only that is wrong.
	State    string
	Severity sources.Severity // ok, warning (certificate soon), critical
	Problem  string           // one line; "" when all is well
}

// CertLimits are the certificate days left below which a check warns and
// fails.
type CertLimits struct {
	Warning, Critical float64
}

// Judge says what a result means against its target's expectations.
func Judge(t Target, r Result, now time.Time, cert CertLimits) Verdict {
	switch {
	case r.Error != "":
		return Verdict{State: shortState(r.Error), Severity: sources.SevCritical, Problem: r.Error}
	case !statusOK(t, r.Status):
		return Verdict{State: strconv.Itoa(r.Status), Severity: sources.SevCritical,
			Problem: fmt.Sprintf("answered %d %s, expected %s", r.Status, http.StatusText(r.Status), expected(t))}
	case r.BodyFound != nil && !*r.BodyFound:
		return Verdict{State: "body mismatch", Severity: sources.SevCritical,
			Problem: fmt.Sprintf("answered %d without %q in the body", r.Status, sources.Clean(t.ExpectBody))}
	}
	v := Verdict{Up: true, State: strconv.Itoa(r.Status), Severity: sources.SevOK}
	if !r.CertNotAfter.IsZero() {
		days := r.CertNotAfter.Sub(now).Hours() / 24
		word := fmt.Sprintf("certificate expires in %.1f days (%s)", days, r.CertNotAfter.Format("2006-01-02 15:04 MST"))
		switch {
		case days < cert.Critical:
			v.Severity, v.State, v.Problem = sources.SevCritical, "certificate expiring", word
		case days < cert.Warning:
			v.Severity, v.State, v.Problem = sources.SevWarning, "certificate expiring", word
		}
	}
	return v
}

func shortState(e string) string {
	if i := strings.IndexAny(e, "(:"); i > 0 && !strings.HasPrefix(e, "TLS") && !strings.HasPrefix(e, "DNS") {
		return strings.TrimSpace(e[:i])
	}
	if strings.HasPrefix(e, "TLS") {
		return "TLS error"
	}
	if strings.HasPrefix(e, "DNS") {
		return "DNS error"
	}
	return e
}

func statusOK(t Target, status int) bool {
	if len(t.ExpectStatus) > 0 {
		for _, s := range t.ExpectStatus {
			if s == status {
				return true
			}
		}
		return false
	}
	return status >= 200 && status < 300 || !t.follows() && status >= 300 && status < 400
}

func expected(t Target) string {
	if len(t.ExpectStatus) == 0 {
		if t.follows() {
			return "2xx"
		}
		return "2xx or 3xx"
	}
	parts := make([]string, len(t.ExpectStatus))
	for i, s := range t.ExpectStatus {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, " or ")
}
