package ax88772_test

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ax88772"
)

// The model is driven here by raw requests and transfers, without the
// driver, so its behaviour is checked on its own.

func vendor(d *sim.Device, in bool, req uint8, value, index uint16, data []byte) (int, error) {
	rt := uint8(0x40)
	if in {
		rt = 0xc0
	}
	return d.Control(context.Background(), hw.Setup{RequestType: rt, Request: req, Value: value, Index: index}, data)
}

func newDev(o ax88772.Options) (*sim.Device, *ax88772.Model) {
	d, m := ax88772.NewDevice(o)
	Expect(d.Claim(0)).To(Succeed())
	DeferCleanup(func() {
		_ = d.Release(0)
		_ = d.Close()
	})
	return d, m
}

var _ = BeforeEach(func() {
	g := gleak.Goroutines()
	DeferCleanup(func() {
		Eventually(gleak.Goroutines).WithTimeout(time.Second).ShouldNot(gleak.HaveLeaked(g))
	})
})

var _ = Describe("Descriptors", func() {
	DescribeTable("look like an AX88772B",
		func(full bool, mps int) {
			d, _ := newDev(ax88772.Options{FullSpeed: full})
			dd, err := hw.ReadDeviceDescriptor(context.Background(), d)
			Expect(err).NotTo(HaveOccurred())
			Expect([]uint16{dd.Vendor, dd.Product}).To(Equal([]uint16{0x0b95, 0x772b}))
			Expect(dd.Class).To(Equal(uint8(0xff)))
			c, err := hw.ReadConfig(context.Background(), d, 0)
			Expect(err).NotTo(HaveOccurred())
			eps := c.Interfaces[0].Alts[0].Endpoints
			Expect(eps).To(HaveLen(3))
			Expect(eps[0].String()).To(Equal("interrupt IN 0x81"))
			Expect(eps[0].MaxPacketSize).To(Equal(uint16(8)))
			Expect(eps[1].String()).To(Equal("bulk IN 0x82"))
			Expect(eps[2].String()).To(Equal("bulk OUT 0x03"))
			Expect(int(eps[1].MaxPacketSize)).To(Equal(mps))
			Expect(int(eps[2].MaxPacketSize)).To(Equal(mps))
		},
		Entry("high speed", false, 512),
		Entry("full speed", true, 64),
	)
})

var _ = Describe("Registers and MII", func() {
	It("answers register reads at their size and stalls unknown requests", func() {
		d, m := newDev(ax88772.Options{})
		buf := make([]byte, 16)
		n, err := vendor(d, true, 0x13, 0, 0, buf)
		Expect(err).NotTo(HaveOccurred())
		Expect(buf[:n]).To(Equal([]byte(ax88772.DefaultMAC)))
		_, err = vendor(d, true, 0x55, 0, 0, buf)
		Expect(hw.StatusOf(err)).To(Equal(hw.ErrStall))
		Expect(m.Stalled()).To(HaveLen(1))
		Expect(m.Stalled()[0].Setup.Request).To(Equal(uint8(0x55)))
	})

	It("refuses MII access until the host owns the bus, then shows HostEn", func() {
		d, _ := newDev(ax88772.Options{HostEnDelay: 2})
		b := make([]byte, 2)
		_, err := vendor(d, true, 0x07, 0x10, 1, b)
		Expect(hw.StatusOf(err)).To(Equal(hw.ErrStall))
		_, err = vendor(d, false, 0x06, 0, 0, nil)
		Expect(err).NotTo(HaveOccurred())
		st := make([]byte, 1)
		var seen []byte
		for i := 0; i < 3; i++ {
			_, err = vendor(d, true, 0x09, 0, 0, st)
			Expect(err).NotTo(HaveOccurred())
			seen = append(seen, st[0])
		}
		Expect(seen).To(Equal([]byte{0x20, 0x20, 0x21})) // chip code 772B; HostEn on the third poll
		n, err := vendor(d, true, 0x07, 0x10, 1, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(2))
		Expect(binary.LittleEndian.Uint16(b) & 0x0004).NotTo(BeZero()) // BMSR link
	})

	It("negotiates with the partner and loses the link while the PHY is powered down", func() {
		d, m := newDev(ax88772.Options{Partner: ax88772.Link{Mbps: 10, FullDuplex: true}})
		l, up := m.Link()
		Expect(up).To(BeTrue())
		Expect(l.String()).To(Equal("10/full"))
		_, err := vendor(d, false, 0x20, 0x40, 0, nil) // SW_RESET IPPD
		Expect(err).NotTo(HaveOccurred())
		_, up = m.Link()
		Expect(up).To(BeFalse())
		_, err = vendor(d, false, 0x20, 0x20, 0, nil) // IPRL
		Expect(err).NotTo(HaveOccurred())
		_, up = m.Link()
		Expect(up).To(BeTrue())
	})
})

