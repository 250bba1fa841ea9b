package demo

import (
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

func init() {
	sources.Register(sources.Kind{
		Type:    "demo",
		Summary: "one part of the built-in 'melting volume' scenario",
		Example: `- name: demo-lb
  type: demo
  interval: 1s
  part: lb-1        # lb-1, graphite, prometheus, checks or aws-status
  speed: 5          # scenario seconds per real second
`,
		New: newFromConfig,
	})
}

type options struct {
	Part  string  `yaml:"part"`
	Speed float64 `yaml:"speed"`
}

func newFromConfig(env sources.Env, o sources.Options) (sources.Source, error) {
	var opt options
	if err := o.Decode(&opt); err != nil {
		return nil, err
	}
	if opt.Part == "" {
		opt.Part = "lb-1"
	}
	ok := false
	for _, n := range Names {
		ok = ok || n == opt.Part
	}
	if !ok {
		return nil, o.Errorf("source %q: part %q is not one of %s", env.Name, opt.Part, strings.Join(Names, ", "))
	}
	if opt.Speed < 0 || opt.Speed > 3600 {
		return nil, o.Errorf("source %q: speed %g must be between 0 and 3600", env.Name, opt.Speed)
	}
	w := NewWorld(NewClock(time.Now(), opt.Speed), 5*time.Second, time.Now)
	return &source{w: w, name: opt.Part}, nil
}
