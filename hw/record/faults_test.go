package record_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/record/recordtest"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// faultSteps drives the echo device (or a replay of it) through a bulk IN
// stall, a bulk OUT timeout and an unplug, returning what each transfer
// came back with: "N bytes" or its hw status. inject (nil for a replay)
// makes the faults happen.
func faultSteps(ctx context.Context, d hw.Device, inject func(what string)) []string {
	GinkgoHelper()
	fault := func(what string) {
		if inject != nil {
			inject(what)
		}
	}
	var got []string
	Expect(d.Claim(0)).To(Succeed())
	in, err := d.OpenEndpoint(0x82)
	Expect(err).NotTo(HaveOccurred())
	out, err := d.OpenEndpoint(0x02)
	Expect(err).NotTo(HaveOccurred())
	do := func(ep hw.Endpoint, buf []byte) {
		GinkgoHelper()
		if err := ep.Submit(&hw.Transfer{Buf: buf}); err != nil {
			got = append(got, "submit: "+hw.StatusOf(err).Error())
			return
		}
		t, err := ep.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		if t.Err != nil {
			got = append(got, hw.StatusOf(t.Err).Error())
			return
		}
		got = append(got, fmt.Sprintf("%d bytes", t.N))
	}
	rx := func() { do(in, make([]byte, 512)) }
	do(out, bytes.Repeat([]byte{1}, 60))
	rx()
	fault("stall IN")
	rx()
	rx() // halted
	Expect(d.ClearHalt(0x82)).To(Succeed())
	do(out, bytes.Repeat([]byte{2}, 61))
	rx()
	fault("timeout OUT")
	do(out, bytes.Repeat([]byte{3}, 62))
	do(out, bytes.Repeat([]byte{3}, 62))
	rx()
	Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 512)})).To(Succeed())
	fault("unplug")
	t, err := in.Wait(ctx)
	Expect(err).NotTo(HaveOccurred())
	got = append(got, hw.StatusOf(t.Err).Error())
	rx()
	Expect(in.Close()).To(Succeed())
	Expect(out.Close()).To(Succeed())
	Expect(d.Release(0)).To(Succeed())
	Expect(d.Close()).To(Succeed())
	return got
}

var _ = Describe("recorded faults", func() {
	It("are logged with their statuses and replay the same way under model replay", func(ctx SpecContext) {
		dev := recordtest.NewEcho()
		var trace bytes.Buffer
		rec, err := record.New(dev, &trace, record.Options{})
		Expect(err).NotTo(HaveOccurred())
		recorded := faultSteps(ctx, rec, func(what string) {
			switch what {
			case "stall IN":
				dev.Stall(0x82)
			case "timeout OUT":
				dev.TimeoutNext(0x02, 1)
			case "unplug":
				dev.Unplug()
			}
		})
		Expect(recorded).To(Equal([]string{
			"60 bytes", "60 bytes",
			hw.ErrStall.Error(), hw.ErrStall.Error(),
			"61 bytes", "61 bytes",
			hw.ErrTimeout.Error(), "62 bytes", "62 bytes",
			hw.ErrNoDevice.Error(), "submit: " + hw.ErrNoDevice.Error(),
		}))

		recs, _, err := usbmon.ReadAll(&trace)
		Expect(err).NotTo(HaveOccurred())
		statuses := map[string]int{}
		for _, r := range recs {
			if r.Type != usbmon.Submit && r.Status != 0 {
				statuses[fmt.Sprintf("%c %#02x %d", rune(r.Type), r.Endpoint, r.Status)]++
			}
		}
		Expect(statuses).To(Equal(map[string]int{
			fmt.Sprintf("C 0x82 %d", -usbmon.EPIPE):     2,
			fmt.Sprintf("C 0x02 %d", -usbmon.ETIMEDOUT): 1,
			fmt.Sprintf("C 0x82 %d", -usbmon.ENODEV):    1,
			fmt.Sprintf("E 0x82 %d", -usbmon.ENODEV):    1,
		}))

		m, err := replay.NewModel(recs, replay.ModelOptions{Name: "echo-faults", Logf: GinkgoWriter.Printf})
		Expect(err).NotTo(HaveOccurred())
		Expect(faultSteps(ctx, m, nil)).To(Equal(recorded))
		st := m.Stats()
		Expect([]int{st.Halts, st.HaltsCleared, st.OutFailed, st.OutMismatched}).To(Equal([]int{1, 1, 1, 0}))
		Expect(st.Unplugged).To(BeTrue())
	}, SpecTimeout(10*time.Second))
})
