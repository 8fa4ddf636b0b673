package ffs_test

import (
	"bytes"
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim"
)

var _ = Describe("Bridge with a SuperSpeed model", func() {
	It("writes the model's 1024-byte packets whole, so a full packet does not end the host's transfer", func() {
		good := gleak.Goroutines()
		DeferCleanup(func() { Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(good)) })
		m, outs := vendorModel()
		// The same function with SuperSpeed bulk endpoints (wMaxPacketSize 1024).
		cfg := append([]byte(nil), m.Configs[0]...)
		for _, off := range []int{9 + 9 + 7 + 4, 9 + 9 + 7 + 7 + 4} { // wMaxPacketSize of 0x82, 0x03
			cfg[off], cfg[off+1] = 0x00, 0x04
		}
		m.Configs = [][]byte{cfg}
		dev := sim.New(m, hw.Info{Speed: hw.SpeedSuper})
		DeferCleanup(dev.Close)
		fn := newFunction()
		br, err := ffs.New(context.Background(), dev, fn, ffs.Options{Super: true})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- br.Serve(ctx) }()
		DeferCleanup(func() {
			cancel()
			fn.closeAll()
			Eventually(done).Should(Receive(BeNil()))
		})

		frame := bytes.Repeat([]byte{0xcd}, 1500)
		fn.eps[3].host <- frame
		got := packets(fn.eps[2].host, 2)
		Expect(got[0]).To(HaveLen(1024), "a full SuperSpeed packet")
		Expect(got[1]).To(HaveLen(476), "the short packet ending the transfer")
		Expect(bytes.Join(got, nil)).To(Equal(frame))
		Eventually(func() int { return len(*outs) }).Should(Equal(1))
	})
})
