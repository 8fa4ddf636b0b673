package usbip

import (
	"errors"
	"fmt"
)

// ErrBadFault: FailNext was given a status that is not a negative errno,
// or a count below 1.
var ErrBadFault = errors.New("usbip: a fault needs a negative errno status and a count of at least 1")

// fault is what FailNext asked for one endpoint.
type fault struct {
	status int32 // negative errno
	left   int   // URBs still to fail
}

// FailNext makes the next n URBs of endpoint ep complete with status (a
// negative errno: -71 EPROTO, -84 EILSEQ, -110 ETIMEDOUT, -32 EPIPE ...)
// instead of their own, as a flaky cable or a failing chip does: vhci_hcd
// gives the status to the class driver as the URB's. For a bulk or
// interrupt endpoint (ep with its direction bit) it is the next n
// completions: the transfer happened at the device (an IN transfer's data
// is lost, an OUT transfer's reached the device) and the host is told it
// failed. For ep 0 it is the next n vendor control requests (standard
// ones, enumeration's, are left alone), answered at once without reaching
// the device. A faulted URB is not told to the Recorder: the device did
// not complete it so. A new FailNext for ep replaces the one before.
func (s *Server) FailNext(ep uint8, status int32, n int) error {
	if status >= 0 || status < -4095 || n < 1 {
		return fmt.Errorf("%w: status %d, count %d", ErrBadFault, status, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[uint8]*fault{}
	}
	s.faults[ep] = &fault{status: status, left: n}
	return nil
}

// takeFault is the status the next URB of ep completes with: 0 for its
// own, else a FailNext status (one of its count used up). Called with mu
// held.
func (s *Server) takeFault(ep uint8) int32 {
	f := s.faults[ep]
	if f == nil {
		return 0
	}
	if f.left--; f.left <= 0 {
		delete(s.faults, ep)
	}
	s.Stats.Faults.Add(1)
	return f.status
}
