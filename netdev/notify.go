package netdev

type carrierWatcher struct {
	fn func(up bool)
}

// AddCarrierWatcher has fn called with the new state each time the
// carrier changes (a NETDEV_CHANGE notifier limited to the carrier): what
// follows the link, as a TAP bridge's own carrier does. fn runs on the
// goroutine that called CarrierOn or CarrierOff, after the change, with
// no netdev lock held; it must not block for long (the driver's link
// path waits for it). It returns a function that removes the watcher.
func (d *Device) AddCarrierWatcher(fn func(up bool)) (remove func()) {
	if fn == nil {
		panic("netdev: AddCarrierWatcher with a nil function")
	}
	e := &carrierWatcher{fn: fn}
	d.hmu.Lock()
	defer d.hmu.Unlock()
	d.watchers.Store(appendCOW(d.watchers.Load(), e))
	return func() {
		d.hmu.Lock()
		defer d.hmu.Unlock()
		d.watchers.Store(removeCOW(d.watchers.Load(), e))
	}
}

func (d *Device) carrierChanged(up bool) {
	if p := d.watchers.Load(); p != nil {
		for _, w := range *p {
			w.fn(up)
		}
	}
}
