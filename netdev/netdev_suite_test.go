package netdev_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/netdev"
	"dongle/netdev/netdevtest"
	"dongle/skbuff"
)

func TestNetdev(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "netdev")
}

// Every spec must leave no buffer allocated and no goroutine (bottom half)
// behind.
var _ = BeforeEach(func() {
	good := gleak.Goroutines()
	DeferCleanup(func() {
		Eventually(skbuff.Live).WithTimeout(time.Second).Should(BeZero(), "buffers leaked by this spec")
		Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(good))
	})
})

// newEth registers an Ethernet device driven by a fresh fake driver and
// unregisters it after the spec.
func newEth() (*netdev.Device, *netdevtest.Driver) {
	drv := &netdevtest.Driver{}
	d := netdev.New("eth%d", drv)
	netdev.EtherSetup(d)
	d.SetHardwareAddr(ourMAC)
	Expect(netdev.Register(d)).To(Succeed())
	DeferCleanup(func() { Expect(netdev.Unregister(d)).To(Succeed()) })
	return d, drv
}

// upEth is newEth, opened.
func upEth() (*netdev.Device, *netdevtest.Driver) {
	d, drv := newEth()
	Expect(d.Open()).To(Succeed())
	return d, drv
}

var (
	ourMAC   = []byte{0x02, 0, 0, 0, 0, 1}
	otherMAC = []byte{0x02, 0, 0, 0, 0, 2}
)

// frame builds an Ethernet frame to dst with the given type, whose first
// payload byte is tag, in a fresh buffer.
func frame(dst []byte, etype uint16, tag byte) *skbuff.Buff {
	b := skbuff.Alloc(1536)
	h := b.Put(14)
	copy(h[0:6], dst)
	copy(h[6:12], otherMAC)
	h[12], h[13] = byte(etype>>8), byte(etype)
	p := b.Put(46)
	p[0] = tag
	return b
}

// txFrame is a frame whose first byte (what the fake driver records) is
// tag, with a priority.
func txFrame(tag byte, prio int) *skbuff.Buff {
	b := skbuff.Alloc(100)
	b.Put(60)[0] = tag
	b.Priority = prio
	return b
}

// rxFrame is a received frame, already classified, with Protocol set.
func rxFrame(etype uint16, tag byte) *skbuff.Buff {
	b := skbuff.Alloc(100)
	b.Put(46)[0] = tag
	b.Protocol = etype
	return b
}
