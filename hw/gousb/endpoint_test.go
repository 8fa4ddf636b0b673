package gousb

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	libusb "github.com/google/gousb"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
)

// Both transfer paths are held to the same specs.
var _ = Describe("Endpoint (asynchronous libusb transfers)", func() { endpointSpecs(false) })
var _ = Describe("Endpoint (Options.Sync: gousb synchronous workers)", func() { endpointSpecs(true) })

func endpointSpecs(sync bool) {
	var (
		dev *fakeDev
		d   *Device
		in  hw.Endpoint
		out hw.Endpoint
	)
	BeforeEach(func() {
		before := gleak.Goroutines()
		dev = newECMDev(1, 4, []int{2})
		c := newContext(&fakeLib{devs: []*fakeDev{dev}}, "")
		var err error
		d, err = c.OpenFirst(nil, &Options{Workers: 8, Sync: sync})
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Claim(1)).To(Succeed())
		Expect(d.SetAlt(1, 1)).To(Succeed())
		in, err = d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		out, err = d.OpenEndpoint(0x02)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(in.Close()).To(Succeed())
			Expect(out.Close()).To(Succeed())
			Expect(d.Release(1)).To(Succeed())
			Expect(d.Close()).To(Succeed())
			Expect(c.Close()).To(Succeed())
			Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(before), "Close stops every worker")
		})
	})

	It("completes in submission order, with each transfer's own data, even when the OS completes out of order", func() {
		p := dev.pipes[0x82]
		p.jitter = true
		p.complete = func(k int, buf []byte) (int, error) {
			binary.BigEndian.PutUint32(buf, uint32(k)) // the k-th transfer the "kernel" saw
			return 4 + k%7, nil
		}
		const n = 200
		ts := make([]hw.Transfer, n)
		for round := 0; round < 2; round++ {
			for i := range ts {
				ts[i] = hw.Transfer{Buf: make([]byte, 64), Cookie: i}
				Expect(in.Submit(&ts[i])).To(Succeed())
			}
			Expect(in.InFlight()).To(BeNumerically(">", 0))
			for i := range ts {
				t, err := in.Wait(context.Background())
				Expect(err).NotTo(HaveOccurred())
				Expect(t).To(BeIdenticalTo(&ts[i]))
				k := round*n + i
				Expect(t.Err).NotTo(HaveOccurred())
				Expect(t.N).To(Equal(4 + k%7))
				Expect(binary.BigEndian.Uint32(t.Buf)).To(Equal(uint32(k)), "bus order == submission order")
			}
		}
		Expect(in.InFlight()).To(BeZero())
		_, err := in.Wait(context.Background())
		Expect(err).To(MatchError(hw.ErrNotFound))
	})

	It("sends an empty OUT transfer as a zero-length packet", func() {
		p := dev.pipes[0x02]
		p.record = true
		for _, b := range [][]byte{make([]byte, 64), nil, make([]byte, 10)} {
			Expect(out.Submit(&hw.Transfer{Buf: b})).To(Succeed())
		}
		for range 3 {
			t, err := out.Wait(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(t.Err).NotTo(HaveOccurred())
		}
		Expect(p.lens).To(Equal([]int{64, 0, 10}))
	})

	It("refuses an empty IN buffer", func() {
		Expect(in.Submit(&hw.Transfer{})).To(MatchError(hw.ErrInvalid))
		Expect(in.InFlight()).To(BeZero())
	})

	It("Cancel completes submitted and queued transfers with ErrCancelled, and later Submits work", func() {
		p := dev.pipes[0x82]
		p.block = true
		ts := make([]hw.Transfer, 20) // 8 in the workers, 12 queued
		for i := range ts {
			ts[i].Buf = make([]byte, 64)
			Expect(in.Submit(&ts[i])).To(Succeed())
		}
		Eventually(func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.seq }).Should(Equal(8), "8 transfers at the OS")
		wctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := in.Wait(wctx)
		Expect(err).To(MatchError(context.DeadlineExceeded), "Wait gives up, the transfer stays in flight")
		Expect(in.InFlight()).To(Equal(20))

		in.Cancel()
		for i := range ts {
			t, err := in.Wait(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(t).To(BeIdenticalTo(&ts[i]))
			Expect(errors.Is(t.Err, hw.ErrCancelled)).To(BeTrue(), "transfer %d: %v", i, t.Err)
			Expect(t.Err.Error()).To(HavePrefix("bus 1 addr 4 (0525:a4a2): bulk IN 0x82: cancelled"))
		}
		Expect(p.seq).To(Equal(8), "queued transfers never reached the OS")

		p.block = false
		t := &hw.Transfer{Buf: make([]byte, 64)}
		Expect(in.Submit(t)).To(Succeed())
		got, err := in.Wait(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Err).NotTo(HaveOccurred())
		Expect(got.N).To(Equal(64))
	})

	It("refuses to close with transfers in flight", func() {
		dev.pipes[0x82].block = true
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 8)})).To(Succeed())
		Expect(in.Close()).To(MatchError(hw.ErrBusy))
		in.Cancel()
		_, err := in.Wait(context.Background())
		Expect(err).NotTo(HaveOccurred())
	})

	It("reports stalls per transfer and refuses Submit once the device is gone", func() {
		dev.pipes[0x82].complete = func(k int, buf []byte) (int, error) {
			switch k {
			case 1:
				return 0, libusb.TransferStall
			case 2:
				return 3, libusb.TransferOverflow
			case 3:
				return 0, libusb.TransferNoDevice
			}
			return len(buf), nil
		}
		want := []hw.Errno{0, hw.ErrStall, hw.ErrOverflow, hw.ErrNoDevice}
		for range want {
			Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 8)})).To(Succeed())
		}
		for i, w := range want {
			t, err := in.Wait(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(hw.StatusOf(t.Err)).To(Equal(w), "transfer %d", i)
		}
		err := in.Submit(&hw.Transfer{Buf: make([]byte, 8)})
		Expect(errors.Is(err, hw.ErrNoDevice)).To(BeTrue())
	})

	It("reports a failed submit without blocking the next transfer", func() {
		dev.pipes[0x02].failSubmit = libusb.ErrorNoMem
		for range 3 {
			Expect(out.Submit(&hw.Transfer{Buf: []byte{1}})).To(Succeed())
		}
		for range 3 {
			t, err := out.Wait(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(errors.Is(t.Err, hw.ErrNoMem)).To(BeTrue())
		}
		dev.pipes[0x02].failSubmit = nil
		Expect(out.Submit(&hw.Transfer{Buf: []byte{1}})).To(Succeed())
		t, err := out.Wait(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.N).To(Equal(1))
	})
}