var _ = Describe("Data path", func() {
	It("frames RX records with headers, even padding and the MFB buffer size", func() {
		d, m := newDev(ax88772.Options{})
		_, _ = vendor(d, false, 0x10, ax88772.RxCtlSO|ax88772.RxCtlAB, 0, nil)
		_, _ = vendor(d, false, 0x1b, ax88772.MediumRE|ax88772.MediumFD, 0, nil)
		ep, err := d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ep.Close)
		f := make([]byte, 61)
		copy(f, ax88772.DefaultMAC)
		m.Inject(f, append([]byte(nil), f...))
		t := &hw.Transfer{Buf: make([]byte, 2048)}
		Expect(ep.Submit(t)).To(Succeed())
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err := ep.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.N).To(Equal(2 * (4 + 62)))
		h := binary.LittleEndian.Uint32(got.Buf)
		Expect(h & 0x7ff).To(Equal(uint32(61)))
		Expect((^h >> 16) & 0x7ff).To(Equal(uint32(61)))
		Expect(got.Buf[4+61]).To(Equal(byte(0)))
		Expect(m.RxStats().Accepted).To(Equal(2))
	})

	It("holds a burst the host does not read in its FIFO, reports the backlog and drops past its size", func() {
		d, m := newDev(ax88772.Options{})
		_, _ = vendor(d, false, 0x10, ax88772.RxCtlSO|ax88772.RxCtlAB, 0, nil)
		_, _ = vendor(d, false, 0x1b, ax88772.MediumRE|ax88772.MediumFD, 0, nil)
		f := make([]byte, 1514)
		copy(f, ax88772.DefaultMAC)
		Expect(m.RxPending()).To(BeZero())
		m.Inject(f)
		// 4-byte header + 1514 bytes: one record, whether or not the
		// engine took it as a write already.
		Expect(m.RxPending()).To(BeNumerically("<=", 4+1514))
		for m.RxStats().Overflow == 0 {
			before := m.RxPending()
			m.Inject(f)
			if m.RxStats().Overflow == 0 {
				Expect(m.RxPending()).To(BeNumerically(">=", before), "no host transfer queued: the FIFO only fills")
			}
			Expect(m.RxStats().Received).To(BeNumerically("<", 1000), "FIFO never overflowed")
		}
		Expect(m.RxPending()).To(BeNumerically("<=", ax88772.RxFIFOSize))
		Expect(m.RxPending()).To(BeNumerically(">", ax88772.RxFIFOSize-2*(4+1514)))
	})

	It("drops frames while RX_CTL SO is clear", func() {
		_, m := newDev(ax88772.Options{})
		m.Inject(make([]byte, 60))
		Expect(m.RxStats().Stopped).To(Equal(1))
	})

	It("checks TX headers and pads", func() {
		_, m := newDev(ax88772.Options{})
		w := sim.NewWire()
		m.Plug(w.A())
		c := sim.NewCapture()
		w.B().Attach(c)
		rec := func(n int) []byte {
			b := binary.LittleEndian.AppendUint32(nil, uint32(n)|uint32(n^0xffff)<<16)
			return append(b, make([]byte, n)...)
		}
		m.Out(0x03, rec(100))
		m.Out(0x03, append(rec(508), 0, 0, 0xff, 0xff))
		m.Out(0x03, rec(508)) // 512 bytes, no filler
		bad := rec(100)
		bad[2] ^= 1
		m.Out(0x03, bad)
		tx := m.TxStats()
		Expect(tx.Frames).To(Equal(3))
		Expect(tx.Pads).To(Equal(1))
		Expect(tx.MissingPad).To(Equal(1))
		Expect(tx.BadHeader).To(Equal(1))
		Expect(c.Len()).To(Equal(3))
	})

	It("computes the multicast hash bit as the Ethernet CRC's top six bits", func() {
		// Independent check: the MSB-first CRC register equals the
		// bit-reversed complement of the table-driven IEEE CRC-32.
		for i := 0; i < 2000; i++ {
			a := []byte{0x01, 0x00, 0x5e, byte(i), byte(i >> 8), byte(i * 37)}
			want := uint(bits.Reverse32(^crc32.ChecksumIEEE(a)) >> 26)
			Expect(ax88772.HashBit(a)).To(Equal(want), "% x", a)
		}
	})
})
