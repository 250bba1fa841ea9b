package aws

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feedServer serves bodies by path; tests swap them between polls.
type feedServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string]feedBody
	hits   map[string]int
}

type feedBody struct {
	contentType string
	body        []byte
	status      int
	handler     http.HandlerFunc
}

func newFeedServer(t *testing.T) *feedServer {
	fs := &feedServer{bodies: map[string]feedBody{}, hits: map[string]int{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		b, ok := fs.bodies[r.URL.Path]
		fs.hits[r.URL.Path]++
		fs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if b.handler != nil {
			b.handler(w, r)
			return
		}
		w.Header().Set("Content-Type", b.contentType)
		if b.status != 0 {
			w.WriteHeader(b.status)
		}
		w.Write(b.body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) set(path, contentType string, body []byte) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.bodies[path] = feedBody{contentType: contentType, body: body}
}

func (fs *feedServer) setHandler(path string, h http.HandlerFunc) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.bodies[path] = feedBody{handler: h}
}

// newSource builds a registered kind of source from YAML options, the way
// the config does.
func newSource(t *testing.T, typ, name, yaml string) sources.Source {
	t.Helper()
	kind, ok := sources.Lookup(typ)
	if !ok {
		t.Fatalf("type %q not registered", typ)
	}
	opts, err := config.OptionsFromYAML(name+".yaml", yaml)
	if err != nil {
		t.Fatal(err)
	}
	src, err := kind.New(sources.Env{Name: name, Logf: t.Logf}, opts)
	if err != nil {
		t.Fatalf("new %s: %v", typ, err)
	}
	return src
}

func nodeByID(b *sources.Batch, id string) *sources.NodeState {
	for i := range b.Nodes {
		if b.Nodes[i].ID == id {
			return &b.Nodes[i]
		}
	}
	return nil
}

func eventByID(b *sources.Batch, id string) *sources.Event {
	for i := range b.Events {
		if b.Events[i].ID == id {
			return &b.Events[i]
		}
	}
	return nil
}

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func configOptions(yaml string) (sources.Options, error) {
	return config.OptionsFromYAML("test.yaml", yaml)
}
