package ffs

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

var (
	// ErrNoEndpoint: Halt named an endpoint the function does not have.
	ErrNoEndpoint = errors.New("ffs: no such endpoint")
	// ErrHaltOut: Halt was asked for an OUT endpoint, which the bridge
	// cannot halt on command (see Halt).
	ErrHaltOut = errors.New("ffs: an OUT endpoint cannot be halted on command")
)

// Halt stalls the function's IN endpoint addr as the host sees it. addr is
// the host's address for it (the UDC may number the endpoints its own way:
// dummy_hcd gives the model's 0x82 as 0x86) or the model's: every transfer the host makes there ends in a STALL
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
	k := b.endpointIndex(addr)
	if k < 0 || k >= len(b.files) {
		return fmt.Errorf("ffs: halt %#02x: %w", addr, ErrNoEndpoint)
	}
	if !b.eps[k].In() {
		return fmt.Errorf("%w: %#02x", ErrHaltOut, addr)
	}
	_, err := b.files[k].Read(nil)
	switch {
	case errors.Is(err, unix.EBADMSG):
		return nil // the halt is set
	case err == nil:
		return fmt.Errorf("ffs: halt %#02x: the endpoint file read without halting", addr)
	}
	return fmt.Errorf("ffs: halt %#02x: %w", addr, err)
}

// endpointIndex is the index in b.eps of the endpoint the host calls addr,
// else of the one the model calls addr (-1: none). The host's address wins:
// it is what a driver names.
func (b *Bridge) endpointIndex(addr uint8) int {
	for k := range b.eps {
		if b.hostAddr(k) == addr {
			return k
		}
	}
	return slices.IndexFunc(b.eps, func(e Endpoint) bool { return e.Addr == addr })
}

// hostAddr is the address the UDC gave endpoint file k, 0 when it cannot
// tell.
func (b *Bridge) hostAddr(k int) uint8 {
	if k >= len(b.files) {
		return 0
	}
	if ha, ok := b.files[k].(HostAddresser); ok {
		if a, err := ha.HostAddress(); err == nil {
			return a
		}
	}
	return 0
}
