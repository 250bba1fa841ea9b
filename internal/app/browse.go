package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// browsers are the entries whose series can be browsed and added.
func (r *Runtime) browsers() map[string]sources.Browser {
	out := map[string]sources.Browser{}
	for _, e := range r.entries {
		if b, ok := e.Source.(sources.Browser); ok {
			out[e.Name] = b
		}
	}
	return out
}

// CanBrowse reports whether any source offers a tree of series.
func (r *Runtime) CanBrowse() bool { return len(r.browsers()) > 0 }

// Browse is the series picker's tree over every browsable source: the
// root lists the sources, "name" a source's top level, "name/path" below.
func (r *Runtime) Browse(ctx context.Context, path string) ([]sources.BrowseNode, error) {
	bs := r.browsers()
	if path == "" {
		var out []sources.BrowseNode
		for _, e := range r.entries {
			if _, ok := bs[e.Name]; ok {
				out = append(out, sources.BrowseNode{ID: e.Name, Text: e.Name + " (" + e.Type + ")"})
			}
		}
		return out, nil
	}
	name, sub, _ := strings.Cut(path, "/")
	b, ok := bs[name]
	if !ok {
		return nil, fmt.Errorf("no source %q to browse", name)
	}
	nodes, err := b.Browse(ctx, sub)
	if err != nil {
		return nil, err
	}
	for i := range nodes {
		nodes[i].ID = name + "/" + nodes[i].ID
		nodes[i].Text = sources.Clean(nodes[i].Text)
	}
	return nodes, nil
}

// AddSeries adds "name/id" to the named source, and asks every source for
// a backfill of the window on its next poll so the new series arrives
// with its history.
func (r *Runtime) AddSeries(id string, window time.Duration) error {
	name, sub, ok := strings.Cut(id, "/")
	b, found := r.browsers()[name]
	if !ok || !found {
		return fmt.Errorf("no source %q to add %q to", name, id)
	}
	if err := b.AddSeries(sub); err != nil {
		return err
	}
	r.Sched.Widen(window)
	return nil
}
