package vmlab

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"dongle/hw/vmlab/guest"
)

// TestPeer plays QEMU's part: a unixgram socket at the peer's QEMU path
// sends frames, and a stream connection drives the control protocol.
func TestPeer(t *testing.T) {
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	pcapPath := filepath.Join(dir, "rx.pcap")
	p, err := ListenPeer(dir, guest.PeerEcho, pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	q, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p.QEMUSocketPath(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	to := &net.UnixAddr{Name: p.SocketPath(), Net: "unixgram"}
	ctl, err := net.Dial("unix", p.ControlPath())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	rd := bufio.NewReader(ctl)
	cmd := func(c string) string {
		t.Helper()
		ctl.Write([]byte(c + "\n"))
		ctl.SetReadDeadline(time.Now().Add(2 * time.Second))
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("control %q: %v", c, err)
		}
		return l[:len(l)-1]
	}

	frames := [][]byte{bytes.Repeat([]byte{1}, 60), bytes.Repeat([]byte{2}, 1514)}
	buf := make([]byte, 2000)
	for _, f := range frames {
		if _, err := q.WriteToUnix(f, to); err != nil {
			t.Fatal(err)
		}
		q.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := q.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], f) {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(f), n, err)
		}
	}
	st, err := guest.ParsePeerStats(cmd("stats")[3:])
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 2 || st.Bytes != 1574 || st.Echoed != 2 || st.First.IsZero() || st.Last.Before(st.First) {
		t.Errorf("stats after echo: %s", st)
	}

	if got := cmd("mode count"); got != "ok" {
		t.Fatalf("mode count: %q", got)
	}
	q.WriteToUnix(frames[0], to)
	q.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := q.Read(buf); err == nil {
		t.Errorf("count mode echoed %d bytes", n)
	}
	if s := p.Stats(); s.Frames != 3 || s.Echoed != 2 {
		t.Errorf("stats after count: %s", s)
	}
	if got := cmd("reset"); got != "ok" {
		t.Errorf("reset: %q", got)
	}
	if s := p.Stats(); s.Frames != 0 || !s.First.IsZero() {
		t.Errorf("stats after reset: %s", s)
	}
	// blast: frames arrive at QEMU's socket, numbered, from BlastSrc.
	ans := cmd("blast 3 100 0")
	var sent, ns int64
	if _, err := fmt.Sscanf(ans, "ok sent=%d in_ns=%d", &sent, &ns); err != nil || sent != 3 {
		t.Fatalf("blast: answer %q (%v)", ans, err)
	}
	for i := 0; i < 3; i++ {
		q.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := q.Read(buf)
		if err != nil {
			t.Fatalf("blast frame %d: %v", i, err)
		}
		f := buf[:n]
		if n != 100 || !bytes.Equal(f[:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) || !bytes.Equal(f[6:12], BlastSrc) ||
			binary.BigEndian.Uint16(f[12:]) != guest.EchoEtherType || binary.BigEndian.Uint32(f[14:]) != uint32(i) {
			t.Errorf("blast frame %d: % x", i, f[:18])
		}
	}
	// Paced: 5 frames at 100/s take at least 40 ms.
	if _, err := fmt.Sscanf(cmd("blast 5 60 100"), "ok sent=%d in_ns=%d", &sent, &ns); err != nil || sent != 5 || ns < 39e6 {
		t.Errorf("paced blast: sent %d in %d ns (%v), want 5 in >= 40 ms", sent, ns, err)
	}
	for i := 0; i < 5; i++ {
		q.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := q.Read(buf); err != nil {
			t.Fatalf("paced blast frame %d: %v", i, err)
		}
	}
	for _, bad := range []string{"mode fast", "explode", "", "blast 1 10 0", "blast x 100 0"} {
		if got := cmd(bad); len(got) < 4 || got[:4] != "err " {
			t.Errorf("%q: answer %q, want an error", bad, got)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("pcap link type %v", r.LinkType())
	}
	var sizes []int
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		sizes = append(sizes, len(data))
	}
	if len(sizes) != 3 || sizes[0] != 60 || sizes[1] != 1514 || sizes[2] != 60 {
		t.Errorf("pcap frame sizes %v, want [60 1514 60]", sizes)
	}
}

func TestPeerStatsRoundTrip(t *testing.T) {
	in := guest.PeerStats{Frames: 5, Bytes: 7570, Echoed: 3, First: time.Unix(0, 1000), Last: time.Unix(0, 1000+4e9)}
	out, err := guest.ParsePeerStats(in.String())
	if err != nil {
		t.Fatal(err)
	}
	if out.Frames != 5 || out.Bytes != 7570 || out.Echoed != 3 || !out.First.Equal(in.First) || !out.Last.Equal(in.Last) {
		t.Errorf("round trip: %s -> %s", in, out)
	}
	if r := out.FramesPerSecond(); r != 1 {
		t.Errorf("rate %v, want 1 frame/s (4 intervals in 4 s)", r)
	}
	if _, err := guest.ParsePeerStats("frames=x"); err == nil {
		t.Error("malformed stats: no error")
	}
}

