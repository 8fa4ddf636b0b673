package usbnet_test

import (
	"errors"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/ecm"
	"dongle/netdev"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// mtuHook is cdc_ether with an MTUChanger that records its calls, may
// fail, and sets RxURBSize as a chip driver would.
type mtuHook struct {
	cdcecm.Driver

	mu    sync.Mutex
	calls []int
	fail  error
	urb   int // RxURBSize to set (0: leave)
}

var _ usbnet.MTUChanger = (*mtuHook)(nil)

func (h *mtuHook) ChangeMTU(d *usbnet.Dev, mtu int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, mtu)
	if h.fail != nil {
		return h.fail
	}
	if h.urb > 0 {
		d.RxURBSize = h.urb
	}
	return nil
}

func (h *mtuHook) called() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.calls...)
}

var _ = Describe("MTU change hook (MTUChanger)", func() {
	It("is called after the bounds checks, with the new MTU, while down", func() {
		h := &mtuHook{}
		r := newRig(rigOpts{driver: h, noOpen: true})
		Expect(r.d.Net.SetMTU(1000)).To(Succeed())
		Expect(h.called()).To(Equal([]int{1000}))
		Expect(r.d.Net.MTU()).To(Equal(1000))

		// Refused by the bounds checks: the driver is not asked.
		Expect(r.d.ChangeMTU(r.d.Net, 1501)).To(MatchError(ContainSubstring("above the device's 1500")))
		Expect(r.d.ChangeMTU(r.d.Net, 67)).To(MatchError(ContainSubstring("below the Ethernet minimum 68")))
		Expect(r.d.Net.SetMTU(1501)).To(MatchError(netdev.ErrMTURange))
		Expect(h.called()).To(Equal([]int{1000}))
		Expect(r.d.Net.MTU()).To(Equal(1000))
	})

	It("passes the driver's error on, wrapped, and keeps the old MTU", func() {
		errChip := errors.New("chip says no")
		h := &mtuHook{fail: errChip}
		r := newRig(rigOpts{driver: h, noOpen: true})
		err := r.d.Net.SetMTU(900)
		Expect(err).To(MatchError(errChip))
		Expect(err).To(MatchError(ContainSubstring("MTU 900")))
		Expect(r.d.Net.MTU()).To(Equal(1500))
		Expect(h.called()).To(Equal([]int{900}))
	})

	It("refuses a change while the interface is up (ErrBusy) without asking the driver", func() {
		h := &mtuHook{}
		r := newRig(rigOpts{driver: h})
		err := r.d.Net.SetMTU(1000)
		Expect(err).To(MatchError(usbnet.ErrBusy))
		Expect(err).To(MatchError(ContainSubstring(r.d.Name())))
		Expect(h.called()).To(BeEmpty())
		Expect(r.d.Net.MTU()).To(Equal(1500))

		// Down, changed, up again: the RX size the driver chose is used
		// and frames still flow.
		Expect(r.d.Net.Close()).To(Succeed())
		h.mu.Lock()
		h.urb = 4096
		h.mu.Unlock()
		Expect(r.d.Net.SetMTU(1200)).To(Succeed())
		Expect(h.called()).To(Equal([]int{1200}))
		Expect(r.d.RxURBSize).To(Equal(4096))
		Expect(r.d.Net.Open()).To(Succeed())
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		f := r.frame(1214, 7)
		Expect(r.send(f)).To(Succeed())
		r.waitRx(1)
		Expect(r.received()[0]).To(Equal(f))
	})

	It("recomputes the default RX queue length for the new RxURBSize (usbnet_update_max_qlen)", func() {
		h := &mtuHook{}
		r := newRig(rigOpts{driver: h})
		old := r.d.RxURBSize
		Expect(r.d.RxURBs).To(Equal(usbnet.RxQueueLen(old)), "open chose the default")
		Expect(r.d.Net.Close()).To(Succeed())

		h.mu.Lock()
		h.urb = 16384
		h.mu.Unlock()
		Expect(usbnet.RxQueueLen(16384)).NotTo(Equal(usbnet.RxQueueLen(old)), "the test needs a different length")
		Expect(r.d.Net.SetMTU(1200)).To(Succeed())
		Expect(r.d.RxURBSize).To(Equal(16384))
		Expect(r.d.RxURBs).To(Equal(usbnet.RxQueueLen(16384)))

		// The next open allocates that many, and frames still flow.
		Expect(r.d.Net.Open()).To(Succeed())
		Expect(r.d.RxURBs).To(Equal(usbnet.RxQueueLen(16384)))
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		f := r.frame(1214, 3)
		Expect(r.send(f)).To(Succeed())
		r.waitRx(1)
		Expect(r.received()[0]).To(Equal(f))
	})

	It("keeps an RX queue length the user set across an RxURBSize change", func() {
		h := &mtuHook{}
		r := newRig(rigOpts{driver: h, rxURBs: 5})
		Expect(r.d.Net.Close()).To(Succeed())
		h.mu.Lock()
		h.urb = 16384
		h.mu.Unlock()
		Expect(r.d.Net.SetMTU(1200)).To(Succeed())
		Expect(r.d.RxURBSize).To(Equal(16384))
		Expect(r.d.RxURBs).To(Equal(5))
	})

	It("is not needed by drivers without it: cdc_ether changes the MTU while up", func() {
		r := newRig(rigOpts{})
		_, ok := any(cdcecm.New()).(usbnet.MTUChanger)
		Expect(ok).To(BeFalse())
		Expect(r.d.Net.SetMTU(1000)).To(Succeed())
		Expect(r.d.Net.MTU()).To(Equal(1000))
	})

	It("reaches the driver through probe-time MTU clamping too", func() {
		// wMaxSegmentSize 1014: Probe lowers the MTU to 1000 through
		// SetMTU, before the interface was ever up.
		h := &mtuHook{}
		r := newRig(rigOpts{driver: h, noOpen: true, ecm: ecm.Options{MaxSegmentSize: 1014}})
		Expect(r.d.Net.MTU()).To(Equal(1000))
		Expect(h.called()).To(Equal([]int{1000}))
	})
})
