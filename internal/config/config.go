// Package config reads opsview's YAML configuration: sources, rules,
// dependencies, store size, theme and keys. Every error names the file and
// line. Values written as ${VAR} come from the environment and are never
// printed: an error names the variable instead of its value, and Redacted
// gives a copy safe to show or record. Input nested deeper than
// MaxNesting is refused before it is parsed.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// Config is a whole configuration file.
type Config struct {
	Path    string
	Theme   string
	Store   Store
	Sources []Source
	Rules   sources.Rules
	Deps    []sources.Dependency
	Keys    map[string][]string
	LogFile string

	raw      []byte
	redacted string
	env      concealer
}

// Store sizes the correlate store.
type Store struct {
	Step      time.Duration
	Retention time.Duration
	// MaxSeries caps the series held (0: the store's default, 50,000);
	// a source's new series beyond it are dropped and said so.
	MaxSeries int
}

// Source is one entry of `sources:`.
type Source struct {
	Name     string
	Type     string
	Interval time.Duration
	Timeout  time.Duration
	Disabled bool
	Line     int
	Options  sources.Options
}

// Default interval and timeout of a source without its own.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Second
)

// Error is a config error at a place in a file.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// MaxSize is the largest config file read.
const MaxSize = 4 << 20

// Load reads and checks a config file.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file larger than %d MiB", MaxSize>>20)}
	}
	return Parse(path, data)
}

var topKeys = map[string]bool{
	"theme": true, "store": true, "sources": true, "rules": true,
	"dependencies": true, "keys": true, "log_file": true,
}

// Parse checks a configuration held in memory; file names it in errors.
// An error never holds the value of a ${VAR}: it says ${VAR} instead.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{Path: file, raw: data, Keys: map[string][]string{}}
	if err := c.parse(file, data); err != nil {
		return nil, c.env.err(err)
	}
	return c, nil
}

func (c *Config) parse(file string, data []byte) error {
	if err := checkNesting(file, data); err != nil {
		return err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		e := wrapYAML(file, err).(*Error)
		syntaxAt(e, data, err.Error())
		return e
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil
	}
	if len(f.Docs) > 1 {
		return at(file, f.Docs[1].Body, "only one YAML document is allowed")
	}
	// redacted before the values of ${VAR} come in
	if c.redacted, err = redactText(data); err != nil {
		return wrapYAML(file, err)
	}
	var ms mistakes
	ms.add(file, expandEnv(file, f.Docs[0].Body, &c.env))
	top, ok := f.Docs[0].Body.(*ast.MappingNode)
	if !ok {
		ms.add(file, at(file, f.Docs[0].Body, "the file must be a mapping (theme:, sources:, rules:, …)"))
		return ms.err()
	}
	seen := map[string]int{}
	for _, kv := range top.Values {
		k := keyName(kv)
		if first, dup := seen[k]; dup {
			ms.add(file, at(file, kv.Key, "%q appears twice (first on line %d)", k, first))
			continue
		}
		seen[k] = line(kv.Key)
		if !topKeys[k] {
			ms.add(file, unknownKey(file, kv.Key, k, sortedKeys(topKeys)))
			continue
		}
		switch k {
		case "theme":
			ms.add(file, decode(file, kv.Value, &c.Theme))
			if c.Theme != "" && !slices.Contains(themes.Names(), c.Theme) {
				ms.add(file, enumError(file, kv.Value, "theme", c.Theme, themes.Names()))
			}
		case "log_file":
			ms.add(file, decode(file, kv.Value, &c.LogFile))
		case "store":
			var s storeYAML
			if err := decodeAll(file, kv.Value, &s); err != nil {
				ms.add(file, err)
				break
			}
			c.Store = Store{Step: s.Step, Retention: s.Retention, MaxSeries: s.MaxSeries}
			if s.Step < 0 || (s.Step > 0 && s.Step < 100*time.Millisecond) {
				ms.add(file, at(file, valueOf(kv.Value, "step"), "store.step must be at least 100ms"))
			} else if s.Retention < 0 || (s.Retention > 0 && s.Step > 0 && s.Retention < s.Step) {
				ms.add(file, at(file, valueOf(kv.Value, "retention"), "store.retention must be at least one step"))
			} else if s.MaxSeries < 0 {
				ms.add(file, at(file, valueOf(kv.Value, "max_series"), "store.max_series must be a positive number of series (0: the default, 50000)"))
			}
		case "sources":
			ms.add(file, c.parseSources(file, kv.Value))
		case "rules":
			ms.add(file, c.parseRules(file, kv.Value))
		case "dependencies":
			ms.add(file, c.parseDeps(file, kv.Value))
		case "keys":
			ms.add(file, decode(file, kv.Value, &c.Keys))
		}
	}
	return ms.err()
}

