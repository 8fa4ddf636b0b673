package sim

import (
	"fmt"

	"dongle/hw"
)

// Fault injection. Every fault is logged (Device.Log) and counted (Stats).

// Stall halts ep: transfers in flight and every later one complete with
// ErrStall until ClearHalt (or CLEAR_FEATURE(ENDPOINT_HALT)). Stall(0)
// stalls the next control request instead.
func (d *Device) Stall(ep uint8) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ep&0x7f == 0 {
		d.stallCtrl++
		d.logf("fault: stall next control request")
		return
	}
	if e := d.eps[epIndex(ep)]; e != nil && e.addr == ep {
		e.haltLocked()
		d.logf("fault: stall %#02x", ep)
	}
}

// Unplug removes the device: every transfer in flight completes with
// ErrNoDevice, and every later call fails with ErrNoDevice, except Release,
// Endpoint.Close, Wait (which returns what already completed) and Close, so
// that a driver can clean up as it would after a libusb disconnect.
func (d *Device) Unplug() {
	d.mu.Lock()
	if d.gone {
		d.mu.Unlock()
		return
	}
	d.gone = true
	for _, e := range d.eps {
		if e != nil {
			e.completeAllLocked(hw.ErrNoDevice)
		}
	}
	d.logf("fault: unplugged")
	detach := !d.detached
	d.detached = true
	d.mu.Unlock()
	if h, ok := d.model.(Detacher); ok && detach {
		h.Detach()
	}
}

// Unplugged reports whether Unplug was called.
func (d *Device) Unplugged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gone
}

// TimeoutNext makes the next n transfers to complete on ep fail with
// ErrTimeout and N 0 (those already waiting first, then new submissions).
// ep 0 makes the next n control requests time out.
func (d *Device) TimeoutNext(ep uint8, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ep&0x7f == 0 {
		d.ctrlTimeouts += n
		d.logf("fault: time out next %d control requests", n)
		return
	}
	e := d.eps[epIndex(ep)]
	if e == nil || e.addr != ep {
		return
	}
	e.timeouts += n
	for e.timeouts > 0 && e.ndone < e.count && d.fake == nil {
		e.timeouts--
		e.completeNextLocked(hw.ErrTimeout)
	}
	d.logf("fault: time out next %d transfers on %#02x", n, ep)
}

// ShortControl makes the next control IN request return at most n bytes
// (with no error, as a device that answers short does).
func (d *Device) ShortControl(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n < 0 {
		n = 0
	}
	d.shortCtrl = n
	d.logf("fault: next control IN returns at most %d bytes", n)
}

// CorruptDescriptors lets f edit every configuration descriptor set in
// place (index order) as the host will read it. The device keeps behaving
// as its model says: only what the host reads (GET_DESCRIPTOR, and
// Endpoint.Desc where the edited set still parses) changes.
func (d *Device) CorruptDescriptors(f func(cfg []byte)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.configs {
		f(d.configs[i])
		d.reparseLocked(i)
	}
	d.logf("fault: configuration descriptors corrupted")
}

// ReplaceConfig replaces configuration descriptor set index (what the host
// reads) with b, for edits that change its length (a removed descriptor).
func (d *Device) ReplaceConfig(index int, b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if index < 0 || index >= len(d.configs) {
		panic(fmt.Sprintf("sim: ReplaceConfig(%d) on a device with %d configurations", index, len(d.configs)))
	}
	d.configs[index] = append([]byte(nil), b...)
	d.reparseLocked(index)
	d.logf("fault: configuration %d replaced", index)
}

// CorruptDeviceDescriptor lets f edit the device descriptor in place.
func (d *Device) CorruptDeviceDescriptor(f func(dev []byte)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.devDesc)
	d.logf("fault: device descriptor corrupted")
}

// SetString replaces (or, with an empty s and del, removes) string index as
// the host reads it.
func (d *Device) SetString(index uint8, s string, del bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[uint8]string, len(d.strings)+1)
	for k, v := range d.strings {
		m[k] = v
	}
	if del {
		delete(m, index)
	} else {
		m[index] = s
	}
	d.strings = m
	d.logf("fault: string %d changed", index)
}

func (d *Device) reparseLocked(i int) {
	p, err := hw.ParseConfig(append([]byte(nil), d.configs[i]...))
	if err != nil {
		p = nil
	}
	d.served[i] = p
	d.refreshActiveLocked()
}
