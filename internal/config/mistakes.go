package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
)

// Errors are all the mistakes of one file, in the order of the file.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the first mistake as an *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// mistakes gathers the errors of a file, so that one run says them all.
type mistakes struct{ list Errors }

// add takes an *Error, Errors, or another error (then placed at file).
func (m *mistakes) add(file string, err error) {
	if err == nil {
		return
	}
	var es Errors
	if errors.As(err, &es) {
		m.list = append(m.list, es...)
		return
	}
	var e *Error
	if errors.As(err, &e) {
		m.list = append(m.list, e)
		return
	}
	m.list = append(m.list, &Error{File: file, Msg: err.Error()})
}

// err is nil, the one mistake, or all of them sorted by place.
func (m *mistakes) err() error {
	switch len(m.list) {
	case 0:
		return nil
	case 1:
		return m.list[0]
	}
	sort.SliceStable(m.list, func(i, j int) bool {
		a, b := m.list[i], m.list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return m.list
}

// at is a mistake at node n's line and column; a mapping's place is
// that of its first key.
func at(file string, n ast.Node, format string, args ...any) *Error {
	e := &Error{File: file, Msg: fmt.Sprintf(format, args...)}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && m.Values[0].Key != nil {
		n = m.Values[0].Key
	}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// unknownKey says a key is not one of known, with the closest if one is
// close enough to be a slip of the keyboard.
func unknownKey(file string, key ast.Node, name string, known []string) *Error {
	msg := fmt.Sprintf("unknown key %q", name)
	if s := suggest(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(known) > 0 {
		msg += " (known: " + strings.Join(known, ", ") + ")"
	}
	return at(file, key, "%s", msg)
}

// suggest is the word of known closest to w, if it is close: at most one
// edit for a short word, two for a longer one, or the same but for case.
func suggest(w string, known []string) string {
	best, bestD := "", 1<<30
	lw := strings.ToLower(w)
	for _, k := range known {
		d := editDistance(lw, strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	limit := 1
	if len(w) > 4 {
		limit = 2
	}
	if len(w) > 9 {
		limit = 3
	}
	if best == "" || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance: inserts, deletes, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// fieldInfo is one key of a struct the config decodes into.
type fieldInfo struct {
	key   string
	index []int
	typ   reflect.Type
}

// structKeys are the YAML keys of struct t, inline structs flattened, as
// go-yaml names them (the tag's name, else the field name lower-cased).
func structKeys(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if strings.Contains(","+opts+",", ",inline,") || (f.Anonymous && name == "" && ft.Kind() == reflect.Struct) {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for _, sub := range structKeys(ft) {
					sub.index = append([]int{i}, sub.index...)
					out = append(out, sub)
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{key: name, index: []int{i}, typ: ft})
	}
	return out
}

// decodeAll decodes mapping n into the struct v points to key by key, so
// every unknown key and every bad value is said, not only the first;
// extra keys are known too (decoded elsewhere). Other targets, a type
// that decodes itself, and a mapping with merge keys decode whole.
func decodeAll(file string, n ast.Node, v any, extra ...string) error {
	rv := reflect.ValueOf(v)
	m, ok := n.(*ast.MappingNode)
	if !ok || rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct || hasMerge(m) || decodesItself(rv.Elem().Type()) {
		if isNull(n) {
			return nil
		}
		return decode(file, n, v)
	}
	fields := structKeys(rv.Elem().Type())
	byKey := map[string]fieldInfo{}
	known := append([]string{}, extra...)
	for _, f := range fields {
		byKey[f.key] = f
		known = append(known, f.key)
	}
	sort.Strings(known)
	isExtra := map[string]bool{}
	for _, k := range extra {
		isExtra[k] = true
	}
	var ms mistakes
	for _, kv := range m.Values {
		k := keyName(kv)
		if isExtra[k] {
			continue
		}
		f, ok := byKey[k]
		if !ok {
			ms.add(file, unknownKey(file, kv.Key, k, known))
			continue
		}
		// Each key is decoded as a one-key mapping into a fresh struct of
		// the same type, not straight into its field's type: the YAML
		// library decodes `false` into a bare *bool as nil, which read an
		// explicit "current_events: false" as unset.
		// A mistake is reported from the value itself, so that it points
		// at the value's column.
		dst := rv.Elem().FieldByIndex(f.index)
		if err := decode(file, kv.Value, reflect.New(dst.Type()).Interface()); err != nil {
			ms.add(file, err)
			continue
		}
		one := *m
		one.Values = []*ast.MappingValueNode{kv}
		tmp := reflect.New(rv.Elem().Type())
		if err := decode(file, &one, tmp.Interface()); err != nil {
			ms.add(file, err)
			continue
		}
		dst.Set(tmp.Elem().FieldByIndex(f.index))
	}
	return ms.err()
}

// decodesItself is true of a type with its own YAML or text decoding:
// its keys are its own business.
func decodesItself(t reflect.Type) bool {
	for _, u := range unmarshalerTypes {
		if t.Implements(u) || reflect.PointerTo(t).Implements(u) {
			return true
		}
	}
	return false
}

func hasMerge(m *ast.MappingNode) bool {
	for _, kv := range m.Values {
		if kv.Key != nil && kv.Key.Type() == ast.MergeKeyType {
			return true
		}
	}
	return false
}

// human says a YAML decoding message in a user's words: what was
// expected, never Go's types or the parser's states.
func human(msg string) string {
	for _, r := range humanRules() {
		if m := r.re.FindStringSubmatch(msg); m != nil {
			return r.say(m)
		}
	}
	return msg
}

var goTypeWords = []struct{ re, word string }{
	{`time\.Duration`, "a duration such as 30s, 5m or 1h30m (a bare number has no unit)"},
	{`bool`, "true or false"},
	{`u?int\d*`, "a whole number"},
	{`float\d*`, "a number"},
	{`string`, "text"},
	{`\[\].*`, "a list"},
	{`map\[.*`, "a mapping (key: value lines)"},
	{`.*`, "a value of another kind"},
}

var yamlKinds = map[string]string{"string": "text", "sequence": "a list", "mapping": "a mapping (key: value lines)",
	"uint64": "a number", "int64": "a number", "float64": "a number", "bool": "true or false", "null": "nothing"}

func kindWord(k string) string {
	if w, ok := yamlKinds[k]; ok {
		return w
	}
	return k
}

// humanRules are compiled on the first YAML error, not at start-up: a
// configuration without mistakes never needs them.
var humanRules = sync.OnceValue(func() []humanRule {
	return []humanRule{
		{regexp.MustCompile(`cannot unmarshal (\S+) into Go (?:struct field \S+ of type|value of type) (\S+)`), func(m []string) string {
			for _, w := range goTypeWords {
				if regexp.MustCompile(`^` + w.re + `$`).MatchString(m[2]) {
					return fmt.Sprintf("expected %s, found %s", w.word, kindWord(m[1]))
				}
			}
			return "a value of the wrong kind"
		}},
		{regexp.MustCompile(`time: (?:unknown unit .* in |invalid |missing unit in )duration "(.*)"`), func(m []string) string {
			// quoted as package time quotes it, which concealing knows
			return `"` + m[1] + `" is not a duration: write it like 30s, 5m or 1h30m`
		}},
		{regexp.MustCompile(`(\w+) was used where (\w+) is expected`), func(m []string) string {
			return fmt.Sprintf("expected %s, found %s", kindWord(m[2]), kindWord(m[1]))
		}},
		{regexp.MustCompile(`unknown field "(.*)"`), func(m []string) string { return fmt.Sprintf("unknown key %q", m[1]) }},
		{regexp.MustCompile(`mapping value is not allowed in this context`), func([]string) string {
			return "a key here does not line up with the keys above it, or follows a value on the line before: indent the keys of one mapping by the same spaces"
		}},
		{regexp.MustCompile(`could not find end character of (?:single|double)-quoted text`), func([]string) string {
			return "a quoted value is not closed: end it with the same quote"
		}},
		{regexp.MustCompile(`sequence end token '\]' not found`), func([]string) string { return "a list opened with '[' is not closed with ']'" }},
		{regexp.MustCompile(`could not find flow mapping end token '\}'`), func([]string) string {
			return "a mapping opened with '{' is not closed with '}'"
		}},
		{regexp.MustCompile(`found character that cannot start any token|tab character`), func([]string) string {
			return "a tab or a character YAML cannot start a value with: indent with spaces only"
		}},
	}
})

type humanRule struct {
	re  *regexp.Regexp
	say func([]string) string
}

// syntaxAt moves a YAML syntax error to where a user sees it: "mapping
// value not allowed" is reported at the value before the stray key; the
// key is on a later line.
func syntaxAt(e *Error, data []byte, raw string) {
	if !strings.Contains(raw, "mapping value is not allowed") || e.Line <= 0 {
		return
	}
	lines := strings.Split(string(data), "\n")
	for i := e.Line; i < len(lines) && i < e.Line+20; i++ { // lines[i] is line i+1
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.Contains(lines[i], ":") {
			e.Line, e.Col = i+1, len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))+1
		}
		return
	}
}

// enumError is a value that is not one of the words of a set.
func enumError(file string, n ast.Node, what, value string, words []string) *Error {
	if s := suggest(value, words); s != "" {
		return at(file, n, "unknown %s %q (did you mean %q?)", what, value, s)
	}
	return at(file, n, "unknown %s %q (known: %s)", what, value, strings.Join(words, ", "))
}

// valueOf is the value node of key in mapping n, or n itself.
func valueOf(n ast.Node, key string) ast.Node {
	if m, ok := n.(*ast.MappingNode); ok {
		for _, kv := range m.Values {
			if keyName(kv) == key {
				return kv.Value
			}
		}
	}
	return n
}
