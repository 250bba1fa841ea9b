// Package cli holds opsview's commands (cobra): flags, help text, exit
// codes. Each command parses its flags and calls into internal/app and the
// packages below; no command draws or polls by itself.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsview/opsview/internal/config"
)

// Version is stamped at build time (-ldflags "-X …/internal/cli.Version=…").
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Exit codes, as Nagios plugins use them.
const (
	ExitOK       = 0
	ExitWarning  = 1
	ExitCritical = 2
	ExitUnknown  = 3
)

// ExitError ends the program with a code and an optional message.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// global flags
type globals struct {
	config  string
	theme   string
	noColor bool
	ascii   bool
	logFile string
	from    string
	until   string
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintln(stderr, "opsview:", ee.Msg)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "opsview:", err)
	return 1
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "opsview",
		Short: "A terminal dashboard for operations triage",
		Long: `opsview shows external symptoms (HAProxy 5xx, failed checks, provider
status, packet loss at a hop) beside the internal resource graphs that explain
them (Graphite, Prometheus, CloudWatch), on one clock.

With no configuration it looks for a local HAProxy stats socket, Prometheus
and node_exporter, and otherwise runs the built-in demo.

Configuration: --config FILE, else $OPSVIEW_CONFIG, else
$XDG_CONFIG_HOME/opsview/config.yaml. See 'opsview config example'.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), g, tuiOptions{stdin: stdin, stdout: stdout})
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.config, "config", "c", "", "configuration file (default $OPSVIEW_CONFIG or "+config.DefaultPath()+")")
	pf.StringVar(&g.theme, "theme", "", "colour theme: dark, light, high-contrast, mono")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour (also when NO_COLOR is set to anything)")
	pf.BoolVar(&g.ascii, "ascii", false, "ASCII only: no braille or box drawing, for old terminals")
	pf.StringVar(&g.logFile, "log-file", "", "log file (default "+config.LogPath()+")")
	root.Flags().StringVar(&g.from, "from", "", `start of a historical window: "2026-11-20 14:00", RFC 3339, or relative like -6h`)
	root.Flags().StringVar(&g.until, "until", "", `end of the historical window: absolute, relative to now (-1h), or to --from (+2h)`)

	root.AddCommand(
		demoCmd(g, stdin, stdout),
		checkCmd(g, stdout),
		recordCmd(g),
		replayCmd(g),
		exportCmd(g),
		probeCmd(g),
		agentCmd(g),
		serveCmd(g),
		configCmd(g, stdout),
		infoCmd(g, stdout),
		versionCmd(stdout),
	)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

func notBuilt(what string) error {
	return &ExitError{Code: ExitUnknown, Msg: what + " is not built yet"}
}

func recordCmd(g *globals) *cobra.Command {
	var out string
	var dur time.Duration
	c := &cobra.Command{
		Use:   "record",
		Short: "Record what the sources return, headless, for a later replay",
		Long:  "Polls every configured source and writes every batch to a recording file (append-only, checksummed frames) for 'opsview replay' and 'opsview export'.",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return notBuilt("record") },
	}
	c.Flags().StringVarP(&out, "out", "o", "", "recording file to write")
	c.Flags().DurationVarP(&dur, "duration", "d", 0, "stop after this long (default: until interrupted)")
	return c
}

func replayCmd(g *globals) *cobra.Command {
	var speed float64
	c := &cobra.Command{
		Use:   "replay FILE",
		Short: "Play a recording back through the same engine and views",
		Args:  cobra.ExactArgs(1),
		RunE:  func(*cobra.Command, []string) error { return notBuilt("replay") },
	}
	c.Flags().Float64Var(&speed, "speed", 1, "playback speed, 1 to 60")
	return c
}

func exportCmd(g *globals) *cobra.Command {
	var format, out string
	c := &cobra.Command{
		Use:   "export FILE",
		Short: "Write a postmortem timeline from a recording",
		Args:  cobra.ExactArgs(1),
		RunE:  func(*cobra.Command, []string) error { return notBuilt("export") },
	}
	c.Flags().StringVar(&format, "format", "markdown", "output format: markdown")
	c.Flags().StringVarP(&out, "out", "o", "", "output file (default standard output)")
	return c
}

func probeCmd(g *globals) *cobra.Command {
	var jsonOut bool
	var count int
	var interval time.Duration
	c := &cobra.Command{
		Use:   "probe TARGET...",
		Short: "Probe the paths to targets (traceroute/mtr style); the mode remote vantage points run",
		Args:  cobra.MinimumNArgs(1),
		RunE:  func(*cobra.Command, []string) error { return notBuilt("probe") },
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "one JSON line per probe round")
	c.Flags().IntVar(&count, "count", 0, "rounds to run (0: until interrupted)")
	c.Flags().DurationVar(&interval, "interval", time.Second, "time between rounds")
	return c
}

func agentCmd(g *globals) *cobra.Command {
	var listen, tokenFile string
	c := &cobra.Command{
		Use:   "agent [TARGET...]",
		Short: "Serve probe rounds as JSON and Prometheus metrics for other vantage points",
		RunE:  func(*cobra.Command, []string) error { return notBuilt("agent") },
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:9465", "address to listen on (a token is required off loopback)")
	c.Flags().StringVar(&tokenFile, "token-file", "", "file holding the bearer token clients must send")
	return c
}

func serveCmd(g *globals) *cobra.Command {
	var listen, keys string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the TUI over SSH so several engineers can pair on one incident",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return notBuilt("serve") },
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:2222", "address to listen on")
	c.Flags().StringVar(&keys, "authorized-keys", "", "authorized_keys file (public-key authentication only)")
	return c
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "opsview %s", Version)
			if Commit != "" {
				fmt.Fprintf(stdout, " (%s %s)", Commit, Date)
			}
			fmt.Fprintln(stdout)
		},
	}
}

func infoCmd(g *globals, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Print the configuration, state and log paths",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, found := config.Find(g.config)
			state := "not found"
			if found {
				if _, err := os.Stat(path); err == nil {
					state = "found"
				} else {
					state = "missing"
				}
			}
			logPath := g.logFile
			if logPath == "" {
				logPath = config.LogPath()
			}
			fmt.Fprintf(stdout, "config:  %s (%s)\n", path, state)
			fmt.Fprintf(stdout, "state:   %s\n", config.StateDir())
			fmt.Fprintf(stdout, "log:     %s\n", logPath)
			fmt.Fprintf(stdout, "ssh key: %s\n", filepath.Join(config.StateDir(), "ssh_host_ed25519"))
			fmt.Fprintf(stdout, "version: %s\n", Version)
			return nil
		},
	}
}
