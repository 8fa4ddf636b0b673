package specs

import (
	"context"
	"fmt"
	"sync"
)

// PeerCapture is what a wire-side peer keeps of the frames it saw: copies
// of this run's test frames, in wire order, and a count of everything else.
// A peer implementation feeds it from its reader (Offer) and answers
// Received, Reset and Ignored from it. The zero value is not usable; make
// one with NewPeerCapture. Safe for one writer (Offer, End) and one waiter
// (WaitFor: its single wake-up token wakes one waiter); other readers
// (Ignored, Reset) may run at any time.
type PeerCapture struct {
	mu      sync.Mutex
	frames  [][]byte
	ignored uint64
	err     error         // the reader's end, once it ended
	wake    chan struct{} // one pending wake-up for WaitFor
}

// NewPeerCapture returns an empty capture.
func NewPeerCapture() *PeerCapture { return &PeerCapture{wake: make(chan struct{}, 1)} }

// Offer keeps a copy of frame if it is one of this run's test frames and
// counts it as ignored otherwise; it reports whether it kept it. frame is
// not retained.
func (c *PeerCapture) Offer(frame []byte) bool {
	keep := IsTestFrame(frame)
	c.mu.Lock()
	if keep {
		c.frames = append(c.frames, append([]byte(nil), frame...))
	} else {
		c.ignored++
	}
	c.mu.Unlock()
	if keep {
		c.signal()
	}
	return keep
}

// End records that the reader stopped with err (nil is not allowed: use
// ErrPeerClosed for an orderly close): waiters that cannot be satisfied
// any more get err instead of waiting for their deadline.
func (c *PeerCapture) End(err error) {
	if err == nil {
		panic("specs.PeerCapture.End: nil error")
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.signal()
}

func (c *PeerCapture) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// WaitFor waits until at least n test frames were kept since the last
// Reset and returns all of them; with ctx's end or the reader's, it
// returns what it has and an error saying how many of n came.
func (c *PeerCapture) WaitFor(ctx context.Context, n int) ([][]byte, error) {
	for {
		c.mu.Lock()
		got, ended := append([][]byte(nil), c.frames...), c.err
		c.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		if ended != nil {
			return got, fmt.Errorf("%d of %d frames on the wire, then the peer stopped: %w", len(got), n, ended)
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return got, fmt.Errorf("%d of %d frames on the wire: %w", len(got), n, ctx.Err())
		}
	}
}

// Reset forgets the kept frames (not the ignored count).
func (c *PeerCapture) Reset() {
	c.mu.Lock()
	c.frames = nil
	c.mu.Unlock()
}

// Ignored is the number of frames that were not this run's test frames.
func (c *PeerCapture) Ignored() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ignored
}
