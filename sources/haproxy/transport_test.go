package haproxy

import (
	"bufio"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// statsSocket is a unix socket that answers like a HAProxy worker socket
// and records every byte written to it.
type statsSocket struct {
	path    string
	mu      sync.Mutex
	written []string
	answer  func(cmd string, w io.Writer) // nil: never answer
	ln      net.Listener
}

func newStatsSocket(t *testing.T, answer func(cmd string, w io.Writer)) *statsSocket {
	t.Helper()
	s := &statsSocket{path: filepath.Join(t.TempDir(), "admin.sock"), answer: answer}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *statsSocket) serve(c net.Conn) {
	defer c.Close()
	all, _ := bufio.NewReader(c).ReadString('\n')
	s.mu.Lock()
	s.written = append(s.written, all)
	s.mu.Unlock()
	if s.answer == nil {
		time.Sleep(5 * time.Second) // accepts, never answers
		return
	}
	s.answer(all, c)
}

func (s *statsSocket) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.written...)
}

func haproxyLike(t *testing.T) func(string, io.Writer) {
	stat := readTestdata(t, "haproxy-2.6/show_stat.csv")
	inf := readTestdata(t, "haproxy-2.6/show_info.txt")
	return func(cmd string, w io.Writer) {
		switch cmd {
		case "show cli level\n":
			io.WriteString(w, "admin\n\n")
		case "show info;show stat\n":
			w.Write(inf)
			w.Write(stat)
		default:
			io.WriteString(w, "Unknown command\n\n")
		}
	}
}

func TestOnlyShowCommandsAreWritten(t *testing.T) {
	sock := newStatsSocket(t, haproxyLike(t))
	var logs []string
	s, err := New(sources.Env{Name: "lb", Logf: func(f string, a ...any) { logs = append(logs, f) }}, Options{Socket: sock.path})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b, err := s.Poll(context.Background(), sources.Request{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Nodes) < 10 {
			t.Fatalf("nodes %d", len(b.Nodes))
		}
	}
	cmds := sock.commands()
	if len(cmds) != 4 {
		t.Fatalf("want 1 level query + 3 polls, got %q", cmds)
	}
	for _, c := range cmds {
		for _, one := range strings.Split(strings.TrimSuffix(c, "\n"), ";") {
			if !strings.HasPrefix(one, "show ") {
				t.Errorf("a command that is not `show`: %q", one)
			}
		}
	}
	if cmds[0] != pollCommand || cmds[1] != levelCommand || cmds[2] != pollCommand {
		t.Errorf("commands %q", cmds)
	}
	if len(logs) != 1 || !strings.Contains(logs[0], "admin-level") {
		t.Errorf("want one admin-level warning, got %q", logs)
	}
}

func TestSocketThatNeverAnswersTimesOut(t *testing.T) {
	sock := newStatsSocket(t, nil)
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: sock.path})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Poll(ctx, sources.Request{Now: time.Now()})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("want a timeout error with a hint, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d) // not a speed assertion: a hang would take the server's 5 s
	}
}

func TestHugeAnswerIsRefused(t *testing.T) {
	row := strings.Repeat("be_x,s1,0,0,1,1,10,100,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,5,0,,1,8,1,,0,,2,0,,0,L4OK,,0,,,,,,,0,,,,0,0,\n", 1)
	sock := newStatsSocket(t, func(cmd string, w io.Writer) {
		if cmd != pollCommand {
			return
		}
		io.WriteString(w, "Name: HAProxy\nPid: 1\n\n# pxname,svname,qcur,qmax,scur,smax,slim,stot,\n")
		chunk := []byte(strings.Repeat(row, 10000))
		for n := 0; n < 50<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(w, "\n")
	})
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: sock.path})
	s.insts[0].levelChecked = true
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Now()})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "32 MiB") {
		t.Fatalf("want ErrTooLarge naming the limit, got %v", err)
	}
}

