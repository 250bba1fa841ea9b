package probe

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// AgentOptions are the options of `opsview agent`.
type AgentOptions struct {
	// Listen is the HTTP address (default 127.0.0.1:9475). Any address
	// that is not loopback requires TokenFile.
	Listen    string
	TokenFile string
	Targets   []string
	Interval  time.Duration
	Backend   string
	MaxTTL    int
	TCPPort   int
	// Keep is how many rounds per target are served (default 300).
	Keep int
	// Ready, when set, receives the bound address once listening.
	Ready func(addr string)
	// Endpoints are more endpoints served behind the same token, by
	// pattern ("POST /http-check": the HTTP checks' agent vantage,
	// which this package does not know).
	Endpoints map[string]http.Handler
}

// agentRounds keeps the latest rounds per target.
type agentRounds struct {
	mu     sync.Mutex
	keep   int
	rounds map[string][]Round
	order  []string
}

func (a *agentRounds) add(r *Round) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rs, ok := a.rounds[r.Target]
	if !ok {
		a.order = append(a.order, r.Target)
	}
	rs = append(rs, *r)
	if len(rs) > a.keep {
		rs = append(rs[:0:0], rs[len(rs)-a.keep:]...)
	}
	a.rounds[r.Target] = rs
}

// RunAgent probes the targets continuously and serves the latest rounds:
// GET /rounds (JSON lines, `?since=RFC3339` for newer ones only) and GET
// /metrics (Prometheus text). It listens on loopback unless told
// otherwise, and requires a bearer token on any other address.
func RunAgent(ctx context.Context, o AgentOptions) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:9475"
	}
	if o.Keep <= 0 {
		o.Keep = 300
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if len(o.Targets) == 0 && len(o.Endpoints) == 0 {
		return errors.New("agent: give at least one target to probe")
	}
	token, err := agentToken(o.Listen, o.TokenFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("agent: listen on %s: %w", o.Listen, err)
	}
	store := &agentRounds{keep: o.Keep, rounds: map[string][]Round{}}
	srv := &http.Server{Handler: agentHandler(store, token, o.Endpoints), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	copt := CLIOptions{Interval: o.Interval, Backend: o.Backend, MaxTTL: o.MaxTTL, TCPPort: o.TCPPort}
	topt := copt.tracerOptions()
	var wg sync.WaitGroup
	errs := make([]error, len(o.Targets))
	for i, t := range o.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runTarget(ctx, t, topt, copt.Interval, 0, store.add)
			if errs[i] != nil {
				store.add(&Round{V: WireVersion, Target: t, At: time.Now().UTC(), Error: errs[i].Error()})
			}
		}()
	}
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		srv.Shutdown(sctx)
	}()
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	err = srv.Serve(ln)
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, errors.Join(errs...))
}

// agentToken reads the token; it is required unless the address is
// loopback.
func agentToken(listen, file string) (string, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("agent: bad listen address %q: %w (use host:port, e.g. 127.0.0.1:9475)", listen, err)
	}
	loop := host == "localhost"
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		loop = true
	}
	if file == "" {
		if !loop {
			return "", fmt.Errorf("agent: listening on %s (not loopback) needs --token-file with a secret token", listen)
		}
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("agent: read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("agent: token in %s is shorter than 16 characters; write a long random one (e.g. `openssl rand -hex 32 > %s`)", file, file)
	}
	return tok, nil
}

