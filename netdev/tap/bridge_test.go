package tap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw/sim/ifwire/vethtest"
	"dongle/netdev"
	"dongle/netdev/netdevtest"
	"dongle/netdev/tap"
	"dongle/skbuff"
)

var devMAC = net.HardwareAddr{0x02, 0xd0, 0x09, 0x1e, 0x00, 0x01}

// rig is an Ethernet device on the fake driver, recording every frame it
// is asked to send, joined to a TAP.
type rig struct {
	dev *netdev.Device
	drv *netdevtest.Driver
	br  *tap.Bridge

	refuse atomic.Bool // the driver answers busy, as a full chip does

	mu   sync.Mutex
	sent [][]byte
}

func newRig(t *testing.T, opts tap.Options) *rig {
	t.Helper()
	if os.Geteuid() != 0 {
		vethtest.Cannot(t, "needs root: makes a TAP (CAP_NET_ADMIN) and an AF_PACKET socket")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		vethtest.Cannot(t, "no /dev/net/tun: "+err.Error())
	}
	goroutines, buffers := runtime.NumGoroutine(), skbuff.Live()
	r := &rig{drv: &netdevtest.Driver{}}
	r.drv.OnXmit = func(b *skbuff.Buff, _ *netdev.Device) {
		r.drv.Busy = r.refuse.Load()
		if r.drv.Busy {
			return
		}
		r.mu.Lock()
		r.sent = append(r.sent, append([]byte(nil), b.Data()...))
		r.mu.Unlock()
	}
	r.dev = netdev.New("tapt%d", r.drv)
	netdev.EtherSetup(r.dev)
	r.dev.SetHardwareAddr(devMAC)
	if err := netdev.Register(r.dev); err != nil {
		t.Fatal(err)
	}
	if err := r.dev.Open(); err != nil {
		t.Fatal(err)
	}
	br, err := tap.Open(r.dev, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.br = br
	t.Cleanup(func() {
		if err := br.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := net.InterfaceByName(br.Name()); err == nil {
			t.Errorf("%s still exists after Close", br.Name())
		}
		_ = r.dev.Close()
		_ = netdev.Unregister(r.dev)
		deadline := time.Now().Add(2 * time.Second)
		for (runtime.NumGoroutine() > goroutines || skbuff.Live() != buffers) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			t.Errorf("%d goroutines after Close, %d before Open", n, goroutines)
		}
		if n := skbuff.Live(); n != buffers {
			t.Errorf("%d live buffers after Close, %d before Open", n, buffers)
		}
	})
	return r
}

func (r *rig) sentFrames() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.sent...)
}

// packetSocket is an AF_PACKET socket on the TAP: the host's side.
func packetSocket(t *testing.T, ifname string) int {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// testFrame is an Ethernet frame of size bytes with EtherType 0x88b5 and a
// numbered pattern.
func testFrame(dst, src net.HardwareAddr, size int, seq byte) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	for i := 14; i < size; i++ {
		f[i] = byte(i) + seq
	}
	return f
}

var hostMAC = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

func TestTheTAPTakesTheDevicesAddressMTUAndCarrier(t *testing.T) {
	r := newRig(t, tap.Options{Name: "dgltap%d", Up: true, NoIPv6: true})
	ifi, err := net.InterfaceByName(r.br.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ifi.HardwareAddr, devMAC) || ifi.MTU != r.dev.MTU() || ifi.Flags&net.FlagUp == 0 {
		t.Errorf("%s: MAC %s MTU %d flags %v; want %s, %d, up", ifi.Name, ifi.HardwareAddr, ifi.MTU, ifi.Flags, devMAC, r.dev.MTU())
	}
	if len(ifi.Name) < 7 || ifi.Name[:6] != "dgltap" {
		t.Errorf("name %q: the pattern's number not filled in", ifi.Name)
	}
	if !vethtest.WaitRunning(r.br.Name(), true, 2*time.Second) {
		t.Fatal("no carrier on the TAP while the device has one")
	}
	r.dev.CarrierOff()
	if !vethtest.WaitRunning(r.br.Name(), false, 2*time.Second) {
		t.Error("the TAP kept its carrier after the device lost it")
	}
	r.dev.CarrierOn()
	if !vethtest.WaitRunning(r.br.Name(), true, 2*time.Second) {
		t.Error("the TAP's carrier did not come back with the device's")
	}
	if err := r.br.CarrierErr(); err != nil {
		t.Error(err)
	}
}

