package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/opsview/opsview/sources"
)

// CLIOptions are the options of `opsview probe TARGET…`.
type CLIOptions struct {
	Targets  []string
	JSON     bool          // one Round per line (the exec vantage's wire format)
	Count    int           // rounds per target; 0 = until ctx is cancelled
	Interval time.Duration // between round starts (default 1s)
	Backend  string        // auto, raw-icmp, ping, udp, icmp
	MaxTTL   int
	Timeout  time.Duration // per round (default min(1s, Interval))
	TCPPort  int           // end-to-end TCP probe port for the udp backend
	Flows    int           // probe flows taken in turn (default DefaultFlows)
}

func (o *CLIOptions) tracerOptions() TracerOptions {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	to := o.Timeout
	if to <= 0 {
		to = min(time.Second, o.Interval)
	}
	return TracerOptions{Backend: o.Backend, MaxTTL: o.MaxTTL, Timeout: to, TCPPort: o.TCPPort, Flows: o.Flows}
}

// RunCLI runs the probe mode: it probes every target concurrently, Count
// rounds each (or until ctx ends), and writes either one JSON Round per
// line as each round finishes (--json), or an mtr-like report per target
// at the end. It returns an error when a target cannot be probed at all
// (the error says how to grant the permission that is missing).
func RunCLI(ctx context.Context, o CLIOptions, stdout io.Writer) error {
	if len(o.Targets) == 0 {
		return errors.New("probe: give at least one target (e.g. opsview probe 192.0.2.1 --json)")
	}
	topt := o.tracerOptions()
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	var wg sync.WaitGroup
	errs := make([]error, len(o.Targets))
	stats := make([]*PathStats, len(o.Targets))
	for i, target := range o.Targets {
		stats[i] = NewPathStats("local", target)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runTarget(ctx, target, topt, o.Interval, o.Count, func(r *Round) {
				mu.Lock()
				defer mu.Unlock()
				if o.JSON {
					enc.Encode(r)
					return
				}
				stats[i].Add(r)
			})
			if errs[i] != nil && o.JSON {
				mu.Lock()
				enc.Encode(&Round{V: WireVersion, Target: target, At: time.Now().UTC(), Error: errs[i].Error()})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if !o.JSON {
		for _, s := range stats {
			tr := s.Trace()
			WriteReport(stdout, &tr)
		}
	}
	return errors.Join(errs...)
}

// runTarget probes one target on the interval, calling emit per round.
func runTarget(ctx context.Context, target string, topt TracerOptions, interval time.Duration, count int, emit func(*Round)) error {
	addr, err := ResolveTarget(ctx, target)
	if err != nil {
		return err
	}
	t, err := NewTracer(target, addr, topt)
	if err != nil {
		return err
	}
	defer t.Close()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := 0; count <= 0 || seq < count; seq++ {
		r := t.Round(ctx, seq)
		if ctx.Err() != nil {
			return nil
		}
		emit(&r)
		if count > 0 && seq == count-1 {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// WriteReport prints a trace as an mtr-like table.
func WriteReport(w io.Writer, tr *sources.PathTrace) {
	fmt.Fprintf(w, "%s → %s (%s)  rounds %d  reached %v\n", tr.Vantage, tr.Target, tr.Addr, tr.Rounds, tr.Reached)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TTL\tHost\tLoss%\tSnt\tRcv\tLast\tBest\tMed\tAvg\tWrst\tStDev\tJttr\t")
	for _, h := range tr.Hops {
		host := h.Addr
		if host == "" {
			host = "???"
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", h.TTL, host, h.Loss*100, h.Sent, h.Received,
			ms(h.Last), ms(h.Min), ms(h.Median), ms(h.Avg), ms(h.Max), ms(h.StdDev), ms(h.Jitter))
	}
	e := tr.EndToEnd
	fmt.Fprintf(tw, "e2e\t%s\t%.1f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", e.Addr, e.Loss*100, e.Sent, e.Received,
		ms(e.Last), ms(e.Min), ms(e.Median), ms(e.Avg), ms(e.Max), ms(e.StdDev), ms(e.Jitter))
	tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }
