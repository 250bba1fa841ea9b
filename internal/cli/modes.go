package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/ssh"
	"github.com/spf13/cobra"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/internal/export"
	"github.com/opsview/opsview/internal/serve"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/sources/httpcheck"
	"github.com/opsview/opsview/sources/probe"
	"github.com/opsview/opsview/sources/replay"
	"github.com/opsview/opsview/ui"
)

// interruptible is ctx cancelled on SIGINT and SIGTERM (headless modes).
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// recordingHeader describes what wrote a recording; the config goes in
// with its secrets removed.
func recordingHeader(p *plan, what string) replay.Header {
	h := replay.Header{Created: time.Now().UTC(), Producer: "opsview " + currentVersion().Version + " " + what}
	if p.cfg != nil {
		h.Config = p.cfg.Redacted()
	}
	return h
}

// defaultRecordingPath is where `record` writes by default.
func defaultRecordingPath() string { return recordingPathAt(time.Now()) }

// recordingPathAt names a recording by the time its screen shows at its
// start: the demo's scenario clock in the demo, the wall clock live.
func recordingPathAt(at time.Time) string {
	return filepath.Join(config.StateDir(), "recordings", "opsview-"+at.Format("20060102-150405")+".opsrec")
}

func recordCmd(g *globals, stdout io.Writer) *cobra.Command {
	var out string
	var dur time.Duration
	c := &cobra.Command{
		Use:   "record",
		Short: "Record what the sources return, headless, for a later replay",
		Long: `record polls every configured source (or the discovered ones, or the demo)
and writes every batch to a recording file: append-only, length-prefixed,
checksummed and compressed frames, flushed at least every second, so a file
cut off by a crash replays up to its last whole frame.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				out = defaultRecordingPath()
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			if dur > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, dur)
				defer cancel()
			}
			logf, closeLog := openLog(g)
			defer closeLog()
			p, err := loadPlan(ctx, g, logf, true)
			if err != nil {
				return err
			}
			defer app.Close(p.entries)
			rt := app.New(runtimeOptions(p, logf))
			var werr error
			var mu sync.Mutex
			w, err := startRecording(rt, out, recordingHeader(p, "record"), func(err error) {
				mu.Lock()
				defer mu.Unlock()
				if werr == nil {
					werr = err
				}
			})
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			fmt.Fprintf(stdout, "recording %d sources (%s) to %s; Ctrl-C stops\n", len(p.entries), p.mode, out)
			rt.Run(ctx, nil)
			_ = rt.Record(nil, nil)
			cerr := w.Close()
			mu.Lock()
			defer mu.Unlock()
			if werr == nil {
				werr = cerr
			}
			if werr != nil {
				return &ExitError{Code: 1, Msg: fmt.Sprintf("%s: %v", out, werr)}
			}
			fmt.Fprintf(stdout, "wrote %d frames, %d bytes to %s\n", w.Frames(), w.Size(), out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "recording file to write (default under "+filepath.Join(config.StateDir(), "recordings")+")")
	c.Flags().DurationVarP(&dur, "duration", "d", 0, "stop after this long (default: until interrupted)")
	return c
}

// runtimeOptions are the runtime settings of a plan.
func runtimeOptions(p *plan, logf func(string, ...any)) app.Options {
	ro := app.Options{Entries: p.entries, Logf: warnings(logf), Rules: defaultRules()}
	if p.cfg != nil {
		ro.Rules = append(append(sources.Rules{}, p.cfg.Rules...), ro.Rules...)
		ro.Deps = p.cfg.Deps
		ro.Store = correlate.StoreOptions{Step: p.cfg.Store.Step, Retention: p.cfg.Store.Retention, MaxSeries: p.cfg.Store.MaxSeries}
	}
	if p.demo != nil {
		ro.Deps = demo.Dependencies()
	}
	return ro
}

// sessionView is what every screen reads from a runtime's session: the
// store, the findings (now and at the cursor), the findings timeline, the
// path verdicts and the unusual flags.
func sessionView(rt *app.Runtime) ui.Options {
	return ui.Options{Store: rt.Store(), Findings: rt.Findings, FindingsAt: rt.Session.FindingsAt,
		Changes: rt.Session.Changes, Paths: rt.Session.Paths, Warming: rt.Session.Warming,
		Unusual: rt.Session.Unusual}
}

// replayer drives a Player into a runtime: every batch is judged by the
// recording's session as live judged it, so the findings are the same.
type replayer struct {
	player *replay.Player
	rt     *app.Runtime
	notify func()
	mu     sync.Mutex
	step   int // index into speeds

	moments    []time.Time // where findings change, learned on the first N
	momentsErr error
	momentsOK  bool
}

var speeds = []float64{1, 2, 5, 10, 30, 60}

func (r *replayer) drain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs, err := r.player.Drain()
	for _, b := range bs {
		r.rt.Ingest(b)
	}
	if err != nil {
		r.rt.Logf("replay: %v", err)
	}
	if len(bs) > 0 && r.notify != nil {
		r.notify()
	}
}

// jumped follows a seek of the player: a seek backwards (reset) starts
// the session over from the recording's opening; then the batches up to
// the new position go in.
func (r *replayer) jumped(reset bool) {
	r.mu.Lock()
	if reset {
		r.rt.Session.Reset()
		if err := app.RestoreOpening(r.rt.Session, r.player.Recording()); err != nil {
			r.rt.Logf("replay: %v", err)
		}
		r.notes()
	}
	r.mu.Unlock()
	r.drain()
}

// notes puts the recording's notes on the timeline.
func (r *replayer) notes() {
	for _, a := range r.player.Annotations() {
		r.rt.Note(app.NoteBatch(a))
	}
}

// clock is the replay's clock for the header.
func (r *replayer) clock() ui.Clock {
	p := r.player
	return ui.Clock{Replay: true, Playing: p.Playing(), Speed: p.Speed(), At: p.Position()}
}

// findingMoments are the times a finding opened, changed or closed, from
// judging the whole recording once.
func (r *replayer) findingMoments() ([]time.Time, error) {
	if !r.momentsOK {
		r.momentsOK = true
		sess, err := app.Judge(r.player.Recording())
		r.momentsErr = err
		for _, c := range sess.Changes() {
			r.moments = append(r.moments, c.At)
		}
	}
	return r.moments, r.momentsErr
}

var replayKeys = struct {
	Play, Faster, Slower, NextEvent, NextFinding, Back, Forward, Note key.Binding
}{
	Note:        key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "replay: mark a note at the cursor (saved in the recording)")),
	Play:        key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "replay: play / pause")),
	Faster:      key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "replay: faster / slower (1× to 60×)")),
	Slower:      key.NewBinding(key.WithKeys("-")),
	NextEvent:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "replay: jump to the next event")),
	NextFinding: key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "replay: jump to the next finding")),
	Back:        key.NewBinding(key.WithKeys("<", ","), key.WithHelp("< >", "replay: back / forward 1 minute")),
	Forward:     key.NewBinding(key.WithKeys(">", ".")),
}

func (r *replayer) key(msg tea.KeyPressMsg, c *ui.Context) (bool, tea.Cmd) {
	k := replayKeys
	p := r.player
	switch {
	case key.Matches(msg, k.Note):
		at := ui.CursorTime(c)
		if at.IsZero() {
			at = p.Position()
		}
		return true, func() tea.Msg {
			return ui.PromptMsg{Label: "note at " + at.Format("15:04:05"), Submit: func(text string) tea.Cmd {
				return func() tea.Msg {
					a := replay.Annotation{At: at, Author: author(), Text: text, Written: time.Now()}
					if err := p.Annotate(a); err != nil {
						r.rt.Logf("note: %v", err)
					}
					r.rt.Note(app.NoteBatch(a))
					return ui.DataMsg{}
				}
			}}
		}
	case key.Matches(msg, k.Play):
		if p.Playing() {
			p.Pause()
		} else {
			p.Play()
		}
	case key.Matches(msg, k.Faster, k.Slower):
		r.mu.Lock()
		if key.Matches(msg, k.Faster) && r.step+1 < len(speeds) {
			r.step++
		} else if key.Matches(msg, k.Slower) && r.step > 0 {
			r.step--
		}
		_ = p.SetSpeed(speeds[r.step])
		r.mu.Unlock()
	case key.Matches(msg, k.NextEvent):
		if _, reset, ok := p.NextEvent(); ok {
			r.jumped(reset)
		}
	case key.Matches(msg, k.NextFinding):
		r.mu.Lock()
		moments, err := r.findingMoments()
		r.mu.Unlock()
		if err != nil {
			r.rt.Logf("replay: %v", err)
		}
		if _, reset, ok := p.NextMoment(moments); ok {
			r.jumped(reset)
		}
	case key.Matches(msg, k.Back, k.Forward):
		d := time.Minute
		if key.Matches(msg, k.Back) {
			d = -d
		}
		at := p.Position().Add(d)
		r.jumped(p.Seek(at))
	default:
		return false, nil
	}
	return true, func() tea.Msg { return ui.DataMsg{} }
}

func replayCmd(g *globals, stdin io.Reader, stdout io.Writer) *cobra.Command {
	var speed float64
	c := &cobra.Command{
		Use:   "replay FILE",
		Short: "Play a recording back through the same engine and views",
		Long: `replay plays a recording through the same store, engine and views as live:
space plays and pauses, + and - change the speed (1× to 60×), n and N jump to
the next event or finding, < and > move a minute. A file cut off by a crash
plays up to its last whole frame, with a warning.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if speed < replay.MinSpeed || speed > replay.MaxSpeed {
				return &ExitError{Code: 2, Msg: fmt.Sprintf("--speed %g: use %d to %d", speed, replay.MinSpeed, replay.MaxSpeed)}
			}
			theme, err := chooseTheme(g)
			if err != nil {
				return &ExitError{Code: 2, Msg: err.Error()}
			}
			logf, closeLog := openLog(g)
			defer closeLog()
			rec, err := replay.Open(args[0])
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			defer rec.Close()
			if err := needTerminal(stdin, stdout); err != nil {
				return err
			}
			mode := "replay " + filepath.Base(args[0])
			var warning string
			if rec.Warning != nil {
				logf("replay %s: %v", args[0], rec.Warning)
				warning = rec.Warning.Error() // the header never drops it, as it may drop the mode
			}
			// the session the recording was judged with, from its opening
			rt, err := app.NewReplay(rec, logf)
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			player := replay.NewPlayer(rec, replay.PlayerOptions{})
			r := &replayer{player: player, rt: rt}
			for i, s := range speeds {
				if s <= speed {
					r.step = i
				}
			}
			_ = player.SetSpeed(speed)
			r.notes()
			player.Play()
			uo := sessionView(rt)
			uo.Theme, uo.ASCII, uo.Mode, uo.Logf, uo.OnKey, uo.Clock = theme, g.ascii, mode, logf, r.key, r.clock
			uo.Warning = warning
			uo.ModeKeys = []key.Binding{replayKeys.Note, replayKeys.Play, replayKeys.Faster, replayKeys.NextEvent, replayKeys.NextFinding, replayKeys.Back}
			model := ui.New(uo)
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			prog := tea.NewProgram(model, tea.WithContext(ctx), tea.WithInput(stdin), tea.WithOutput(stdout))
			r.notify = func() { go prog.Send(ui.DataMsg{}) }
			dctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				t := time.NewTicker(200 * time.Millisecond)
				defer t.Stop()
				for {
					r.drain()
					select {
					case <-dctx.Done():
						return
					case <-t.C:
					}
				}
			}()
			_, err = prog.Run()
			cancel()
			<-done
			if err != nil && ctx.Err() == nil && err != tea.ErrProgramKilled {
				return err
			}
			return nil
		},
	}
	c.Flags().Float64Var(&speed, "speed", 1, "playback speed, 1 to 60")
	return c
}

