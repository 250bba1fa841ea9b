package haproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The typed (`show stat typed`, 1.7+) and JSON (`show stat json`, 1.8+)
// answers carry the same fields as the CSV, one field per line or object,
// each with its column position. They are turned into the CSV form and
// read by the one row parser, so all three give the same Stats.

// statObject is one frontend, backend, server or listener: its fields by
// column position.
type statObject struct {
	key    string
	fields map[int][2]string // pos → name, value
}

// ParseStatTyped parses a `show stat typed` answer, at most
// DefaultMaxAnswer bytes. Lines look like
// `S.3.1.17.status.1:SGP:str:UP` (object type, proxy id, server id,
// position, name, process : tags : type : value).
func ParseStatTyped(r io.Reader) (*Stats, error) {
	b, err := readAll(r, DefaultMaxAnswer, "show stat typed")
	if err != nil {
		return nil, err
	}
	objs := map[string]*statObject{}
	var order []string
	bad := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) != 4 {
			bad++
			continue
		}
		d := strings.Split(parts[0], ".")
		if len(d) < 6 {
			bad++
			continue
		}
		pos, err := strconv.Atoi(d[3])
		if err != nil || pos < 0 || pos > 4096 {
			bad++
			continue
		}
		// the name may itself hold dots in future versions: all but the
		// last (process) component after the position
		name := strings.Join(d[4:len(d)-1], ".")
		key := strings.Join(d[:3], ".")
		o := objs[key]
		if o == nil {
			o = &statObject{key: key, fields: map[int][2]string{}}
			objs[key] = o
			order = append(order, key)
		}
		o.fields[pos] = [2]string{name, parts[3]}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("show stat typed: no fields found (%d lines not understood)", bad)
	}
	list := make([]*statObject, 0, len(order))
	for _, k := range order {
		list = append(list, objs[k])
	}
	st, err := objectsToStats(list)
	if st != nil {
		st.Skipped += bad
	}
	return st, err
}

// ParseStatJSON parses a `show stat json` answer, at most
// DefaultMaxAnswer bytes.
func ParseStatJSON(r io.Reader) (*Stats, error) {
	b, err := readAll(r, DefaultMaxAnswer, "show stat json")
	if err != nil {
		return nil, err
	}
	var raw [][]struct {
		ObjType string `json:"objType"`
		ProxyID int    `json:"proxyId"`
		ID      int    `json:"id"`
		Field   struct {
			Pos  int    `json:"pos"`
			Name string `json:"name"`
		} `json:"field"`
		Value struct {
			Value json.RawMessage `json:"value"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("show stat json: %w", err)
	}
	var list []*statObject
	for i, fs := range raw {
		o := &statObject{key: strconv.Itoa(i), fields: map[int][2]string{}}
		for _, f := range fs {
			if f.Field.Pos < 0 || f.Field.Pos > 4096 {
				continue
			}
			v := string(f.Value.Value)
			if s, err := strconv.Unquote(v); err == nil {
				v = s
			} else if len(v) > 0 && v[0] == '"' {
				var s string
				if json.Unmarshal(f.Value.Value, &s) == nil {
					v = s
				}
			}
			o.fields[f.Field.Pos] = [2]string{f.Field.Name, v}
		}
		if len(o.fields) > 0 {
			list = append(list, o)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("show stat json: no objects")
	}
	return objectsToStats(list)
}

// objectsToStats writes the objects as a CSV answer (header by position)
// and parses that.
func objectsToStats(objs []*statObject) (*Stats, error) {
	names := map[int]string{}
	for _, o := range objs {
		for pos, f := range o.fields {
			if _, ok := names[pos]; !ok {
				names[pos] = f[0]
			}
		}
	}
	positions := make([]int, 0, len(names))
	for p := range names {
		positions = append(positions, p)
	}
	sort.Ints(positions)
	var buf bytes.Buffer
	buf.WriteString("# ")
	for _, p := range positions {
		buf.WriteString(csvQuote(names[p]))
		buf.WriteByte(',')
	}
	buf.WriteByte('\n')
	for _, o := range objs {
		for _, p := range positions {
			if f, ok := o.fields[p]; ok {
				buf.WriteString(csvQuote(f[1]))
			}
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	return ParseStatBytes(buf.Bytes())
}

// csvQuote quotes a value the way HAProxy does: only when it holds a
// comma, a quote or a line break.
func csvQuote(s string) string {
	if !strings.ContainsAny(s, ",\"\n\r") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
