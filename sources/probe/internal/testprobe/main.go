// Command testprobe runs the probe and agent modes of package probe, for
// tests (the exec vantage runs it through `ip netns exec`) until
// cmd/opsview wires `opsview probe` and `opsview agent`. It must not grow
// features of its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/opsview/opsview/sources/probe"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testprobe probe|agent [flags] TARGET…")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "probe":
		var o probe.CLIOptions
		fs := flag.NewFlagSet("probe", flag.ExitOnError)
		fs.BoolVar(&o.JSON, "json", false, "one JSON round per line")
		fs.IntVar(&o.Count, "count", 0, "rounds (0 = forever)")
		fs.DurationVar(&o.Interval, "interval", 0, "between rounds")
		fs.DurationVar(&o.Timeout, "timeout", 0, "per round")
		fs.StringVar(&o.Backend, "backend", "auto", "auto, raw-icmp, ping, udp, icmp")
		fs.IntVar(&o.MaxTTL, "max-ttl", 0, "longest path")
		fs.IntVar(&o.TCPPort, "tcp-port", 0, "end-to-end TCP port")
		fs.IntVar(&o.Flows, "flows", 0, "probe flows taken in turn")
		fs.Parse(reorder(os.Args[2:]))
		o.Targets = fs.Args()
		err = probe.RunCLI(ctx, o, os.Stdout)
	case "agent":
		var o probe.AgentOptions
		fs := flag.NewFlagSet("agent", flag.ExitOnError)
		fs.StringVar(&o.Listen, "listen", "127.0.0.1:9475", "address")
		fs.StringVar(&o.TokenFile, "token-file", "", "bearer token file")
		fs.DurationVar(&o.Interval, "interval", 0, "between rounds")
		fs.StringVar(&o.Backend, "backend", "auto", "backend")
		fs.Parse(reorder(os.Args[2:]))
		o.Targets = fs.Args()
		err = probe.RunAgent(ctx, o)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testprobe:", err)
		os.Exit(1)
	}
}

// reorder puts flags before positional targets, as cobra allows.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !hasValue(a) && i+1 < len(args) && needsValue(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func hasValue(a string) bool {
	for _, c := range a {
		if c == '=' {
			return true
		}
	}
	return false
}

func needsValue(a string) bool {
	switch a {
	case "-json", "--json":
		return false
	}
	return true
}
