// Package netdevtest provides a scriptable fake network driver for tests of
// netdev and of code built on it.
package netdevtest

import (
	"net"
	"sync"

	"dongle/netdev"
	"dongle/skbuff"
)

// Driver is a fake netdev.Ops that records what the core asks of it.
//
// Transmit: while Busy is set HardStartXmit answers XmitBusy (calling
// StopQueue as a real driver sets tbusy). Otherwise it accepts the buffer:
// with Hold set it keeps it on Held (its own chain through the buffer's
// next/prev links) until Complete frees it, else it frees it at once with
// FreeWrite. Every offered frame's first byte and priority is recorded.
type Driver struct {
	netdev.BaseOps

	mu sync.Mutex
	// InitErr, OpenErr, StopErr, MTUErr, MACErr are returned by the
	// corresponding methods.
	InitErr, OpenErr, StopErr, MTUErr, MACErr error
	// Busy makes HardStartXmit refuse.
	Busy bool
	// Hold keeps accepted buffers on Held until Complete.
	Hold bool
	// DropAll makes HardStartXmit free every buffer and answer XmitOK
	// (the article's congested driver), counting tx_dropped.
	DropAll bool
	// OnXmit, if set, runs inside HardStartXmit before the answer (which
	// follows Busy, Hold and DropAll as they are after it returns). It runs
	// without the driver's lock: it may set those fields directly.
	OnXmit func(b *skbuff.Buff, d *netdev.Device)

	Held skbuff.Queue

	Inits, Opens, Stops, MulticastCalls int
	Offers                              int          // HardStartXmit calls
	Accepted                            int          // XmitOK answers
	Sent                                []byte       // first data byte of each accepted frame
	LastFlags                           netdev.Flags // flags seen by the last SetMulticastList
	LastMulticast                       []net.HardwareAddr
}

var _ netdev.Ops = (*Driver)(nil)

func (f *Driver) Init(*netdev.Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Inits++
	return f.InitErr
}

func (f *Driver) Open(*netdev.Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Opens++
	return f.OpenErr
}

func (f *Driver) Stop(*netdev.Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Stops++
	return f.StopErr
}

func (f *Driver) ChangeMTU(*netdev.Device, int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.MTUErr
}

func (f *Driver) SetMACAddress(*netdev.Device, net.HardwareAddr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.MACErr
}

func (f *Driver) SetMulticastList(d *netdev.Device) {
	fl, mc := d.Flags(), d.MulticastList()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.MulticastCalls++
	f.LastFlags = fl
	f.LastMulticast = mc
}

func (f *Driver) HardStartXmit(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult {
	f.mu.Lock()
	f.Offers++
	hook := f.OnXmit
	f.mu.Unlock()
	if hook != nil {
		hook(b, d)
	}
	f.mu.Lock()
	busy, hold, drop := f.Busy, f.Hold, f.DropAll
	f.mu.Unlock()
	if busy {
		d.StopQueue()
		return netdev.XmitBusy
	}
	data := b.Data()
	f.mu.Lock()
	f.Accepted++
	if len(data) > 0 {
		f.Sent = append(f.Sent, data[0])
	}
	f.mu.Unlock()
	switch {
	case drop:
		d.Stats().TxDropped.Add(1)
		b.Free(skbuff.FreeWrite)
	case hold:
		f.mu.Lock()
		f.Held.QueueTail(b)
		f.mu.Unlock()
	default:
		d.Stats().TxBytes.Add(uint64(b.Len()))
		d.Stats().TxPackets.Add(1)
		b.Free(skbuff.FreeWrite)
	}
	return netdev.XmitOK
}

// Complete frees every held buffer, as a transmit-complete interrupt would,
// and returns how many.
func (f *Driver) Complete(d *netdev.Device) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.Held.Len()
	for b := f.Held.Dequeue(); b != nil; b = f.Held.Dequeue() {
		d.Stats().TxBytes.Add(uint64(b.Len()))
		d.Stats().TxPackets.Add(1)
		b.Free(skbuff.FreeWrite)
	}
	return n
}

// SetBusy sets Busy under the driver's lock.
func (f *Driver) SetBusy(v bool) { f.mu.Lock(); f.Busy = v; f.mu.Unlock() }

// Snapshot returns the counters and the sent bytes under the lock.
func (f *Driver) Snapshot() (offers, accepted int, sent []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Offers, f.Accepted, append([]byte(nil), f.Sent...)
}

// Calls returns Inits, Opens, Stops and MulticastCalls under the lock.
func (f *Driver) Calls() (inits, opens, stops, multicast int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Inits, f.Opens, f.Stops, f.MulticastCalls
}

// Filter returns the flags and multicast list the last SetMulticastList saw.
func (f *Driver) Filter() (netdev.Flags, []net.HardwareAddr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.LastFlags, f.LastMulticast
}
