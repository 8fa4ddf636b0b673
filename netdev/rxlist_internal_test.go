package netdev

import (
	"testing"

	"dongle/skbuff"
)

// TestRxListKicksOncePerList: a list wakes the bottom half once, however
// many frames it brings, and a list that only drops wakes it not at all.
// No bottom half runs here: the kick channel is deep enough to count.
func TestRxListKicksOncePerList(t *testing.T) {
	d := Dummy()
	r := &d.rx
	r.kick = make(chan struct{}, 16)
	r.running = true
	r.limit = 5
	t.Cleanup(func() {
		var q skbuff.Queue
		r.backlog.MoveTo(&q)
		q.Purge(skbuff.FreeRead)
		if n := skbuff.Live(); n != 0 {
			t.Errorf("%d sk_buffs live", n)
		}
	})
	var q skbuff.Queue
	for range 5 {
		q.QueueTail(skbuff.Alloc(64))
	}
	d.RxList(&q)
	if len(r.kick) != 1 || r.backlog.Len() != 5 || q.Len() != 0 {
		t.Fatalf("a list of 5: %d kicks, backlog %d, %d left with the caller; want 1, 5, 0", len(r.kick), r.backlog.Len(), q.Len())
	}
	for range 3 {
		q.QueueTail(skbuff.Alloc(64))
	}
	d.RxList(&q)
	if len(r.kick) != 1 || r.backlog.Len() != 5 || q.Len() != 0 || d.stats.RxDropped.Load() != 3 {
		t.Fatalf("a list the full backlog drops: %d kicks, backlog %d, %d left, rx_dropped %d; want 1, 5, 0, 3",
			len(r.kick), r.backlog.Len(), q.Len(), d.stats.RxDropped.Load())
	}
}
