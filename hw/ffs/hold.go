package ffs

import (
	"errors"
	"fmt"
)

// ErrHoldIn: HoldOut was asked for an IN endpoint; only the bridge's reads
// of an OUT endpoint can be held.
var ErrHoldIn = errors.New("ffs: an IN endpoint cannot be held")

// HoldOut stops (hold true) or resumes (false) the bridge's reads of the
// OUT endpoint addr (the host's address for it, or the model's, as for
// Halt): a device that stops taking data, as a chip whose TX FIFO never
// drains does. While held the bridge queues no FunctionFS read request on
// the endpoint, so the UDC accepts nothing there: the host's OUT transfers
// stay pending (NAKed) until it gives up on them (usbnet's TX watchdog
// unlinks them after 5 s) or the hold ends. The read request already
// queued when the hold starts is not withdrawn (f_fs would drop what it
// holds): it still takes one more packet, after which the bridge waits.
// Holding a held endpoint, or releasing a free one, does nothing.
func (b *Bridge) HoldOut(addr uint8, hold bool) error {
	k := b.endpointIndex(addr)
	if k < 0 || k >= len(b.files) {
		return fmt.Errorf("ffs: hold %#02x: %w", addr, ErrNoEndpoint)
	}
	if b.eps[k].In() {
		return fmt.Errorf("%w: %#02x", ErrHoldIn, addr)
	}
	b.holdMu.Lock()
	defer b.holdMu.Unlock()
	h, held := b.holds[k]
	switch {
	case hold && !held:
		if b.holds == nil {
			b.holds = map[int]chan struct{}{}
		}
		b.holds[k] = make(chan struct{})
	case !hold && held:
		close(h)
		delete(b.holds, k)
	}
	return nil
}

// held is the channel that closes when epK's hold ends, nil if it is not
// held.
func (b *Bridge) held(k int) chan struct{} {
	b.holdMu.Lock()
	defer b.holdMu.Unlock()
	return b.holds[k]
}
