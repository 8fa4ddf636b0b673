// Package usbmontest is a fake usbmon.Source: the events of a live capture
// made from records, for testing code that captures (usbmon.Capture, the
// dongle record --usbmon command) without root, the usbmon module or a bus.
package usbmontest

import (
	"context"
	"sync"

	"dongle/hw/usbmon"
)

// Source hands out its events in order, then blocks until ctx is done,
// like a quiet bus. Events are raw: usbmon.Encode of a record, or any bytes
// (to feed damaged events).
type Source struct {
	mu      sync.Mutex
	events  [][]byte
	next    int
	dropped uint64
	err     error // returned by Next once the events are used up (nil: block)
	closed  bool
	// Waiting is closed the first time Next blocks with no events left.
	Waiting chan struct{}
	waitOne sync.Once
}

var _ usbmon.Source = (*Source)(nil)

// New returns a source of recs (each encoded as the kernel's 64-byte header
// and data) whose kernel dropped dropped events.
func New(recs []usbmon.Record, dropped uint64) *Source {
	s := &Source{dropped: dropped, Waiting: make(chan struct{})}
	for i := range recs {
		s.events = append(s.events, usbmon.Encode(&recs[i]))
	}
	return s
}

// NewRaw returns a source of raw events.
func NewRaw(events [][]byte, dropped uint64) *Source {
	return &Source{events: events, dropped: dropped, Waiting: make(chan struct{})}
}

// FailAfter makes Next return err (instead of blocking) once the events are
// used up, like a node whose bus went away.
func (s *Source) FailAfter(err error) *Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	return s
}

// Next implements usbmon.Source.
func (s *Source) Next(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.next < len(s.events) {
		ev := s.events[s.next]
		s.next++
		s.mu.Unlock()
		return ev, nil
	}
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.waitOne.Do(func() { close(s.Waiting) })
	<-ctx.Done()
	return nil, ctx.Err()
}

// Dropped implements usbmon.Source.
func (s *Source) Dropped() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped, nil
}

// Close implements usbmon.Source.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Closed reports whether Close was called.
func (s *Source) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
