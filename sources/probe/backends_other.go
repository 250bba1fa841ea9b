//go:build !linux

package probe

import (
	"errors"
	"net/netip"
)

// errNotLinux: the probe backends use Linux socket options (IP_RECVERR,
// ICMP ping sockets, socket filters).
var errNotLinux = errors.New("path probes need Linux (IP_RECVERR and ICMP ping sockets); on this system use an mtr, exec or agent vantage")

func openConn(backend string, target netip.Addr, ident uint16) (conn, error) {
	return nil, errNotLinux
}
