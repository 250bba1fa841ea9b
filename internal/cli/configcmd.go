package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/opsview/opsview/internal/config"
)

func configCmd(g *globals, stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Work with the configuration file",
	}
	c.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a commented example configuration",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprint(stdout, config.Example()) },
	}, &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the configuration, for editors to check and complete it",
		Long: `schema prints the JSON Schema (draft 2020-12) of the configuration file,
made from the same registry of source types as 'opsview config example'.
Editors with the YAML language server read it from the first line of the
example ('# yaml-language-server: $schema=…'); save it beside your
configuration and point that line at it to work offline.`,
		Args: cobra.NoArgs,
		Run:  func(*cobra.Command, []string) { stdout.Write(config.Schema()) },
	}, &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check a configuration file and say every mistake, with file, line and column",
		Long: `check reads a configuration file as opsview would and says every mistake
in it at once, one per line as file:line:column: what is wrong, with the
closest known word for a misspelt key or source type. It exits 0 when the
file is good, 2 when it has mistakes.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.config
			if len(args) == 1 {
				path = args[0]
			}
			p, _ := config.Find(path)
			cfg, err := config.Load(p)
			if err != nil {
				var es config.Errors
				if !errors.As(err, &es) {
					return &ExitError{Code: 2, Msg: err.Error()}
				}
				for _, e := range es {
					fmt.Fprintln(stderr, e)
				}
				return &ExitError{Code: 2, Msg: fmt.Sprintf("%s: %d mistakes", p, len(es))}
			}
			fmt.Fprintf(stdout, "%s: ok, %d sources, %d rules, %d dependencies\n", p, len(cfg.Sources), len(cfg.Rules), len(cfg.Deps))
			return nil
		},
	}, &cobra.Command{
		Use:   "path",
		Short: "Print the configuration file opsview would read",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			p, _ := config.Find(g.config)
			fmt.Fprintln(stdout, p)
		},
	})
	return c
}