func exportCmd(g *globals, stdout, stderr io.Writer) *cobra.Command {
	var format, out, title string
	c := &cobra.Command{
		Use:   "export FILE",
		Short: "Write a postmortem timeline from a recording",
		Long: `export replays a recording through the engine and writes the postmortem
timeline: sources, events, findings with their evidence, annotations, and
small ASCII charts of the key series.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "markdown" && format != "md" {
				return &ExitError{Code: 2, Msg: fmt.Sprintf("--format %q: only markdown is supported", format)}
			}
			rec, err := replay.Open(args[0])
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			defer rec.Close()
			if rec.Warning != nil {
				fmt.Fprintf(stderr, "opsview: warning: %s: %v\n", args[0], rec.Warning)
			}
			w := stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return &ExitError{Code: 1, Msg: err.Error()}
				}
				defer f.Close()
				w = f
			}
			if err := export.Markdown(w, rec, export.Options{Title: title}); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "markdown", "output format: markdown")
	c.Flags().StringVarP(&out, "out", "o", "", "output file (default standard output)")
	c.Flags().StringVar(&title, "title", "", "document title")
	return c
}

func probeCmd(g *globals, stdout io.Writer) *cobra.Command {
	var o probe.CLIOptions
	c := &cobra.Command{
		Use:   "probe TARGET...",
		Short: "Probe the paths to targets (traceroute/mtr style); the mode remote vantage points run",
		Long: `probe sends every TTL of a round at once and reports, per hop, loss and
latency (last, min, median, avg, max, stddev, jitter). It picks the best
backend it is allowed: raw ICMP/UDP (CAP_NET_RAW), ICMP ping sockets
(net.ipv4.ping_group_range), or unprivileged UDP. --json prints one line per
round: the wire format of the exec vantage.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			o.Targets = args
			if err := probe.RunCLI(ctx, o, stdout); err != nil && ctx.Err() == nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "one JSON line per probe round")
	c.Flags().IntVar(&o.Count, "count", 0, "rounds to run (0: until interrupted)")
	probeFlags(c, &o.Interval, &o.Backend, &o.MaxTTL, &o.TCPPort)
	c.Flags().DurationVar(&o.Timeout, "timeout", 0, "how long a round waits for answers (default min(1s, interval))")
	c.Flags().IntVar(&o.Flows, "flows", 0, "probe flows taken in turn, to see the branches of load balancers (default 4)")
	return c
}

