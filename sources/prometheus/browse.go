package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// Browse lists the metric names Prometheus knows (path "" only: the names
// are leaves), for the series picker.
func (s *Source) Browse(ctx context.Context, path string) ([]sources.BrowseNode, error) {
	if path != "" {
		return nil, nil
	}
	resp, err := s.client.Get(ctx, s.endpoint("/api/v1/label/__name__/values"), "application/json")
	if err != nil {
		return nil, fmt.Errorf("prometheus %q: metric names: %w", s.name, err)
	}
	names, err := DecodeLabelValues(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("prometheus %q: metric names: HTTP %d: %w", s.name, resp.Status, err)
	}
	out := make([]sources.BrowseNode, 0, len(names))
	for _, n := range names {
		n = sources.Clean(n)
		out = append(out, sources.BrowseNode{ID: n, Text: n, Leaf: true})
	}
	return out, nil
}

// DecodeLabelValues reads /api/v1/label/<name>/values.
func DecodeLabelValues(b []byte) ([]string, error) {
	if httpfetch.LooksLikeHTML(b) {
		return nil, fmt.Errorf("got an HTML page instead of JSON: %s", httpfetch.Snippet(b, 120))
	}
	var ans struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
		Error  string   `json:"error"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return nil, fmt.Errorf("malformed answer: %v", err)
	}
	if ans.Status != "success" {
		return nil, fmt.Errorf("status %q: %s", ans.Status, ans.Error)
	}
	sort.Strings(ans.Data)
	return ans.Data, nil
}

// AddSeries adds a PromQL query (a metric name from Browse, or any
// selector); the next poll runs it.
func (s *Source) AddSeries(id string) error {
	id = strings.TrimSpace(id)
	if id == "" || strings.ContainsAny(id, "\n\r") {
		return fmt.Errorf("prometheus %q: %q is not a query", s.name, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queries {
		if q.Query.Query == id {
			return nil
		}
	}
	s.queries = append(s.queries, query{Query: Query{Query: id}, known: newSeriesCache()})
	return nil
}

var _ sources.Browser = (*Source)(nil)