func TestFramesCrossBothWaysWholeAndCounted(t *testing.T) {
	r := newRig(t, tap.Options{Up: true, NoIPv6: true})
	if !vethtest.WaitRunning(r.br.Name(), true, 2*time.Second) {
		t.Fatal("TAP not running")
	}
	fd := packetSocket(t, r.br.Name())

	// Host to device: every size edge, in order, byte for byte.
	sizes := []int{14, 60, 61, 512, 1514}
	for i, n := range sizes {
		if _, err := unix.Write(fd, testFrame(devMAC, hostMAC, n, byte(i))); err != nil {
			t.Fatalf("AF_PACKET send %d B: %v", n, err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(r.sentFrames()) < len(sizes) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sent := r.sentFrames()
	if len(sent) != len(sizes) {
		t.Fatalf("the driver got %d frames from the TAP, want %d", len(sent), len(sizes))
	}
	for i, n := range sizes {
		if want := testFrame(devMAC, hostMAC, n, byte(i)); !bytes.Equal(sent[i], want) {
			t.Errorf("frame %d (%d B) reached the driver as % x", i, n, sent[i][:min(len(sent[i]), 20)])
		}
	}

	// Device to host: as a driver delivers it (link header pulled).
	for i, n := range []int{60, 1514} {
		b := skbuff.Alloc(n)
		copy(b.Put(n), testFrame(hostMAC, devMAC, n, byte(10+i)))
		if _, err := netdev.EthTypeTrans(b, r.dev); err != nil {
			t.Fatal(err)
		}
		r.dev.Rx(b)
		buf := make([]byte, 2048)
		for {
			m, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("the host got no %d-byte frame from the device: %v", n, err)
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue // the frames the host itself sent above
			}
			if want := testFrame(hostMAC, devMAC, n, byte(10+i)); !bytes.Equal(buf[:m], want) {
				t.Errorf("the host got % x..., %d B; want the %d-byte frame", buf[:min(m, 20)], m, n)
			}
			break
		}
	}
	deadline = time.Now().Add(2 * time.Second)
	for r.br.Stats().ToTAP < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // counted just after the write
	}
	st := r.br.Stats()
	if st.FromTAP != uint64(len(sizes)) || st.ToTAP != 2 || st.FromTAPDropped != 0 || st.FromTAPBad != 0 || st.ToTAPErrors != 0 {
		t.Errorf("counters %+v: want %d from the TAP and 2 to it, nothing dropped", st, len(sizes))
	}
	if n := r.dev.Stats().RxNohandler.Load(); n != 0 {
		t.Errorf("rx_nohandler %d: frames missed the TAP", n)
	}
}

func TestFramesTheDeviceRefusesAreCountedNotLost(t *testing.T) {
	r := newRig(t, tap.Options{Up: true, NoIPv6: true})
	if !vethtest.WaitRunning(r.br.Name(), true, 2*time.Second) {
		t.Fatal("TAP not running")
	}
	fd := packetSocket(t, r.br.Name())
	if err := r.dev.Close(); err != nil { // down: Xmit refuses
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := unix.Write(fd, testFrame(devMAC, hostMAC, 60, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for r.br.Stats().FromTAPDropped < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := r.br.Stats()
	if st.FromTAPDropped != 3 || st.FromTAP != 0 || r.dev.Stats().TxDropped.Load() != 3 {
		t.Errorf("counters %+v, device tx_dropped %d: want the 3 refused frames counted by both", st, r.dev.Stats().TxDropped.Load())
	}
}

func TestABackedUpDeviceSlowsTheTAPInsteadOfDropping(t *testing.T) {
	r := newRig(t, tap.Options{Up: true, NoIPv6: true})
	if !vethtest.WaitRunning(r.br.Name(), true, 2*time.Second) {
		t.Fatal("TAP not running")
	}
	fd := packetSocket(t, r.br.Name())
	r.dev.SetTxQueueLen(4)
	r.refuse.Store(true) // the driver takes nothing: the queue fills
	const n = 10
	for i := range n {
		if _, err := unix.Write(fd, testFrame(devMAC, hostMAC, 60, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if q := r.dev.TxQueued(); q != 4 {
		t.Errorf("%d frames queued on the device, want its queue full (4)", q)
	}
	r.refuse.Store(false)
	r.dev.WakeQueue()
	deadline := time.Now().Add(2 * time.Second)
	for len(r.sentFrames()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := len(r.sentFrames()); got != n {
		t.Errorf("the driver got %d of %d frames", got, n)
	}
	st := r.br.Stats()
	if st.FromTAP != n || st.FromTAPDropped != 0 || r.dev.Stats().TxDropped.Load() != 0 {
		t.Errorf("counters %+v, tx_dropped %d: want all %d through, none dropped", st, r.dev.Stats().TxDropped.Load(), n)
	}
}

func TestOpenRefusesWhatItCannotMake(t *testing.T) {
	if os.Geteuid() != 0 {
		vethtest.Cannot(t, "needs root: makes TAPs")
	}
	drv := &netdevtest.Driver{}
	dev := netdev.New("tapt%d", drv)
	netdev.EtherSetup(dev)
	if err := netdev.Register(dev); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netdev.Unregister(dev) })
	if _, err := tap.Open(dev, tap.Options{Name: "a-name-far-too-long-for-linux"}); !errors.Is(err, tap.ErrName) {
		t.Errorf("a 29-byte name: %v, want ErrName", err)
	}
	// No address: a TAP cannot stand in for an adapter without one.
	if _, err := tap.Open(dev, tap.Options{Name: "dglnomac%d"}); !errors.Is(err, tap.ErrAddress) {
		t.Errorf("a device without a MAC: %v, want ErrAddress", err)
	}
	dev.SetHardwareAddr(devMAC)
	br, err := tap.Open(dev, tap.Options{Name: "dglone%d"})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	// The device's rx handler is the first bridge's.
	if _, err := tap.Open(dev, tap.Options{Name: "dgltwo%d"}); !errors.Is(err, netdev.ErrRxHandlerBusy) {
		t.Errorf("a second bridge on one device: %v, want ErrRxHandlerBusy", err)
	}
	if _, err := net.InterfaceByName("dgltwo0"); err == nil {
		t.Error("the refused second TAP was left behind")
	}
}

func TestANameInUseIsRefusedNotTakenOver(t *testing.T) {
	r := newRig(t, tap.Options{Name: "dgltaken%d"})
	dev := netdev.New("tapt%d", &netdevtest.Driver{})
	netdev.EtherSetup(dev)
	dev.SetHardwareAddr(net.HardwareAddr{0x02, 0xd0, 0x09, 0x1e, 0x00, 0x02})
	if err := netdev.Register(dev); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netdev.Unregister(dev) })
	// Another bridge's TAP, and an interface of another kind.
	for _, name := range []string{r.br.Name(), "lo"} {
		if _, err := tap.Open(dev, tap.Options{Name: name}); !errors.Is(err, tap.ErrNameTaken) {
			t.Errorf("%s: %v, want ErrNameTaken", name, err)
		}
		if err := tap.Check(name); !errors.Is(err, tap.ErrNameTaken) {
			t.Errorf("Check(%s): %v, want ErrNameTaken", name, err)
		}
	}
	// A persistent TAP someone made stays theirs, untouched.
	if out, err := exec.Command("ip", "tuntap", "add", "dev", "dglpersist", "mode", "tap").CombinedOutput(); err != nil {
		t.Fatalf("ip tuntap add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "tuntap", "del", "dev", "dglpersist", "mode", "tap").Run() })
	before, _ := net.InterfaceByName("dglpersist")
	if _, err := tap.Open(dev, tap.Options{Name: "dglpersist", Up: true}); !errors.Is(err, tap.ErrNameTaken) {
		t.Errorf("a persistent TAP: %v, want ErrNameTaken", err)
	}
	after, err := net.InterfaceByName("dglpersist")
	if err != nil || !bytes.Equal(after.HardwareAddr, before.HardwareAddr) || after.Flags != before.Flags {
		t.Errorf("the persistent TAP changed: %v -> %v (%v)", before, after, err)
	}
	if err := tap.Check("dglfree%d"); err != nil {
		t.Errorf("Check on a free name: %v", err)
	}
	if _, err := net.InterfaceByName("dglfree0"); err == nil {
		t.Error("Check left its TAP behind")
	}
}

func TestATAPDeletedUnderTheBridgeEndsIt(t *testing.T) {
	r := newRig(t, tap.Options{Up: true, NoIPv6: true})
	if out, err := exec.Command("ip", "link", "del", r.br.Name()).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v: %s", err, out)
	}
	select {
	case <-r.br.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the bridge did not notice its TAP was deleted")
	}
	if err := r.br.Err(); err == nil || !strings.Contains(err.Error(), r.br.Name()) {
		t.Errorf("Err() = %v, want the read error naming the TAP", err)
	}
}

func TestTheDevicePassesAllMulticastWhileBridged(t *testing.T) {
	r := newRig(t, tap.Options{Up: true, NoIPv6: true})
	if _, allmulti := r.dev.Promiscuity(); allmulti != 1 {
		t.Errorf("allmulti %d while bridged, want 1", allmulti)
	}
	if err := r.br.Close(); err != nil {
		t.Fatal(err)
	}
	if _, allmulti := r.dev.Promiscuity(); allmulti != 0 {
		t.Errorf("allmulti %d after Close, want 0", allmulti)
	}
}
