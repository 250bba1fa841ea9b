// Package cli holds opsview's commands (cobra): flags, help text, exit
// codes. Each command parses its flags and calls into internal/app and the
// packages below; no command draws or polls by itself.
package cli

import (
	"errors"
	"fmt"
	"github.com/opsview/opsview/correlate"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opsview/opsview/internal/config"
)

// Version, Commit and Date are stamped by the release build (-ldflags
// "-X …/internal/cli.Version=…"); a binary built by go build or go install
// reports what Go recorded instead (see currentVersion).
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
	config   string
	theme    string
	noColor  bool
	ascii    bool
	logFile  string
	logLevel string
	debug    bool
	from     string
	until    string
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
	root.Version = currentVersion().String()
	root.SetVersionTemplate("opsview {{.Version}}\n") // --version and -v
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.config, "config", "c", "", "configuration file (default $OPSVIEW_CONFIG or "+config.DefaultPath()+")")
	pf.StringVar(&g.theme, "theme", "", "colour theme: dark, light, high-contrast (dark background), high-contrast-light, mono")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour (also when NO_COLOR is set to anything)")
	pf.BoolVar(&g.ascii, "ascii", false, "ASCII only: no braille or box drawing, for old terminals")
	pf.StringVar(&g.logFile, "log-file", "", "log file (default "+config.LogPath()+")")
	pf.StringVar(&g.logLevel, "log-level", "info", "least level logged: "+strings.Join(logLevelNames, ", "))
	pf.BoolVar(&g.debug, "debug", false, "log everything (--log-level debug)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if _, err := logLevel(g); err != nil {
			if cmd.Name() == "check" && cmd.Parent() == root {
				format, _ := cmd.Flags().GetString("format")
				return checkUnknown(stdout, format, "usage", err.Error())
			}
			return &ExitError{Code: 2, Msg: err.Error()}
		}
		return nil
	}
	root.Flags().StringVar(&g.from, "from", "", `start of a historical window: "2026-11-20 14:00", RFC 3339, or relative like -6h`)
	root.Flags().StringVar(&g.until, "until", "", `end of the historical window: absolute, relative to now (-1h), or to --from (+2h)`)

	root.AddCommand(
		demoCmd(g, stdin, stdout),
		checkCmd(g, stdout),
		recordCmd(g, stdout),
		replayCmd(g, stdin, stdout),
		exportCmd(g, stdout, stderr),
		probeCmd(g, stdout),
		agentCmd(g, stdout),
		httpCheckCmd(stdin, stdout),
		serveCmd(g, stdout),
		configCmd(g, stdout, stderr),
		infoCmd(g, stdout),
		versionCmd(stdout),
	)
	root.AddCommand(genCmd(root))
	root.CompletionOptions.HiddenDefaultCmd = false
	completeFlags(root)
	return root
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, "opsview "+currentVersion().String())
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
			fmt.Fprintf(stdout, "version: %s\n", currentVersion())
			if found && state == "found" {
				if cfg, err := config.Load(path); err == nil {
					fmt.Fprintf(stdout, "store:   %s\n", storeBudget(cfg.Store))
				}
			}
			return nil
		},
	}
}

// storeBudget says what the store may hold: its step, retention and
// series cap, and the values' memory when the cap is reached.
func storeBudget(st config.Store) string {
	o := correlate.StoreOptions{Step: st.Step, Retention: st.Retention, MaxSeries: st.MaxSeries}
	o = correlate.StoreDefaults(o)
	values := float64(o.MaxSeries) * float64(o.Retention/o.Step) * 8
	return fmt.Sprintf("step %v, retention %v, max_series %d (values at most %.0f MB; new series beyond it are dropped)",
		o.Step, o.Retention, o.MaxSeries, values/(1<<20))
}
