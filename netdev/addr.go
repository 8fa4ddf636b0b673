package netdev

import (
	"bytes"
	"fmt"
	"net"
	"slices"
)

// HardwareAddr returns a copy of the device's hardware address (dev_addr).
func (d *Device) HardwareAddr() net.HardwareAddr {
	if p := d.addr.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// SetHardwareAddr stores the hardware address as the driver read it from
// the hardware (eth_hw_addr_set); it does not call the driver. Users change
// the address with ChangeHardwareAddr.
func (d *Device) SetHardwareAddr(a net.HardwareAddr) {
	c := slices.Clone(a)
	d.addr.Store(&c)
}

// ChangeHardwareAddr asks the driver to program a (ndo_set_mac_address)
// and stores it on success (dev_set_mac_address). The address must have the
// current address's length and, for Ethernet, be unicast.
func (d *Device) ChangeHardwareAddr(a net.HardwareAddr) error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	op := fmt.Sprintf("set address %v", a)
	if cur := d.addr.Load(); cur != nil && len(*cur) != len(a) {
		return d.errorf(op, fmt.Errorf("%w: length %d, want %d", ErrBadAddress, len(a), len(*cur)))
	}
	if len(a) == 6 && a[0]&1 != 0 {
		return d.errorf(op, fmt.Errorf("%w: multicast address", ErrBadAddress))
	}
	if err := d.ops.SetMACAddress(d, a); err != nil {
		return d.errorf(op, err)
	}
	d.SetHardwareAddr(a)
	return nil
}

// BroadcastAddr returns the link broadcast address, or nil if the link has
// none (a point-to-point link).
func (d *Device) BroadcastAddr() net.HardwareAddr {
	if p := d.bcast.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// SetBroadcastAddr gives the link a broadcast address and sets
// FlagBroadcast; nil removes both. On a point-to-point link this is the
// article's "it can be enabled if needed".
func (d *Device) SetBroadcastAddr(a net.HardwareAddr) {
	if a == nil {
		d.bcast.Store(nil)
		d.setFlags(0, FlagBroadcast)
		return
	}
	c := slices.Clone(a)
	d.bcast.Store(&c)
	d.setFlags(FlagBroadcast, 0)
}

// DestAddr returns the remote end's address of a point-to-point link
// (the point-to-point destination), or nil.
func (d *Device) DestAddr() net.HardwareAddr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.dest)
}

// SetDestAddr stores the remote end's address of a point-to-point link.
func (d *Device) SetDestAddr(a net.HardwareAddr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dest = slices.Clone(a)
}

// MTU is the device's MTU.
func (d *Device) MTU() int { return int(d.mtu.Load()) }

// SetMTU changes the MTU (dev_set_mtu): it must lie in [MinMTU, MaxMTU]
// and the driver's ChangeMTU must accept it.
func (d *Device) SetMTU(mtu int) error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	op := fmt.Sprintf("set mtu %d", mtu)
	if mtu < d.MinMTU || (d.MaxMTU > 0 && mtu > d.MaxMTU) || mtu <= 0 {
		return d.errorf(op, fmt.Errorf("%w: allowed %d..%d", ErrMTURange, d.MinMTU, d.MaxMTU))
	}
	if err := d.ops.ChangeMTU(d, mtu); err != nil {
		return d.errorf(op, err)
	}
	d.mtu.Store(int64(mtu))
	return nil
}

type mcEntry struct {
	addr  net.HardwareAddr
	users int
}

// MulticastList returns a copy of the multicast addresses the device
// listens to (dev->mc_list), in the order they were added.
func (d *Device) MulticastList() []net.HardwareAddr {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]net.HardwareAddr, len(d.mc))
	for i, e := range d.mc {
		out[i] = slices.Clone(e.addr)
	}
	return out
}

