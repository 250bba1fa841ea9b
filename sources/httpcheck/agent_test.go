package httpcheck

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources/probe"
)

// startAgent runs opsview's agent (probe.RunAgent, as `opsview agent
// --http-checks` does) on a loopback port with a token, and returns its
// URL and the token's file.
func startAgent(t *testing.T) (string, string) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "agent.token")
	if err := os.WriteFile(tokenFile, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- probe.RunAgent(ctx, probe.AgentOptions{Listen: "127.0.0.1:0", TokenFile: tokenFile,
			Endpoints: map[string]http.Handler{AgentPattern: AgentHandler()}, Ready: func(a string) { ready <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	select {
	case a := <-ready:
		return "http://" + a, tokenFile
	case err := <-done:
		t.Fatalf("agent: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not listening")
	}
	return "", ""
}

// An agent vantage checks from where the agent runs, like a local one;
// its token goes as "Authorization: Bearer <token>".
func TestAgentVantageChecksFromTheAgentsHost(t *testing.T) {
	n := needNginx(t)
	ok, down := n.plain+"/ok", n.plain+"/down"
	url, token := startAgent(t)
	s := newSource(t, fmt.Sprintf(`targets:
  - url: %s
    expect_body: hello
  - url: %s
vantages:
  - name: here
  - name: dc-east
    type: agent
    url: %s
    token_file: %s
`, ok, down, url, token))
	checkedFromEach(t, poll(t, s, 10*time.Second), ok, down, "here", "dc-east")

	// a wrong token: the agent refuses, the local vantage goes on
	bad := filepath.Join(t.TempDir(), "bad.token")
	os.WriteFile(bad, []byte("not-the-token-at-all-0123456789\n"), 0o600)
	s = newSource(t, fmt.Sprintf("targets:\n  - url: %s\nvantages:\n  - name: here\n  - name: dc-east\n    type: agent\n    url: %s\n    token_file: %s\n", ok, url, bad))
	b := poll(t, s, 10*time.Second)
	if _, v := value(t, b, "http_up", ok, "here"); v != 100 || !strings.Contains(b.Status.Detail, "HTTP 401: wrong or missing token") {
		t.Errorf("up %v, detail %q", v, b.Status.Detail)
	}
}

// The checks' credentials go to an agent on this host or over https.
func TestAnAgentOnThisHostOrOverHTTPSMayGetCredentials(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:9475", "http://localhost:9475", "https://dc-east.internal:9475"} {
		newSource(t, fmt.Sprintf("targets:\n  - url: https://shop.example.net/\nusername: checker\npassword: secret\nvantages:\n  - name: a\n    type: agent\n    url: %s\n", u))
	}
}

func TestAnAgentReadsNoTokenFileForTheCaller(t *testing.T) {
	url, token := startAgent(t)
	body := fmt.Sprintf(`{"v":%d,"targets":[{"url":"http://127.0.0.1:1/"}],"auth":{"BearerTokenFile":"/etc/shadow"}}`, WireVersion)
	req, _ := http.NewRequest("POST", url+"/http-check", strings.NewReader(body))
	tok, _ := os.ReadFile(token)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
}
