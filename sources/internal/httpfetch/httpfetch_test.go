package httpfetch

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources/internal/bounded"
)

func tlsServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the test
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func TestTheServersCAFromCAFileIsTrusted(t *testing.T) {
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, c := range []struct {
		auth Auth
		want string // "" for success, else a part of the error
	}{
		{Auth{CAFile: ca}, ""},
		{Auth{InsecureSkipTLS: true}, ""},
		{Auth{}, "set ca_file"},
	} {
		cl, err := New(c.auth, 0)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Get(context.Background(), srv.URL, "")
		switch {
		case c.want == "" && (err != nil || string(resp.Body) != "ok" || resp.TLS == nil):
			t.Errorf("%+v: %v", c.auth, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: want %q, got %v", c.auth, c.want, err)
		}
	}
	if _, err := New(Auth{CAFile: filepath.Join(t.TempDir(), "none.pem")}, 0); err == nil {
		t.Error("a missing ca_file is an error")
	}
}

func TestCredentialsAndHeadersAreSent(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	for _, c := range []struct {
		auth Auth
		want string
	}{
		{Auth{Username: "ops", Password: "pw"}, "Basic b3BzOnB3"},
		{Auth{BearerToken: "abc"}, "Bearer abc"},
		{Auth{BearerTokenFile: tok}, "Bearer s3cret"},
	} {
		cl, _ := New(c.auth, 0)
		if _, err := cl.Get(context.Background(), srv.URL, "text/plain"); err != nil {
			t.Fatal(err)
		}
		if got.Get("Authorization") != c.want || got.Get("Accept") != "text/plain" || got.Get("User-Agent") != "opsview" {
			t.Errorf("%+v: headers %v", c.auth, got)
		}
	}
	cl, _ := New(Auth{Headers: map[string]string{"X-Org": "ops"}}, 0)
	cl.Get(context.Background(), srv.URL, "")
	if got.Get("X-Org") != "ops" {
		t.Errorf("headers %v", got)
	}
	if _, err := New(Auth{Username: "a", BearerToken: "b"}, 0); err == nil {
		t.Error("basic auth and a bearer token together must be refused")
	}
}

func TestRedirectsAreFollowedUnlessAskedNotTo(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	follow, _ := NewClient(Auth{}, Options{})
	resp, err := follow.Get(context.Background(), srv.URL+"/old", "")
	if err != nil || resp.Status != 200 || resp.URL.Path != "/new" {
		t.Fatalf("follow: %+v %v", resp, err)
	}
	stay, _ := NewClient(Auth{}, Options{NoRedirects: true})
	resp, err = stay.Get(context.Background(), srv.URL+"/old", "")
	if err != nil || resp.Status != http.StatusFound || resp.Header.Get("Location") != "/new" {
		t.Fatalf("no redirects: %+v %v", resp, err)
	}
}

func TestTooLargeAnswersNameTheURLTheLimitAndWhatToDo(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		}
		io.WriteString(w, big)
	}))
	defer srv.Close()
	cl, _ := NewClient(Auth{}, Options{Limit: 1 << 20, LimitHint: "raise max_response_mb"})
	for path, want := range map[string]string{
		"/announced": "/announced is larger than 1 MiB (2 MiB announced): raise max_response_mb",
		"/chunked":   "/chunked is larger than 1 MiB: raise max_response_mb",
	} {
		_, err := cl.Get(context.Background(), srv.URL+path+"?token=secret", "")
		if !errors.Is(err, bounded.ErrTooLarge) || !strings.HasSuffix(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v", path, err)
		}
	}
	// an SDK's client, bounded
	d := Bounded(srv.Client(), 1<<20)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/chunked", nil)
	resp, err := d.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, bounded.ErrTooLarge) {
		t.Errorf("bounded doer: %v", err)
	}
}
