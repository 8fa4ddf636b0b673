package usbnet_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/usbnet"
)

// gated is cdc_ether whose LinkReset waits for the spec, like a chip being
// reprogrammed over slow control transfers.
type gated struct {
	flagged
	quiet   *atomic.Bool   // Status ignores the model's notifications
	armed   *atomic.Bool   // LinkReset waits for the spec
	passed  *atomic.Uint64 // LinkResets returned at once (not armed)
	entered chan struct{}
	release chan error
}

// Status ignores the model's notifications once quiet: the spec drives the
// link itself.
func (g gated) Status(d *usbnet.Dev, data []byte) error {
	if g.quiet.Load() {
		return nil
	}
	return g.flagged.Status(d, data)
}

func (g gated) LinkReset(d *usbnet.Dev) error {
	if !g.armed.Load() {
		g.passed.Add(1)
		return nil
	}
	g.entered <- struct{}{}
	select {
	case err := <-g.release:
		return err
	case <-time.After(5 * time.Second):
		return errLinkReset // never hang the teardown
	}
}

var _ = Describe("link change (usbnet_link_change)", func() {
	newGated := func() (*rig, gated) {
		g := gated{flagged: flagged{flags: usbnet.FlagSendZLP | usbnet.FlagEthernet}, quiet: new(atomic.Bool),
			armed: new(atomic.Bool), passed: new(atomic.Uint64), entered: make(chan struct{}, 16), release: make(chan error, 16)}
		r := newRig(rigOpts{driver: g, ecm: ecm.Options{Flavor: ecm.Gadget}})
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		// From here on the spec drives the link (Status ignores the
		// model). The LinkResets the open and the model's notifications
		// asked for run first, ungated: one still pending when the gate
		// closed would be taken for the spec's.
		g.quiet.Store(true)
		settled := func() bool { n := r.d.Counters().LinkResets.Load(); return n > 0 && g.passed.Load() == n }
		Eventually(settled).Should(BeTrue())
		Consistently(settled, 50*time.Millisecond).Should(BeTrue())
		g.armed.Store(true)
		DeferCleanup(func() { g.armed.Store(false); g.quiet.Store(false) })
		return r, g
	}

	It("with need_reset, turns the carrier on only after LinkReset has reprogrammed the chip", func() {
		r, g := newGated()
		r.d.LinkChange(false, 0, true)
		Expect(r.d.Net.Carrier()).To(BeFalse())
		r.d.LinkChange(true, 100, true)
		Eventually(g.entered).Should(Receive(), "LinkReset runs")
		Consistently(r.d.Net.Carrier, 50*time.Millisecond).Should(BeFalse(), "carrier before LinkReset returned")
		g.release <- nil
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		Expect(r.d.Net.Speed()).To(Equal(100))
		Expect(r.d.Counters().LinkResetErrors.Load()).To(BeZero(), "a LinkReset that succeeded counted as failed")
	})

	It("with need_reset, leaves the carrier off when LinkReset fails", func() {
		r, g := newGated()
		r.d.LinkChange(false, 0, true)
		r.d.LinkChange(true, 100, true)
		Eventually(g.entered).Should(Receive())
		g.release <- errLinkReset
		Eventually(r.d.Counters().LinkResetErrors.Load).Should(BeEquivalentTo(1))
		Consistently(r.d.Net.Carrier, 50*time.Millisecond).Should(BeFalse())
	})

	It("a link that goes down while LinkReset runs does not come back on", func() {
		r, g := newGated()
		r.d.LinkChange(false, 0, true)
		r.d.LinkChange(true, 100, true)
		Eventually(g.entered).Should(Receive())
		r.d.LinkChange(false, 0, true)
		g.release <- nil
		Consistently(r.d.Net.Carrier, 50*time.Millisecond).Should(BeFalse())
	})

	// The carrier must not come on from a LinkReset that set the chip up
	// for a link that has gone since.
	It("with need_reset, a link that goes down and comes back up while LinkReset runs gets a LinkReset of its own before the carrier", func() {
		r, g := newGated()
		base := r.d.Counters().LinkResets.Load()
		r.d.LinkChange(false, 0, true)
		r.d.LinkChange(true, 100, true)
		Eventually(g.entered).Should(Receive(), "LinkReset for the first link")
		r.d.LinkChange(false, 0, true)
		r.d.LinkChange(true, 1000, true)
		g.release <- nil
		Eventually(g.entered).Should(Receive(), "LinkReset for the link that came back")
		Consistently(r.d.Net.Carrier, 50*time.Millisecond).Should(BeFalse(), "carrier before the second LinkReset returned")
		g.release <- nil
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		Expect(r.d.Net.Speed()).To(Equal(1000))
		Consistently(g.entered, 50*time.Millisecond).ShouldNot(Receive(), "a third LinkReset")
		Expect(r.d.Counters().LinkResets.Load()).To(Equal(base + 2))
	})

	It("without need_reset (CDC-ECM), turns the carrier on at once", func() {
		r, g := newGated()
		r.d.Net.SetSpeed(100)
		r.d.LinkChange(false, 0, false)
		r.d.LinkChange(true, 0, false)
		Expect(r.d.Net.Carrier()).To(BeTrue())
		Expect(r.d.Net.Speed()).To(Equal(100), "a link up that gives no speed keeps the last one")
		Eventually(g.entered).Should(Receive(), "LinkReset still runs")
		g.release <- nil
	})
})

