// Package haproxy is opsview's HAProxy source: it reads `show stat` and
// `show info` from one HAProxy or a fleet (unix or TCP stats socket, or the
// HTTP stats page `;csv`) and turns them into rates, gauges, node states
// and events.
//
// It must never change HAProxy's state: the only commands it sends are
// `show …` commands, even on an admin-level socket. It does no retries,
// backoff or status keeping (the scheduler does), and it must not trust
// what HAProxy says: every read is bounded and every string is cleaned of
// terminal escapes before it enters the model.
package haproxy
