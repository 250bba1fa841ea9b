package httpcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/bounded"
	"github.com/opsview/opsview/sources/internal/httpfetch"
	"github.com/opsview/opsview/sources/probe"
)

// Spec is what an exec vantage is asked to check, sent on the command's
// standard input (credentials never go on a command line, where ps shows
// them). Paths in Auth (ca_file, bearer_token_file) are read on the
// vantage.
type Spec struct {
	V         int            `json:"v"`
	Targets   []Target       `json:"targets"`
	TimeoutMs int64          `json:"timeout_ms"`
	MaxBody   int64          `json:"max_body,omitempty"`
	Auth      httpfetch.Auth `json:"auth"`
}

// Bounds on what an exec vantage may send back.
const (
	maxSpec      = 4 << 20
	maxExecLine  = 64 << 10
	maxExecTotal = 16 << 20
)

// runExec runs `<command> <opsview> http-check --spec -` and reads one
// Result line per target.
func (s *Source) runExec(ctx context.Context, v probe.VantageOptions, timeout time.Duration) (map[string]Result, error) {
	spec := s.spec
	spec.TimeoutMs = timeout.Milliseconds()
	in, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	args := append(probe.SplitCommand(v.Command), v.Opsview, "http-check", "--spec", "-")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = time.Second
	cmd.Stdin = bytes.NewReader(in)
	var stderr tail
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", strings.Join(args, " "), err)
	}
	results, rerr := readResults(bounded.NewReader(out, maxExecTotal, args[0]), s.targets)
	if rerr != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%q did not finish before the timeout: %w", strings.Join(args, " "), ctx.Err())
	}
	if rerr != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(args, " "), rerr)
	}
	if len(results) < len(s.targets) {
		msg := strings.TrimSpace(sources.Clean(stderr.String()))
		if msg == "" {
			msg = "no output"
		}
		return nil, fmt.Errorf("%q answered %d of %d checks (%v): %s (is opsview installed there, as %q?)", strings.Join(args, " "), len(results), len(s.targets), werr, msg, v.Opsview)
	}
	return results, nil
}

// readResults reads Result lines for the given targets; anything else is
// an error, so a vantage that lies shows up.
func readResults(r io.Reader, targets []Target) (map[string]Result, error) {
	want := make(map[string]bool, len(targets))
	for _, t := range targets {
		want[t.URL] = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxExecLine)
	out := map[string]Result{}
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var res Result
		if err := json.Unmarshal(line, &res); err != nil {
			return nil, fmt.Errorf("not an http-check result (%v): %q", err, sources.Clean(clip(string(line), 120)))
		}
		if res.V != WireVersion {
			return nil, fmt.Errorf("http-check result format %d, want %d (update opsview on the vantage point)", res.V, WireVersion)
		}
		if !want[res.URL] {
			return nil, fmt.Errorf("a result for %q, which was not asked", sources.Clean(clip(res.URL, 120)))
		}
		res.Error = sources.Clean(clip(res.Error, 300))
		res.FinalURL = sources.Clean(clip(res.FinalURL, 300))
		out[res.URL] = res
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line longer than %s: not http-check output", bounded.Size(maxExecLine))
		}
		return nil, err
	}
	return out, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// tail keeps the last 2 KiB written (a command's stderr, for its error).
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = append(t.b[:0:0], t.b[len(t.b)-2048:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// CLIOptions are `opsview http-check`'s.
type CLIOptions struct {
	// Spec is a file holding a Spec ("-": standard input): the exec
	// vantage's mode, answered with one JSON Result line per target.
	Spec string
	// URLs to check by hand, with the flags below.
	URLs         []string
	Timeout      time.Duration
	ExpectStatus []int
	ExpectBody   string
	NoRedirects  bool
	Insecure     bool
	JSON         bool
}

// RunCLI checks once and prints the results: JSON lines with --json or
// --spec, else one line per target for people. It returns the worst
// severity seen, for a Nagios-style exit code.
func RunCLI(ctx context.Context, o CLIOptions, stdin io.Reader, stdout io.Writer) (sources.Severity, error) {
	spec, err := cliSpec(o, stdin)
	if err != nil {
		return sources.SevOK, err
	}
	c, err := NewChecker(spec.Auth, spec.MaxBody)
	if err != nil {
		return sources.SevOK, err
	}
	timeout := time.Duration(spec.TimeoutMs) * time.Millisecond
	results := make([]Result, len(spec.Targets))
	var wg sync.WaitGroup
	for i, t := range spec.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.Check(ctx, t, timeout)
		}()
	}
	wg.Wait()
	worst := sources.SevOK
	enc := json.NewEncoder(stdout)
	now := time.Now()
	for i, r := range results {
		v := Judge(spec.Targets[i], r, now, CertLimits{Warning: 14, Critical: 3})
		worst = max(worst, v.Severity)
		if o.JSON || o.Spec != "" {
			if err := enc.Encode(r); err != nil {
				return worst, err
			}
			continue
		}
		fmt.Fprintln(stdout, humanLine(r, v))
	}
	return worst, nil
}

func cliSpec(o CLIOptions, stdin io.Reader) (Spec, error) {
	if o.Spec == "" {
		if len(o.URLs) == 0 {
			return Spec{}, errors.New("give URLs to check, or --spec FILE")
		}
		spec := Spec{V: WireVersion, TimeoutMs: o.Timeout.Milliseconds(), Auth: httpfetch.Auth{InsecureSkipTLS: o.Insecure}}
		follow := !o.NoRedirects
		for _, u := range o.URLs {
			if _, err := httpfetch.CheckURL(u); err != nil {
				return Spec{}, err
			}
			spec.Targets = append(spec.Targets, Target{URL: u, ExpectStatus: o.ExpectStatus, ExpectBody: o.ExpectBody, FollowRedirects: &follow})
		}
		if spec.TimeoutMs <= 0 {
			spec.TimeoutMs = 10000
		}
		return spec, nil
	}
	if o.Spec != "-" {
		return Spec{}, errors.New("--spec takes - (standard input): the exec vantage's mode")
	}
	b, err := bounded.ReadAll(stdin, maxSpec, 0)
	if err != nil {
		return Spec{}, fmt.Errorf("reading the spec: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return Spec{}, fmt.Errorf("the spec is not JSON: %w", err)
	}
	if spec.V != WireVersion {
		return Spec{}, fmt.Errorf("spec format %d, this opsview speaks %d (update opsview here or there)", spec.V, WireVersion)
	}
	for _, t := range spec.Targets {
		if _, err := httpfetch.CheckURL(t.URL); err != nil {
			return Spec{}, err
		}
		if m := strings.ToUpper(t.Method); m != "" && m != "GET" && m != "HEAD" {
			return Spec{}, fmt.Errorf("method %q: only GET and HEAD", t.Method)
		}
	}
	if spec.TimeoutMs <= 0 {
		spec.TimeoutMs = 10000
	}
	return spec, nil
}

func humanLine(r Result, v Verdict) string {
	word := "OK"
	switch v.Severity {
	case sources.SevWarning:
		word = "WARNING"
	case sources.SevCritical:
		word = "CRITICAL"
	}
	line := fmt.Sprintf("%-8s %s %s", word, r.URL, v.State)
	if r.Error == "" {
		line += fmt.Sprintf(" - %d bytes in %.1f ms (dns %.1f, connect %.1f, tls %.1f, first byte %.1f)",
			r.Bytes, r.TotalMs, r.DNSms, r.ConnectMs, r.TLSms, r.FirstByteMs)
	}
	if v.Problem != "" && v.Problem != v.State {
		line += ": " + v.Problem
	}
	return line
}
