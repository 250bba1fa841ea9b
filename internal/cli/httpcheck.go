package cli

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/httpcheck"
)

func httpCheckCmd(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var o httpcheck.CLIOptions
	c := &cobra.Command{
		Use:   "http-check [URL...]",
		Short: "Check URLs once, Pingdom-style; the mode exec vantage points of http sources run",
		Long: `http-check GETs (or HEADs) each URL once and says whether it answered as
expected, how long each phase took (DNS, connect, TLS, first byte, total)
and how long the server's certificate has left. It exits 0 when all is
well, 1 on a warning (a certificate close to expiry), 2 when a check
fails. --spec - reads what to check from standard input and prints one
JSON line per target: the wire format of the http source's exec vantage.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			o.URLs = args
			sev, err := httpcheck.RunCLI(ctx, o, stdin, stdout)
			switch {
			case err != nil:
				return &ExitError{Code: ExitUnknown, Msg: err.Error()}
			case sev >= sources.SevCritical:
				return &ExitError{Code: ExitCritical}
			case sev == sources.SevWarning:
				return &ExitError{Code: ExitWarning}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Spec, "spec", "", "read the checks from standard input (-) and print JSON lines")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "time each check may take")
	f.IntSliceVar(&o.ExpectStatus, "expect-status", nil, "good statuses (default any 2xx)")
	f.StringVar(&o.ExpectBody, "expect-body", "", "text the body must hold")
	f.BoolVar(&o.NoRedirects, "no-redirects", false, "a redirect is the answer; do not follow it")
	f.BoolVar(&o.Insecure, "insecure", false, "do not verify the server's certificate (its expiry is still read)")
	f.BoolVar(&o.JSON, "json", false, "one JSON line per URL")
	return c
}
