package graphite

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsview/opsview/sources"
)

// Browse lists the metric tree under path ("" for the root) for the
// series picker.
func (s *Source) Browse(ctx context.Context, path string) ([]sources.BrowseNode, error) {
	q := "*"
	if path != "" {
		q = path + ".*"
	}
	nodes, err := s.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]sources.BrowseNode, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, sources.BrowseNode{ID: n.ID, Text: n.Text, Leaf: n.Leaf})
	}
	return out, nil
}

// AddSeries adds a render target; the next poll fetches it.
func (s *Source) AddSeries(id string) error {
	id = strings.TrimSpace(id)
	if id == "" || strings.ContainsAny(id, "\n\r") {
		return fmt.Errorf("graphite %q: %q is not a render target", s.name, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		if t == id {
			return nil
		}
	}
	s.targets = append(s.targets, id)
	return nil
}

var _ sources.Browser = (*Source)(nil)
