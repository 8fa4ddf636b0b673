// Package soak is dongle's traffic engine for long runs: it drives frames
// both ways through the driver under test and a device model's wire for a
// duration or a frame count, injects USB faults at a set rate, checks that
// the driver recovers from each, and accounts for every frame.
//
//	         Xmit ─► netdev ─► usbnet + minidriver ─► model ─► wire ─► port (counts TX)
//	handler (counts RX) ◄─ netdev ◄─ usbnet ◄──────── model ◄─ wire ◄─ Send (offers RX)
//
// # Accounting
//
// TX: every frame offered to Xmit ends in exactly one of the driver's
// tx_packets, tx_dropped, tx_errors (they count frames), and every frame
// counted in tx_packets reaches the wire. RX: every frame the peer put on
// the wire is delivered to soak's handler or counted in rx_dropped; a
// frame that is neither may be one the driver counted in rx_errors, but
// rx_errors counts failed bulk IN transfers, which may have held a frame
// or none (a stalled transfer waiting for data), so it only ever excuses
// a missing frame outside a fault.
//
// The run is quiesced (nothing offered until everything in flight is
// accounted for, or nothing moved for Settle) before and after every
// fault, and at the end, and the books are checked over the stretch since
// the last quiesce: a frame missing right after a fault is lost to that
// fault (counted per kind; more than Window at once fails the run), a
// frame missing anywhere else is unaccounted (ErrLost), and a count above
// what was offered (or a frame on the wire that tx_packets does not count,
// a delivered frame that rx_packets does not) is a counter that does not
// add up (ErrCounters). Frames are checked too: each carries its direction
// and a sequence number; a corrupted or duplicated frame fails the run
// (ErrFrame), and so does one arriving after later ones, except during a
// fault's recovery, where it is counted to the fault (a transfer
// resubmitted after a timeout goes after those submitted meanwhile).
//
// # Faults
//
// Each kind (stall, timeout, unplug, short) is injected in turn at Rate
// per second, where the backend allows it (Rig.Faults), and the driver has
// RecoverWithin to recover: stall and timeout alternate between the bulk
// IN and OUT endpoints and are recovered when the halt is cleared (the
// timeout counted) and frames flow again both ways; unplug is recovered
// when the driver saw the device go, was disconnected, and a fresh device
// (as a replug makes) is bound and passes frames both ways; short arms a
// short answer to the next control IN and rebinds the driver (unbind,
// bind): the bind may fail on it with an error, a second bind must
// succeed and pass frames.
//
// # Resources
//
// The USB trace is kept in a record.Ring of TraceBytes (written out only
// on failure), the per-frame path allocates nothing in steady state
// (Summary.AllocsPerFrame measures it between faults), and the run ends
// with the skbuff and goroutine checks the specs make after every spec.
package soak
