package ffs_test

import (
	"bytes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/ffs"
)

var _ = Describe("Bridge with a SuperSpeed model", func() {
	It("writes the model's 1024-byte packets whole, so a full packet does not end the host's transfer", func() {
		m, outs := vendorModel()
		// The same function with SuperSpeed bulk endpoints (wMaxPacketSize 1024).
		cfg := append([]byte(nil), m.Configs[0]...)
		for _, off := range []int{9 + 9 + 7 + 4, 9 + 9 + 7 + 7 + 4} { // wMaxPacketSize of 0x82, 0x03
			cfg[off], cfg[off+1] = 0x00, 0x04
		}
		m.Configs = [][]byte{cfg}
		fn, _, _ := serveBridge(m, hw.Info{Speed: hw.SpeedSuper}, ffs.Options{Super: true})

		frame := bytes.Repeat([]byte{0xcd}, 1500)
		fn.eps[3].host <- frame
		got := packets(fn.eps[2].host, 2)
		Expect(got[0]).To(HaveLen(1024), "a full SuperSpeed packet")
		Expect(got[1]).To(HaveLen(476), "the short packet ending the transfer")
		Expect(bytes.Join(got, nil)).To(Equal(frame))
		Expect(outs()).To(Equal([][]byte{frame}), "the model got the host's transfer whole, once")
	})
})
