package specs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dongle/hw/vmlab"
	"dongle/hw/vmlab/guest"
)

// TestLabWire runs the spec-side lab peer and its faults against the real
// host peer (hw/vmlab), with a unixgram socket playing QEMU's usb-net.
func TestLabWire(t *testing.T) {
	dir, err := os.MkdirTemp("", "labwire")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	host, err := vmlab.ListenPeer(dir, guest.PeerEcho, "")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	var plugs []bool
	host.SetPlug(func(on bool) error { plugs = append(plugs, on); return nil })
	qemu, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: host.QEMUSocketPath(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer qemu.Close()
	to := &net.UnixAddr{Name: host.SocketPath(), Net: "unixgram"}
	p, err := guest.DialWire(host.ControlPath())
	if err != nil {
		t.Fatal(err)
	}
	w, err := openLabWire("test", p)
	if err != nil {
		t.Fatal(err)
	}
	me := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	other := append(bytes.Repeat([]byte{0xff}, 12), 0x86, 0xdd, 0, 0, 0, 0) // IPv6: not a test frame
	sent := []([]byte){Frame(PeerMAC, me, 100, 1), Frame(PeerMAC, me, 1514, 2)}
	for _, f := range [][]byte{other, sent[0], sent[1]} {
		if _, err := qemu.WriteToUnix(f, to); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := w.Received(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0], sent[0]) || !bytes.Equal(got[1], sent[1]) {
		t.Fatalf("Received(2) = %d frames, want the 2 test frames in order", len(got))
	}
	if w.Ignored() != 1 {
		t.Fatalf("Ignored = %d, want 1 (the IPv6 frame)", w.Ignored())
	}
	// Nothing more within the deadline: the error says how many came.
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if got, err := w.Received(short, 3); !errors.Is(err, guest.ErrShort) || len(got) != 2 {
		t.Fatalf("Received(3) = %d frames, %v; want 2 and ErrShort", len(got), err)
	}
	w.Reset()
	short, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	if got, err := w.Received(short, 1); err == nil || len(got) != 0 {
		t.Fatalf("after Reset: %d frames, %v; want none and an error", len(got), err)
	}
	if w.Ignored() != 1 {
		t.Fatalf("Ignored after Reset = %d, want still 1: it counts since open", w.Ignored())
	}
	if _, err := qemu.WriteToUnix(other, to); err != nil {
		t.Fatal(err)
	}
	short4, cancel4 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel4()
	w.Received(short4, 1)
	if w.Ignored() != 2 {
		t.Fatalf("Ignored = %d, want 2: one before the Reset, one after", w.Ignored())
	}
	in := Frame(me, PeerMAC, 60, 3)
	if err := w.Inject(in); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	qemu.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := qemu.ReadFromUnix(buf); err != nil || !bytes.Equal(buf[:n], in) {
		t.Fatalf("QEMU got % x (%v), want the injected frame", buf[:n], err)
	}

	fc, err := openLabFaults(ctx, "", w)
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.Restore(); err != nil || len(plugs) != 0 {
		t.Fatalf("Restore without an unplug: %v, plugs %v; want nothing done", err, plugs)
	}
	if err := fc.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := fc.Restore(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(plugs) != "[false true]" {
		t.Fatalf("plugs %v, want unplug then replug", plugs)
	}
	if err := fc.TimeoutNext(0x02, 1); !errors.Is(err, ErrNoFault) {
		t.Fatalf("TimeoutNext: %v, want ErrNoFault", err)
	}
	if err := fc.Stall(0x81); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("Stall on usb-net's host peer: %v, want it refused", err)
	}
	if _, err := openLabFaults(ctx, "", &fakePeer{PeerCapture: NewPeerCapture()}); !errors.Is(err, ErrFaults) {
		t.Fatalf("lab faults over another peer: %v, want ErrFaults", err)
	}

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("second Close: %v, want ErrPeerClosed", err)
	}
	if err := w.Inject(in); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("Inject after Close: %v, want ErrPeerClosed", err)
	}
	// Close put the host peer back in echo mode.
	if _, err := qemu.WriteToUnix(sent[0], to); err != nil {
		t.Fatal(err)
	}
	qemu.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := qemu.ReadFromUnix(buf); err != nil || !bytes.Equal(buf[:n], sent[0]) {
		t.Fatalf("after Close the host peer did not echo: % x, %v", buf[:n], err)
	}
}

// TestRelinkFunctions: the udc fault's Restore re-creates each ncm link of
// the gadget's configurations (a new link: configfs frees the function and
// allocates it anew), pointing at the same function, and leaves other
// functions' links alone.
func TestRelinkFunctions(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"functions/ncm.0", "functions/ecm.0", "configs/c.1", "configs/c.2"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{"configs/c.1/ncm.0": "functions/ncm.0", "configs/c.2/ncm.0": "functions/ncm.0", "configs/c.1/ecm.0": "functions/ecm.0"}
	made := map[string]syscall.Timespec{}
	for l, fn := range links {
		p := filepath.Join(dir, l)
		if err := os.Symlink(filepath.Join(dir, fn), p); err != nil {
			t.Fatal(err)
		}
		made[l] = changed(t, p)
	}
	time.Sleep(20 * time.Millisecond) // a link made anew has a later ctime
	if err := relinkFunctions(dir, "ncm."); err != nil {
		t.Fatal(err)
	}
	for l, fn := range links {
		p := filepath.Join(dir, l)
		target, err := os.Readlink(p)
		if err != nil || target != filepath.Join(dir, fn) {
			t.Errorf("%s -> %q (%v), want %s", l, target, err, fn)
		}
		relinked := changed(t, p) != made[l]
		if want := strings.Contains(l, "ncm."); relinked != want {
			t.Errorf("%s relinked %v, want %v", l, relinked, want)
		}
	}
}

// changed is the link's own ctime (inodes are reused at once).
func changed(t *testing.T, p string) syscall.Timespec {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ctim
}
