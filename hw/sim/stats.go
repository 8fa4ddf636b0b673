package sim

// EndpointStats are the engine's counters for one endpoint, as the bus saw
// them. Host-side counts (Submitted, Completed, Bytes, and the error counts)
// are per host transfer; Packets, ZLPs and ShortPackets are per USB packet.
type EndpointStats struct {
	Submitted uint64 // host transfers submitted
	Completed uint64 // host transfers completed (any status)
	Bytes     uint64 // bytes moved by completed host transfers

	Packets      uint64 // USB packets moved (ZLPs included)
	ZLPs         uint64 // zero-length packets moved
	ShortPackets uint64 // non-zero packets shorter than wMaxPacketSize

	Writes    uint64 // IN: device writes accepted (SendIn)
	InDropped uint64 // IN: device writes dropped (FIFO full, endpoint inactive)

	OutDelivered uint64 // OUT: device-side transfers ended (given to Model.Out, or to StreamOut with end set)
	Unterminated uint64 // OUT: host transfers that ended on a packet boundary with no ZLP (held at the device; a streamer is given them at once)
	Merged       uint64 // OUT: host transfers glued onto held data because the previous one had no terminator (for a streamer: onto bytes it left)
	OutOverruns  uint64 // OUT: held data discarded past MaxOutAssembly

	Stalls        uint64 // transfers completed with ErrStall
	StallsCleared uint64 // halts cleared (ClearHalt or CLEAR_FEATURE)
	Timeouts      uint64 // transfers completed with ErrTimeout
	Cancelled     uint64 // transfers completed with ErrCancelled
	Overflows     uint64 // transfers completed with ErrOverflow (babble)
	NoDevice      uint64 // transfers completed with ErrNoDevice

	// Reaps counts the Wait and WaitBatch calls that returned transfers.
	// LeftDone counts those that returned with a completed transfer still
	// at the head of the queue, because out was full: a caller that gives
	// WaitBatch room for everything it has in flight (usbnet does) never
	// sees one, unless something between it and the device shrinks out
	// (a wrapper reaping one at a time hides batching).
	Reaps    uint64
	LeftDone uint64
}

// ControlStats counts endpoint 0 traffic.
type ControlStats struct {
	Requests  uint64 // control requests received
	Stalls    uint64 // requests stalled (by the engine or the model)
	Timeouts  uint64 // requests failed by TimeoutNext(0, n)
	Shortened uint64 // IN requests cut by ShortControl
}

// Stats returns ep's counters (zero for an unknown endpoint).
func (d *Device) Stats(ep uint8) EndpointStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.eps[epIndex(ep)]; e != nil && e.addr == ep {
		return e.stats
	}
	return EndpointStats{}
}

// ControlStats returns endpoint 0's counters.
func (d *Device) ControlStats() ControlStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctrl
}
