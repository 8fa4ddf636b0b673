// Package hw is the one seam between dongle's drivers and a USB device.
//
// Every backend (the real libusb backend in hw/gousb, the trace replayers in
// hw/replay, the device models in hw/sim, and the same gousb backend inside
// the virtual lab) implements Device and Endpoint. The seam is deliberately
// as thin as gousb's libusb.go: it moves bytes and reports status, and holds
// no policy. Retrying, clearing halts, ZLP decisions and framing all live in
// usbnet and its minidrivers, so that every backend is exercised by exactly
// the same driver code.
//
// # Ownership
//
// Ownership is visible and nested, as in gousb:
//
//	Device ──Claim──► interface number ──OpenEndpoint──► Endpoint ──Submit──► *Transfer
//	  Close            Release                          Close                Wait
//
// Closing an owner while something it owns is still open or in flight is a
// programming error reported as ErrBusy (Device.Close with a claimed
// interface, Endpoint.Close with transfers in flight): nothing is torn down
// behind a driver's back.
//
// # Transfers
//
// A Transfer is an URB: the caller owns Buf, hands it to the backend with
// Submit, and gets it back from Wait in submission order. Several transfers
// may be in flight per endpoint. Transfer boundaries are kept: one completed
// IN transfer is exactly what the device sent up to a short packet (or a
// full Buf), so framing parsers can see where each transfer ended.
//
// # Reaping in batches
//
// WaitBatch is part of Endpoint, not an optional interface found by type
// assertion: every backend can reap a run of completed transfers under one
// lock as cheaply as one (each already keeps its transfers in a
// submission-order queue), and a capability every Endpoint has cannot be
// hidden by a wrapper (hw/record, a test's fault injector, ...) that
// forgets to forward it. usbnet reaps with WaitBatch only, so the suite, the
// CLI and the lab bench all run the one reaping path that ships. A run of
// completions costs one lock and one pass over the queue, not one per
// transfer, and a waiting caller (Wait's) one wake-up: under QEMU's TCG a
// wake-up costs more than a frame's bookkeeping. Wait is WaitBatch of one; a backend implements both with one
// queue walk, and a wrapper that looks at completions (hw/record) handles
// both, each transfer logged the same way whichever returned it. A wrapper
// that must reap one at a time on purpose (dongleblast's -nobatch, for
// measurement) passes out[:1] on, which is still a correct WaitBatch.
//
// # Waking the reaper
//
// A caller with several endpoints (usbnet's bottom half) need not park a
// goroutine in WaitBatch per endpoint, each handing what it reaped to the
// one goroutine that does the work: Notify calls the caller back when a
// transfer completes (at least once a batch), on the thread that completed
// it, and the caller's
// one goroutine then polls every endpoint (WaitBatch with a done ctx). A
// completion then costs one wake-up on its way to the work, not two:
//
//	completion ──fn──► reaper's kick ──► reaper: WaitBatch(done ctx) on each endpoint
//
// Notify is part of Endpoint for the reason WaitBatch is: a wrapper embeds
// the endpoint it wraps and forwards it, and one that holds completions
// back (a test's gate) holds back the call with them. fn is a wake-up and
// nothing more: the transfers themselves still come from WaitBatch, in
// submission order, through every wrapper that logs them (hw/record).
//
// # Errors
//
// Transfer and request failures are reported as *Error values that wrap one
// of the Errno sentinels (ErrStall, ErrNoDevice, ...), so errors.Is works on
// every backend, and that name the object (device, endpoint, request) that
// failed.
package hw