// TestPeerWire drives the host peer as a spec in the guest does, through
// guest.Peer over the control socket: in wire mode it keeps what QEMU sends
// (and sends nothing back), injects frames towards QEMU, and plugs usb-net
// through its Plug hook.
func TestPeerWire(t *testing.T) {
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p, err := ListenPeer(dir, guest.PeerEcho, "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	q, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p.QEMUSocketPath(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	to := &net.UnixAddr{Name: p.SocketPath(), Net: "unixgram"}
	c, err := guest.DialWire(p.ControlPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetMode(guest.PeerWire); err != nil {
		t.Fatal(err)
	}
	sent := [][]byte{bytes.Repeat([]byte{7}, 60), bytes.Repeat([]byte{8}, 1514)}
	for _, f := range sent {
		if _, err := q.WriteToUnix(f, to); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Frames(2, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0], sent[0]) || !bytes.Equal(got[1], sent[1]) {
		t.Fatalf("kept %d frames, want the 2 sent, intact", len(got))
	}
	// Nothing came back to QEMU: wire mode does not echo.
	q.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 2000)
	if n, _, err := q.ReadFromUnix(buf); err == nil {
		t.Fatalf("wire mode sent %d bytes back to QEMU", n)
	}
	if got, err := c.Frames(3, 50*time.Millisecond); !errors.Is(err, guest.ErrShort) || len(got) != 2 {
		t.Fatalf("Frames(3) with 2 kept = %d frames, %v; want the 2 and ErrShort", len(got), err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Frames(1, 50*time.Millisecond); !errors.Is(err, guest.ErrShort) || len(got) != 0 {
		t.Fatalf("after reset: %d frames, %v; want none", len(got), err)
	}

	in := append(bytes.Repeat([]byte{0xff}, 12), 0x88, 0xb5, 1, 2, 3)
	if err := c.Inject(in); err != nil {
		t.Fatal(err)
	}
	q.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := q.ReadFromUnix(buf)
	if err != nil || !bytes.Equal(buf[:n], in) {
		t.Fatalf("QEMU got % x, %v; want the injected % x", buf[:n], err, in)
	}
	if err := c.Inject([]byte{1, 2, 3}); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("inject of 3 bytes: %v, want ErrRefused", err)
	}

	if err := c.Unplug(); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("unplug without a monitor: %v, want ErrRefused", err)
	}
	var plugs []bool
	p.SetPlug(func(on bool) error { plugs = append(plugs, on); return nil })
	if err := c.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := c.Replug(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(plugs) != "[false true]" {
		t.Fatalf("Plug calls %v, want [false true]", plugs)
	}
	if err := c.Stall(0x81); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("stall on usb-net: %v, want ErrRefused", err)
	}

	// Through the share, as the guest's serial port does it: the same
	// frames, carried in files.
	if err := c.Inject(in); err != nil {
		t.Fatal(err)
	}
	c.UseShare(dir)
	if err := c.Inject(in); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("inject @file to a peer without a share: %v, want ErrRefused", err)
	}
	p.SetShare(dir)
	q.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := q.ReadFromUnix(buf); err != nil || !bytes.Equal(buf[:n], in) {
		t.Fatalf("inline inject: QEMU got % x, %v", buf[:n], err)
	}
	in2 := append(in, 9)
	if err := c.Inject(in2); err != nil {
		t.Fatal(err)
	}
	q.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := q.ReadFromUnix(buf); err != nil || !bytes.Equal(buf[:n], in2) {
		t.Fatalf("inject through the share: QEMU got % x, %v; want % x", buf[:n], err, in2)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	for _, f := range sent {
		if _, err := q.WriteToUnix(f, to); err != nil {
			t.Fatal(err)
		}
	}
	got, err = c.Frames(2, 2*time.Second)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], sent[0]) || !bytes.Equal(got[1], sent[1]) {
		t.Fatalf("frames through the share: %d frames, %v; want the 2 sent", len(got), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wire-frames.bin")); err != nil {
		t.Fatalf("the frames did not go through the share: %v", err)
	}
}

func TestFrameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	frames := [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{4}, 1514)}
	if err := guest.WriteFrameFile(path, frames); err != nil {
		t.Fatal(err)
	}
	got, err := guest.ReadFrameFile(path)
	if err != nil || len(got) != 3 || !bytes.Equal(got[0], frames[0]) || len(got[1]) != 0 || !bytes.Equal(got[2], frames[2]) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	os.WriteFile(path, []byte{0, 0, 0, 9, 1, 2}, 0o644)
	if _, err := guest.ReadFrameFile(path); !errors.Is(err, guest.ErrBadAnswer) {
		t.Fatalf("truncated record: %v, want ErrBadAnswer", err)
	}
	for _, bad := range []string{"x", "@", "@../x", "@a/b", "@.."} {
		if _, err := guest.FileArg(dir, bad); err == nil {
			t.Errorf("FileArg(%q) accepted", bad)
		}
	}
	if p, err := guest.FileArg(dir, "@ok.bin"); err != nil || p != filepath.Join(dir, "ok.bin") {
		t.Errorf("FileArg(@ok.bin) = %q, %v", p, err)
	}
	if _, err := guest.FileArg("", "@ok.bin"); err == nil {
		t.Error("FileArg without a share accepted")
	}
}
