package netdev_test

import (
	"errors"
	"net"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/netdev/netdevtest"
	"dongle/skbuff"
)

var _ = Describe("interface flags", func() {
	It("have Linux's IFF_* values", func() {
		Expect([]netdev.Flags{netdev.FlagUp, netdev.FlagBroadcast, netdev.FlagDebug, netdev.FlagLoopback,
			netdev.FlagPointToPoint, netdev.FlagNoTrailers, netdev.FlagRunning, netdev.FlagNoARP,
			netdev.FlagPromisc, netdev.FlagAllMulti, netdev.FlagMulticast}).To(Equal([]netdev.Flags{
			0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x1000}))
		Expect((netdev.FlagUp | netdev.FlagBroadcast | netdev.FlagRunning | netdev.FlagMulticast).String()).
			To(Equal("UP|BROADCAST|RUNNING|MULTICAST"))
	})

	Describe("IFF_UP", func() {
		It(`"the IFF_RUNNING and IFF_UP flags are basically handled as a pair"`, Label("article"), func() {
			d, drv := newEth()
			Expect(d.Flags() & (netdev.FlagUp | netdev.FlagRunning)).To(BeZero())
			Expect(d.Open()).To(Succeed())
			Expect(d.Flags() & (netdev.FlagUp | netdev.FlagRunning)).To(Equal(netdev.FlagUp | netdev.FlagRunning))
			Expect(d.Close()).To(Succeed())
			Expect(d.Flags() & (netdev.FlagUp | netdev.FlagRunning)).To(BeZero())
			// ChangeFlags drives the same pair.
			Expect(d.ChangeFlags(d.Flags() | netdev.FlagUp)).To(Succeed())
			Expect(d.Flags() & (netdev.FlagUp | netdev.FlagRunning)).To(Equal(netdev.FlagUp | netdev.FlagRunning))
			Expect(d.ChangeFlags(d.Flags() &^ netdev.FlagUp)).To(Succeed())
			Expect(d.Flags() & (netdev.FlagUp | netdev.FlagRunning)).To(BeZero())
			_, opens, stops, _ := drv.Calls()
			Expect(opens).To(Equal(2))
			Expect(stops).To(Equal(2))
		})

		It(`"an interface that does not have IFF_UP set will never receive packets"`, Label("article"), func() {
			d, _ := newEth()
			got := 0
			d.AddHandler(0x0800, func(b *skbuff.Buff) { got++; b.Free(skbuff.FreeRead) })
			d.Rx(rxFrame(0x0800, 1))
			Expect(d.Stats().RxDropped.Load()).To(Equal(uint64(1)))
			Expect(d.RxBacklog()).To(BeZero())
			Consistently(func() int { return got }).WithTimeout(50e6).Should(BeZero())
		})

		It(`"when an interface is not marked as IFF_UP, it can be removed": Unregister of an up device brings it down first`, Label("article"), func() {
			drv := &netdevtest.Driver{Busy: true}
			d := netdev.New("eth%d", drv)
			netdev.EtherSetup(d)
			Expect(netdev.Register(d)).To(Succeed())
			Expect(d.Open()).To(Succeed())
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed()) // refused: stays queued
			Expect(d.TxQueued()).To(Equal(1))
			Expect(netdev.Unregister(d)).To(Succeed())
			Expect(d.Flags() & netdev.FlagUp).To(BeZero())
			_, _, stops, _ := drv.Calls()
			Expect(stops).To(Equal(1))
			Expect(d.TxQueued()).To(BeZero())
			Expect(skbuff.Live()).To(BeZero(), "the queued frame was freed")
			Expect(netdev.Lookup(d.Name())).To(BeNil())
		})
	})

	It(`IFF_BROADCAST: "there will be a valid address stored in the device addresses"`, Label("article"), func() {
		d, _ := newEth()
		Expect(d.Flags() & netdev.FlagBroadcast).NotTo(BeZero())
		Expect(d.BroadcastAddr()).To(Equal(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	})

	DescribeTable(`IFF_DEBUG ("not currently used") and IFF_NOTRAILERS ("not used") are accepted and have no effect`,
		func(f netdev.Flags) {
			d, drv := upEth()
			before := d.Flags()
			Expect(d.ChangeFlags(before | f)).To(Succeed())
			Expect(d.Flags()).To(Equal(before | f))
			_, _, _, mc := drv.Calls()
			Expect(d.Xmit(txFrame(7, 0))).To(Succeed())
			_, accepted, _ := drv.Snapshot()
			Expect(accepted).To(Equal(1), "traffic unchanged")
			_, _, _, mc2 := drv.Calls()
			Expect(mc2).To(Equal(mc), "no filter change")
			Expect(d.ChangeFlags(before)).To(Succeed())
			Expect(d.Flags()).To(Equal(before))
		},
		Entry("IFF_DEBUG", Label("article"), netdev.FlagDebug),
		Entry("IFF_NOTRAILERS", Label("article"), netdev.FlagNoTrailers),
	)

	Describe("IFF_LOOPBACK", func() {
		It(`"the loopback interface (lo) is the only interface that has this flag set"`, Label("article"), func() {
			lo := netdev.Loopback()
			Expect(netdev.Register(lo)).To(Succeed())
			DeferCleanup(netdev.Unregister, lo)
			Expect(lo.Name()).To(Equal("lo"))
			Expect(lo.Flags() & netdev.FlagLoopback).NotTo(BeZero())
			err := lo.ChangeFlags(lo.Flags() &^ netdev.FlagLoopback)
			Expect(err).To(MatchError(netdev.ErrLoopbackOnly))
			Expect(lo.Flags() & netdev.FlagLoopback).NotTo(BeZero())
		})

		It(`"setting it on other interfaces is neither defined nor a very good idea": refused with a clear error`, Label("article"), func() {
			d, _ := newEth()
			before := d.Flags()
			err := d.ChangeFlags(before | netdev.FlagLoopback | netdev.FlagDebug)
			Expect(err).To(MatchError(netdev.ErrLoopbackOnly))
			Expect(err.Error()).To(ContainSubstring(d.Name()))
			var ne *netdev.Error
			Expect(errors.As(err, &ne)).To(BeTrue())
			Expect(ne.Dev).To(Equal(d.Name()))
			Expect(d.Flags()).To(Equal(before), "nothing changed, not even DEBUG")
		})
	})

	Describe("IFF_POINTOPOINT", func() {
		It(`"there is no broadcast capability as such. The remote point to point address in the device structure is valid"`, Label("article"), func() {
			d := netdev.New("sl%d", &netdevtest.Driver{})
			netdev.PointToPointSetup(d)
			d.SetDestAddr(net.HardwareAddr{10, 0, 0, 2})
			Expect(netdev.Register(d)).To(Succeed())
			DeferCleanup(netdev.Unregister, d)
			Expect(d.Flags() & netdev.FlagPointToPoint).NotTo(BeZero())
			Expect(d.Flags() & netdev.FlagBroadcast).To(BeZero())
			Expect(d.BroadcastAddr()).To(BeNil())
			Expect(d.DestAddr()).To(Equal(net.HardwareAddr{10, 0, 0, 2}))
			Expect(d.TxQueueLen).To(Equal(10), `"10 for serial lines"`)
			Expect(d.Flags() & netdev.FlagNoARP).NotTo(BeZero())
			Expect(d.ChangeFlags(d.Flags() | netdev.FlagBroadcast)).To(MatchError(netdev.ErrFixedFlag))
		})

		It(`"normally, a point to point link has no netmask or broadcast, but it can be enabled if needed"`, Label("article"), func() {
			d := netdev.New("ppp%d", &netdevtest.Driver{})
			netdev.PointToPointSetup(d)
			d.SetBroadcastAddr(net.HardwareAddr{0xff})
			Expect(d.Flags() & (netdev.FlagBroadcast | netdev.FlagPointToPoint)).To(Equal(netdev.FlagBroadcast | netdev.FlagPointToPoint))
			Expect(d.BroadcastAddr()).To(Equal(net.HardwareAddr{0xff}))
		})
	})

	It(`IFF_NOARP: "the interface does not perform ARP queries" — a flag the user may set and clear`, Label("article"), func() {
		d, _ := newEth()
		Expect(d.Flags() & netdev.FlagNoARP).To(BeZero())
		Expect(d.ChangeFlags(d.Flags() | netdev.FlagNoARP)).To(Succeed())
		Expect(d.Flags() & netdev.FlagNoARP).NotTo(BeZero())
		Expect(d.ChangeFlags(d.Flags() &^ netdev.FlagNoARP)).To(Succeed())
		Expect(d.Flags() & netdev.FlagNoARP).To(BeZero())
	})

	Describe("IFF_PROMISC", func() {
		It(`"the interface will hear all of the packets": reference counted, the driver's filter is told on each transition`, Label("article"), func() {
			d, drv := upEth()
			_, _, _, calls := drv.Calls()
			d.SetPromisc(1) // tcpdump
			f, _ := drv.Filter()
			Expect(f & netdev.FlagPromisc).NotTo(BeZero())
			d.SetPromisc(1) // a bridge
			_, _, _, calls2 := drv.Calls()
			Expect(calls2).To(Equal(calls+1), "0→1 only")
			d.SetPromisc(-1)
			Expect(d.Flags()&netdev.FlagPromisc).NotTo(BeZero(), "the bridge still needs it")
			d.SetPromisc(-1)
			Expect(d.Flags() & netdev.FlagPromisc).To(BeZero())
			f, _ = drv.Filter()
			Expect(f & netdev.FlagPromisc).To(BeZero())
			_, _, _, calls3 := drv.Calls()
			Expect(calls3).To(Equal(calls + 2))
		})

		It("ChangeFlags takes and drops one user reference", func() {
			d, _ := upEth()
			d.SetPromisc(1)
			Expect(d.ChangeFlags(d.Flags() | netdev.FlagPromisc)).To(Succeed())
			p, _ := d.Promiscuity()
			Expect(p).To(Equal(2))
			Expect(d.ChangeFlags(d.Flags() &^ netdev.FlagPromisc)).To(Succeed())
			p, _ = d.Promiscuity()
			Expect(p).To(Equal(1))
			Expect(d.Flags() & netdev.FlagPromisc).NotTo(BeZero())
			d.SetPromisc(-1)
		})

		It(`"one or two interfaces like the AX.25 interfaces are always in promiscuous mode": CapAlwaysPromisc`, Label("article"), func() {
			d := netdev.New("ax%d", &netdevtest.Driver{})
			d.Caps = netdev.CapAlwaysPromisc
			Expect(netdev.Register(d)).To(Succeed())
			DeferCleanup(netdev.Unregister, d)
			Expect(d.Flags() & netdev.FlagPromisc).NotTo(BeZero())
			d.SetPromisc(1)
			d.SetPromisc(-1)
			Expect(d.Flags() & netdev.FlagPromisc).NotTo(BeZero())
		})

		It("taking the count below zero is a programming error and panics", func() {
			d, _ := newEth()
			Expect(func() { d.SetPromisc(-1) }).To(PanicWith(ContainSubstring("would go negative")))
		})
	})

	Describe("IFF_ALLMULTI", func() {
		It(`"receive all multicast packets": reference counted and pushed to the driver`, Label("article"), func() {
			d, drv := upEth()
			d.SetAllMulti(1)
			f, _ := drv.Filter()
			Expect(f & (netdev.FlagAllMulti | netdev.FlagPromisc)).To(Equal(netdev.FlagAllMulti))
			d.SetAllMulti(-1)
			f, _ = drv.Filter()
			Expect(f & netdev.FlagAllMulti).To(BeZero())
		})

		It(`"an interface that cannot perform this operation but can receive all packets will go into promiscuous mode"`, Label("article"), func() {
			drv := &netdevtest.Driver{}
			d := netdev.New("eth%d", drv)
			netdev.EtherSetup(d)
			d.Caps = netdev.CapNoAllMulti
			Expect(netdev.Register(d)).To(Succeed())
			DeferCleanup(netdev.Unregister, d)
			Expect(d.Open()).To(Succeed())
			d.SetAllMulti(1)
			f, _ := drv.Filter()
			Expect(f & netdev.FlagPromisc).NotTo(BeZero())
			d.SetAllMulti(-1)
			f, _ = drv.Filter()
			Expect(f & (netdev.FlagPromisc | netdev.FlagAllMulti)).To(BeZero())
		})
	})

	Describe("IFF_MULTICAST", func() {
		It(`"the interface supports multicast IP traffic": the multicast list is kept and pushed to the driver`, Label("article"), func() {
			d, drv := upEth()
			Expect(d.Flags() & netdev.FlagMulticast).NotTo(BeZero())
			group := net.HardwareAddr{0x01, 0x00, 0x5e, 0, 0, 1}
			Expect(d.AddMulticast(group)).To(Succeed())
			_, list := drv.Filter()
			Expect(list).To(Equal([]net.HardwareAddr{group}))
			Expect(d.AddMulticast(group)).To(Succeed(), "a second user")
			Expect(d.DelMulticast(group)).To(Succeed())
			Expect(d.MulticastList()).To(Equal([]net.HardwareAddr{group}), "still one user")
			Expect(d.DelMulticast(group)).To(Succeed())
			_, list = drv.Filter()
			Expect(list).To(BeEmpty())
			Expect(d.DelMulticast(group)).To(MatchError(netdev.ErrNoSuchMulticast))
			Expect(d.AddMulticast(net.HardwareAddr(ourMAC))).To(MatchError(netdev.ErrNotMulticast))
		})

		It("a filter change on a down device is applied at Open", func() {
			d, drv := newEth()
			group := net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
			Expect(d.AddMulticast(group)).To(Succeed())
			_, _, _, calls := drv.Calls()
			Expect(calls).To(BeZero())
			Expect(d.Open()).To(Succeed())
			_, list := drv.Filter()
			Expect(list).To(Equal([]net.HardwareAddr{group}))
		})
	})
})
