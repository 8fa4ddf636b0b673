package netdev_test

import (
	"encoding/json"
	"errors"
	"net"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/netdev/netdevtest"
)

var _ = Describe("registration", func() {
	It(`"the init method is called when the device is initialized and registered"`, Label("article"), func() {
		d, drv := newEth()
		inits, _, _, _ := drv.Calls()
		Expect(inits).To(Equal(1))
		Expect(d.Registered()).To(BeTrue())
		Expect(netdev.Lookup(d.Name())).To(BeIdenticalTo(d))
	})

	It(`"if the init method returns an error, the register_netdev() call returns the error code, and the device is not created"`, Label("article"), func() {
		notPresent := errors.New("no such hardware")
		bad := netdev.New("eth%d", &netdevtest.Driver{InitErr: notPresent})
		netdev.EtherSetup(bad)
		err := netdev.Register(bad)
		Expect(err).To(MatchError(notPresent))
		Expect(err.Error()).To(ContainSubstring("init"))
		Expect(bad.Registered()).To(BeFalse())
		Expect(bad.Name()).To(Equal("eth%d"), "no name was kept")
		Expect(bad.Open()).To(MatchError(netdev.ErrNotRegistered))

		// The name it had been given is free for the next device.
		good, _ := newEth()
		var ne *netdev.Error
		Expect(errors.As(err, &ne)).To(BeTrue())
		Expect(good.Name()).To(Equal(ne.Dev))
	})

	It("allocates eth%d names from the smallest free number and frees them at Unregister", func() {
		a, _ := newEth()
		b, _ := newEth()
		Expect(a.Name()).To(MatchRegexp(`^eth\d+$`))
		Expect(b.Name()).NotTo(Equal(a.Name()))
		c := netdev.New("eth%d", &netdevtest.Driver{})
		Expect(netdev.Unregister(a)).To(Succeed())
		Expect(netdev.Register(c)).To(Succeed())
		Expect(c.Name()).To(Equal(a.Name()), "the freed name is reused")
		Expect(netdev.Unregister(c)).To(Succeed())
		Expect(netdev.Register(a)).To(Succeed()) // for the deferred Unregister
	})

	DescribeTable("bad or taken names are refused with an error naming the cause",
		func(pattern string, want error) {
			taken := netdev.New("taken0", &netdevtest.Driver{})
			Expect(netdev.Register(taken)).To(Succeed())
			DeferCleanup(netdev.Unregister, taken)
			err := netdev.Register(netdev.New(pattern, &netdevtest.Driver{}))
			Expect(err).To(MatchError(want))
		},
		Entry("taken", "taken0", netdev.ErrNameTaken),
		Entry("empty", "", netdev.ErrBadName),
		Entry("too long", "averyveryverylongname%d", netdev.ErrBadName),
		Entry("slash", "eth/%d", netdev.ErrBadName),
		Entry("two numbers", "e%d%d", netdev.ErrBadName),
		Entry("other verb", "eth%s", netdev.ErrBadName),
	)

	It("a name of IFNAMSIZ-1 (15) characters is the longest taken", func() {
		longest := netdev.New("abcdefghijklmno", &netdevtest.Driver{})
		Expect(netdev.Register(longest)).To(Succeed())
		DeferCleanup(netdev.Unregister, longest)
		Expect(netdev.Register(netdev.New("abcdefghijklmnop", &netdevtest.Driver{}))).To(MatchError(netdev.ErrBadName))
	})

	It("registering twice and unregistering twice are errors", func() {
		d, _ := newEth()
		Expect(netdev.Register(d)).To(MatchError(netdev.ErrRegistered))
		x := netdev.New("x%d", &netdevtest.Driver{})
		Expect(netdev.Unregister(x)).To(MatchError(netdev.ErrNotRegistered))
	})

	It("an Open error leaves the device down", func() {
		d, drv := newEth()
		drv.OpenErr = errors.New("firmware missing")
		Expect(d.Open()).To(MatchError(drv.OpenErr))
		Expect(d.Flags() & netdev.FlagUp).To(BeZero())
	})

	Describe("MTU and address", func() {
		It("SetMTU checks the range, asks the driver, stores on success", func() {
			d, drv := newEth()
			Expect(d.MTU()).To(Equal(1500))
			Expect(d.SetMTU(68)).To(Succeed(), "MinMTU itself")
			Expect(d.SetMTU(1500)).To(Succeed(), "MaxMTU itself")
			Expect(d.SetMTU(1400)).To(Succeed())
			Expect(d.MTU()).To(Equal(1400))
			Expect(d.SetMTU(67)).To(MatchError(netdev.ErrMTURange))
			Expect(d.SetMTU(1501)).To(MatchError(netdev.ErrMTURange))
			drv.MTUErr = errors.New("chip limit")
			Expect(d.SetMTU(1000)).To(MatchError(drv.MTUErr))
			Expect(d.MTU()).To(Equal(1400))
		})

		It("SetMTU with no MaxMTU has no upper bound, and never takes 0", func() {
			d, _ := newEth()
			d.MinMTU, d.MaxMTU = 0, 0
			Expect(d.SetMTU(9000)).To(Succeed())
			Expect(d.MTU()).To(Equal(9000))
			Expect(d.SetMTU(0)).To(MatchError(netdev.ErrMTURange))
			Expect(d.SetMTU(1)).To(Succeed())
		})

		It("EtherSetup keeps an address set before it, and gives a device with none a zero one", func() {
			d := netdev.New("eth%d", &netdevtest.Driver{})
			d.SetHardwareAddr(ourMAC)
			netdev.EtherSetup(d)
			Expect(d.HardwareAddr()).To(Equal(net.HardwareAddr(ourMAC)))
			bare := netdev.New("eth%d", &netdevtest.Driver{})
			netdev.EtherSetup(bare)
			Expect(bare.HardwareAddr()).To(Equal(make(net.HardwareAddr, netdev.EthAddrLen)))
		})

		It("ChangeHardwareAddr asks the driver and validates the address", func() {
			d, drv := newEth()
			Expect(d.HardwareAddr()).To(Equal(net.HardwareAddr(ourMAC)))
			n := net.HardwareAddr{0x02, 1, 2, 3, 4, 5}
			Expect(d.ChangeHardwareAddr(n)).To(Succeed())
			Expect(d.HardwareAddr()).To(Equal(n))
			Expect(d.ChangeHardwareAddr(net.HardwareAddr{1, 2, 3})).To(MatchError(netdev.ErrBadAddress))
			Expect(d.ChangeHardwareAddr(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1})).To(MatchError(netdev.ErrBadAddress))
			drv.MACErr = errors.New("read-only eeprom")
			Expect(d.ChangeHardwareAddr(net.HardwareAddr{0x02, 9, 9, 9, 9, 9})).To(MatchError(drv.MACErr))
			Expect(d.HardwareAddr()).To(Equal(n))
			// The returned address is a copy.
			d.HardwareAddr()[0] = 0xee
			Expect(d.HardwareAddr()).To(Equal(n))
		})
	})

	It("statistics carry Linux's rtnl_link_stats64 names as JSON", func() {
		d, _ := newEth()
		d.Stats().RxPackets.Add(3)
		d.Stats().RxCRCErrors.Add(1)
		d.Stats().RxNohandler.Add(2)
		d.Stats().TxCarrierErrors.Add(4)
		js, err := json.Marshal(d.GetStats().Snapshot())
		Expect(err).NotTo(HaveOccurred())
		var m map[string]uint64
		Expect(json.Unmarshal(js, &m)).To(Succeed())
		Expect(m).To(HaveKeyWithValue("rx_packets", uint64(3)))
		Expect(m).To(HaveKeyWithValue("rx_crc_errors", uint64(1)))
		Expect(m).To(HaveKeyWithValue("rx_nohandler", uint64(2)))
		Expect(m).To(HaveKeyWithValue("tx_carrier_errors", uint64(4)))
		Expect(m).To(HaveKeyWithValue("tx_dropped", uint64(0)))
		Expect(m).To(HaveLen(24))
	})
})