// probeFlags are the flags probe and agent share.
func probeFlags(c *cobra.Command, interval *time.Duration, backend *string, maxTTL, tcpPort *int) {
	c.Flags().DurationVar(interval, "interval", time.Second, "time between rounds")
	c.Flags().StringVar(backend, "backend", "auto", "auto, raw-icmp, ping, udp or icmp")
	c.Flags().IntVar(maxTTL, "max-ttl", 30, "highest TTL probed")
	c.Flags().IntVar(tcpPort, "tcp-port", 0, "TCP port for end-to-end probes with the udp backend")
}

func agentCmd(g *globals, stdout io.Writer) *cobra.Command {
	var o probe.AgentOptions
	var httpChecks bool
	c := &cobra.Command{
		Use:   "agent [TARGET...]",
		Short: "Serve probe rounds as JSON and Prometheus metrics for other vantage points",
		Long: `agent probes the targets continuously and serves the latest rounds as JSON
(for opsview's agent vantage) and as Prometheus metrics, so a Prometheus can
scrape a fleet of vantage points. With --http-checks it also runs the HTTP
checks an http source's agent vantage posts to it (POST /http-check). It
listens on loopback unless told otherwise; any other address requires
--token-file, whose token clients send as "Authorization: Bearer <token>".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			if len(args) == 0 && !httpChecks {
				return &ExitError{Code: 1, Msg: "agent: give targets to probe, or --http-checks"}
			}
			if httpChecks {
				o.Endpoints = map[string]http.Handler{httpcheck.AgentPattern: httpcheck.AgentHandler()}
			}
			o.Targets = args
			o.Ready = func(addr string) { fmt.Fprintf(stdout, "agent listening on %s\n", addr) }
			if err := probe.RunAgent(ctx, o); err != nil && ctx.Err() == nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:9475", "address to listen on (a token is required off loopback)")
	c.Flags().StringVar(&o.TokenFile, "token-file", "", "file holding the bearer token clients must send")
	c.Flags().BoolVar(&httpChecks, "http-checks", false, "also run the HTTP checks of http sources' agent vantages (POST /http-check)")
	probeFlags(c, &o.Interval, &o.Backend, &o.MaxTTL, &o.TCPPort)
	return c
}

func serveCmd(g *globals, stdout io.Writer) *cobra.Command {
	var o serve.Options
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the TUI over SSH so several engineers can pair on one incident",
		Long: `serve runs the sources once and serves the TUI over SSH to several
engineers at once, each with their own terminal size and view, on the same
data. Public-key authentication only (--authorized-keys); the host key is
made on first use under the state directory. It listens on loopback unless
told otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.AuthorizedKeysFile == "" {
				return &ExitError{Code: 2, Msg: "--authorized-keys FILE is required (public-key authentication only)"}
			}
			theme, err := chooseTheme(g)
			if err != nil {
				return &ExitError{Code: 2, Msg: err.Error()}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			logf, closeLog := openLog(g)
			defer closeLog()
			p, err := loadPlan(ctx, g, logf, true)
			if err != nil {
				return err
			}
			defer app.Close(p.entries)
			rt := app.New(runtimeOptions(p, logf))
			b := &broadcaster{subs: map[chan struct{}]bool{}}
			go rt.Run(ctx, b.signal)
			o.Logf = logf
			o.Ready = func(addr net.Addr) { fmt.Fprintf(stdout, "serving %s over SSH on %s\n", p.mode, addr) }
			hub := serve.NewFollow()
			o.Follow = hub
			o.NewModel = func(sess ssh.Session, w, h int) tea.Model {
				ch := b.join()
				go func() { <-sess.Context().Done(); b.leave(ch) }()
				pair := &pairing{hub: hub, id: serve.SessionID(sess)}
				uo := sessionView(rt)
				uo.Theme, uo.ASCII, uo.Mode, uo.Logf, uo.Updates = theme, g.ascii, p.mode+" (shared)", logf, ch
				uo.OnPosition, uo.OnKey, uo.ModeKeys, uo.Badge = pair.publish, pair.key, []key.Binding{followKey}, pair.badge
				return ui.New(uo)
			}
			if err := serve.Run(ctx, o); err != nil && ctx.Err() == nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:2222", "address to listen on")
	c.Flags().StringVar(&o.AuthorizedKeysFile, "authorized-keys", "", "authorized_keys file (public-key authentication only)")
	c.Flags().StringVar(&o.HostKeyPath, "host-key", "", "host key file (default "+serve.DefaultHostKeyPath()+", made on first use)")
	c.Flags().DurationVar(&o.IdleTimeout, "idle-timeout", 30*time.Minute, "close a session whose user sent no input this long (redraws do not count)")
	c.Flags().IntVar(&o.MaxConnections, "max-connections", 8, "most concurrent sessions")
	return c
}

// broadcaster tells every SSH session that the data moved.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan struct{}]bool
}

func (b *broadcaster) join() chan struct{} {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs[ch] = true
	b.mu.Unlock()
	return ch
}

func (b *broadcaster) leave(ch chan struct{}) {
	b.mu.Lock()
	delete(b.subs, ch)
	b.mu.Unlock()
}

func (b *broadcaster) signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

// author names whoever writes a note: $USER, else "opsview".
func author() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "opsview"
}

