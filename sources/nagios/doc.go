// Package nagios is opsview's Nagios Core source: it reads status.dat
// (hosts and services, their state, HARD or SOFT, acknowledgement,
// downtime, flapping) whole at every poll and, when given, the tail of
// nagios.log for the alerts of the visible window, and turns every
// problem into an alert event that opens when the problem begins and
// closes when it recovers.
//
// It must never change Nagios' state (it opens its files read-only and
// writes no external command), it does no retries or status keeping (the
// scheduler does), and it trusts nothing in the files: every read is
// bounded and every string is cleaned of terminal escapes.
package nagios
