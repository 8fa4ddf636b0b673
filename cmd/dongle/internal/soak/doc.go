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
// tx_packets, tx_dropped, tx_errors; every frame counted in tx_packets
// reaches the wire. RX: every frame the peer put on the wire ends in the
// handler (delivered) or in the driver's rx_dropped or rx_errors. The run
// is quiesced (nothing offered until everything in flight is accounted
// for, or nothing moved for Settle) before and after every fault, and at
// the end: a frame missing at a quiesce right after a fault is lost to
// that fault (counted per kind, bounded by what can be in flight); a frame
// missing at any other quiesce is unaccounted, and a counter that exceeds
// what was offered is a counter that does not add up. Either fails the
// run. Frames are checked too: each carries its direction and a sequence
// number; a corrupted, duplicated or reordered frame fails the run.
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
