package serve

import (
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Position is what one session shows: which view, where the time cursor
// is, and the window and filter around it. `f` in another session makes it
// show the same.
type Position struct {
	View   string
	Cursor int       // bucket index under the cursor; -1 = following live
	At     time.Time // the time under the cursor (zero when live)
	Window time.Duration
	Filter string
}

// Follow lets sessions publish their Position and follow the leader's:
// the longest-connected session still there. When the leader leaves, the
// next oldest leads and followers get its last position at once.
//
// Each follower has a channel holding at most the newest position (older
// ones are dropped, never queued), so a slow follower never blocks the
// leader. Safe for concurrent use.
type Follow struct {
	mu    sync.Mutex
	order []string // session ids, oldest first
	last  map[string]Position
	has   map[string]bool
	subs  map[string]chan Position
}

// NewFollow makes an empty hub.
func NewFollow() *Follow {
	return &Follow{last: map[string]Position{}, has: map[string]bool{}, subs: map[string]chan Position{}}
}

// Join adds a session; leave removes it (and its subscription).
func (f *Follow) Join(id string) (leave func()) {
	f.mu.Lock()
	f.order = append(f.order, id)
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { f.leave(id) }) }
}

func (f *Follow) leave(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wasLeader := len(f.order) > 0 && f.order[0] == id
	for i, x := range f.order {
		if x == id {
			f.order = append(f.order[:i:i], f.order[i+1:]...)
			break
		}
	}
	delete(f.last, id)
	delete(f.has, id)
	if ch, ok := f.subs[id]; ok {
		close(ch)
		delete(f.subs, id)
	}
	if wasLeader && len(f.order) > 0 {
		if p, ok := f.last[f.order[0]]; ok {
			f.fanOut(p)
		}
	}
}

// Leader is the session others follow.
func (f *Follow) Leader() (id string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) == 0 {
		return "", false
	}
	return f.order[0], true
}

// Sessions lists the joined sessions, oldest first.
func (f *Follow) Sessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// Publish records a session's position; the leader's goes to every
// follower.
func (f *Follow) Publish(id string, p Position) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.joined(id) {
		return
	}
	f.last[id], f.has[id] = p, true
	if f.order[0] == id {
		f.fanOut(p)
	}
}

// Subscribe makes session id follow the leader: the channel gets the
// leader's position now (when known) and at every change, and is closed by
// Unsubscribe or when the session leaves. Subscribing again replaces the
// earlier channel.
func (f *Follow) Subscribe(id string) <-chan Position {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.subs[id]; ok {
		close(old)
	}
	ch := make(chan Position, 1)
	if !f.joined(id) {
		close(ch)
		return ch
	}
	f.subs[id] = ch
	if p, ok := f.last[f.order[0]]; ok && f.order[0] != id {
		ch <- p
	}
	return ch
}

// Unsubscribe stops following.
func (f *Follow) Unsubscribe(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.subs[id]; ok {
		close(ch)
		delete(f.subs, id)
	}
}

func (f *Follow) joined(id string) bool {
	for _, x := range f.order {
		if x == id {
			return true
		}
	}
	return false
}

// fanOut sends p to every follower but the leader itself, replacing any
// position it has not read yet. f.mu is held; the sends never block.
func (f *Follow) fanOut(p Position) {
	leader := f.order[0]
	for id, ch := range f.subs {
		if id == leader {
			continue
		}
		select {
		case <-ch:
		default:
		}
		ch <- p
	}
}

// FollowMsg carries the leader's position into a follower's Bubble Tea
// program; ok is false when following ended (the channel closed).
type FollowMsg struct {
	Position Position
	OK       bool
}

// WaitFollow is a command that waits for the next position on ch. The
// model re-issues it after each FollowMsg with OK set.
func WaitFollow(ch <-chan Position) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		return FollowMsg{Position: p, OK: ok}
	}
}
