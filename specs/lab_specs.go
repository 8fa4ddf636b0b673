package specs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/gousb"
	"dongle/hw/vmlab/guest"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// The lab specs need the real kernel stack: what dongle's driver does is
// checked against what the other side of the real USB bus saw (the host
// peer behind QEMU's usb-net, the gadget's own netdev), against sysfs and
// configfs. They are defined once per lab device, under that device's
// backend label, so `--backend=usb:0525:a4a2` picks them up with the rest
// of the suite; outside the lab they skip (CapLab).
var _ = labSpecs()

// labSizes are the frame sizes that matter on the lab's two devices: the
// Ethernet minimum, 64·k (usb-net's ZLP cases), 512·k (the gadget's), their
// neighbours, and 1514.
var labSizes = []int{60, 63, 64, 65, 128, 192, 511, 512, 513, 1024, 1088, 1513, 1514}

func labSpecs() bool {
	for i := range labDevs {
		d := &labDevs[i]
		name := "usb:" + d.sel
		Describe(name+" through the real kernel stack", Label(BackendLabel(name), string(CapLab), string(CapLive)), Serial, func() {
			var b Backend
			BeforeEach(func() {
				var err error
				b, err = USBBackend(name)
				Expect(err).NotTo(HaveOccurred())
				// usb-net's far side (farSide) is the host peer, through
				// the one serial channel its spec-driven peer would take
				// over: these specs read it themselves. The gadget's peer
				// (iface:gecm0) is a socket of its own, and sends the
				// frame back where the stopped echo used to.
				if d.gadgetNetdev == "" {
					b = withoutPeer(b)
				}
				if !has(b, CapLab) {
					Skip(fmt.Sprintf("%s: %s: %s", name, CapLab, b.Why(CapLab)))
				}
			})
			labBindSpecs(d, func() Backend { return b })
			labFrameSpecs(d, func() Backend { return b })
			if d.gadgetNetdev != "" {
				labLinkSpecs(d, func() Backend { return b })
			}
			if d.sel == gadgetSel {
				labRefuseSpecs()
			}
			if d.sel == ncmGadgetSel {
				labNCMHoldSpec(d, func() Backend { return b })
			}
		})
	}
	return true
}

// kernelView is what the kernel showed of a lab device before dongle's
// driver took it.
type kernelView struct {
	dev    guest.USBDevice
	ifname string
	mac    string
}

func lookKernel(d *labDev) kernelView {
	GinkgoHelper()
	u, err := guest.FindUSB(d.vendor, d.product)
	Expect(err).NotTo(HaveOccurred())
	ifname, err := u.Netdev()
	Expect(err).NotTo(HaveOccurred(), "the kernel's %s must be bound before the spec: %s", d.driver, u)
	mac, err := readMAC(filepath.Join("/sys/class/net", ifname, "address"))
	Expect(err).NotTo(HaveOccurred())
	return kernelView{dev: u, ifname: ifname, mac: mac.String()}
}

func labBindSpecs(d *labDev, b func() Backend) {
	It("binds with the identity, speed and MAC the real device announces", func(ctx SpecContext) {
		k := lookKernel(d)
		Expect(k.dev.Speed).To(Equal(d.sysfsSpeed), "sysfs speed of %s", k.dev)
		h := Setup(ctx, b())
		Expect(h.Dev.Driver.Name()).To(Equal(d.driver))
		Expect(h.Dev.Desc.Vendor).To(Equal(d.vendor))
		Expect(h.Dev.Desc.Product).To(Equal(d.product))
		Expect(h.Dev.USBSpeed()).To(Equal(d.speed))
		Expect(h.Dev.MaxPacket()).To(Equal(d.maxPacket), "bulk OUT wMaxPacketSize")
		// The kernel's driver read iMACAddress before us: same address.
		Expect(h.Net.HardwareAddr().String()).To(Equal(k.mac), "MAC of the kernel's %s", k.ifname)
		if d.gadgetFunc != "" {
			// And the gadget was told to announce host_addr.
			host, err := readMAC(filepath.Join(d.gadgetFunc, "host_addr"))
			Expect(err).NotTo(HaveOccurred())
			Expect(h.Net.HardwareAddr().String()).To(Equal(host.String()), "configfs host_addr")
		} else {
			Expect(h.Net.HardwareAddr().String()).To(Equal("52:54:00:12:34:56"), "QEMU usb-net's default macaddr")
		}
		// While dongle holds it, no kernel driver does.
		u, err := guest.FindUSB(d.vendor, d.product)
		Expect(err).NotTo(HaveOccurred())
		for _, i := range u.Interfaces {
			Expect(i.Driver).To(Or(BeEmpty(), Equal("usbfs")), "interface %s while dongle holds the device", i.Name)
		}
	}, SpecTimeout(specTimeout))
}

