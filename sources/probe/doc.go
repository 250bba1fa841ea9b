// Package probe measures network paths from one or several vantage points:
// a traceroute-style prober with every TTL of a round in flight at once
// (raw ICMP with a constant flow id, ICMP ping sockets, or unprivileged UDP
// with IP_RECVERR, chosen at run time), remote vantage points reached
// through a command prefix (ssh, ip netns exec) running opsview's own probe
// mode or `mtr --raw`, an agent serving the latest rounds over HTTP, and the
// "probe" source feeding sources.PathTrace into the store.
//
// It measures and names hops (reverse DNS, offline IP→ASN); it must not
// decide who is to blame: triangulation lives in correlate (paths.go).
package probe
