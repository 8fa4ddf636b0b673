package usbip

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim"
	"dongle/hw/usbmon"
)

// host is the kernel's side of the socket, for tests.
type host struct {
	t *testing.T
	f *os.File
}

func newPair(t *testing.T, m sim.Model) (*host, *sim.Device) {
	t.Helper()
	return newPairOpts(t, m, Options{})
}

func newPairOpts(t *testing.T, m sim.Model, o Options) (*host, *sim.Device) {
	t.Helper()
	h, dev, _ := newServer(t, m, o)
	return h, dev
}

// newServer is newPairOpts that also returns the server.
func newServer(t *testing.T, m sim.Model, o Options) (*host, *sim.Device, *Server) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	dev := sim.New(m, hw.Info{})
	s := NewServer(dev, os.NewFile(uintptr(fds[0]), "server"), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	h := &host{t: t, f: os.NewFile(uintptr(fds[1]), "host")}
	t.Cleanup(func() {
		cancel()
		h.f.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		dev.Close()
	})
	return h, dev, s
}

func (h *host) submit(seq uint32, ep uint32, in bool, flags uint32, length int, setup []byte, out []byte) {
	h.t.Helper()
	var b [headerLen]byte
	be := binary.BigEndian
	be.PutUint32(b[0:], cmdSubmit)
	be.PutUint32(b[4:], seq)
	if in {
		be.PutUint32(b[12:], 1)
	}
	be.PutUint32(b[16:], ep)
	be.PutUint32(b[20:], flags)
	be.PutUint32(b[24:], uint32(length))
	copy(b[40:], setup)
	if _, err := h.f.Write(append(b[:], out...)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) unlink(seq, target uint32) {
	var b [headerLen]byte
	binary.BigEndian.PutUint32(b[0:], cmdUnlink)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[20:], target)
	h.f.Write(b[:])
}

// reply reads one RET_SUBMIT or RET_UNLINK: command, seq, status, data.
func (h *host) reply(in bool) (cmd, seq uint32, status int32, data []byte) {
	h.t.Helper()
	h.f.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [headerLen]byte
	if _, err := io.ReadFull(h.f, b[:]); err != nil {
		h.t.Fatalf("reading a reply: %v", err)
	}
	be := binary.BigEndian
	cmd, seq, status = be.Uint32(b[0:]), be.Uint32(b[4:]), int32(be.Uint32(b[20:]))
	if cmd == retSubmit && in {
		data = make([]byte, int32(be.Uint32(b[24:])))
		if _, err := io.ReadFull(h.f, data); err != nil {
			h.t.Fatal(err)
		}
	}
	return
}

func static() (*sim.Static, *[][]byte) {
	var outs [][]byte
	dev := []byte{18, 1, 0, 2, 0xff, 0, 0, 64, 0x34, 0x12, 0x78, 0x56, 0, 1, 0, 0, 0, 1}
	cfg := []byte{9, 2, 32, 0, 1, 1, 0, 0x80, 50,
		9, 4, 0, 0, 2, 0xff, 0, 0, 0,
		7, 5, 0x81, 2, 0, 2, 0,
		7, 5, 0x02, 2, 0, 2, 0}
	m := &sim.Static{Device: dev, Configs: [][]byte{cfg},
		ControlFunc: func(s hw.Setup, data []byte) (int, error) {
			if s.Request == 0x05 && s.In() {
				return copy(data, []byte{1, 2, 3, 4}), nil
			}
			return 0, hw.ErrStall
		}}
	m.OutFunc = func(ep uint8, data []byte) { outs = append(outs, append([]byte(nil), data...)) }
	return m, &outs
}

