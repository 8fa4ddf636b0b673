package vmlab

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"dongle/hw/sim"
	"dongle/hw/vmlab/guest"
)

// Peer is the far end of QEMU usb-net's Ethernet wire: QEMU's
// `-netdev dgram` sends each frame the guest transmits as one unix datagram
// to the peer's socket, and each datagram the peer sends back is a frame
// received by the guest.
//
//	guest driver ──USB──► QEMU usb-net ──dgram qemu.sock ⇄ host.sock──► Peer ──► host-rx.pcap
//	                                                                      └─ echo back (PeerEcho)
//	guest /dev/ttyS2 ◄──────── QEMU serial ◄────── ctl.sock ───────────► Peer control
//
// Specs in the guest switch the mode and read the counters through the
// control channel (guest.DialPeer); host code uses the methods directly.
type Peer struct {
	conn   *net.UnixConn
	qemu   *net.UnixAddr
	ctl    *net.UnixListener
	dir    string
	echo   atomic.Bool
	keep   atomic.Bool // PeerWire: frames kept for the spec
	kept   *sim.Capture
	plug   atomic.Pointer[func(on bool) error] // SetPlug
	share  atomic.Pointer[string]              // SetShare
	frames atomic.Uint64
	bytes  atomic.Uint64
	echoed atomic.Uint64
	first  atomic.Int64 // unix ns of the first frame since reset, 0: none
	last   atomic.Int64

	mu   sync.Mutex // guards pcap
	pcap *pcapgo.Writer
	pf   *os.File
	bw   *bufio.Writer

	wg     sync.WaitGroup
	closed atomic.Bool
	cmu    sync.Mutex // guards conns
	conns  map[*net.UnixConn]bool
}

// Socket names inside the peer's directory.
const (
	peerSock = "host.sock" // ours: QEMU's remote.path
	qemuSock = "qemu.sock" // QEMU's local.path
	ctlSock  = "ctl.sock"  // control: QEMU's chardev connects here
)

// ListenPeer creates the peer's sockets in dir (keep it short: unix socket
// paths are limited to 107 bytes) and starts serving. pcapPath, if not
// empty, receives every frame from the guest (LINKTYPE_ETHERNET).
func ListenPeer(dir string, mode guest.PeerMode, pcapPath string) (*Peer, error) {
	p := &Peer{dir: dir, kept: sim.NewCapture(), conns: map[*net.UnixConn]bool{}, qemu: &net.UnixAddr{Name: filepath.Join(dir, qemuSock), Net: "unixgram"}}
	if err := p.SetMode(mode); err != nil {
		return nil, err
	}
	for _, s := range []string{peerSock, qemuSock, ctlSock} {
		os.Remove(filepath.Join(dir, s))
	}
	var err error
	p.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, peerSock), Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("lab peer: %w", err)
	}
	p.conn.SetReadBuffer(4 << 20)
	p.conn.SetWriteBuffer(4 << 20)
	p.ctl, err = net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, ctlSock), Net: "unix"})
	if err != nil {
		p.conn.Close()
		return nil, fmt.Errorf("lab peer: %w", err)
	}
	if pcapPath != "" {
		if p.pf, err = os.Create(pcapPath); err != nil {
			p.conn.Close()
			p.ctl.Close()
			return nil, fmt.Errorf("lab peer: %w", err)
		}
		p.bw = bufio.NewWriterSize(p.pf, 256<<10)
		p.pcap = pcapgo.NewWriter(p.bw)
		if err := p.pcap.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
			p.Close()
			return nil, fmt.Errorf("lab peer: pcap %s: %w", pcapPath, err)
		}
	}
	p.wg.Add(2)
	go p.serveFrames()
	go p.serveControl()
	return p, nil
}

// SocketPath is the peer's datagram socket (QEMU's remote.path).
func (p *Peer) SocketPath() string { return filepath.Join(p.dir, peerSock) }

// QEMUSocketPath is where QEMU must bind (its local.path).
func (p *Peer) QEMUSocketPath() string { return p.qemu.Name }

// ControlPath is the control socket QEMU's serial chardev connects to.
func (p *Peer) ControlPath() string { return filepath.Join(p.dir, ctlSock) }

// SetMode switches between echo, count and wire.
func (p *Peer) SetMode(m guest.PeerMode) error {
	switch m {
	case guest.PeerEcho:
		p.echo.Store(true)
		p.keep.Store(false)
	case guest.PeerCount:
		p.echo.Store(false)
		p.keep.Store(false)
	case guest.PeerWire:
		p.echo.Store(false)
		p.keep.Store(true)
	default:
		return fmt.Errorf("lab peer: unknown mode %q (want echo, count or wire)", m)
	}
	return nil
}

