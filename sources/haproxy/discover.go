package haproxy

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultSocketPaths are where distributions put HAProxy's stats socket.
var DefaultSocketPaths = []string{
	"/run/haproxy/admin.sock",
	"/var/run/haproxy.sock",
	"/var/run/haproxy/admin.sock",
	"/var/lib/haproxy/stats",
}

// Discover returns the stats sockets among DefaultSocketPaths that this
// user can open for reading and writing. It only looks at the file system:
// nothing is sent to the sockets.
func Discover() []string { return DiscoverIn(DefaultSocketPaths) }

// DiscoverIn is Discover over the given paths. Paths that resolve to the
// same socket (/var/run is often a link to /run) are listed once.
func DiscoverIn(paths []string) []string {
	var out []string
	type id struct{ dev, ino uint64 }
	seen := map[id]bool{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&os.ModeSocket == 0 {
			continue
		}
		// connecting needs write permission on a unix socket
		if unix.Access(p, unix.R_OK|unix.W_OK) != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			k := id{uint64(st.Dev), uint64(st.Ino)}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, p)
	}
	return out
}
