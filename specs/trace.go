package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func traceSpecs(b Backend) {
	e := b.Expect()
	Describe("recorded traffic", Label(string(CapTraceFrames)), func() {
		It("delivers the frames the recording carries on bulk IN, without framing errors", func(ctx SpecContext) {
			h := Setup(ctx, b)
			Expect(h.Net.Open()).To(Succeed())
			st := h.Net.Stats()
			Eventually(ctx, st.RxPackets.Load).Should(BeEquivalentTo(e.RxFrames))
			Consistently(st.RxPackets.Load).WithTimeout(100*time.Millisecond).Should(BeEquivalentTo(e.RxFrames), "no more frames than recorded")
			if e.RxHalts > 0 {
				// Model replay stalls bulk IN where the recording did; the
				// driver must clear each halt and go on receiving. Every
				// halt failed at least one transfer (rx_errors), counted
				// before the halt was cleared.
				Eventually(ctx, h.Dev.Counters().RxHaltsCleared.Load).Should(BeEquivalentTo(e.RxHalts), "bulk IN halts cleared")
				Expect(st.RxErrors.Load()).To(BeNumerically(">=", e.RxHalts))
			} else {
				Expect(st.RxErrors.Load()).To(BeZero())
			}
			Expect(st.RxFrameErrors.Load()).To(BeZero())
			Expect(st.RxLengthErrors.Load()).To(BeZero())
		}, SpecTimeout(specTimeout))
	})
}