func TestTruncatedAnswerIsAnError(t *testing.T) {
	stat := readTestdata(t, "haproxy-2.6/show_stat.csv")
	sock := newStatsSocket(t, func(cmd string, w io.Writer) {
		io.WriteString(w, "Name: HAProxy\nPid: 1\n\n")
		w.Write(stat[:len(stat)/2])
	})
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: sock.path})
	s.insts[0].levelChecked = true
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("want a cut-short error, got %v", err)
	}
}

func TestPermissionDeniedTextIsAnError(t *testing.T) {
	sock := newStatsSocket(t, func(cmd string, w io.Writer) { io.WriteString(w, "Permission denied\n\n") })
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: sock.path})
	s.insts[0].levelChecked = true
	if _, err := s.Poll(context.Background(), sources.Request{Now: time.Now()}); err == nil {
		t.Fatal("no error for a refused answer")
	}
}

func TestMissingSocketSaysWhatToDo(t *testing.T) {
	s, _ := New(sources.Env{Name: "lb"}, Options{Socket: filepath.Join(t.TempDir(), "nope.sock")})
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "stats socket") {
		t.Fatalf("got %v", err)
	}
}

func statsPage(t *testing.T, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ";csv;norefresh") && !strings.Contains(r.URL.Path, ";csv") {
			http.Error(w, "not csv: "+r.URL.Path, 404)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || u != "admin" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="HAProxy Statistics"`)
			http.Error(w, "401 Unauthorized", 401)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}
}

func TestStatsPageWithAndWithoutPassword(t *testing.T) {
	srv := httptest.NewServer(statsPage(t, readTestdata(t, "haproxy-2.6/stats_http.csv")))
	defer srv.Close()
	for _, c := range []struct {
		user, pass, want string
	}{
		{"admin", "secret", ""},
		{"admin", "hunter2", "wrong username or password"},
		{"", "", "wants a login"},
	} {
		s, err := New(sources.Env{Name: "lb"}, Options{URL: srv.URL + "/stats", Username: c.user, Password: c.pass})
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Poll(context.Background(), sources.Request{Now: time.Now()})
		if c.want == "" {
			if err != nil || findNode(b, "lb/be_app/app3") == nil {
				t.Errorf("good password: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("user %q: got %v, want %q", c.user, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), c.pass) && c.pass != "" {
			t.Errorf("password leaked in error: %v", err)
		}
	}
}

func TestStatsPageOverTLS(t *testing.T) {
	srv := httptest.NewTLSServer(statsPage(t, readTestdata(t, "haproxy-2.6/stats_http.csv")))
	defer srv.Close()
	// unknown CA: refused
	s, _ := New(sources.Env{Name: "lb"}, Options{URL: srv.URL + "/stats", Username: "admin", Password: "secret"})
	if _, err := s.Poll(context.Background(), sources.Request{Now: time.Now()}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed without ca_file: %v", err)
	}
	// with the CA file
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	s, err := New(sources.Env{Name: "lb"}, Options{URL: srv.URL + "/stats", Username: "admin", Password: "secret", CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Poll(context.Background(), sources.Request{Now: time.Now()}); err != nil {
		t.Errorf("with ca_file: %v", err)
	}
	// skip-verify, with a warning
	var warn []string
	s, _ = New(sources.Env{Name: "lb", Logf: func(f string, a ...any) { warn = append(warn, f) }}, Options{URL: srv.URL + "/stats", Username: "admin", Password: "secret", InsecureSkipVerify: true})
	if _, err := s.Poll(context.Background(), sources.Request{Now: time.Now()}); err != nil || len(warn) != 1 {
		t.Errorf("skip-verify: %v, warnings %q", err, warn)
	}
}

func TestStatsPageHugeAnswer(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 50; i++ {
			if _, err := io.WriteString(w, big); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	s, _ := New(sources.Env{Name: "lb"}, Options{URL: srv.URL + "/stats"})
	_, err := s.Poll(context.Background(), sources.Request{Now: time.Now()})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
}
