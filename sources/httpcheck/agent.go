package httpcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsview/opsview/sources/internal/bounded"
	"github.com/opsview/opsview/sources/internal/httpfetch"
	"github.com/opsview/opsview/sources/probe"
)

// AgentPattern is where `opsview agent --http-checks` takes checks: a
// Spec posted as JSON, answered with one Result line per target, as the
// exec vantage's `opsview http-check --spec -` answers.
const AgentPattern = "POST /http-check"

// AgentHandler runs the checks of a posted Spec on the agent's host. The
// agent serves it behind its bearer token. It reads no file a spec
// names for credentials (bearer_token_file): the token would go to a
// URL the caller chose; the caller sends the token itself.
func AgentHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := bounded.ReadAll(r.Body, maxSpec, r.ContentLength)
		if err != nil {
			http.Error(w, "reading the spec: "+err.Error(), http.StatusBadRequest)
			return
		}
		var spec Spec
		if err := json.Unmarshal(b, &spec); err == nil && spec.Auth.BearerTokenFile != "" {
			http.Error(w, "an agent reads no bearer_token_file: send bearer_token", http.StatusBadRequest)
			return
		}
		var out bytes.Buffer
		if _, err := RunCLI(r.Context(), CLIOptions{Spec: "-"}, bytes.NewReader(b), &out); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Write(out.Bytes())
	})
}

// checkAgent checks an agent vantage's URL: the checks' credentials go
// to it in the spec, so over plain HTTP only to one on this host.
func checkAgent(v probe.VantageOptions, auth httpfetch.Auth) error {
	u, err := httpfetch.CheckURL(v.URL)
	if err != nil {
		return fmt.Errorf("vantage %q of type agent: %w (the url of `opsview agent --http-checks`, e.g. https://bastion2:9475)", v.Name, err)
	}
	secret := auth.Username != "" || auth.Password != "" || auth.BearerToken != "" || auth.BearerTokenFile != "" || len(auth.Headers) > 0
	if secret && u.Scheme != "https" && !loopback(u) {
		return fmt.Errorf("vantage %q: the checks' credentials would cross the network in the clear to %s: give the agent an https url", v.Name, u.Host)
	}
	return nil
}

func loopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// runAgent posts the spec to an agent vantage and reads one Result line
// per target. The agent's token goes as "Bearer <token>"; a bearer
// token file of the checks is read here and sent as the token itself.
func (s *Source) runAgent(ctx context.Context, v probe.VantageOptions, timeout time.Duration) (map[string]Result, error) {
	spec := s.spec
	spec.TimeoutMs = timeout.Milliseconds()
	if f := spec.Auth.BearerTokenFile; f != "" {
		tok, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("bearer_token_file: %w", err)
		}
		spec.Auth.BearerToken, spec.Auth.BearerTokenFile = strings.TrimSpace(string(tok)), ""
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	c, err := httpfetch.NewClient(httpfetch.Auth{BearerTokenFile: expandHome(v.TokenFile)}, httpfetch.Options{Limit: maxExecTotal, UserAgent: "opsview-http-check"})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(v.URL, "/")+"/http-check", bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req, "application/x-ndjson")
	var op *net.OpError
	switch {
	case errors.As(err, &op):
		return nil, fmt.Errorf("agent %s: %w (is `opsview agent --http-checks` running there?)", v.URL, err)
	case err != nil:
		return nil, fmt.Errorf("agent %s: %w", v.URL, err)
	case resp.Status == http.StatusUnauthorized:
		return nil, fmt.Errorf("agent %s: HTTP 401: wrong or missing token (token_file)", v.URL)
	case resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed:
		return nil, fmt.Errorf("agent %s: HTTP %d: it takes no HTTP checks (start it with --http-checks)", v.URL, resp.Status)
	case resp.Status != http.StatusOK:
		return nil, fmt.Errorf("agent %s: HTTP %d: %s", v.URL, resp.Status, httpfetch.Snippet(resp.Body, 200))
	}
	results, err := readResults(bytes.NewReader(resp.Body), s.targets)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", v.URL, err)
	}
	if len(results) < len(s.targets) {
		return nil, fmt.Errorf("agent %s answered %d of %d checks", v.URL, len(results), len(s.targets))
	}
	return results, nil
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}
