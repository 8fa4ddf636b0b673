package tap

import (
	"os"
	"testing"

	"dongle/hw/sim/ifwire/vethtest"
	"dongle/netdev"
	"dongle/netdev/netdevtest"
	"dongle/skbuff"
)

// internalRig is a bridge on the fake driver, for the per-frame paths.
func internalRig(tb testing.TB) (*Bridge, *netdev.Device) {
	tb.Helper()
	if os.Geteuid() != 0 {
		vethtest.Cannot(tb, "needs root: makes a TAP (CAP_NET_ADMIN)")
	}
	dev := netdev.New("tapa%d", &netdevtest.Driver{})
	netdev.EtherSetup(dev)
	dev.SetHardwareAddr([]byte{0x02, 0xd0, 0x09, 0x1e, 0x00, 0x09})
	if err := netdev.Register(dev); err != nil {
		tb.Fatal(err)
	}
	if err := dev.Open(); err != nil {
		tb.Fatal(err)
	}
	b, err := Open(dev, Options{Name: "dglalloc%d", Up: true, NoIPv6: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		b.Close()
		dev.Close()
		netdev.Unregister(dev)
	})
	return b, dev
}

// rxFrame is a received frame as a driver hands it over (link header
// pulled).
func rxFrame(dev *netdev.Device, n int) *skbuff.Buff {
	skb := skbuff.Alloc(n)
	f := skb.Put(n)
	copy(f, []byte{0x02, 0xd0, 0x09, 0x1e, 0x00, 0x09, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x88, 0xb5})
	netdev.EthTypeTrans(skb, dev)
	return skb
}

// The device-to-host path (the rx handler's write to the TAP) allocates
// nothing per frame.
func TestToHostAllocatesNothing(t *testing.T) {
	b, dev := internalRig(t)
	b.toHost(rxFrame(dev, 1514)) // warm the pools
	if n := testing.AllocsPerRun(200, func() { b.toHost(rxFrame(dev, 1514)) }); n != 0 {
		t.Errorf("%v allocations per frame written to the TAP", n)
	}
	if st := b.Stats(); st.ToTAP != 202 || st.ToTAPErrors != 0 {
		t.Errorf("counters %+v: want 202 frames written", st)
	}
}

func BenchmarkToHost(bm *testing.B) {
	for _, n := range []int{60, 1514} {
		bm.Run(map[int]string{60: "60B", 1514: "1514B"}[n], func(bm *testing.B) {
			b, dev := internalRig(bm)
			bm.ReportAllocs()
			bm.SetBytes(int64(n))
			for bm.Loop() {
				b.toHost(rxFrame(dev, n))
			}
		})
	}
}
