package vmlab

import (
	"bufio"
	"bytes"
	"encoding/binary"
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
