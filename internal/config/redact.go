package config

import (
	"regexp"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The redacted text is made from the parsed tree, not line by line, so a
// secret is found in every YAML style: block, flow (`- {name: lb-2,
// password: x}`), flow headers maps, block scalars, anchors and URL user
// info. Comments are dropped: an old password commented out is still one.

const redactedValue = "<redacted>"

// redactText renders the configuration (as written, ${VAR} unexpanded)
// with every secret replaced.
func redactText(data []byte) (string, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return "", err
	}
	r := &redactor{aliased: map[string]bool{}}
	// a first pass finds the anchors that secrets refer to (password: *pw)
	for _, d := range f.Docs {
		r.node(d.Body, false)
	}
	r.edit = true
	for _, d := range f.Docs {
		d.Body = r.node(d.Body, false)
	}
	return f.String(), nil
}

type redactor struct {
	aliased map[string]bool // anchor names used where a secret goes
	edit    bool
}

// node returns n with its secrets replaced; secret says n is, or is
// under, a secret's value.
func (r *redactor) node(n ast.Node, secret bool) ast.Node {
	switch v := n.(type) {
	case nil:
		return nil
	case *ast.MappingNode:
		for _, kv := range v.Values {
			r.pair(kv, secret)
		}
	case *ast.MappingValueNode:
		r.pair(v, secret)
	case *ast.SequenceNode:
		for i, item := range v.Values {
			v.Values[i] = r.node(item, secret)
		}
	case *ast.AnchorNode:
		v.Value = r.node(v.Value, secret || r.aliased[nodeText(v.Name)])
	case *ast.TagNode:
		v.Value = r.node(v.Value, secret)
	case *ast.AliasNode:
		if secret {
			r.aliased[nodeText(v.Value)] = true
		}
	case *ast.StringNode:
		if secret && !isEnvRef(v.Value) {
			return r.replace(v)
		}
		if s := redactURLs(v.Value); s != v.Value && r.edit {
			return ast.String(token.DoubleQuote(s, `"`+s+`"`, v.GetToken().Position))
		}
	case ast.ScalarNode: // numbers, booleans, block scalars, null
		if secret {
			return r.replace(v)
		}
	}
	return n
}

func (r *redactor) pair(kv *ast.MappingValueNode, secret bool) {
	key := keyName(kv)
	switch {
	case isHeadersKey(key):
		// header names stay, every value goes: Authorization, X-Api-Key, …
		kv.Value = r.node(kv.Value, true)
	default:
		kv.Value = r.node(kv.Value, secret || isSecretKey(key))
	}
}

func (r *redactor) replace(n ast.Node) ast.Node {
	if !r.edit {
		return n
	}
	return ast.String(token.DoubleQuote(redactedValue, `"`+redactedValue+`"`, n.GetToken().Position))
}

func nodeText(n ast.Node) string {
	if n == nil {
		return ""
	}
	return n.GetToken().Value
}

var secretWords = []string{"password", "passwd", "passphrase", "secret", "token", "bearer",
	"apikey", "accesskey", "privatekey", "authorization", "credential", "sessionkey"}

// isSecretKey says whether a key's value is a secret: password,
// bearer_token, api-key, …, but not a path to one (token_file).
func isSecretKey(key string) bool {
	k := strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(key))
	if strings.HasSuffix(k, "file") || strings.HasSuffix(k, "path") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func isHeadersKey(key string) bool {
	k := strings.ToLower(key)
	return k == "headers" || k == "header" || k == "http_headers"
}

var wholeEnvRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`) })

// isEnvRef says whether a value is only a ${VAR} reference: it shows
// where a secret comes from, not the secret. A default (${VAR:-x}) is
// written in the file, so it is not kept.
func isEnvRef(s string) bool { return wholeEnvRef().MatchString(strings.TrimSpace(s)) }

var (
	// scheme://userinfo@ — greedy up to the last @ before the path, as
	// url.Parse reads it
	urlUserinfo = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@`) })
	urlQueryArg = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([?&])([^=&#\s]+)=([^&#\s]*)`) })
)

// RedactURLs hides the user info of every URL in s and query arguments
// named like secrets: for log lines.
func RedactURLs(s string) string { return redactURLs(s) }

// redactURLs hides the user info of every URL in s (the password, or a
// user alone, which is often a token) and query arguments named like
// secrets; ${VAR} references stay.
func redactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	s = urlUserinfo().ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo().FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		user, pass, hasPass := strings.Cut(info, ":")
		switch {
		case hasPass && !isEnvRef(pass):
			pass = redactedValue
		case !hasPass && !isEnvRef(user):
			user = redactedValue
		}
		if hasPass {
			return scheme + user + ":" + pass + "@"
		}
		return scheme + user + "@"
	})
	return urlQueryArg().ReplaceAllStringFunc(s, func(m string) string {
		sub := urlQueryArg().FindStringSubmatch(m)
		if !isSecretKey(sub[2]) || isEnvRef(sub[3]) {
			return m
		}
		return sub[1] + sub[2] + "=" + redactedValue
	})
}
