package netdev_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/skbuff"
)

var _ = Describe("the rx handler (netdev_rx_handler_register)", func() {
	It("takes every frame, whatever its protocol, before the protocol handlers; Pass hands it on", func() {
		d, _ := upEth()
		proto := make(chan byte, 4)
		d.AddHandler(0x0800, func(b *skbuff.Buff) { proto <- b.Data()[0]; b.Free(skbuff.FreeRead) })
		taken := make(chan byte, 4)
		unregister, err := d.RegisterRxHandler(func(b *skbuff.Buff) netdev.RxHandlerResult {
			if b.Data()[0] == 9 {
				return netdev.RxHandlerPass
			}
			taken <- b.Data()[0]
			b.Free(skbuff.FreeRead)
			return netdev.RxHandlerConsumed
		})
		Expect(err).NotTo(HaveOccurred())
		d.Rx(rxFrame(0x0800, 1))
		d.Rx(rxFrame(0x88cc, 2)) // no protocol handler: still the rx handler's
		d.Rx(rxFrame(0x0800, 9)) // passed on
		Eventually(taken).Should(Receive(Equal(byte(1))))
		Eventually(taken).Should(Receive(Equal(byte(2))))
		Eventually(proto).Should(Receive(Equal(byte(9))))
		Consistently(proto).ShouldNot(Receive())
		Expect(d.Stats().RxNohandler.Load()).To(BeZero())

		unregister()
		d.Rx(rxFrame(0x0800, 3))
		Eventually(proto).Should(Receive(Equal(byte(3))))
		Expect(taken).NotTo(Receive())
	})

	It("is one per device: a second gets ErrRxHandlerBusy naming the device, until the first is removed", func() {
		d, _ := upEth()
		consume := func(b *skbuff.Buff) netdev.RxHandlerResult { b.Free(skbuff.FreeRead); return netdev.RxHandlerConsumed }
		unregister, err := d.RegisterRxHandler(consume)
		Expect(err).NotTo(HaveOccurred())
		_, err = d.RegisterRxHandler(consume)
		Expect(errors.Is(err, netdev.ErrRxHandlerBusy)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(d.Name()))
		unregister()
		again, err := d.RegisterRxHandler(consume)
		Expect(err).NotTo(HaveOccurred())
		unregister() // the old one's unregister leaves the new handler alone
		d.Rx(rxFrame(0x0800, 1))
		Consistently(d.Stats().RxNohandler.Load).Should(BeZero())
		again()
	})

	It("panics on a nil handler (programmer misuse)", func() {
		d, _ := upEth()
		Expect(func() { _, _ = d.RegisterRxHandler(nil) }).To(Panic())
	})
})

var _ = Describe("carrier watchers", func() {
	It("are told each change once, after it, and not a repeated state; removed ones are not", func() {
		d, _ := upEth()
		var seen []bool
		remove := d.AddCarrierWatcher(func(up bool) {
			Expect(d.Carrier()).To(Equal(up), "the change is in force when the watcher runs")
			seen = append(seen, up)
		})
		d.CarrierOff()
		d.CarrierOff()
		d.CarrierOn()
		d.CarrierOn()
		d.CarrierOff()
		Expect(seen).To(Equal([]bool{false, true, false}))
		remove()
		d.CarrierOn()
		Expect(seen).To(HaveLen(3))
		Expect(func() { d.AddCarrierWatcher(nil) }).To(Panic())
	})
})
