package config

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// SchemaURL is where each release publishes the schema (see
// .goreleaser.yaml); the example's first line points editors at it.
const SchemaURL = "https://github.com/opsview/opsview/releases/latest/download/config.schema.json"

// Schema is the JSON Schema (draft 2020-12) of a configuration file, made
// from what Example and the checks are made from: the keys this package
// reads, the words of rules and themes, and the registered kinds of
// source, each with the keys of its own options (the struct its factory
// decodes into).
func Schema() []byte {
	durations := map[string]any{"type": "string", "pattern": durationPattern,
		"description": "a duration such as 30s, 5m or 1h30m, or ${VAR}"}
	common := map[string]any{
		"name":     map[string]any{"type": "string", "pattern": nameRE().String(), "description": "the source's name, shown on screen and in reports"},
		"type":     map[string]any{"enum": KindNames(), "description": "the kind of source"},
		"interval": withDesc(durations, "time between polls (default 10s)"),
		"timeout":  withDesc(durations, "how long a poll may take (default 5s, at most the interval)"),
		"disabled": withEnv(map[string]any{"type": "boolean", "description": "configured but not polled"}),
	}
	var kinds []any
	for _, k := range sources.Kinds() {
		props := map[string]any{}
		for key, v := range common {
			props[key] = v
		}
		then := map[string]any{"properties": props}
		if t := optionsType(k); t != nil {
			for _, f := range structKeys(t) {
				props[f.key] = typeSchema(f.typ, 0)
			}
			then["additionalProperties"] = false
		}
		kinds = append(kinds, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": k.Type}}, "required": []string{"type"}},
			"then": then,
		})
	}
	source := map[string]any{
		"type":       "object",
		"required":   []string{"name", "type"},
		"properties": common,
		"allOf":      kinds,
	}
	rule := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"match":   map[string]any{"type": "string", "description": "a glob over series names"},
			"labels":  map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
			"source":  map[string]any{"type": "string"},
			"role":    map[string]any{"enum": RoleWords},
			"layer":   map[string]any{"enum": LayerWords},
			"node":    map[string]any{"type": "string", "description": "the node the series describes; $label takes a label's value"},
			"unit":    map[string]any{"type": "string"},
			"kind":    map[string]any{"enum": KindWords},
			"harm":    map[string]any{"enum": HarmWords, "description": "which way is bad"},
			"bad":     map[string]any{"enum": HarmWords, "description": "the same as harm"},
			"measure": map[string]any{"type": "string", "description": "one or several of the measures, with commas"},
		},
		"additionalProperties": false,
		"anyOf":                []any{map[string]any{"required": []string{"match"}}, map[string]any{"required": []string{"labels"}}, map[string]any{"required": []string{"source"}}},
	}
	deps := map[string]any{"oneOf": []any{
		map[string]any{"type": "array", "items": map[string]any{"oneOf": []any{
			map[string]any{"type": "string", "pattern": ".+->.+", "description": "\"from -> to\", chains allowed"},
			map[string]any{"type": "object", "required": []string{"from", "to"}, "additionalProperties": false,
				"properties": map[string]any{"from": map[string]any{"type": "string"}, "to": map[string]any{"type": "string"}}},
		}}},
		map[string]any{"type": "object", "additionalProperties": map[string]any{"oneOf": []any{
			map[string]any{"type": "string"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}},
	}}
	schema := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaURL,
		"title":       "opsview configuration",
		"description": "See 'opsview config example' and 'opsview config check'.",
		"type":        "object",
		"properties": map[string]any{
			"theme": map[string]any{"enum": themes.Names()},
			"store": map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
				"step":       withDesc(durations, "one bucket of the store; graphs move once per bucket (at least 100ms)"),
				"retention":  withDesc(durations, "history kept per series"),
				"max_series": map[string]any{"type": "integer", "minimum": 0, "description": "most series the store holds; new ones past it are dropped and named in the source's status (0: the default, 50000)"},
			}},
			"sources":      map[string]any{"type": "array", "items": source},
			"rules":        map[string]any{"type": "array", "items": rule},
			"dependencies": deps,
			"keys": map[string]any{"type": "object", "description": "action: [keys]",
				"additionalProperties": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
			"log_file": map[string]any{"type": "string"},
		},
		"additionalProperties": false,
	}
	out, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		panic(err) // only maps, slices and strings above
	}
	return append(out, '\n')
}

// durationPattern is a Go duration (no bare number), or ${VAR}.
const durationPattern = `^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$|^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$`

var envRefSchema = map[string]any{"type": "string", "pattern": `^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$`}

func withDesc(s map[string]any, desc string) map[string]any {
	out := map[string]any{"description": desc}
	for k, v := range s {
		if k != "description" {
			out[k] = v
		}
	}
	return out
}

// withEnv lets a value that is not text be written ${VAR} too.
func withEnv(s map[string]any) map[string]any {
	out := map[string]any{"anyOf": []any{s, envRefSchema}}
	if d, ok := s["description"]; ok {
		out["description"] = d
	}
	return out
}

var (
	durationType     = reflect.TypeFor[time.Duration]()
	unmarshalerTypes = []reflect.Type{
		reflect.TypeFor[yaml.BytesUnmarshaler](), reflect.TypeFor[yaml.InterfaceUnmarshaler](),
		reflect.TypeFor[yaml.NodeUnmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
	}
)

// typeSchema is the schema of a value decoded into t. A type that
// decodes itself takes any value: its own checks say what is wrong.
func typeSchema(t reflect.Type, depth int) map[string]any {
	if depth > 8 {
		return map[string]any{}
	}
	if t == durationType {
		return map[string]any{"type": "string", "pattern": durationPattern}
	}
	if decodesItself(t) {
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), depth+1)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return withEnv(map[string]any{"type": "boolean"})
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return withEnv(map[string]any{"type": "integer"})
	case reflect.Float32, reflect.Float64:
		return withEnv(map[string]any{"type": "number"})
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), depth+1)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), depth+1)}
	case reflect.Struct:
		props := map[string]any{}
		for _, f := range structKeys(t) {
			props[f.key] = typeSchema(f.typ, depth+1)
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

// optionsType is the struct a kind's factory decodes its options into,
// learnt by handing it options that only note the type; nil when the
// factory decodes none or into something else.
func optionsType(k sources.Kind) (t reflect.Type) {
	defer func() {
		if recover() != nil {
			t = nil
		}
	}()
	p := &probeOptions{}
	_, _ = k.New(sources.Env{Name: "schema", Logf: func(string, ...any) {}}, p)
	if p.typ == nil || p.typ.Kind() != reflect.Pointer || p.typ.Elem().Kind() != reflect.Struct {
		return nil
	}
	return p.typ.Elem()
}

var errProbed = errors.New("options probed")

type probeOptions struct{ typ reflect.Type }

func (p *probeOptions) Decode(v any) error {
	if p.typ == nil {
		p.typ = reflect.TypeOf(v)
	}
	return errProbed
}

func (p *probeOptions) Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
