package wiretest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"dongle/hw/sim/ifwire/vethtest"
	"dongle/specs"
)

// openIface opens --peer=iface:name through the registry, as the backends do.
func openIface(t *testing.T, name string) (specs.PeerConn, error) {
	t.Helper()
	s, arg, err := specs.ParsePeer("iface:" + name)
	if err != nil {
		t.Fatal(err)
	}
	return s.Open(context.Background(), arg)
}

// TestIfacePeer: two iface peers on the two ends of a veth. Each keeps
// only this run's test frames from the other and counts the rest, never
// captures its own, takes the link down (the other end loses carrier) and
// brings it back up on Close, and leaves no goroutine behind.
func TestIfacePeer(t *testing.T) {
	a, b := vethtest.Veth(t)
	goroutines := runtime.NumGoroutine()
	pa, err := openIface(t, a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := openIface(t, b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	other := net.HardwareAddr{0x02, 0, 0, 0x11, 0x22, 0x33}
	f := specs.Frame(other, specs.PeerMAC, 1514, 1)
	lldp := specs.Frame(net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x0e}, specs.PeerMAC, 60, 2)
	binary.BigEndian.PutUint16(lldp[12:], 0x88cc)
	stale := specs.Frame(other, specs.PeerMAC, 60, 3)
	binary.BigEndian.PutUint32(stale[14:], specs.RunTag()+1) // another run's
	for _, x := range [][]byte{lldp, stale, f} {
		if err := pa.Inject(x); err != nil {
			t.Fatalf("inject: %v", err)
		}
	}
	got, err := pb.Received(ctx, 1)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Fatalf("b received %d frames, %v; want exactly the test frame", len(got), err)
	}
	if n := pb.Ignored(); n != 2 {
		t.Errorf("b ignored %d frames, want 2 (LLDP, another run's)", n)
	}
	// A peer does not capture what it sent itself.
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	got, err = pa.Received(short, 1)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Errorf("a captured its own frames: %d, %v", len(got), err)
	}
	pb.Reset()
	if err := pb.Inject(specs.Frame(specs.PeerMAC, other, 60, 4)); err != nil {
		t.Fatal(err)
	}
	if got, err := pa.Received(ctx, 1); err != nil || specs.FrameSeq(got[0]) != 4 {
		t.Fatalf("b → a: %v", err)
	}

	// Link: a down drops b's carrier; a peer that took its link down
	// brings it up again when it closes.
	link, ok := pa.(specs.PeerLink)
	if !ok {
		t.Fatal("the iface peer has no link control")
	}
	if err := link.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if !vethtest.WaitRunning(b, false, 2*time.Second) {
		t.Errorf("%s still running with %s down", b, a)
	}
	if err := pa.Inject(f); !errors.Is(err, specs.ErrPeerDown) {
		t.Errorf("inject with the link down: %v, want ErrPeerDown", err)
	}
	if err := pa.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if ifi, _ := net.InterfaceByName(a); ifi == nil || ifi.Flags&net.FlagUp == 0 {
		t.Errorf("%s left down after Close", a)
	}
	if err := pa.Close(); !errors.Is(err, specs.ErrPeerClosed) {
		t.Errorf("second Close: %v, want ErrPeerClosed", err)
	}
	if err := pa.Inject(f); !errors.Is(err, specs.ErrPeerClosed) {
		t.Errorf("inject after Close: %v, want ErrPeerClosed", err)
	}
	if _, err := pa.Received(ctx, 5); !errors.Is(err, specs.ErrPeerClosed) {
		t.Errorf("Received after Close: %v, want ErrPeerClosed at once", err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Close, %d before", n, goroutines)
	}
}

func TestIfacePeerErrors(t *testing.T) {
	if _, err := openIface(t, ""); !errors.Is(err, specs.ErrPeerArg) {
		t.Errorf("iface: without a name: %v, want ErrPeerArg", err)
	}
	if _, err := openIface(t, "dgl-no-such"); !errors.Is(err, specs.ErrPeerNotFound) {
		t.Errorf("a missing interface: %v, want ErrPeerNotFound", err)
	}
	a, _ := vethtest.Veth(t)
	if out, err := exec.Command("ip", "link", "set", a, "down").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := openIface(t, a); !errors.Is(err, specs.ErrPeerDown) {
		t.Errorf("an interface that is down: %v, want ErrPeerDown", err)
	}
}
