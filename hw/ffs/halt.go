package ffs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

var (
	// ErrNoEndpoint: Halt named an endpoint the function does not have.
	ErrNoEndpoint = errors.New("ffs: no such endpoint")
	// ErrHaltOut: Halt was asked for an OUT endpoint, which the bridge
	// cannot halt on command (see Halt).
	ErrHaltOut = errors.New("ffs: an OUT endpoint cannot be halted on command")
)

// Halt stalls the function's IN endpoint addr (the model's address) as the
// host sees it: every transfer the host makes there ends in a STALL
// handshake until it clears the halt (CLEAR_FEATURE(ENDPOINT_HALT), which
// the UDC answers itself: dummy_hcd clears its own halted flag). It is a
// fault injected from outside the model; the model never learns of it.
//
// FunctionFS halts an endpoint when its file is used against its direction
// (f_fs.c ffs_epfile_io): a read of an IN file, a write of an OUT one, each
// returning EBADMSG once the halt is set. The call takes the endpoint
// file's mutex first. For an IN endpoint that is free while the model has
// nothing to send (the bridge then waits in the model, not in the file); a
// packet being written completes first. An OUT endpoint's file is held by
// the bridge's read for the host's next packet, so a halt would land only
// after that packet was accepted: too late to be the fault asked for, and
// refused with ErrHaltOut.
func (b *Bridge) Halt(addr uint8) error {
	for k, e := range b.eps {
		if e.Addr != addr {
			continue
		}
		if !e.In() {
			return fmt.Errorf("%w: %#02x", ErrHaltOut, addr)
		}
		if k >= len(b.files) {
			return fmt.Errorf("ffs: halt %#02x: %w", addr, ErrNoEndpoint)
		}
		_, err := b.files[k].Read(nil)
		if errors.Is(err, unix.EBADMSG) {
			return nil // the halt is set
		}
		if err == nil {
			return fmt.Errorf("ffs: halt %#02x: the endpoint file read without halting", addr)
		}
		return fmt.Errorf("ffs: halt %#02x: %w", addr, err)
	}
	return fmt.Errorf("ffs: halt %#02x: %w", addr, ErrNoEndpoint)
}
