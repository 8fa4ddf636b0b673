package netdev

// CarrierOn reports the link up (netif_carrier_on), runs the transmit
// queue and, if the carrier was off, tells the carrier watchers.
func (d *Device) CarrierOn() {
	if !d.carrier.Swap(true) {
		d.run()
		d.carrierChanged(true)
	}
}

// CarrierOff reports the link down (netif_carrier_off). As Linux
// deactivates the qdisc, queued frames are freed (tx_dropped) and Xmit
// drops until CarrierOn. Receiving is not affected. If the carrier was on,
// the carrier watchers are told.
func (d *Device) CarrierOff() {
	d.tx.mu.Lock()
	was := d.carrier.Swap(false)
	d.tx.purgeLocked(d)
	d.tx.mu.Unlock()
	if was {
		d.carrierChanged(false)
	}
}

// Carrier reports the link state (netif_carrier_ok). A new device has
// carrier until its driver says otherwise.
func (d *Device) Carrier() bool { return d.carrier.Load() }

// SetSpeed records the link speed in Mbit/s (0: unknown).
func (d *Device) SetSpeed(mbps int) { d.speed.Store(int64(mbps)) }

// Speed is the link speed in Mbit/s, 0 if unknown.
func (d *Device) Speed() int { return int(d.speed.Load()) }
