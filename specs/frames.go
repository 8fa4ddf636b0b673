package specs

import (
	"fmt"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// framingHeader is the bytes a driver puts before each TX frame: the unit
// its padding rule counts with (usbnet.TxFraming; 0 for a driver that
// frames nothing, or one the catalog does not know).
func framingHeader(driver string) int {
	e, ok := catalog.Lookup(driver)
	if !ok {
		return 0
	}
	if f, ok := e.New().(usbnet.TxFraming); ok {
		return f.TxHeaderLen()
	}
	return 0
}

// edgeSizes are the frame sizes where framing goes wrong: the Ethernet
// minimum, 1514, and every size whose transfer is an exact multiple of
// wMaxPacketSize (the ZLP/pad rule), with its neighbours.
func edgeSizes(e Expectations) []int {
	set := map[int]string{60: "Ethernet minimum", 61: "odd, just above the minimum", 1514: "largest standard frame", 1513: "odd, just below 1514"}
	mp := e.MaxPacket
	if mp == 0 {
		mp = 64
	}
	hdr := framingHeader(e.Driver)
	for k := 1; k*mp-hdr <= 1514; k++ {
		n := k*mp - hdr
		if n < 60 {
			continue
		}
		set[n] = fmt.Sprintf("transfer = %d×wMaxPacketSize", k)
		if n+1 <= 1514 {
			if _, ok := set[n+1]; !ok {
				set[n+1] = "one past a packet multiple"
			}
		}
		if n-1 >= 60 {
			if _, ok := set[n-1]; !ok {
				set[n-1] = "one short of a packet multiple"
			}
		}
		if k > 8 && mp == 64 {
			k += 3 // at full speed, sample the multiples rather than all 23
		}
	}
	sizes := make([]int, 0, len(set))
	for n := range set {
		sizes = append(sizes, n)
	}
	sort.Ints(sizes)
	return sizes
}

func frameSpecs(b Backend) {
	e := b.Expect()
	var tx, rx, echo []TableEntry
	for _, n := range edgeSizes(e) {
		tx = append(tx, Entry(nil, n, SpecTimeout(specTimeout)))
		rx = append(rx, Entry(nil, n, SpecTimeout(specTimeout)))
		echo = append(echo, Entry(nil, n, SpecTimeout(specTimeout)))
	}
	Describe("frames at the size edges", Label(string(CapLive)), func() {
		DescribeTable("leave the device intact (host → wire)", Label(string(CapPeer)),
			func(ctx SpecContext, size int) {
				h := Setup(ctx, b)
				h.Up(ctx)
				f := Frame(PeerMAC, h.Net.HardwareAddr(), size, size)
				Expect(h.Send(f)).To(Succeed())
				got, err := h.T.Peer.Received(ctx, 1)
				Expect(err).NotTo(HaveOccurred())
				Expect(got).To(HaveLen(1), "frames on the wire (a missing ZLP glues frames together)")
				Expect(got[0]).To(BeFrame(f))
				Eventually(ctx, h.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(1), "tx_packets")
				Expect(h.Net.Stats().TxBytes.Load()).To(BeEquivalentTo(size))
				if h.Dev.Driver.Flags()&usbnet.FlagSendZLP != 0 {
					// usbnet_start_xmit: a ZLP follows exactly the transfers
					// (frame and framing) whose length is a multiple of
					// wMaxPacketSize, and no others.
					wantZLP := 0
					if (size+framingHeader(h.Dev.Driver.Name()))%h.Dev.MaxPacket() == 0 {
						wantZLP = 1
					}
					Expect(h.Dev.Counters().ZLPs.Load()).To(BeEquivalentTo(wantZLP), "ZLPs after a %d-byte frame (wMaxPacketSize %d)", size, h.Dev.MaxPacket())
				}
			}, func(size int) string { return fmt.Sprintf("%d bytes", size) }, tx)

		DescribeTable("arrive intact (wire → host)", Label(string(CapPeer)),
			func(ctx SpecContext, size int) {
				h := Setup(ctx, b)
				h.Up(ctx)
				f := Frame(h.Net.HardwareAddr(), PeerMAC, size, size)
				Expect(h.T.Peer.Inject(f)).To(Succeed())
				Expect(h.Receive(ctx)).To(BeFrame(f))
				Eventually(ctx, h.RxTestPackets).Should(BeEquivalentTo(1), "rx_packets, other stations' frames left out")
				Expect(h.Net.Stats().RxErrors.Load()).To(BeZero())
			}, func(size int) string { return fmt.Sprintf("%d bytes", size) }, rx)

		DescribeTable("come back through an echoing far side", needsPeerOrEcho,
			func(ctx SpecContext, size int) {
				h := Setup(ctx, b)
				h.Up(ctx)
				me := h.Net.HardwareAddr()
				f := Frame(me, me, size, size)
				Expect(h.Send(f)).To(Succeed())
				if h.T.Peer != nil {
					// A peer is the echo: it sends back whatever it got,
					// so the round trip judges both directions together.
					got, err := h.T.Peer.Received(ctx, 1)
					Expect(err).NotTo(HaveOccurred())
					Expect(got).To(HaveLen(1), "frames on the wire")
					Expect(h.T.Peer.Inject(got[0])).To(Succeed())
				}
				Expect(h.Receive(ctx)).To(BeFrame(f))
			}, func(size int) string { return fmt.Sprintf("%d bytes", size) }, echo)

		It("carries a burst of back-to-back frames of every size in both directions", Label(string(CapPeer)), func(ctx SpecContext) {
			// Consecutive frames fill the devices' aggregation and span bulk
			// transfers: ASIX headers split at every offset, AX88179
			// transfers packed to their threshold.
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			// Frames go in batches of 16: a device's own buffer is finite (the
			// models hold 64 writes), and a far side that outruns the host
			// loses frames on a real wire too.
			var sent [][]byte
			for size := 60; size <= 1514; size += 7 {
				sent = append(sent, Frame(me, PeerMAC, size, size))
			}
			for start := 0; start < len(sent); start += 16 {
				batch := sent[start:min(start+16, len(sent))]
				for _, f := range batch {
					Expect(h.T.Peer.Inject(f)).To(Succeed())
				}
				for i, f := range batch {
					got, err := h.Receive(ctx)
					Expect(err).NotTo(HaveOccurred(), "frame %d of %d", start+i, len(sent))
					Expect(got).To(BeFrame(f), "frame %d", start+i)
				}
			}
			h.T.Peer.Reset()
			h.Net.SetTxQueueLen(len(sent) + 1)
			for _, f := range sent {
				Expect(h.Send(Frame(PeerMAC, me, len(f), len(f)))).To(Succeed())
			}
			got, err := h.T.Peer.Received(ctx, len(sent))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(HaveLen(len(sent)))
			for i, f := range sent {
				Expect(got[i]).To(BeFrame(Frame(PeerMAC, me, len(f), len(f))), "frame %d", i)
			}
		}, SpecTimeout(specTimeout))
	})
}