// storeYAML is `store:`.
type storeYAML struct {
	Step      time.Duration `yaml:"step"`
	Retention time.Duration `yaml:"retention"`
	MaxSeries int           `yaml:"max_series"`
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$`) })

// sourceKeys are the keys every source takes, beside its own options.
var sourceKeys = []string{"name", "type", "interval", "timeout", "disabled"}

func (c *Config) parseSources(file string, n ast.Node) error {
	if isNull(n) {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return at(file, n, "sources must be a list of entries (- name: …)")
	}
	var ms mistakes
	names := map[string]int{}
	for _, item := range seq.Values {
		m, ok := item.(*ast.MappingNode)
		if !ok {
			ms.add(file, at(file, item, "each source must be a mapping with name and type"))
			continue
		}
		s := Source{Line: line(item), Interval: DefaultInterval, Timeout: DefaultTimeout}
		rest := &ast.MappingNode{BaseNode: &ast.BaseNode{}, Start: m.Start}
		var intervalSet, timeoutSet bool
		var typeNode, intervalNode ast.Node
		before := len(ms.list)
		for _, kv := range m.Values {
			k := keyName(kv)
			switch k {
			case "name":
				if err := decode(file, kv.Value, &s.Name); err != nil {
					ms.add(file, err)
				} else if !nameRE().MatchString(s.Name) {
					ms.add(file, at(file, kv.Value, "source name %q: use letters, digits, '.', '_', ':' or '-' (at most 63)", s.Name))
				}
			case "type":
				typeNode = kv.Value
				ms.add(file, decode(file, kv.Value, &s.Type))
			case "interval":
				intervalSet, intervalNode = true, kv.Value
				ms.add(file, decode(file, kv.Value, &s.Interval))
			case "timeout":
				timeoutSet = true
				if err := decode(file, kv.Value, &s.Timeout); err != nil {
					ms.add(file, err)
				} else if s.Timeout <= 0 {
					ms.add(file, at(file, kv.Value, "timeout must be positive"))
				}
			case "disabled":
				ms.add(file, decode(file, kv.Value, &s.Disabled))
			default:
				rest.Values = append(rest.Values, kv)
			}
		}
		if s.Name == "" {
			ms.add(file, at(file, item, "source without a name"))
		} else if prev, dup := names[s.Name]; dup {
			ms.add(file, at(file, item, "source name %q is already used on line %d", s.Name, prev))
		} else {
			names[s.Name] = s.Line
		}
		if intervalSet && len(ms.list) == before && s.Interval < 100*time.Millisecond {
			ms.add(file, at(file, intervalNode, "source %q: interval must be at least 100ms", s.Name))
		}
		var kind sources.Kind
		switch {
		case typeNode == nil:
			// a slip of the keyboard on "type" says more than its absence
			slip := false
			for _, kv := range rest.Values {
				if k := keyName(kv); suggest(k, sourceKeys) == "type" {
					ms.add(file, unknownKey(file, kv.Key, k, sourceKeys))
					slip = true
				}
			}
			if !slip {
				ms.add(file, at(file, item, "source %q has no type (known: %s)", s.Name, strings.Join(KindNames(), ", ")))
			}
			continue
		case s.Type == "":
			if len(ms.list) == before {
				ms.add(file, at(file, typeNode, "source %q has no type (known: %s)", s.Name, strings.Join(KindNames(), ", ")))
			}
			continue
		default:
			var ok bool
			if kind, ok = sources.Lookup(s.Type); !ok {
				ms.add(file, enumError(file, typeNode, "source type", s.Type, KindNames()))
				continue
			}
		}
		if s.Name == "" {
			continue // its options are said once it has a name
		}
		if !timeoutSet && s.Timeout > s.Interval {
			s.Timeout = s.Interval
		}
		s.Options = &options{file: file, line: s.Line, node: rest, env: &c.env}
		// Build once now so that option errors surface at load time.
		if _, err := kind.New(sources.Env{Name: s.Name, Logf: func(string, ...any) {}}, s.Options); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				ms.add(file, err)
			} else {
				ms.add(file, at(file, item, "source %q: %v", s.Name, err))
			}
			continue
		}
		if len(ms.list) == before {
			c.Sources = append(c.Sources, s)
		}
	}
	return ms.err()
}

// KindNames are the registered source types, sorted.
func KindNames() []string {
	var types []string
	for _, k := range sources.Kinds() {
		types = append(types, k.Type)
	}
	sort.Strings(types)
	return types
}

// ruleYAML is one entry of `rules:`.
type ruleYAML struct {
	Match  string            `yaml:"match"`
	Labels map[string]string `yaml:"labels"`
	Source string            `yaml:"source"`
	Role   string            `yaml:"role"`
	Layer  string            `yaml:"layer"`
	Node   string            `yaml:"node"`
	Unit   string            `yaml:"unit"`
	Kind   string            `yaml:"kind"`
	Harm   string            `yaml:"harm"`
	Bad    string            `yaml:"bad"` // the same as harm: which way is bad
	// Measure says what the series measures, for the engine's rules
	Measure string `yaml:"measure"`
}

// The words of a rule's enumerated keys.
var (
	RoleWords    = []string{"symptom", "resource", "traffic"}
	LayerWords   = []string{"edge", "lb", "app", "db", "host", "network", "provider"}
	KindWords    = []string{"gauge", "rate", "ratio", "counter"}
	HarmWords    = []string{"up", "down", "both"}
	MeasureWords = []string{"errors", "client-errors", "success", "latency", "replication-lag", "part"}
)

func (c *Config) parseRules(file string, n ast.Node) error {
	if isNull(n) {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return at(file, n, "rules must be a list")
	}
	var ms mistakes
	for _, item := range seq.Values {
		var r ruleYAML
		before := len(ms.list)
		ms.add(file, decodeAll(file, item, &r))
		if r.Match == "" && len(r.Labels) == 0 && r.Source == "" {
			ms.add(file, at(file, item, "a rule needs match, labels or source"))
		}
		if r.Match != "" {
			if _, err := filepath.Match(r.Match, ""); err != nil {
				ms.add(file, at(file, valueOf(item, "match"), "bad pattern %q: %v", r.Match, err))
			}
		}
		role, ok := sources.ParseRole(r.Role)
		if !ok {
			ms.add(file, enumError(file, valueOf(item, "role"), "role", r.Role, RoleWords))
		}
		layer, ok := sources.ParseLayer(r.Layer)
		if !ok {
			ms.add(file, enumError(file, valueOf(item, "layer"), "layer", r.Layer, LayerWords))
		}
		kind, ok := sources.ParseSeriesKind(r.Kind)
		if !ok {
			ms.add(file, enumError(file, valueOf(item, "kind"), "kind", r.Kind, KindWords))
		}
		if r.Harm != "" && r.Bad != "" && !strings.EqualFold(r.Harm, r.Bad) {
			ms.add(file, at(file, valueOf(item, "bad"), "harm %q and bad %q disagree: give one of them", r.Harm, r.Bad))
		}
		key, word := "harm", r.Harm
		if word == "" {
			key, word = "bad", r.Bad
		}
		harm, ok := sources.ParseHarm(word)
		if !ok {
			ms.add(file, at(file, valueOf(item, key), "unknown %s %q (up: going up is bad, down: going down is bad, both)", key, word))
		}
		measure, ok := sources.ParseMeasure(r.Measure)
		if !ok {
			ms.add(file, at(file, valueOf(item, "measure"), "unknown measure %q (%s; several with commas)", r.Measure, strings.Join(MeasureWords, ", ")))
		}
		if len(ms.list) > before {
			continue
		}
		if role == sources.RoleUnknown && layer == sources.LayerUnknown && r.Node == "" && r.Unit == "" &&
			kind == sources.SeriesUnknown && harm == sources.HarmUnset && measure == 0 {
			ms.add(file, at(file, item, "a rule must set role, layer, node, unit, kind, harm or measure"))
			continue
		}
		c.Rules = append(c.Rules, sources.Rule{Match: r.Match, Labels: r.Labels, Source: r.Source, Role: role, Layer: layer,
			Node: r.Node, Unit: r.Unit, Kind: kind, Harm: harm, Measure: measure})
	}
	return ms.err()
}

// depYAML is a dependency written as a mapping.
type depYAML struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

func (c *Config) parseDeps(file string, n ast.Node) error {
	if isNull(n) {
		return nil
	}
	var ms mistakes
	switch v := n.(type) {
	case *ast.SequenceNode: // - {from: lb, to: app}  or  - "lb -> app"
		for _, item := range v.Values {
			if s, ok := item.(*ast.StringNode); ok {
				parts := strings.Split(s.Value, "->")
				if len(parts) < 2 {
					ms.add(file, at(file, item, "dependency %q: write \"from -> to\"", s.Value))
					continue
				}
				for i := 0; i+1 < len(parts); i++ {
					a, b := strings.TrimSpace(parts[i]), strings.TrimSpace(parts[i+1])
					if a == "" || b == "" {
						ms.add(file, at(file, item, "dependency %q has an empty side", s.Value))
						break
					}
					c.Deps = append(c.Deps, sources.Dependency{From: a, To: b})
				}
				continue
			}
			var d depYAML
			if err := decodeAll(file, item, &d); err != nil {
				ms.add(file, err)
				continue
			}
			if d.From == "" || d.To == "" {
				ms.add(file, at(file, item, "a dependency needs from and to"))
				continue
			}
			c.Deps = append(c.Deps, sources.Dependency{From: d.From, To: d.To})
		}
	case *ast.MappingNode: // lb: [app-1, app-2]
		for _, kv := range v.Values {
			var tos []string
			if err := decode(file, kv.Value, &tos); err != nil {
				var one string
				if err2 := decode(file, kv.Value, &one); err2 != nil {
					ms.add(file, at(file, kv.Value, "expected a node name or a list of them"))
					continue
				}
				tos = []string{one}
			}
			for _, to := range tos {
				c.Deps = append(c.Deps, sources.Dependency{From: keyName(kv), To: to})
			}
		}
	default:
		return at(file, n, "dependencies must be a list (\"lb -> app\") or a mapping (lb: [app])")
	}
	return ms.err()
}

// Redacted returns the configuration text with secrets replaced, safe to
// print, log or store in a recording: the value of every password, token,
// secret, header and URL user info, in any YAML style; a value written
// ${VAR} stays as written. Comments are left out.
func (c *Config) Redacted() string { return c.redacted }

// Conceal replaces the values that came from ${VAR} in s with the
// references: for errors and log lines about the configured sources.
func (c *Config) Conceal(s string) string { return c.env.text(s) }

// ConcealError is err with the values that came from ${VAR} replaced.
func (c *Config) ConcealError(err error) error { return c.env.err(err) }

// options is a source's part of the config.
type options struct {
	file string
	line int
	node *ast.MappingNode
	env  *concealer
}

func (o *options) Decode(v any) error {
	if len(o.node.Values) == 0 {
		return nil
	}
	return o.env.err(decodeAll(o.file, o.node, v, sourceKeys...))
}

func (o *options) Errorf(format string, args ...any) error {
	return o.env.err(&Error{File: o.file, Line: o.line, Msg: fmt.Sprintf(format, args...)})
}

// OptionsFromYAML makes source options from a YAML mapping, for tests and
// for sources built without a file (discovery, the command line).
func OptionsFromYAML(name string, text string) (sources.Options, error) {
	if err := checkNesting(name, []byte(text)); err != nil {
		return nil, err
	}
	f, err := parser.ParseBytes([]byte(text), 0)
	if err != nil {
		return nil, wrapYAML(name, err)
	}
	env := &concealer{}
	m := &ast.MappingNode{BaseNode: &ast.BaseNode{}}
	if len(f.Docs) > 0 && f.Docs[0].Body != nil {
		if err := expandEnv(name, f.Docs[0].Body, env); err != nil {
			return nil, err
		}
		mm, ok := f.Docs[0].Body.(*ast.MappingNode)
		if !ok {
			return nil, &Error{File: name, Line: line(f.Docs[0].Body), Msg: "options must be a mapping"}
		}
		m = mm
	}
	return &options{file: name, line: 1, node: m, env: env}, nil
}

func decode(file string, n ast.Node, v any) error {
	if err := yaml.NodeToValue(n, v, yaml.DisallowUnknownField()); err != nil {
		e := wrapYAML(file, err).(*Error)
		if e.Line == 0 {
			// some value errors (a bad duration) carry no position: point at
			// the node being decoded
			p := at(file, n, "")
			e.Line, e.Col = p.Line, p.Col
		}
		return e
	}
	return nil
}

func wrapYAML(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: file, Msg: human(cleanMsg(ye.GetMessage()))}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return &Error{File: file, Msg: human(cleanMsg(err.Error()))}
}

var posPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\[\d+:\d+\]\s*`) })