func TestControlRequests(t *testing.T) {
	m, _ := static()
	h, _, srv := newServer(t, m, Options{})
	if p := srv.Port(); p != -1 {
		t.Errorf("Port of a server not attached to vhci_hcd: %d, want -1", p)
	}
	h.submit(1, 0, true, 0, 18, []byte{0x80, 6, 0, 1, 0, 0, 18, 0}, nil)
	if cmd, seq, st, d := h.reply(true); cmd != retSubmit || seq != 1 || st != 0 || len(d) != 18 || d[8] != 0x34 {
		t.Fatalf("GET_DESCRIPTOR: %d %d %d % x", cmd, seq, st, d)
	}
	h.submit(2, 0, true, 0, 4, []byte{0xc0, 5, 0x10, 0xe6, 0, 1, 4, 0}, nil)
	if _, _, st, d := h.reply(true); st != 0 || string(d) != "\x01\x02\x03\x04" {
		t.Fatalf("vendor read: %d % x", st, d)
	}
	h.submit(3, 0, false, 0, 0, []byte{0x40, 7, 0, 0, 0, 0, 0, 0}, nil)
	if _, _, st, _ := h.reply(false); st != -int32(syscall.EPIPE) {
		t.Fatalf("stalled request: status %d, want -EPIPE", st)
	}
	h.submit(4, 0, true, 0, 16, []byte{0x80, 6, 0, 0x0f, 0, 0, 16, 0}, nil) // BOS
	if _, _, st, _ := h.reply(true); st != -int32(syscall.EPIPE) {
		t.Fatalf("BOS: status %d, want -EPIPE", st)
	}
	// SET_SEL is the host controller's business: answered here, never
	// passed to the device (whose handler would stall it).
	h.submit(5, 0, false, 0, 6, []byte{0x00, 0x30, 0, 0, 0, 0, 6, 0}, make([]byte, 6))
	if _, _, st, _ := h.reply(false); st != 0 {
		t.Fatalf("SET_SEL: status %d, want 0", st)
	}
	if n := srv.Stats.Stalls.Load(); n != 2 {
		t.Errorf("Stats.Stalls %d, want 2 (the stalled request and BOS)", n)
	}
}

