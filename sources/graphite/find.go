package graphite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// Node is one entry of Graphite's metric tree, as /metrics/find lists it.
type Node struct {
	// ID is the full dotted path, usable as a render target.
	ID string
	// Text is the last path component.
	Text string
	// Leaf is true for a series; false for a branch with children.
	Leaf bool
}

// MaxFindBytes bounds a /metrics/find answer.
const MaxFindBytes = 8 << 20

// Find lists the tree nodes matching query (a dotted path with globs, e.g.
// "servers.*" or "servers.db1.cpu.*"), for a series picker.
func (s *Source) Find(ctx context.Context, query string) ([]Node, error) {
	q := url.Values{"query": {query}, "format": {"treejson"}}
	resp, err := s.client.Get(ctx, s.endpoint("/metrics/find")+"?"+q.Encode(), "application/json")
	if err != nil {
		return nil, fmt.Errorf("graphite %q: find: %w", s.name, err)
	}
	if err := s.checkAnswer(resp, "find", "check the query"); err != nil {
		if resp.Status == 500 && len(resp.Body) > 0 && containsFold(resp.Body, "auth_user") {
			return nil, fmt.Errorf("%w (graphite-web's database is not set up: run graphite-manage migrate)", err)
		}
		return nil, err
	}
	return DecodeFind(resp.Body)
}

// ReadFind decodes a /metrics/find answer from r, reading at most
// MaxFindBytes.
func ReadFind(r io.Reader) ([]Node, error) {
	b, err := httpfetch.ReadLimited(r, MaxFindBytes)
	if err != nil {
		return nil, fmt.Errorf("find answer: %w (limit %d MiB)", err, MaxFindBytes>>20)
	}
	return DecodeFind(b)
}

// DecodeFind decodes the treejson form of /metrics/find:
//
//	[{"text": "web01", "id": "opsview.test.web01", "allowChildren": 1, "expandable": 1, "leaf": 0}]
func DecodeFind(b []byte) ([]Node, error) {
	var raw []struct {
		Text string          `json:"text"`
		ID   string          `json:"id"`
		Leaf json.RawMessage `json:"leaf"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("find answer is not Graphite treejson: %v", err)
	}
	out := make([]Node, 0, len(raw))
	for _, r := range raw {
		id := sources.Clean(r.ID)
		if id == "" {
			continue // no id, or one of control characters only
		}
		leaf := false
		switch string(r.Leaf) {
		case "1", "true", `"1"`, `"true"`:
			leaf = true
		}
		out = append(out, Node{ID: id, Text: sources.Clean(r.Text), Leaf: leaf})
	}
	return out, nil
}

func containsFold(b []byte, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(b); i++ {
		ok := true
		for j := 0; j < n; j++ {
			c := b[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
