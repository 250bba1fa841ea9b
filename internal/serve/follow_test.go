package serve

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestFollowTheFirstSession(t *testing.T) {
	f := NewFollow()
	leaveA := f.Join("ana")
	leaveB := f.Join("bo")
	defer leaveB()
	f.Join("cy")
	if id, _ := f.Leader(); id != "ana" {
		t.Fatalf("leader %s", id)
	}
	at := time.Date(2026, 3, 14, 2, 3, 0, 0, time.UTC)
	f.Publish("ana", Position{View: "Graphs", Cursor: 12, At: at})
	ch := f.Subscribe("bo")
	if p := <-ch; p.View != "Graphs" || p.Cursor != 12 {
		t.Fatalf("bo got %+v on subscribe", p)
	}
	// a follower's own moves do not reach others
	f.Publish("cy", Position{View: "Events"})
	f.Publish("ana", Position{View: "Graphs", Cursor: 13})
	f.Publish("ana", Position{View: "Paths", Cursor: 14})
	if p := <-ch; p.View != "Paths" || p.Cursor != 14 {
		t.Fatalf("bo got %+v, want only the newest", p)
	}
	select {
	case p := <-ch:
		t.Fatalf("stale position queued: %+v", p)
	default:
	}
	// the leader leaves: the next oldest leads, followers get its position
	f.Publish("bo", Position{View: "Findings"})
	cch := f.Subscribe("cy")
	leaveA()
	if id, _ := f.Leader(); id != "bo" {
		t.Fatalf("leader after ana left: %s", id)
	}
	if p := <-cch; p.View != "Findings" {
		t.Fatalf("cy got %+v", p)
	}
	f.Unsubscribe("cy")
	if _, ok := <-cch; ok {
		t.Fatal("channel open after Unsubscribe")
	}
	// a session that never joined gets a closed channel
	if _, ok := <-f.Subscribe("nobody"); ok {
		t.Fatal("unknown session subscribed")
	}
	msg := WaitFollow(ch)
	leaveB()
	if m := msg().(FollowMsg); m.OK {
		t.Fatalf("following did not end when bo left: %+v", m)
	}
}

func TestFollowUnderConcurrentUse(t *testing.T) {
	f := NewFollow()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprint("s", i)
			leave := f.Join(id)
			ch := f.Subscribe(id)
			go func() {
				for range ch {
				}
			}()
			for j := 0; j < 200; j++ {
				f.Publish(id, Position{Cursor: j})
				f.Leader()
			}
			leave()
		}(i)
	}
	wg.Wait()
	if n := len(f.Sessions()); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}