// farSide counts what the far end of the wire saw: the host peer (usb-net)
// or the gadget's own netdev.
type farSide struct {
	peer   *guest.Peer
	netdev string
	// rxHdr is what the far side leaves out of its received-byte count:
	// the gadget's u_ether counts rx_bytes after eth_type_trans pulled
	// the 14-byte Ethernet header (tx_bytes count the whole frame).
	rxHdr int
	// txBytes is what the far side counts for sending one frame of n
	// bytes (labDev.ntbTx).
	txBytes func(n int) int
}

// drain discards frames still arriving from before the spec, until none
// has come for 200 ms.
func drain(h *Harness) {
	for {
		select {
		case <-h.Rx:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

type farCount struct{ rxFrames, rxBytes, txFrames, txBytes uint64 }

func (f *farSide) count() farCount {
	GinkgoHelper()
	if f.peer != nil {
		st, err := f.peer.Stats()
		Expect(err).NotTo(HaveOccurred())
		return farCount{rxFrames: st.Frames, rxBytes: st.Bytes, txFrames: st.Echoed, txBytes: st.Bytes}
	}
	return farCount{
		rxFrames: netStat(f.netdev, "rx_packets"), rxBytes: netStat(f.netdev, "rx_bytes"),
		txFrames: netStat(f.netdev, "tx_packets"), txBytes: netStat(f.netdev, "tx_bytes"),
	}
}

func netStat(ifname, name string) uint64 {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join("/sys/class/net", ifname, "statistics", name))
	Expect(err).NotTo(HaveOccurred())
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func openFarSide(d *labDev) *farSide {
	GinkgoHelper()
	if d.gadgetNetdev != "" {
		f := &farSide{netdev: d.gadgetNetdev, rxHdr: 14, txBytes: func(n int) int { return n }}
		if d.ntbTx != nil {
			f.txBytes = d.ntbTx
		}
		return f
	}
	p, err := guest.DialPeer()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Close)
	Expect(p.SetMode(guest.PeerEcho)).To(Succeed())
	return &farSide{peer: p, txBytes: func(n int) int { return n }}
}

func labFrameSpecs(d *labDev, b func() Backend) {
	var entries []TableEntry
	for _, n := range labSizes {
		entries = append(entries, Entry(nil, n, SpecTimeout(specTimeout)))
	}
	DescribeTable("carries a frame whole both ways, as counted on the far side of the bus",
		func(ctx SpecContext, size int) {
			far := openFarSide(d)
			h := Setup(ctx, b())
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			// The previous spec's burst may still be on its way back (QEMU
			// holds frames for a closed device): let it arrive first.
			drain(h)
			rx0 := h.Net.Stats().RxPackets.Load()
			before, zlps := far.count(), h.Dev.Counters().ZLPs.Load()
			f := Frame(me, me, size, size)
			if h.T.Peer != nil {
				h.T.Peer.Reset() // before the frame can arrive
			}
			Expect(h.Send(f)).To(Succeed())
			if h.T.Peer != nil {
				// A wire-side peer (DONGLE_PEER=iface:gecm0) instead of the
				// echo: it sees the frame, then sends it back itself.
				got, err := h.T.Peer.Received(ctx, 1)
				Expect(err).NotTo(HaveOccurred())
				Expect(got).To(HaveLen(1), "frames on the wire")
				Expect(got[0]).To(BeFrame(f), "host → wire")
				Expect(h.T.Peer.Inject(f)).To(Succeed())
			}
			Expect(h.Receive(ctx)).To(BeFrame(f), "the echo, through dongle's RX path")
			// Host → wire: exactly one frame of exactly size bytes (no
			// padding byte, no frame glued to the next for want of a ZLP).
			var after farCount
			Eventually(ctx, func() uint64 { after = far.count(); return after.txFrames }).Should(Equal(before.txFrames+1), "frames the far side sent back")
			Expect(after.rxFrames-before.rxFrames).To(BeEquivalentTo(1), "frames the far side received")
			Expect(after.rxBytes-before.rxBytes).To(BeEquivalentTo(size-far.rxHdr), "bytes the far side received")
			Expect(after.txBytes-before.txBytes).To(BeEquivalentTo(far.txBytes(size)), "bytes the far side sent back (a %d-byte frame)", size)
			if d.driver == "cdc_ether" {
				// One frame, one transfer: its length decides the ZLP. (NCM
				// sends NTBs; the models' specs check their ZLPs.)
				wantZLP := 0
				if size%d.maxPacket == 0 {
					wantZLP = 1
				}
				Expect(h.Dev.Counters().ZLPs.Load()-zlps).To(BeEquivalentTo(wantZLP), "ZLPs after a %d-byte frame (wMaxPacketSize %d)", size, d.maxPacket)
			}
			Expect(h.Net.Stats().RxPackets.Load() - rx0).To(BeEquivalentTo(1))
			Expect(h.Net.Stats().RxErrors.Load()).To(BeZero())
		}, func(size int) string { return fmt.Sprintf("%d bytes", size) }, entries)
}

func labLinkSpecs(d *labDev, b func() Backend) {
	It("sees the gadget's link go down and up as carrier off and on, with nothing delivered while off", func(ctx SpecContext) {
		h := Setup(ctx, b())
		h.Up(ctx)
		DeferCleanup(func() { guest.SetLink(d.gadgetNetdev, true) })
		me := h.Net.HardwareAddr()
		Expect(guest.SetLink(d.gadgetNetdev, false)).To(Succeed())
		Eventually(ctx, h.Net.Carrier).WithPolling(5*time.Millisecond).Should(BeFalse(), "carrier after %s down (NETWORK_CONNECTION 0)", d.gadgetNetdev)
		rx, gadgetTx := h.Net.Stats().RxPackets.Load(), netStat(d.gadgetNetdev, "tx_packets")
		Expect(h.Send(Frame(me, me, 100, 1))).NotTo(Succeed(), "xmit without carrier")
		h.NoFrameWithin(300 * time.Millisecond)
		Expect(h.Net.Stats().RxPackets.Load()).To(Equal(rx), "frames delivered while the link was down")
		Expect(netStat(d.gadgetNetdev, "tx_packets")).To(Equal(gadgetTx), "frames the gadget sent while down")

		Expect(guest.SetLink(d.gadgetNetdev, true)).To(Succeed())
		Eventually(ctx, h.Net.Carrier).WithPolling(5*time.Millisecond).Should(BeTrue(), "carrier after %s up (NETWORK_CONNECTION 1)", d.gadgetNetdev)
		f := Frame(me, me, 100, 2)
		if h.T.Peer != nil {
			// The peer on the gadget's netdev sends, once it is up again.
			Eventually(ctx, func() error { return h.T.Peer.Inject(f) }).Should(Succeed())
		} else {
			// The echo helper's socket reopens its wait once the netdev is up.
			Eventually(ctx, func() error { return h.Send(f) }).Should(Succeed())
		}
		Expect(h.Receive(ctx)).To(BeFrame(f))
	}, SpecTimeout(specTimeout))
}

// labRefuseSpecs: the same gadget framework's RNDIS function is recognised
// and refused, and its kernel driver is left bound (its NCM function has
// its driver, cdc_ncm, and runs the suite).
func labRefuseSpecs() {
	DescribeTable("refuses a function dongle has no driver for yet",
		func(ctx SpecContext, product uint16, function, kernelDriver string) {
			c, err := gousb.Open()
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(c.Close)
			sel, err := gousb.ParseSelector(fmt.Sprintf("%04x:%04x", guest.GadgetVendor, product))
			Expect(err).NotTo(HaveOccurred())
			dev, err := c.OpenDevice(sel, nil)
			Expect(err).NotTo(HaveOccurred())
			_, err = usbnet.Probe(dev, catalog.All()...)
			Expect(dev.Close()).To(Succeed())
			var ue *usbnet.UnsupportedError
			Expect(errors.As(err, &ue)).To(BeTrue(), "Probe error %v is not an *usbnet.UnsupportedError", err)
			Expect(ue.Function).To(Equal(function))
			Expect(err.Error()).To(ContainSubstring("not supported yet"))
			Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("%04x:%04x", guest.GadgetVendor, product)))
			Eventually(ctx, func() string {
				u, err := guest.FindUSB(guest.GadgetVendor, product)
				if err != nil || len(u.Interfaces) == 0 {
					return ""
				}
				return u.Interfaces[0].Driver
			}).Should(Equal(kernelDriver), "the kernel driver is still bound after the refusal")
		},
		Entry("RNDIS (1209:0003)", uint16(guest.RNDISProduct), "RNDIS", "rndis_host", SpecTimeout(specTimeout)),
	)
}