// bearerMatches says whether an Authorization header is "Bearer <token>"
// (the scheme in any case, RFC 7235). The token alone is refused. Both
// sides are hashed before the constant-time comparison, so neither the
// token nor its length can be learnt from the time an answer takes.
func bearerMatches(header, token string) bool {
	const scheme = "Bearer "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(header[len(scheme):]))
	want := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func agentHandler(store *agentRounds, token string, more map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if token != "" && !bearerMatches(r.Header.Get("Authorization"), token) {
				http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /rounds", auth(func(w http.ResponseWriter, r *http.Request) {
		var since time.Time
		if s := r.URL.Query().Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				http.Error(w, "since: want an RFC 3339 time", http.StatusBadRequest)
				return
			}
			since = t
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		store.mu.Lock()
		defer store.mu.Unlock()
		for _, t := range store.order {
			for i := range store.rounds[t] {
				if store.rounds[t][i].At.After(since) {
					enc.Encode(&store.rounds[t][i])
				}
			}
		}
	}))
	for pattern, h := range more {
		mux.HandleFunc(pattern, auth(h.ServeHTTP))
	}
	mux.HandleFunc("GET /metrics", auth(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		store.mu.Lock()
		stats := make([]*PathStats, 0, len(store.order))
		for _, t := range store.order {
			ps := NewPathStats("", t)
			for i := range store.rounds[t] {
				ps.Add(&store.rounds[t][i])
			}
			stats = append(stats, ps)
		}
		store.mu.Unlock()
		writeMetrics(w, stats)
	}))
	return mux
}

func writeMetrics(w io.Writer, stats []*PathStats) {
	fmt.Fprintln(w, "# HELP opsview_probe_hop_loss_ratio Loss at a TTL over the rounds kept (ICMP replies, may be rate limiting).")
	fmt.Fprintln(w, "# TYPE opsview_probe_hop_loss_ratio gauge")
	fmt.Fprintln(w, "# HELP opsview_probe_hop_rtt_seconds Round-trip time to a hop.")
	fmt.Fprintln(w, "# TYPE opsview_probe_hop_rtt_seconds gauge")
	fmt.Fprintln(w, "# HELP opsview_probe_hop_sent_total Probes sent at a TTL over the rounds kept.")
	fmt.Fprintln(w, "# TYPE opsview_probe_hop_sent_total gauge")
	fmt.Fprintln(w, "# HELP opsview_probe_loss_ratio End-to-end loss to the target (ICMP echo or TCP).")
	fmt.Fprintln(w, "# TYPE opsview_probe_loss_ratio gauge")
	fmt.Fprintln(w, "# HELP opsview_probe_rtt_seconds End-to-end round-trip time (median).")
	fmt.Fprintln(w, "# TYPE opsview_probe_rtt_seconds gauge")
	fmt.Fprintln(w, "# HELP opsview_probe_reached Whether the target itself answered.")
	fmt.Fprintln(w, "# TYPE opsview_probe_reached gauge")
	sort.Slice(stats, func(i, j int) bool { return stats[i].Target < stats[j].Target })
	for _, s := range stats {
		tr := s.Trace()
		tl := fmt.Sprintf("target=\"%s\"", promEsc(tr.Target))
		for _, h := range tr.Hops {
			hl := fmt.Sprintf("%s,ttl=\"%d\",hop=\"%s\"", tl, h.TTL, promEsc(h.Addr))
			fmt.Fprintf(w, "opsview_probe_hop_loss_ratio{%s} %g\n", hl, h.Loss)
			fmt.Fprintf(w, "opsview_probe_hop_sent_total{%s} %d\n", hl, h.Sent)
			if h.Received > 0 {
				fmt.Fprintf(w, "opsview_probe_hop_rtt_seconds{%s,stat=\"min\"} %g\n", hl, h.Min.Seconds())
				fmt.Fprintf(w, "opsview_probe_hop_rtt_seconds{%s,stat=\"median\"} %g\n", hl, h.Median.Seconds())
				fmt.Fprintf(w, "opsview_probe_hop_rtt_seconds{%s,stat=\"max\"} %g\n", hl, h.Max.Seconds())
			}
		}
		e := tr.EndToEnd
		if e.Sent > 0 {
			fmt.Fprintf(w, "opsview_probe_loss_ratio{%s} %g\n", tl, e.Loss)
			if e.Received > 0 {
				fmt.Fprintf(w, "opsview_probe_rtt_seconds{%s} %g\n", tl, e.Median.Seconds())
			}
		}
		reached := 0
		if tr.Reached {
			reached = 1
		}
		fmt.Fprintf(w, "opsview_probe_reached{%s} %d\n", tl, reached)
	}
}

func promEsc(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
