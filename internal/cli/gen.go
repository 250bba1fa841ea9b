package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/themes"
)

// genCmd writes what packages ship beside the binary: man pages and
// shell completions. Hidden: the release build runs it.
func genCmd(root *cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:    "gen",
		Short:  "Write the man pages or the shell completions, for packages",
		Hidden: true,
	}
	c.AddCommand(&cobra.Command{
		Use:   "man DIR",
		Short: "Write opsview.1 and one page per command into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// the pages name the paths as the user's environment makes
			// them, not as they are where the package is built
			defer genericPaths()()
			if err := writeManPages(newRoot(nil, nil, nil), args[0], manDate()); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "completions DIR",
		Short: "Write the bash, zsh and fish completions into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := writeCompletions(root, args[0]); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "schema FILE",
		Short: "Write the configuration's JSON Schema into FILE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.WriteFile(args[0], config.Schema(), 0o644); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			return nil
		},
	})
	return c
}

// genericPaths sets XDG_CONFIG_HOME and XDG_STATE_HOME to their own
// names, so the paths in help texts read $XDG_CONFIG_HOME/opsview/…; the
// function it returns puts them back.
func genericPaths() func() {
	var undo []func()
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_STATE_HOME"} {
		old, had := os.LookupEnv(k)
		os.Setenv(k, "$"+k)
		undo = append(undo, func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// completeFlags makes flag values complete in every shell.
func completeFlags(root *cobra.Command) {
	words := func(ws ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return ws, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = root.RegisterFlagCompletionFunc("theme", words(themes.Names()...))
	_ = root.RegisterFlagCompletionFunc("log-level", words(logLevelNames...))
	for _, c := range root.Commands() {
		switch c.Name() {
		case "check":
			_ = c.RegisterFlagCompletionFunc("format", words("text", "json"))
			_ = c.RegisterFlagCompletionFunc("compare", words("24h", "7d"))
		case "export":
			_ = c.RegisterFlagCompletionFunc("format", words("markdown"))
		case "probe", "agent":
			_ = c.RegisterFlagCompletionFunc("backend", words("auto", "raw-icmp", "ping", "udp", "icmp"))
		case "replay":
			c.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return []string{"opsrec"}, cobra.ShellCompDirectiveFilterFileExt
			}
		}
	}
}

func writeCompletions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, gen := range map[string]func(io.Writer) error{
		"opsview.bash": func(w io.Writer) error { return root.GenBashCompletionV2(w, true) },
		"_opsview":     root.GenZshCompletion,
		"opsview.fish": func(w io.Writer) error { return root.GenFishCompletion(w, true) },
	} {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manDate is the pages' date: SOURCE_DATE_EPOCH for reproducible
// packages, else today.
func manDate() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}

// writeManPages writes a page in section 1 for root and every command
// under it that a user runs (not hidden ones, not help).
func writeManPages(root *cobra.Command, dir string, date time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		var b bytes.Buffer
		writeMan(&b, c, date)
		if err := os.WriteFile(filepath.Join(dir, manName(c)+".1"), b.Bytes(), 0o644); err != nil {
			return err
		}
		for _, sub := range manChildren(c) {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

func manName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

func manChildren(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" {
			out = append(out, sub)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// roffText escapes text for roff: backslashes, and a line that would
// start with a control character.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffParagraphs sets text as paragraphs: a blank line starts a new one;
// indented lines keep their lines.
func roffParagraphs(s string) string {
	var out []string
	for _, para := range regexp.MustCompile(`\n\s*\n`).Split(strings.TrimSpace(s), -1) {
		if strings.HasPrefix(para, " ") || strings.HasPrefix(para, "\t") {
			out = append(out, ".PP\n.nf\n"+roffText(para)+"\n.fi")
			continue
		}
		out = append(out, ".PP\n"+roffText(para))
	}
	return strings.Join(out, "\n")
}

func roffFlags(fs *pflag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		b.WriteString(".TP\n")
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			fmt.Fprintf(&b, `\fB\-%s\fR, `, f.Shorthand)
		}
		fmt.Fprintf(&b, `\fB\-\-%s\fR`, f.Name)
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" {
			fmt.Fprintf(&b, ` \fI%s\fR`, roffText(varname))
		}
		b.WriteString("\n" + roffText(usage))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" && f.Value.Type() != "bool" {
			fmt.Fprintf(&b, " (default %s)", roffText(f.DefValue))
		}
		b.WriteString("\n")
	})
	return b.String()
}

// writeMan writes command c's page.
func writeMan(w io.Writer, c *cobra.Command, date time.Time) {
	name := manName(c)
	w.Write([]byte(".\\\" -*- coding: UTF-8 -*-\n"))
	fmt.Fprintf(w, ".TH %q 1 %q %q %q\n", strings.ToUpper(name), date.Format("2006-01-02"), "opsview "+currentVersion().Version, "opsview manual")
	fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", roffText(name), roffText(c.Short))
	fmt.Fprintf(w, ".SH SYNOPSIS\n.B %s\n", roffText(c.CommandPath()))
	if use := strings.TrimSpace(strings.TrimPrefix(c.Use, c.Name())); use != "" {
		fmt.Fprintf(w, ".I %s\n", roffText(use))
	}
	if c.HasAvailableLocalFlags() || c.HasAvailableInheritedFlags() {
		w.Write([]byte("[\\fIoptions\\fR]\n"))
	}
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	fmt.Fprintf(w, ".SH DESCRIPTION\n%s\n", roffParagraphs(desc))
	if subs := manChildren(c); len(subs) > 0 {
		w.Write([]byte(".SH COMMANDS\n"))
		for _, sub := range subs {
			fmt.Fprintf(w, ".TP\n\\fB%s\\fR\n%s (see \\fB%s\\fR(1))\n", roffText(sub.Name()), roffText(sub.Short), manName(sub))
		}
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(w, ".SH OPTIONS\n%s", roffFlags(c.NonInheritedFlags()))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, ".SH \"OPTIONS INHERITED FROM PARENT COMMANDS\"\n%s", roffFlags(c.InheritedFlags()))
	}
	if c.Example != "" {
		fmt.Fprintf(w, ".SH EXAMPLES\n.PP\n.nf\n%s\n.fi\n", roffText(c.Example))
	}
	if !c.HasParent() {
		fmt.Fprintf(w, `.SH ENVIRONMENT
.TP
.B OPSVIEW_CONFIG
the configuration file, when --config is not given
.TP
.B NO_COLOR
no colour, whatever its value
.TP
.BR XDG_CONFIG_HOME ", " XDG_STATE_HOME
where the configuration, the state (recordings, the SSH host key) and the log are
.SH FILES
.TP
.I %s
the configuration (see \fBopsview\-config\fR(1))
.TP
.I %s
the log
`, roffText(config.DefaultPath()), roffText(config.LogPath()))
	}
	var see []string
	if c.HasParent() {
		see = append(see, `\fB`+manName(c.Parent())+`\fR(1)`)
	}
	for _, sub := range manChildren(c) {
		see = append(see, `\fB`+manName(sub)+`\fR(1)`)
	}
	if len(see) > 0 {
		fmt.Fprintf(w, ".SH \"SEE ALSO\"\n%s\n", strings.Join(see, ", "))
	}
}