// AddMulticast adds a to the multicast list (dev_mc_add); adding an
// address already there takes another reference. A changed list is pushed
// to the driver's SetMulticastList when the device is up.
func (d *Device) AddMulticast(a net.HardwareAddr) error {
	if len(a) == 0 || a[0]&1 == 0 {
		return d.errorf(fmt.Sprintf("add multicast %v", a), ErrNotMulticast)
	}
	d.mu.Lock()
	for i := range d.mc {
		if bytes.Equal(d.mc[i].addr, a) {
			d.mc[i].users++
			d.mu.Unlock()
			return nil
		}
	}
	d.mc = append(d.mc, mcEntry{addr: slices.Clone(a), users: 1})
	d.mu.Unlock()
	d.syncRxMode()
	return nil
}

// DelMulticast drops one reference to a (dev_mc_del); the address leaves
// the list with its last reference.
func (d *Device) DelMulticast(a net.HardwareAddr) error {
	d.mu.Lock()
	for i := range d.mc {
		if bytes.Equal(d.mc[i].addr, a) {
			d.mc[i].users--
			if d.mc[i].users > 0 {
				d.mu.Unlock()
				return nil
			}
			d.mc = slices.Delete(d.mc, i, i+1)
			d.mu.Unlock()
			d.syncRxMode()
			return nil
		}
	}
	d.mu.Unlock()
	return d.errorf(fmt.Sprintf("del multicast %v", a), ErrNoSuchMulticast)
}

// SetPromisc adds delta to the promiscuity count (dev_set_promiscuity):
// FlagPromisc is shown while it is above zero, and each 0↔1 transition
// pushes the filter to the driver. Taking the count below zero is a
// programming error and panics.
func (d *Device) SetPromisc(delta int) {
	d.mu.Lock()
	n := d.promisc + delta
	if n < 0 {
		name := d.name
		d.mu.Unlock()
		panic(fmt.Sprintf("netdev %s: SetPromisc(%d): promiscuity %d would go negative", name, delta, n-delta))
	}
	d.promisc = n
	d.mu.Unlock()
	if d.recomputeRxFlags() {
		d.syncRxMode()
	}
}

// SetAllMulti adds delta to the all-multicast count (dev_set_allmulti).
// On a device with CapNoAllMulti a non-zero count also makes it
// promiscuous: the article's "an interface that cannot perform this
// operation but can receive all packets will go into promiscuous mode".
func (d *Device) SetAllMulti(delta int) {
	d.mu.Lock()
	n := d.allmulti + delta
	if n < 0 {
		name := d.name
		d.mu.Unlock()
		panic(fmt.Sprintf("netdev %s: SetAllMulti(%d): allmulti count %d would go negative", name, delta, n-delta))
	}
	d.allmulti = n
	d.mu.Unlock()
	if d.recomputeRxFlags() {
		d.syncRxMode()
	}
}

// Promiscuity returns the promiscuity and all-multicast reference counts.
func (d *Device) Promiscuity() (promisc, allmulti int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.promisc, d.allmulti
}

// recomputeRxFlags derives FlagPromisc/FlagAllMulti from the counts and
// capabilities and reports whether either changed.
func (d *Device) recomputeRxFlags() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	var set Flags
	if d.allmulti > 0 {
		set |= FlagAllMulti
	}
	if d.promisc > 0 || d.Caps&CapAlwaysPromisc != 0 || (d.allmulti > 0 && d.Caps&CapNoAllMulti != 0) {
		set |= FlagPromisc
	}
	old := d.setFlags(set, (FlagPromisc|FlagAllMulti)&^set)
	return old&(FlagPromisc|FlagAllMulti) != set
}

// syncRxMode calls the driver's SetMulticastList if the device is up
// (dev_set_rx_mode). Calls are serialised.
func (d *Device) syncRxMode() {
	if !d.up() {
		return
	}
	d.rxModeMu.Lock()
	defer d.rxModeMu.Unlock()
	d.ops.SetMulticastList(d)
}
