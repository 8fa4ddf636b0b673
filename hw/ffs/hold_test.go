package ffs_test

import (
	"bytes"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/ffs"
)

var _ = Describe("Bridge.HoldOut", func() {
	It("queues no read on a held OUT endpoint, so the host's transfers wait, and reads again once released", func() {
		m, outs := vendorModel()
		fn, br, _ := serveBridge(m, hw.Info{}, ffs.Options{})
		// The read request already queued when the hold starts takes
		// one more transfer; after it the bridge reads nothing.
		Eventually(fn.eps[3].readSizes).Should(HaveLen(1))
		Expect(br.HoldOut(0x04, true)).To(Succeed(), "by the host's address for 0x03")
		first := bytes.Repeat([]byte{1}, 100)
		fn.eps[3].host <- first
		Eventually(outs).Should(Equal([][]byte{first}))
		second := bytes.Repeat([]byte{2}, 100)
		fn.eps[3].host <- second
		Consistently(outs, 200*time.Millisecond).Should(HaveLen(1), "held: the second transfer is not taken")
		Expect(fn.eps[3].readSizes()).To(HaveLen(1), "no read request queued while held")
		Expect(br.HoldOut(0x03, true)).To(Succeed(), "holding again (by the model's address) changes nothing")

		Expect(br.HoldOut(0x03, false)).To(Succeed())
		Eventually(outs).Should(Equal([][]byte{first, second}))
		Expect(br.HoldOut(0x03, false)).To(Succeed(), "releasing a free endpoint changes nothing")
		third := bytes.Repeat([]byte{3}, 600)
		fn.eps[3].host <- third
		Eventually(outs).Should(Equal([][]byte{first, second, third}))
	})

	It("lets Serve stop while an endpoint is held", func() {
		m, _ := vendorModel()
		fn, br, _ := serveBridge(m, hw.Info{}, ffs.Options{})
		Eventually(fn.eps[3].readSizes).Should(HaveLen(1))
		Expect(br.HoldOut(0x03, true)).To(Succeed())
		fn.eps[3].host <- []byte{9}
		Eventually(fn.eps[3].host).Should(BeEmpty())
		// serveBridge's cleanup cancels Serve and checks it returns and
		// leaves no goroutine behind.
	})

	It("refuses an IN endpoint and one the function does not have", func() {
		m, _ := vendorModel()
		_, br, _ := serveBridge(m, hw.Info{}, ffs.Options{})
		for _, ep := range []uint8{0x82, 0x92, 0x85} {
			err := br.HoldOut(ep, true)
			Expect(errors.Is(err, ffs.ErrHoldIn)).To(BeTrue(), "%#02x: %v", ep, err)
		}
		err := br.HoldOut(0x07, true)
		Expect(errors.Is(err, ffs.ErrNoEndpoint)).To(BeTrue(), "%v", err)
	})
})
