// Command opsview is a terminal dashboard for operations triage. main only
// hands over to internal/cli.
package main

import (
	"os"

	"github.com/opsview/opsview/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
