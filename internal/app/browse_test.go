package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// treeSource is a source with a tree of series, as Graphite has.
type treeSource struct {
	mu    sync.Mutex
	added []string
}

func (s *treeSource) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	return &sources.Batch{}, nil
}

func (s *treeSource) Browse(ctx context.Context, path string) ([]sources.BrowseNode, error) {
	if path == "" {
		return []sources.BrowseNode{{ID: "servers", Text: "servers"}}, nil
	}
	return []sources.BrowseNode{{ID: path + ".db-1", Text: "db-1\x1b]0;x\x07", Leaf: true}}, nil
}

func (s *treeSource) AddSeries(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.added = append(s.added, id)
	return nil
}

func TestBrowseSpansTheSourcesAndAddsToTheRightOne(t *testing.T) {
	tree := &treeSource{}
	plain := sources.PollFunc(func(context.Context, sources.Request) (*sources.Batch, error) { return &sources.Batch{}, nil })
	rt := New(Options{Entries: []sources.Entry{
		{Name: "lb", Type: "haproxy", Source: plain},
		{Name: "graphite", Type: "graphite", Source: tree},
	}})
	if !rt.CanBrowse() {
		t.Fatal("graphite can be browsed")
	}
	root, err := rt.Browse(context.Background(), "")
	if err != nil || len(root) != 1 || root[0].ID != "graphite" || root[0].Leaf {
		t.Fatalf("root %+v %v", root, err)
	}
	top, _ := rt.Browse(context.Background(), "graphite")
	if len(top) != 1 || top[0].ID != "graphite/servers" {
		t.Fatalf("top %+v", top)
	}
	leaves, _ := rt.Browse(context.Background(), "graphite/servers")
	if len(leaves) != 1 || leaves[0].ID != "graphite/servers.db-1" || strings.Contains(leaves[0].Text, "\x1b") {
		t.Fatalf("leaves %+v", leaves)
	}
	if err := rt.AddSeries("graphite/servers.db-1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if len(tree.added) != 1 || tree.added[0] != "servers.db-1" {
		t.Errorf("added %q", tree.added)
	}
	for _, bad := range []string{"lb/x", "nosuch/x", "graphite"} {
		if err := rt.AddSeries(bad, time.Hour); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := rt.Browse(context.Background(), "lb"); err == nil {
		t.Error("a source without a tree was browsed")
	}
}