func cleanMsg(s string) string {
	s = posPrefix().ReplaceAllString(s, "")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func keyName(kv *ast.MappingValueNode) string {
	if kv.Key == nil {
		return ""
	}
	if s, ok := kv.Key.(*ast.StringNode); ok {
		return s.Value
	}
	return kv.Key.String()
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

var envRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`) })

// expandEnv replaces ${VAR} (and ${VAR:-default}) in string scalars and
// tells env each value taken from the environment. A variable that is
// unset without a default is an error.
func expandEnv(file string, root ast.Node, env *concealer) error {
	var firstErr error
	ast.Walk(visitor(func(n ast.Node) {
		s, ok := n.(*ast.StringNode)
		if !ok || !strings.Contains(s.Value, "${") || firstErr != nil {
			return
		}
		s.Value = envRef().ReplaceAllStringFunc(s.Value, func(ref string) string {
			m := envRef().FindStringSubmatch(ref)
			if v, ok := os.LookupEnv(m[1]); ok {
				env.add(m[1], v)
				return v
			}
			if m[2] != "" {
				return m[2][2:]
			}
			if firstErr == nil {
				firstErr = &Error{File: file, Line: line(s), Msg: fmt.Sprintf("environment variable %s is not set", m[1])}
			}
			return ""
		})
	}), root)
	return firstErr
}

type visitor func(ast.Node)

func (v visitor) Visit(n ast.Node) ast.Visitor {
	v(n)
	return v
}