// Reset zeroes the counters and forgets the kept frames.
func (p *Peer) Reset() {
	p.kept.Reset()
	p.frames.Store(0)
	p.bytes.Store(0)
	p.echoed.Store(0)
	p.first.Store(0)
	p.last.Store(0)
}

// Stats returns the counters.
func (p *Peer) Stats() guest.PeerStats {
	s := guest.PeerStats{Frames: p.frames.Load(), Bytes: p.bytes.Load(), Echoed: p.echoed.Load()}
	if f := p.first.Load(); f != 0 {
		s.First, s.Last = time.Unix(0, f), time.Unix(0, p.last.Load())
	}
	return s
}

func (p *Peer) serveFrames() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			return // closed
		}
		now := time.Now()
		p.first.CompareAndSwap(0, now.UnixNano())
		p.last.Store(now.UnixNano())
		p.frames.Add(1)
		p.bytes.Add(uint64(n))
		if p.pcap != nil {
			p.mu.Lock()
			p.pcap.WritePacket(gopacket.CaptureInfo{Timestamp: now, CaptureLength: n, Length: n}, buf[:n])
			p.mu.Unlock()
		}
		if p.keep.Load() {
			p.kept.Receive(buf[:n])
		}
		if p.echo.Load() {
			if _, err := p.conn.WriteToUnix(buf[:n], p.qemu); err == nil {
				p.echoed.Add(1)
			}
		}
	}
}

func (p *Peer) serveControl() {
	defer p.wg.Done()
	for {
		c, err := p.ctl.AcceptUnix()
		if err != nil {
			return
		}
		p.cmu.Lock()
		p.conns[c] = true
		p.cmu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() {
				p.cmu.Lock()
				delete(p.conns, c)
				p.cmu.Unlock()
				c.Close()
			}()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 64<<10), guest.MaxLine)
			for sc.Scan() {
				fmt.Fprintf(c, "%s\n", p.command(strings.TrimSpace(sc.Text())))
			}
		}()
	}
}

// command executes one control line and returns the answer line.
func (p *Peer) command(line string) string {
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "ping":
		return "ok pong"
	case len(f) == 1 && f[0] == "stats":
		return "ok " + p.Stats().String()
	case len(f) == 1 && f[0] == "reset":
		p.Reset()
		return "ok"
	case len(f) == 4 && f[0] == "blast":
		n, err1 := strconv.Atoi(f[1])
		size, err2 := strconv.Atoi(f[2])
		rate, err3 := strconv.Atoi(f[3])
		if err := errors.Join(err1, err2, err3); err != nil {
			return "err blast: " + err.Error()
		}
		sent, el, err := p.Blast(n, size, rate)
		if err != nil {
			return "err " + err.Error()
		}
		return fmt.Sprintf("ok sent=%d in_ns=%d", sent, el.Nanoseconds())
	case len(f) == 2 && f[0] == "inject":
		frames, err := p.framesArg(f[1])
		if err != nil {
			return "err inject: " + err.Error()
		}
		for _, fr := range frames {
			if err := p.Inject(fr); err != nil {
				return "err " + err.Error()
			}
		}
		return "ok"
	case (len(f) == 3 || len(f) == 4) && f[0] == "frames":
		n, err1 := strconv.Atoi(f[1])
		ms, err2 := strconv.Atoi(f[2])
		if err := errors.Join(err1, err2); err != nil || n < 0 || ms < 0 {
			return fmt.Sprintf("err frames %s %s: want a count and a timeout in ms", f[1], f[2])
		}
		got := p.Frames(n, time.Duration(ms)*time.Millisecond)
		if len(f) == 3 {
			return "ok " + guest.FramesAnswer(got)
		}
		path, err := guest.FileArg(p.shareDir(), f[3])
		if err == nil {
			err = guest.WriteFrameFile(path, got)
		}
		if err != nil {
			return "err frames: " + err.Error()
		}
		return fmt.Sprintf("ok %d", len(got))
	case len(f) == 1 && (f[0] == "unplug" || f[0] == "replug"):
		plug := p.plug.Load()
		if plug == nil {
			return "err " + f[0] + ": this lab run has no QEMU monitor to plug usb-net with"
		}
		if err := (*plug)(f[0] == "replug"); err != nil {
			return "err " + err.Error()
		}
		return "ok"
	case len(f) == 2 && f[0] == "link":
		return "err link: " + guest.ErrNoLinkChange.Error()
	case len(f) == 2 && f[0] == "stall":
		return "err stall: QEMU's usb-net has no way to halt an endpoint on command (its USB side is QEMU's, not the peer's)"
	case len(f) == 2 && f[0] == "mode":
		if err := p.SetMode(guest.PeerMode(f[1])); err != nil {
			return "err " + err.Error()
		}
		return "ok"
	}
	return fmt.Sprintf("err unknown command %q (want ping, stats, reset, mode echo|count|wire, inject FRAME, frames N MS, unplug, replug, blast N SIZE RATE)", short(line))
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Inject sends one frame to the guest through usb-net.
func (p *Peer) Inject(frame []byte) error {
	if len(frame) < 14 || len(frame) > 65535 {
		return fmt.Errorf("lab peer: inject: %w: %d bytes (want 14..65535)", ErrFrameSize, len(frame))
	}
	if _, err := p.conn.WriteToUnix(frame, p.qemu); err != nil {
		return fmt.Errorf("lab peer: inject: %w", err)
	}
	return nil
}

