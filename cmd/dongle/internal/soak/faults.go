package soak

import (
	"fmt"
	"time"

	"dongle/usbnet"
)

// fault injects one fault of kind k under traffic and waits for the
// driver to recover: quiesce (nothing may be missing before it), a burst
// of a window of frames each way so that the fault meets traffic in
// flight, the fault, traffic until the driver has recovered (or
// RecoverWithin passed: ErrNotRecovered), then a quiesce whose missing
// frames are lost to it.
func (r *run) fault(k Kind) error {
	if r.rig.Faults == nil {
		return fmt.Errorf("%w: %s has no faults to inject (%s)", ErrConfig, r.cfg.Backend, k)
	}
	if err := r.quiesce(-1); err != nil {
		return err
	}
	if k != Short {
		for i := 0; i < r.cfg.Window; i++ {
			r.xmit()
			r.inject()
		}
	}
	f := r.sum.Faults[k.String()]
	f.Injected++
	t0 := time.Now()
	defer func() {
		d := time.Since(t0)
		f.Seconds += d.Seconds()
		f.MaxMS = max(f.MaxMS, float64(d.Microseconds())/1000)
	}()
	r.window = k
	r.inWindow.Store(int32(k))
	defer func() { r.window = -1; r.inWindow.Store(-1) }()
	in := r.epTurn%2 == 0
	ep := r.dev.Out.Address
	if in {
		ep = r.dev.In.Address
	}
	what := k.String()
	var done func(c *usbnet.Counters) bool
	switch k {
	case Stall:
		r.epTurn++
		what = fmt.Sprintf("stall of %#02x", ep)
		before := r.dev.Counters()
		rx, tx := before.RxHaltsCleared.Load(), before.TxHaltsCleared.Load()
		r.rig.Faults.Stall(ep)
		done = func(c *usbnet.Counters) bool {
			if in {
				return c.RxHaltsCleared.Load() > rx
			}
			return c.TxHaltsCleared.Load() > tx
		}
	case Timeout:
		r.epTurn++
		what = fmt.Sprintf("timeout on %#02x", ep)
		n := r.dev.Counters().Timeouts.Load()
		r.rig.Faults.TimeoutNext(ep, 1)
		done = func(c *usbnet.Counters) bool { return c.Timeouts.Load() > n }
	case Unplug:
		if err := r.replug(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrNotRecovered, what, err)
		}
		// What the old device held is gone with it: count it now, so
		// that the window opens again for the new one.
		if err := r.account(k, false); err != nil {
			return err
		}
	case Short:
		refused, err := r.rebindShort()
		if refused {
			f.BindsRefused++
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrNotRecovered, what, err)
		}
	default:
		return fmt.Errorf("%w: fault kind %d", ErrConfig, int(k))
	}
	if err := r.recover(what, done); err != nil {
		return err
	}
	f.Recovered++
	return r.quiesce(k)
}

// recover runs traffic until done (nil: at once) reports the fault
// handled, then until frames have moved both ways since: within
// RecoverWithin of the fault.
func (r *run) recover(what string, done func(c *usbnet.Counters) bool) error {
	deadline := time.Now().Add(r.cfg.RecoverWithin)
	var wire, rx uint64
	flowing := false
	for {
		if !flowing && (done == nil || done(r.dev.Counters())) {
			flowing = true
			wire, rx = r.onWire.Load(), r.delivered.Load()
		}
		if flowing && r.onWire.Load() > wire && r.delivered.Load() > rx {
			return nil
		}
		if time.Now().After(deadline) {
			state := "the driver did not handle it"
			if flowing {
				state = "handled, but frames did not flow both ways again"
			}
			return fmt.Errorf("%w: %s: %s within %v (%s)", ErrNotRecovered, what, state, r.cfg.RecoverWithin, r.describe(r.snap()))
		}
		if err := r.pump(); err != nil {
			return err
		}
	}
}

// replug unplugs the device under traffic, waits for the driver to see it
// go, disconnects it as a hub driver would, and binds a fresh device.
func (r *run) replug() error {
	r.rig.Faults.Unplug()
	select {
	case <-r.dev.Gone():
	case <-time.After(r.cfg.RecoverWithin):
		return fmt.Errorf("the driver did not notice the unplug within %v", r.cfg.RecoverWithin)
	}
	deadline := time.Now().Add(r.cfg.RecoverWithin)
	for r.dev.Net.Carrier() {
		if time.Now().After(deadline) {
			return fmt.Errorf("carrier still on %v after the unplug", r.cfg.RecoverWithin)
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.teardown(); err != nil {
		return err
	}
	return r.open()
}

// rebindShort unbinds the driver, arms a short answer to the next control
// IN, and binds again: the first bind may refuse (refused), the next must
// succeed. It comes right after a quiesce with nothing in flight, so the
// unbind loses no frame.
func (r *run) rebindShort() (refused bool, err error) {
	r.unbind()
	r.rig.Faults.ShortControl(1)
	if err := r.bind(); err == nil {
		return false, nil
	}
	r.unbind()
	return true, r.bind()
}
