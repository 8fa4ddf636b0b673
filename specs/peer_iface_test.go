package specs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"dongle/hw/sim/ifwire/vethtest"
)

func carrierOf(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/sys/class/net/" + name + "/carrier")
	if err != nil {
		return "none" // EINVAL while the interface is down
	}
	return string(bytes.TrimSpace(b))
}

func TestIfacePeer(t *testing.T) {
	a, b := vethtest.Veth(t)
	goroutines := runtime.NumGoroutine()
	pa, err := openIfacePeer(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := openIfacePeer(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	other := net.HardwareAddr{0x02, 0, 0, 0x11, 0x22, 0x33}
	f := Frame(other, PeerMAC, 1514, 1)
	lldp := Frame(net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x0e}, PeerMAC, 60, 2)
	binary.BigEndian.PutUint16(lldp[12:], 0x88cc)
	stale := Frame(other, PeerMAC, 60, 3)
	binary.BigEndian.PutUint32(stale[tagOffset:], RunTag()+1) // another run's
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
	if err := pb.Inject(Frame(PeerMAC, other, 60, 4)); err != nil {
		t.Fatal(err)
	}
	if got, err := pa.Received(ctx, 1); err != nil || FrameSeq(got[0]) != 4 {
		t.Fatalf("b → a: %v", err)
	}

	// Link: a down drops b's carrier; a peer that took its link down
	// brings it up again when it closes.
	if err := pa.(PeerLink).SetLink(false); err != nil {
		t.Fatal(err)
	}
	if c := carrierOf(t, b); c != "0" {
		t.Errorf("carrier of %s with %s down: %q, want 0", b, a, c)
	}
	if err := pa.Inject(f); !errors.Is(err, ErrPeerDown) {
		t.Errorf("inject with the link down: %v, want ErrPeerDown", err)
	}
	if err := pa.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if ifi, _ := net.InterfaceByName(a); ifi == nil || ifi.Flags&net.FlagUp == 0 {
		t.Errorf("%s left down after Close", a)
	}
	if err := pa.Close(); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("second Close: %v, want ErrPeerClosed", err)
	}
	if err := pa.Inject(f); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("inject after Close: %v, want ErrPeerClosed", err)
	}
	if _, err := pa.Received(ctx, 5); !errors.Is(err, ErrPeerClosed) {
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
	if _, err := openIfacePeer(""); !errors.Is(err, ErrPeerArg) {
		t.Errorf("iface: without a name: %v, want ErrPeerArg", err)
	}
	if _, err := openIfacePeer("dgl-no-such"); !errors.Is(err, ErrPeerNotFound) {
		t.Errorf("a missing interface: %v, want ErrPeerNotFound", err)
	}
	a, _ := vethtest.Veth(t)
	if out, err := exec.Command("ip", "link", "set", a, "down").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := openIfacePeer(a); !errors.Is(err, ErrPeerDown) {
		t.Errorf("an interface that is down: %v, want ErrPeerDown", err)
	}
}
