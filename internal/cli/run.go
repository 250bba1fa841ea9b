package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/themes"
	"github.com/opsview/opsview/ui"
)

// plan is what a run will poll and how it was chosen.
type plan struct {
	entries []sources.Entry
	cfg     *config.Config
	mode    string // shown in the header
	demo    *demo.World
}

// loadPlan finds the configuration, or discovers local servers, or falls
// back to the demo.
func loadPlan(ctx context.Context, g *globals, logf func(string, ...any), allowDemo bool) (*plan, error) {
	path, found := config.Find(g.config)
	logf("debug: configuration %s (found: %v)", path, found)
	if found {
		cfg, err := config.Load(path)
		if err != nil {
			return nil, &ExitError{Code: ExitUnknown, Msg: err.Error()}
		}
		entries, err := app.EntriesFromConfig(cfg, logf)
		if err != nil {
			return nil, &ExitError{Code: ExitUnknown, Msg: err.Error()}
		}
		if len(entries) == 0 {
			return nil, &ExitError{Code: ExitUnknown, Msg: fmt.Sprintf("%s: no sources configured (see 'opsview config example')", path)}
		}
		return &plan{entries: entries, cfg: cfg, mode: "live"}, nil
	}
	if found := app.Discover(ctx, logf); len(found) > 0 {
		var names []string
		for _, e := range found {
			names = append(names, e.Name)
		}
		return &plan{entries: found, mode: "discovered " + strings.Join(names, ", ")}, nil
	}
	if !allowDemo {
		return nil, &ExitError{Code: ExitUnknown, Msg: fmt.Sprintf("no configuration found (%s) and no local HAProxy or Prometheus discovered; see 'opsview config example', or try 'opsview check --demo'", path)}
	}
	return demoPlan(0, "demo (no config)"), nil
}

func demoPlan(speed float64, mode string) *plan {
	w := demo.NewWorld(demo.NewClock(time.Now(), speed), 5*time.Second, time.Now)
	return &plan{entries: w.Entries(), mode: mode, demo: w}
}

type tuiOptions struct {
	stdin  io.Reader
	stdout io.Writer
	plan   *plan
}

func runTUI(ctx context.Context, g *globals, o tuiOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	theme, err := chooseTheme(g)
	if err != nil {
		return &ExitError{Code: 2, Msg: err.Error()}
	}
	logf, closeLog := openLog(g)
	defer closeLog()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()

	p := o.plan
	if p == nil {
		if p, err = loadPlan(ctx, g, logf, true); err != nil {
			return err
		}
	}
	defer app.Close(p.entries)
	if err := needTerminal(o.stdin, o.stdout); err != nil {
		return err
	}
	var from, until time.Time
	if g.from != "" || g.until != "" {
		if from, until, err = sources.ParseWindow(g.from, g.until, time.Now(), nil); err != nil {
			return &ExitError{Code: 2, Msg: err.Error()}
		}
		p.mode += fmt.Sprintf(" — history %s … %s", from.Format("2006-01-02 15:04"), until.Format("15:04"))
	}
	ro := runtimeOptions(p, logf)
	ro.From, ro.Until = from, until
	rt := app.New(ro)
	logf("opsview %s starting: %s, %d sources", currentVersion(), p.mode, len(p.entries))

	var keyOverrides map[string][]string
	if p.cfg != nil {
		keyOverrides = p.cfg.Keys
	}
	recorder := &liveRecorder{rt: rt, hdr: recordingHeader(p, "tui"), logf: logf, path: func() string { return screenRecordingPath(rt) }}
	defer recorder.stop()
	uiOpts := sessionView(rt)
	uiOpts.OnKey, uiOpts.ModeKeys, uiOpts.Badge = recorder.key, []key.Binding{recordKey}, recorder.badge
	uiOpts.Theme, uiOpts.ASCII, uiOpts.Mode, uiOpts.Logf, uiOpts.KeyOverrides = theme, g.ascii, p.mode, logf, keyOverrides
	uiOpts.Window = window(from, until)
	if p.demo != nil {
		uiOpts.ClockNote = "demo clock" // scenario time, not the wall clock
	}
	if rt.CanBrowse() {
		uiOpts.Browse = rt.Browse
		uiOpts.AddSeries = func(id string) error { return rt.AddSeries(id, time.Hour) }
		if p.cfg != nil {
			cfgPath, _ := filepath.Abs(p.cfg.Path)
			uiOpts.AddSeries = rememberPicks(rt, pickedPath(), cfgPath, logf)
		}
	}
	model := ui.New(uiOpts)
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if o.stdout != nil {
		opts = append(opts, tea.WithOutput(o.stdout))
	}
	if o.stdin != nil {
		opts = append(opts, tea.WithInput(o.stdin))
	}
	prog := tea.NewProgram(model, opts...)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt.Run(rctx, func() { prog.Send(ui.DataMsg{}) })
	}()
	_, err = prog.Run()
	cancel()
	<-done
	if err != nil && ctx.Err() == nil && err != tea.ErrProgramKilled {
		return err
	}
	return nil
}

// needTerminal refuses to start the dashboard without a terminal on
// standard input and output (a pipe, cron, a service): it says so in one
// line and names the commands made for that, rather than the screen
// library's error about its input.
func needTerminal(stdin io.Reader, stdout io.Writer) error {
	if isTerminal(stdin) && isTerminal(stdout) {
		return nil
	}
	return &ExitError{Code: 2, Msg: "the dashboard needs a terminal (standard input and output are not one); without a terminal use 'opsview check' for a report or 'opsview record' for a recording to replay"}
}

func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(file.Fd())
}

func chooseTheme(g *globals) (*themes.Theme, error) { return themes.Choose(g.theme, g.noColor) }

func demoCmd(g *globals, stdin io.Reader, stdout io.Writer) *cobra.Command {
	var speed float64
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the built-in demo: the 'melting volume' incident on a compressed clock",
		Long: `The demo replays a field story on a compressed clock: a database master's
volume goes bad, iowait on db-1 climbs to 100 %, and 5xx rise across the app
pool behind the load balancer; then it recovers. It runs through the same
scheduler, store, engine and views as real sources.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), g, tuiOptions{stdin: stdin, stdout: stdout, plan: demoPlan(speed, fmt.Sprintf("demo ×%g", speedOr(speed)))})
		},
	}
	c.Flags().Float64Var(&speed, "speed", demo.DefaultSpeed, "scenario seconds per real second")
	return c
}

func speedOr(s float64) float64 {
	if s <= 0 {
		return demo.DefaultSpeed
	}
	return s
}

// window is the visible span: the historical window when there is one.
func window(from, until time.Time) time.Duration {
	if until.IsZero() {
		return 0
	}
	return until.Sub(from)
}
