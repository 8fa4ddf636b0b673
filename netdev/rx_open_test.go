package netdev_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/netdev/netdevtest"
	"dongle/skbuff"
)

// rxOnOpen is a driver whose RX path delivers a frame before its Open has
// returned, as a USB driver's first RX transfer can complete at once.
type rxOnOpen struct {
	*netdevtest.Driver
	err error
}

func (o *rxOnOpen) Open(d *netdev.Device) error {
	d.Rx(rxFrame(0x0800, 7))
	return o.err
}

var _ = Describe("receive while the driver opens (netif_running: __LINK_STATE_START before ndo_open)", func() {
	open := func(err error) (*netdev.Device, chan byte) {
		d := netdev.New("eth%d", &rxOnOpen{Driver: &netdevtest.Driver{}, err: err})
		netdev.EtherSetup(d)
		Expect(netdev.Register(d)).To(Succeed())
		DeferCleanup(func() { Expect(netdev.Unregister(d)).To(Succeed()) })
		got := make(chan byte, 1)
		d.AddHandler(0x0800, func(b *skbuff.Buff) { got <- b.Data()[0]; b.Free(skbuff.FreeRead) })
		return d, got
	}

	It("accepts a frame delivered before Open returns", func() {
		d, got := open(nil)
		Expect(d.Open()).To(Succeed())
		Eventually(got).Should(Receive(Equal(byte(7))))
		Expect(d.Stats().RxDropped.Load()).To(BeZero())
	})

	It("stops taking frames when Open fails, and leaves no bottom half or buffer behind", func() {
		boom := errors.New("boom")
		d, _ := open(boom)
		Expect(d.Open()).To(MatchError(boom))
		Expect(d.Flags() & netdev.FlagUp).To(BeZero())
		// The frame delivered during the failed open was handled or freed
		// with the backlog (the suite checks Live and goroutines after
		// every spec); one arriving now is dropped and counted.
		before := d.Stats().RxDropped.Load()
		d.Rx(rxFrame(0x0800, 8))
		Expect(d.Stats().RxDropped.Load()).To(Equal(before+1), "a frame for a device that is not running")
	})
})
