package config

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// concealer knows the values a configuration took from the environment,
// to put the reference back where an error would print one: a source that
// says `url "<value>": scheme must be http or https` then says `url
// "${GRAPHITE_URL}": …`.
type concealer struct {
	refs []envValue // longest value first
}

type envValue struct{ name, value string }

// minConcealed is the shortest value replaced wherever it appears in a
// message; a shorter one (a port digit, "on") is no secret and would
// garble line numbers and words, so it is replaced only where a message
// quotes it whole.
const minConcealed = 4

func (c *concealer) add(name, value string) {
	if value == "" {
		return
	}
	for _, r := range c.refs {
		if r.name == name && r.value == value {
			return
		}
	}
	c.refs = append(c.refs, envValue{name, value})
	sort.SliceStable(c.refs, func(i, j int) bool { return len(c.refs[i].value) > len(c.refs[j].value) })
}

// text returns s with every value from the environment replaced by its
// ${VAR}, in the forms a message may hold it: as is, quoted by %q or %+q
// or by package time, and escaped for a URL.
func (c *concealer) text(s string) string {
	if c == nil {
		return s
	}
	for _, r := range c.refs {
		ref := "${" + r.name + "}"
		quoted := strconv.Quote(r.value)
		if len(r.value) < minConcealed {
			s = strings.ReplaceAll(s, quoted, strconv.Quote(ref))
			continue
		}
		ascii := strconv.QuoteToASCII(r.value)
		for _, form := range []string{r.value, quoted[1 : len(quoted)-1], ascii[1 : len(ascii)-1],
			timeQuoted(r.value), url.PathEscape(r.value), url.QueryEscape(r.value)} {
			s = strings.ReplaceAll(s, form, ref)
		}
	}
	return s
}

// err returns err with the values concealed; a config *Error or Errors
// stays one.
func (c *concealer) err(err error) error {
	if err == nil || c == nil || len(c.refs) == 0 {
		return err
	}
	var es Errors
	if errors.As(err, &es) && es.Error() == err.Error() {
		out := make(Errors, len(es))
		for i, e := range es {
			ce := *e
			ce.Msg = c.text(e.Msg)
			out[i] = &ce
		}
		return out
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Error() == err.Error() {
		out := *ce
		out.Msg = c.text(ce.Msg)
		return &out
	}
	return errors.New(c.text(err.Error()))
}

// timeQuoted is a value as package time quotes it in a parse error (a
// duration): bytes outside printable ASCII as \xNN, without the quotes.
func timeQuoted(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < ' ' || c >= 0x80:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