var _ = Describe("RxMode", func() {
	It("reads PROMISC and ALLMULTI from the netdev, each on its own", func() {
		r := newRig(rigOpts{driver: flagged{flags: usbnet.FlagSendZLP | usbnet.FlagEthernet}, ecm: ecm.Options{Flavor: ecm.Gadget}})
		Expect(r.d.RxMode()).To(Equal(usbnet.RxMode{Multicast: r.d.Net.MulticastList()}))
		r.d.Net.SetPromisc(1)
		m := r.d.RxMode()
		Expect(m.Promisc).To(BeTrue())
		Expect(m.AllMulti).To(BeFalse())
		r.d.Net.SetPromisc(-1)
		r.d.Net.SetAllMulti(1)
		m = r.d.RxMode()
		Expect(m.Promisc).To(BeFalse())
		Expect(m.AllMulti).To(BeTrue())
		r.d.Net.SetAllMulti(-1)
	})
})

type linkResetError string

func (e linkResetError) Error() string { return string(e) }

const errLinkReset = linkResetError("link reset failed (test)")

// raising is cdc_ether whose Reset finds the link up, as r8152's does when
// the PHY already reports one: a LinkChange with need_reset from Reset.
// Status ignores the model: the test owns the link.
type raising struct {
	flagged
	runs    *atomic.Int32
	entered chan struct{} // closed as the first LinkReset starts
}

func (r raising) Reset(d *usbnet.Dev) error {
	if err := r.flagged.Reset(d); err != nil {
		return err
	}
	d.LinkChange(true, 1000, true)
	return nil
}

func (raising) Status(*usbnet.Dev, []byte) error { return nil }

func (r raising) LinkReset(*usbnet.Dev) error {
	if r.runs.Add(1) == 1 {
		close(r.entered)
	}
	return nil
}

// heldINEP is an endpoint whose bulk IN submits wait for a channel (or,
// all of them together, for giveUp), so a test can order the rest of Open
// after the kevent worker's first event.
type heldINEP struct {
	hw.Endpoint
	wait, giveUp <-chan struct{}
}

func (e heldINEP) Submit(t *hw.Transfer) error {
	if e.Desc().In() && e.Desc().Type() == hw.XferBulk {
		select {
		case <-e.wait:
		case <-e.giveUp:
		}
	}
	return e.Endpoint.Submit(t)
}

// TestLinkUpFromResetGetsOneLinkReset: a link that Reset reports is one
// link and gets one LinkReset, even when the kevent worker has already
// taken Reset's event by the time Open decides on a link that came up
// before it (the worker runs from the moment Open starts it). A second
// LinkReset reprograms a chip that is up, and counts the link twice.
func TestLinkUpFromResetGetsOneLinkReset(t *testing.T) {
	noLiveAtEnd(t)
	sd, m := ecm.NewDevice(ecm.Options{Flavor: ecm.Gadget})
	m.Connect(sim.NewWire().A())
	drv := raising{flagged: flagged{flags: usbnet.FlagSendZLP | usbnet.FlagEthernet | usbnet.FlagLinkIntr},
		runs: new(atomic.Int32), entered: make(chan struct{})}
	giveUp, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dev := wrapped{sd, func(ep hw.Endpoint) hw.Endpoint { return heldINEP{ep, drv.entered, giveUp.Done()} }}
	d := probed(t, dev, drv, sd, nil)
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	waitCarrier(t, d, 3*time.Second)
	time.Sleep(50 * time.Millisecond) // a second LinkReset would run now
	if n := drv.runs.Load(); n != 1 {
		t.Errorf("LinkReset ran %d times for one link, want 1", n)
	}
	if n := d.Counters().LinkResets.Load(); n != 1 {
		t.Errorf("LinkResets counter %d, want 1", n)
	}
}
