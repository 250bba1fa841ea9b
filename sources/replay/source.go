package replay

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

func init() {
	sources.Register(sources.Kind{
		Type:    "replay",
		Summary: "a recording made by `opsview record` (or `r` in the TUI), played back",
		Example: `- name: incident-0314
  type: replay
  # a file written by opsview record
  file: ~/.local/state/opsview/recordings/incident-0314.opsrec
  # replay speed, 1 to 60 (default 1)
  speed: 1
`,
		New: newSource,
	})
}

// SourceOptions are the `type: replay` options.
type SourceOptions struct {
	File  string  `yaml:"file"`
	Speed float64 `yaml:"speed"`
}

// Source plays a recording through the ordinary Source contract, for
// configs that list a recording beside live sources. The scheduler names
// every batch after this source, so each poll merges the due batches into
// one: series get a `recorded_from` label with their original source,
// events keep their original Source, node states are the union of every
// original source's latest. For the full-fidelity replay (original source
// names and statuses, time control), `opsview replay` uses a Player and
// its Drain directly.
type Source struct {
	env  sources.Env
	opt  SourceOptions
	mu   sync.Mutex
	rec  *Recording
	play *Player
	// latest node states per original source
	nodes map[string][]sources.NodeState
	clock func() time.Time // nil: time.Now (tests set it)
}

func newSource(env sources.Env, opts sources.Options) (sources.Source, error) {
	var o SourceOptions
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if o.File == "" {
		return nil, opts.Errorf("replay %q: file is required (a recording written by `opsview record --out FILE`)", env.Name)
	}
	if o.File[0] == '~' {
		if home, err := os.UserHomeDir(); err == nil {
			o.File = home + o.File[1:]
		}
	}
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.Speed < MinSpeed || o.Speed > MaxSpeed {
		return nil, opts.Errorf("replay %q: speed %g is out of range: use %d to %d", env.Name, o.Speed, MinSpeed, MaxSpeed)
	}
	// the file is opened on the first poll: a missing one shows as a
	// failing source with the path, and the config still loads
	return &Source{env: env, opt: o, nodes: map[string][]sources.NodeState{}}, nil
}

// Player is the source's player, nil before the first poll.
func (s *Source) Player() *Player {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.play
}

// Poll returns the recorded batches the replay clock has reached since the
// last poll, merged into one batch. The first poll opens the recording and
// starts the clock.
func (s *Source) Poll(ctx context.Context, _ sources.Request) (*sources.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec == nil {
		rec, err := Open(s.opt.File)
		if err != nil {
			return nil, fmt.Errorf("replay %q: %w", s.env.Name, err)
		}
		if rec.Warning != nil && s.env.Logf != nil {
			s.env.Logf("replay %q: %v", s.env.Name, rec.Warning)
		}
		s.rec = rec
		s.play = NewPlayer(rec, PlayerOptions{Clock: s.clock})
		_ = s.play.SetSpeed(s.opt.Speed)
		s.play.Play()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	due, err := s.play.Drain()
	out := s.merge(due)
	out.Status.Detail = fmt.Sprintf("replay %s (%g×)", s.play.Position().UTC().Format("2006-01-02 15:04:05"), s.play.Speed())
	if s.rec.Warning != nil {
		out.Status.Detail += "; " + s.rec.Warning.Error()
	}
	if err != nil && len(due) == 0 {
		return nil, fmt.Errorf("replay %q: %w", s.env.Name, err)
	}
	return out, nil
}

func (s *Source) merge(due []*sources.Batch) *sources.Batch {
	out := &sources.Batch{At: s.play.Position()}
	nodesChanged := false
	for _, b := range due {
		for _, sr := range b.Series {
			labels := make(map[string]string, len(sr.Labels)+1)
			for k, v := range sr.Labels {
				labels[k] = v
			}
			labels["recorded_from"] = b.Source
			sr.Labels = labels
			out.Series = append(out.Series, sr)
		}
		for _, e := range b.Events {
			if e.Source == "" {
				e.Source = b.Source
			}
			out.Events = append(out.Events, e)
		}
		out.Paths = append(out.Paths, b.Paths...)
		if b.Nodes != nil {
			s.nodes[b.Source] = b.Nodes
			nodesChanged = true
		}
		if b.At.After(out.At) {
			out.At = b.At
		}
	}
	if nodesChanged {
		names := make([]string, 0, len(s.nodes))
		for n := range s.nodes {
			names = append(names, n)
		}
		sort.Strings(names)
		out.Nodes = []sources.NodeState{}
		for _, n := range names {
			out.Nodes = append(out.Nodes, s.nodes[n]...)
		}
	}
	return out
}

// Close releases the recording.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec != nil {
		return s.rec.Close()
	}
	return nil
}

var _ sources.Closer = (*Source)(nil)
