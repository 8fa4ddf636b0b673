package ffs_test

import (
	"bytes"
	"encoding/binary"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/usbmon"
)

// hsConfig is an ASIX-shaped high-speed configuration.
var hsConfig = []byte{9, 2, 39, 0, 1, 1, 0, 0xa0, 0x64,
	9, 4, 0, 0, 3, 0xff, 0xff, 0, 5,
	7, 5, 0x81, 3, 8, 0, 11,
	7, 5, 0x82, 2, 0, 2, 0,
	7, 5, 0x03, 2, 0, 2, 0}

// sets splits a descriptors blob into its per-speed descriptor lists.
func sets(blob []byte, nsets int) [][][]byte {
	counts := make([]int, nsets)
	off := 12
	for i := range counts {
		counts[i] = int(binary.LittleEndian.Uint32(blob[off:]))
		off += 4
	}
	var out [][][]byte
	for _, c := range counts {
		var set [][]byte
		for j := 0; j < c; j++ {
			l := int(blob[off])
			set = append(set, blob[off:off+l])
			off += l
		}
		out = append(out, set)
	}
	Expect(off).To(Equal(len(blob)), "counts cover the blob exactly")
	return out
}

var _ = Describe("Descriptors", func() {
	It("derives the full-speed set and clears string indices", func() {
		blob, eps, err := ffs.Descriptors(hsConfig, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(binary.LittleEndian.Uint32(blob[4:])).To(BeEquivalentTo(len(blob)))
		s := sets(blob, 2)
		fs, hs := s[0], s[1]
		Expect(fs).To(HaveLen(4))
		Expect(hs).To(HaveLen(4))
		Expect(hs[0][8]).To(BeZero(), "iInterface cleared")
		Expect(binary.LittleEndian.Uint16(fs[2][4:])).To(BeEquivalentTo(64), "full-speed bulk")
		Expect(binary.LittleEndian.Uint16(hs[2][4:])).To(BeEquivalentTo(512))
		Expect(fs[1][6]).To(BeEquivalentTo(128), "2^10 microframes = 128 ms in frames")
		Expect(hs[1][6]).To(BeEquivalentTo(11))
		Expect(eps).To(HaveLen(3))
		Expect(eps[2].In()).To(BeFalse())
	})

	It("adds SuperSpeed companions when asked", func() {
		blob, _, err := ffs.Descriptors(hsConfig, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(binary.LittleEndian.Uint32(blob[8:]) & 4).To(BeEquivalentTo(4))
		ss := sets(blob, 3)[2]
		Expect(ss).To(HaveLen(7))
		Expect(ss[2][1]).To(Equal(hw.DescSSEndpointComp))
		Expect(binary.LittleEndian.Uint16(ss[2][4:])).To(BeEquivalentTo(8), "interrupt wBytesPerInterval")
		Expect(binary.LittleEndian.Uint16(ss[3][4:])).To(BeEquivalentTo(1024))
	})

	DescribeTable("rejects a damaged configuration with ErrDescriptor",
		func(cfg []byte, why string) {
			_, _, err := ffs.Descriptors(cfg, false)
			Expect(err).To(MatchError(ffs.ErrDescriptor))
			Expect(err.Error()).To(ContainSubstring(why))
		},
		Entry("too short", []byte{9, 2, 9}, "not a configuration"),
		Entry("wTotalLength past the end", append([]byte{9, 2, 200, 0}, hsConfig[4:]...), "wTotalLength 200"),
		Entry("zero bLength", []byte{9, 2, 12, 0, 1, 1, 0, 0x80, 0, 0, 4, 0}, "bLength 0"),
		Entry("no endpoints", []byte{9, 2, 18, 0, 1, 1, 0, 0x80, 0, 9, 4, 0, 0, 0, 0xff, 0, 0, 0}, "no endpoints"),
	)
})

var _ = Describe("ParseEvents", func() {
	It("decodes setup packets and types", func() {
		b := make([]byte, 2*ffs.EventSize)
		b[8] = byte(ffs.EventEnable)
		copy(b[12:], []byte{0xc0, 0x13, 0, 0, 0, 0, 6, 0, byte(ffs.EventSetup)})
		evs, err := ffs.ParseEvents(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(evs).To(Equal([]ffs.Event{{Type: ffs.EventEnable}, {Type: ffs.EventSetup, Setup: hw.Setup{RequestType: 0xc0, Request: 0x13, Length: 6}}}))
	})
	It("names a partial event", func() {
		_, err := ffs.ParseEvents(make([]byte, 13))
		Expect(err).To(MatchError(ContainSubstring("13 bytes")))
	})
})

var _ = Describe("Capture", func() {
	It("writes a pcap the usbmon reader pairs into transfers, enumeration first", func() {
		c := ffs.NewCapture()
		c.Control(hw.Setup{RequestType: 0xc0, Request: 0x13, Length: 6}, []byte{1, 2, 3, 4, 5, 6}, nil)
		c.Control(hw.Setup{RequestType: 0x40, Request: 0x99}, nil, hw.ErrStall)
		c.In(0x82, hw.XferBulk, bytes.Repeat([]byte{1}, 512), 512)
		c.In(0x82, hw.XferBulk, []byte{2, 2}, 512)
		c.Out(0x03, hw.XferBulk, []byte{3, 3, 3})
		c.In(0x81, hw.XferInterrupt, []byte{0xa1, 0, 1, 0, 0, 0, 0, 0}, 8)
		c.MapEndpoint(0x82, 0x86)
		c.SetAddress(3, 7)
		c.Enumeration(make([]byte, 18), hsConfig)
		var buf bytes.Buffer
		_, err := c.WriteTo(&buf)
		Expect(err).NotTo(HaveOccurred())
		recs, lt, err := usbmon.ReadAll(&buf)
		Expect(err).NotTo(HaveOccurred())
		Expect(lt).To(Equal(usbmon.LinkTypeMmapped))
		urbs := usbmon.Pair(recs)
		Expect(urbs).To(HaveLen(4 + 2 + 1 + 1 + 1))
		s, _ := urbs[0].Setup()
		Expect(s.Request).To(Equal(hw.ReqGetDescriptor))
		s, _ = urbs[3].Setup()
		Expect(s.Request).To(Equal(hw.ReqSetConfiguration))
		Expect(urbs[4].Data()).To(Equal([]byte{1, 2, 3, 4, 5, 6}))
		Expect(urbs[5].Status()).To(BeEquivalentTo(-32), "a stall is -EPIPE")
		Expect(urbs[6].Endpoint()).To(BeEquivalentTo(0x86))
		Expect(urbs[6].Data()).To(HaveLen(514))
		Expect(urbs[7].Data()).To(Equal([]byte{3, 3, 3}))
		Expect(urbs[8].XferType()).To(Equal(usbmon.XferInterrupt), "a full interrupt packet is a transfer of its own")
		Expect(urbs[8].Data()).To(HaveLen(8))
		for _, r := range recs {
			Expect(r.Bus).To(BeEquivalentTo(3))
			Expect(r.Device).To(BeEquivalentTo(7))
		}
	})
})