var followKey = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow the first engineer's view and cursor (again: stop)"))

// pairing is one SSH session's part in following: it publishes where it
// is, and with f shows where the first-connected session is.
type pairing struct {
	hub       *serve.Follow
	id        string
	following bool // touched only from the session's program goroutine
}

func (p *pairing) publish(pos ui.Position) {
	sp := serve.Position{View: pos.View, At: pos.Cursor, Window: pos.Window, Filter: pos.Filter, Cursor: -1}
	p.hub.Publish(p.id, sp)
}

func (p *pairing) key(msg tea.KeyPressMsg, _ *ui.Context) (bool, tea.Cmd) {
	if !key.Matches(msg, followKey) {
		return false, nil
	}
	if p.following {
		p.following = false
		p.hub.Unsubscribe(p.id)
		return true, nil
	}
	p.following = true
	return true, p.wait(p.hub.Subscribe(p.id))
}

// wait turns the leader's next position into a PositionMsg, and waits
// again after it.
func (p *pairing) wait(ch <-chan serve.Position) tea.Cmd {
	return func() tea.Msg {
		m, _ := serve.WaitFollow(ch)().(serve.FollowMsg)
		if !m.OK {
			return nil
		}
		pos := m.Position
		return ui.PositionMsg{Position: ui.Position{View: pos.View, Cursor: pos.At, Window: pos.Window, Filter: pos.Filter}, Next: p.wait(ch)}
	}
}

func (p *pairing) badge() string {
	if p.following {
		return "following"
	}
	return ""
}