func TestBulkInOrderAndUnlink(t *testing.T) {
	m, outs := static()
	h, _ := newPair(t, m)
	h.submit(10, 1, true, 0, 512, nil, nil)
	h.submit(11, 1, true, 0, 512, nil, nil)
	time.Sleep(50 * time.Millisecond) // both in flight at the device
	if err := m.Host().SendIn(0x81, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if _, seq, st, d := h.reply(true); seq != 10 || st != 0 || string(d) != "first" {
		t.Fatalf("first IN: seq %d status %d %q", seq, st, d)
	}
	h.unlink(12, 11)
	if cmd, seq, st, _ := h.reply(false); cmd != retUnlink || seq != 12 || st != -int32(syscall.ECONNRESET) {
		t.Fatalf("unlink: cmd %d seq %d status %d", cmd, seq, st)
	}
	// The unlinked URB gets no RET_SUBMIT; the next URB gets the next data.
	h.submit(13, 1, true, 0, 512, nil, nil)
	time.Sleep(50 * time.Millisecond)
	m.Host().SendIn(0x81, []byte("second"))
	if cmd, seq, _, d := h.reply(true); cmd != retSubmit || seq != 13 || string(d) != "second" {
		t.Fatalf("after the unlink: cmd %d seq %d %q", cmd, seq, d)
	}
	// OUT with URB_ZERO_PACKET and a whole packet: the device sees the ZLP end the transfer.
	full := make([]byte, 512)
	h.submit(14, 2, false, urbZeroPacket, len(full), nil, full)
	if _, seq, st, _ := h.reply(false); seq != 14 || st != 0 {
		t.Fatalf("OUT: seq %d status %d", seq, st)
	}
	time.Sleep(50 * time.Millisecond)
	if len(*outs) != 1 || len((*outs)[0]) != 512 {
		t.Fatalf("device got %d OUT transfers", len(*outs))
	}
	// An empty OUT with URB_ZERO_PACKET is a ZLP already: one, not two.
	h.submit(15, 2, false, urbZeroPacket, 0, nil, nil)
	if _, seq, st, _ := h.reply(false); seq != 15 || st != 0 {
		t.Fatalf("empty OUT: seq %d status %d", seq, st)
	}
	time.Sleep(50 * time.Millisecond)
	if len(*outs) != 2 || len((*outs)[1]) != 0 {
		t.Fatalf("device got %d OUT transfers after an empty one, want 2", len(*outs))
	}
}

// TestManyOutURBsInFlight: URBs submitted back to back, several in flight,
// whole-packet ones among them, all complete in order.
func TestManyOutURBsInFlight(t *testing.T) {
	m, outs := static()
	h, _ := newPair(t, m)
	const n = 200
	go func() {
		for i := 0; i < n; i++ {
			size := 1522
			if i%3 == 0 {
				size = 1024 // a whole number of packets: no short packet ends it
			}
			h.submit(uint32(100+i), 2, false, 0, size, nil, make([]byte, size))
		}
	}()
	for i := 0; i < n; i++ {
		if _, seq, st, _ := h.reply(false); seq != uint32(100+i) || st != 0 {
			t.Fatalf("reply %d: seq %d status %d", i, seq, st)
		}
	}
	time.Sleep(50 * time.Millisecond)
	total := 0
	for _, o := range *outs {
		total += len(o)
	}
	// 67 whole-packet URBs are joined to the next; the last URB (i=199) is
	// short, so every byte reached the device.
	if want := 67*1024 + 133*1522; total != want {
		t.Fatalf("device got %d bytes, want %d", total, want)
	}
}

var _ URBRecorder = (*ffs.Capture)(nil)

// packetRecorder hides ffs.Capture's InURB: the server then tells IN
// transfers packet by packet.
type packetRecorder struct{ c *ffs.Capture }

func (p packetRecorder) Control(s hw.Setup, data []byte, err error)  { p.c.Control(s, data, err) }
func (p packetRecorder) In(ep uint8, typ uint8, pkt []byte, mps int) { p.c.In(ep, typ, pkt, mps) }
func (p packetRecorder) Out(ep uint8, typ uint8, data []byte)        { p.c.Out(ep, typ, data) }

// TestRecorderTransferBoundaries: an IN transfer of a whole number of
// packets (ended by a ZLP, as an NCM model ends a 512-byte NTB) is recorded
// as a transfer of its own, not joined to the next one; so is one that
// fills its URB. A recorder that takes URBs whole also gets each URB's
// length, which its submission record shows (as usbmon's does).
func TestRecorderTransferBoundaries(t *testing.T) {
	for _, urbs := range []bool{true, false} {
		m, _ := static()
		capt := ffs.NewCapture()
		var rec Recorder = capt
		if !urbs {
			rec = packetRecorder{capt}
		}
		h, _ := newPairOpts(t, m, Options{Recorder: rec})
		whole := make([]byte, 1024)
		for i := range whole {
			whole[i] = byte(i)
		}
		sends := []struct {
			urb  int
			data []byte
			zlp  bool
		}{{2048, whole, true}, {2048, []byte("short"), false}, {512, whole[:512], false}, {2048, []byte("last"), false}}
		for i, c := range sends {
			h.submit(uint32(20+i), 1, true, 0, c.urb, nil, nil)
			time.Sleep(20 * time.Millisecond) // in flight at the device
			var err error
			if c.zlp {
				err = m.Host().SendInZLP(0x81, c.data)
			} else {
				err = m.Host().SendIn(0x81, c.data)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, seq, st, d := h.reply(true); seq != uint32(20+i) || st != 0 || len(d) != len(c.data) {
				t.Fatalf("URB %d: seq %d status %d, %d bytes, want %d", i, seq, st, len(d), len(c.data))
			}
		}
		var got, urbLens []int
		for _, r := range capt.Records() {
			if r.XferType != usbmon.XferBulk {
				continue
			}
			if r.Type == usbmon.Complete {
				got = append(got, len(r.Data))
			} else {
				urbLens = append(urbLens, int(r.Length))
			}
		}
		if want := []int{1024, 5, 512, 4}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("URB recorder %v: recorded IN transfers of %v bytes, want %v", urbs, got, want)
		}
		if want := []int{2048, 2048, 512, 2048}; urbs && fmt.Sprint(urbLens) != fmt.Sprint(want) {
			t.Errorf("recorded IN submissions of %v bytes, want the URBs' %v", urbLens, want)
		}
	}
}