// SetShare names the host side of the directory the guest sees as
// guest.SharedDir: "@FILE" arguments (bulk frame data) are files there.
func (p *Peer) SetShare(dir string) { p.share.Store(&dir) }

func (p *Peer) shareDir() string {
	if d := p.share.Load(); d != nil {
		return *d
	}
	return ""
}

// framesArg is an inject argument's frames: one inline frame, or a frame
// file in the share.
func (p *Peer) framesArg(arg string) ([][]byte, error) {
	if !strings.HasPrefix(arg, "@") {
		fr, err := guest.DecodeFrame(arg)
		return [][]byte{fr}, err
	}
	path, err := guest.FileArg(p.shareDir(), arg)
	if err != nil {
		return nil, err
	}
	return guest.ReadFrameFile(path)
}

// SetPlug gives the peer what the guest's "unplug" (plug(false)) and
// "replug" (plug(true)) commands do: the lab's QEMU monitor commands.
func (p *Peer) SetPlug(plug func(on bool) error) { p.plug.Store(&plug) }

// ErrFrameSize: a frame too short for an Ethernet header or too long for a datagram.
var ErrFrameSize = errors.New("bad frame size")

// Frames returns the frames kept in wire mode since the last Reset, waiting
// up to timeout for at least n.
func (p *Peer) Frames(n int, timeout time.Duration) [][]byte {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got, _ := p.kept.WaitFor(ctx, n) // fewer than n: the caller counts
	return got
}

// BlastSrc is the source address of the frames Blast sends.
var BlastSrc = net.HardwareAddr{0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc}

// Blast sends n frames of size bytes to the guest through usb-net: the
// receive-side throughput load. Each frame is a broadcast (so every driver
// passes it up whatever its filters) of guest.EchoEtherType from BlastSrc,
// with a big-endian sequence number at offset 14 and a pattern after it.
// rate > 0 paces the sends at rate frames/s; 0 sends as fast as the socket
// takes them.
//
// Unpaced is lossless: usb-net holds one frame (its can_receive is "no
// frame pending"), QEMU stops reading the dgram socket while it holds one,
// and the peer's writes then wait for socket buffer space. The guest's
// driver therefore sets the pace, and Blast returns once the last frame is
// in the socket, up to a socket buffer (SetWriteBuffer, 4 MiB) ahead of the
// guest: the receiver, not Blast's elapsed time, measures the rate.
//
// Blast runs on the calling goroutine (the control connection's): the
// "blast" command answers when the last frame is written.
func (p *Peer) Blast(n, size, rate int) (sent int, elapsed time.Duration, err error) {
	if n < 0 || size < 18 || size > 65535 || rate < 0 {
		return 0, 0, fmt.Errorf("lab peer: blast n=%d size=%d rate=%d: want n >= 0, size 18..65535, rate >= 0", n, size, rate)
	}
	f := make([]byte, size)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], BlastSrc)
	binary.BigEndian.PutUint16(f[12:], guest.EchoEtherType)
	for i := 18; i < size; i++ {
		f[i] = byte(i)
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if rate > 0 {
			// Sleep only when a millisecond ahead: finer sleeps
			// overshoot and would pace below rate.
			if ahead := time.Duration(int64(i)*int64(time.Second)/int64(rate)) - time.Since(t0); ahead > time.Millisecond {
				time.Sleep(ahead)
			}
		}
		binary.BigEndian.PutUint32(f[14:], uint32(i))
		if _, err := p.conn.WriteToUnix(f, p.qemu); err != nil {
			return i, time.Since(t0), fmt.Errorf("lab peer: blast frame %d of %d: %w", i, n, err)
		}
	}
	return n, time.Since(t0), nil
}

// Close stops the peer, flushes its pcap and removes its sockets.
func (p *Peer) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.conn.Close()
	p.ctl.Close()
	p.cmu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.cmu.Unlock()
	p.wg.Wait()
	var errs []error
	if p.pf != nil {
		errs = append(errs, p.bw.Flush(), p.pf.Close())
	}
	for _, s := range []string{peerSock, qemuSock, ctlSock} {
		os.Remove(filepath.Join(p.dir, s))
	}
	return errors.Join(errs...)
}
