//go:build !race

package correlate

// raceEnabled: the race detector is on (tests too slow under it skip).
const raceEnabled = false
