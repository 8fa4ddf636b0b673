package ifwire_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw/sim"
	"dongle/hw/sim/ifwire"
	"dongle/hw/sim/ifwire/vethtest"
)

// rawSocket is a plain AF_PACKET socket on name: the test's own view of
// the cable's far end.
func rawSocket(t *testing.T, name string) int {
	t.Helper()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0x0300, Ifindex: ifi.Index}); err != nil { // htons(ETH_P_ALL)
		t.Fatal(err)
	}
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func frame(dst byte, size int) []byte {
	f := make([]byte, size)
	f[0], f[1] = dst, 0x11
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 0x77})
	f[12], f[13] = 0x88, 0xb5
	for i := 14; i < size; i++ {
		f[i] = byte(i)
	}
	return f
}

func TestBridgeMovesFramesAndCarrier(t *testing.T) {
	a, b := vethtest.Veth(t)
	before := runtime.NumGoroutine()
	w := sim.NewWire()
	model := sim.NewCapture()
	w.A().Attach(model)
	var mu sync.Mutex
	var links []bool
	br, err := ifwire.Open(w.B(), b, func(up bool) { mu.Lock(); links = append(links, up); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	fd := rawSocket(t, a)

	// Interface → model: a frame sent on the far end reaches the model whole.
	out := frame(0x02, 1514)
	if err := unix.Send(fd, out, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := model.WaitFor(ctx, 1)
	if err != nil || !bytes.Equal(got[0], out) {
		t.Fatalf("far end → model: %d frames, %v", len(got), err)
	}

	// A runt from the far end (a stack's 42-byte ARP reply: a veth does
	// not pad) reaches the model padded to 60 bytes, as on a cable.
	runt := frame(0x02, 42)
	if err := unix.Send(fd, runt, 0); err != nil {
		t.Fatal(err)
	}
	got, err = model.WaitFor(ctx, 2)
	if err != nil || len(got) != 2 || len(got[1]) != 60 || !bytes.Equal(got[1][:42], runt) || !bytes.Equal(got[1][42:], make([]byte, 18)) {
		t.Fatalf("a 42-byte frame reached the model as %d frames, the last % x (%v)", len(got), got[len(got)-1], err)
	}
	model.Reset()

	// Model → interface: a frame the model sends leaves through b and
	// arrives at a, unchanged, and never comes back into the wire.
	in := frame(0x04, 60)
	if !w.A().Send(in) {
		t.Fatal("the bridge did not take the model's frame")
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("model → far end: nothing arrived: %v", err)
		}
		if ll := from.(*unix.SockaddrLinklayer); ll.Pkttype == unix.PACKET_OUTGOING {
			continue // the frame this test sent above
		}
		if !bytes.Equal(buf[:n], in) {
			t.Fatalf("model → far end: got % x, want % x", buf[:n], in)
		}
		break
	}
	if br.ToIface.Load() != 1 || br.FromIface.Load() != 2 || br.Padded.Load() != 1 {
		t.Errorf("counters: to %d from %d padded %d, want 1, 2 and 1", br.ToIface.Load(), br.FromIface.Load(), br.Padded.Load())
	}
	if model.Len() != 0 {
		t.Errorf("the model got %d frames since, want 0 (its own frame came back?)", model.Len())
	}

	// Another interface's link changes are not this bridge's.
	c, _ := vethtest.Veth(t)
	mu.Lock()
	calls := len(links)
	mu.Unlock()
	if out, err := exec.Command("ip", "link", "set", c, "down").CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s down: %v: %s", c, err, out)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	if len(links) != calls {
		t.Errorf("another pair going down changed the model's link: %v", links[calls:])
	}
	mu.Unlock()

	// Carrier: the far end going down drops b's carrier, and the model's link.
	for _, c := range []struct {
		state string
		want  bool
	}{{"down", false}, {"up", true}} {
		if out, err := exec.Command("ip", "link", "set", a, c.state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s %s: %v: %s", a, c.state, err, out)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			mu.Lock()
			last := links[len(links)-1]
			mu.Unlock()
			if last == c.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("far end %s: link reports %v", c.state, links)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	mu.Lock()
	if len(links) < 3 || !links[0] {
		t.Errorf("link calls %v: want up (at Open), down, up", links)
	}
	mu.Unlock()

	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if w.A().Send(in) {
		t.Error("a closed bridge still took frames")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}

func TestBridgeErrors(t *testing.T) {
	_, b := vethtest.Veth(t)
	if _, err := ifwire.Open(sim.NewWire().B(), "dgl-no-such", nil); !errors.Is(err, ifwire.ErrBridge) {
		t.Errorf("missing interface: %v", err)
	}
	if out, err := exec.Command("ip", "link", "set", b, "down").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := ifwire.Open(sim.NewWire().B(), b, nil); !errors.Is(err, ifwire.ErrBridge) {
		t.Errorf("interface down: %v", err)
	}
}

func TestBridgeHoldsFramesWhileTheModelPauses(t *testing.T) {
	a, b := vethtest.Veth(t)
	w := sim.NewWire()
	model := sim.NewCapture()
	w.A().Attach(model)
	br, err := ifwire.Open(w.B(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	var paused atomic.Bool
	paused.Store(true)
	br.SetHold(paused.Load)
	fd := rawSocket(t, a)
	for i := range 5 {
		if err := unix.Send(fd, frame(byte(0x02+2*i), 100), 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := model.Len(); n != 0 {
		t.Fatalf("%d frames reached a paused model", n)
	}
	paused.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := model.WaitFor(ctx, 5)
	if err != nil {
		t.Fatalf("after the pause: %d frames, %v", len(got), err)
	}
	for i, f := range got {
		if f[0] != byte(0x02+2*i) {
			t.Errorf("frame %d after the pause is % x..., out of order or lost", i, f[:6])
		}
	}
	// Close does not wait for a pause to end.
	paused.Store(true)
	if err := unix.Send(fd, frame(0x0e, 100), 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- br.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close hung behind a held frame")
	}
	br.SetHold(nil)
}
