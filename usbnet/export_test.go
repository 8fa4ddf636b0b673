package usbnet

// StopTxQueue stops the netdev queue as the framework does when it runs
// out of TX slots (txStopped: it owes the queue a wake), so that a spec can
// have a slot given back under the aggregation lock while a frame waits
// in netdev's queue: the wake must then run HardStartXmit outside the lock.
func (d *Dev) StopTxQueue() {
	d.mu.Lock()
	d.txStopped = true
	d.Net.StopQueue()
	d.mu.Unlock()
}

// DoneRoom is how many completions the open device's done queue holds
// without growing: every transfer the device owns.
func (d *Dev) DoneRoom() int {
	d.done.mu.Lock()
	defer d.done.mu.Unlock()
	return cap(d.done.q)
}
