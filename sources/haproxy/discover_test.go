package haproxy

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDiscoverFindsReadableSocketsOnly(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "stats")
	os.WriteFile(plain, []byte("not a socket"), 0o600)
	got := DiscoverIn([]string{filepath.Join(dir, "missing.sock"), plain, sock, link})
	if want := []string{sock}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if os.Geteuid() != 0 { // root can open anything
		os.Chmod(sock, 0)
		if got := DiscoverIn([]string{sock}); len(got) != 0 {
			t.Errorf("unreadable socket listed: %v", got)
		}
	}
	s, err := NewFromSocket("haproxy", sock)
	if err != nil || s == nil {
		t.Fatal(err)
	}
}
