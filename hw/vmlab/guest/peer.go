package guest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PeerPort is the guest serial port wired to the host peer's control socket.
// ttyS0 is the console, ttyS1 carries the program's output to the host.
const PeerPort = "/dev/ttyS2"

// PeerMode is what the host peer does with frames usb-net sends out.
type PeerMode string

const (
	PeerEcho  PeerMode = "echo"  // send every frame straight back
	PeerCount PeerMode = "count" // count and capture only
	// PeerWire: the spec drives the wire: nothing is sent back, every frame
	// the device sends is kept (up to MaxWireFrames) for Frames.
	PeerWire PeerMode = "wire"
)

// PeerStats are the host peer's counters since its start or last Reset.
// First and Last are the host's receive times of the first and last frame.
type PeerStats struct {
	Frames, Bytes, Echoed uint64
	First, Last           time.Time
}

// Elapsed is the time between the first and the last frame.
func (s PeerStats) Elapsed() time.Duration { return s.Last.Sub(s.First) }

// FramesPerSecond is the receive rate over Elapsed (0 for fewer than 2 frames).
func (s PeerStats) FramesPerSecond() float64 {
	if s.Frames < 2 || s.Elapsed() <= 0 {
		return 0
	}
	return float64(s.Frames-1) / s.Elapsed().Seconds()
}

// String is the control protocol's form, also used in logs:
// "frames=N bytes=N echoed=N first_ns=N last_ns=N".
func (s PeerStats) String() string {
	var f, l int64
	if !s.First.IsZero() {
		f, l = s.First.UnixNano(), s.Last.UnixNano()
	}
	return fmt.Sprintf("frames=%d bytes=%d echoed=%d first_ns=%d last_ns=%d", s.Frames, s.Bytes, s.Echoed, f, l)
}

// ParsePeerStats parses String's form.
func ParsePeerStats(s string) (PeerStats, error) {
	var st PeerStats
	var f, l int64
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "frames=%d bytes=%d echoed=%d first_ns=%d last_ns=%d", &st.Frames, &st.Bytes, &st.Echoed, &f, &l); err != nil {
		return PeerStats{}, fmt.Errorf("peer stats %q: %w", s, err)
	}
	if f != 0 {
		st.First, st.Last = time.Unix(0, f), time.Unix(0, l)
	}
	return st, nil
}

// Peer is the guest's handle on a wire-side peer's control channel: the
// host peer's, a line protocol over a serial port (DialPeer), or ffsmodel's,
// the same protocol over a unix socket (DialWire). Commands and answers are
// listed in wire.go; answers are "ok ..." or "err ...". A Peer is not safe
// for concurrent use: one command waits for its answer before the next.
type Peer struct {
	f  ctlConn
	rd *bufio.Reader
	// share is a directory the peer sees too ("" none): bulky frame data
	// goes through files there (wire.go).
	share string
	// lost is set when a command got no answer in time: its answer may
	// still come and would be read as the next command's, so every later
	// command fails with it instead (answers carry no command id).
	lost error
}

// ErrDesync is returned by every command after one went unanswered: the
// channel can no longer pair answers with commands. Dial again.
var ErrDesync = errors.New("peer control channel out of step after an unanswered command")

// ctlConn is the control channel: a serial port or a unix socket.
type ctlConn interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
}

// DialPeer opens the control port (raw mode, no echo) and checks that the
// host answers.
func DialPeer() (*Peer, error) {
	f, err := os.OpenFile(PeerPort, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("host peer control %s: %w", PeerPort, err)
	}
	if err := makeRaw(int(f.Fd())); err != nil {
		f.Close()
		return nil, fmt.Errorf("host peer control %s: %w", PeerPort, err)
	}
	// Input still queued is the end of an answer nobody waited for (an
	// earlier user closed the port mid-command): it is not ours.
	if err := unix.IoctlSetInt(int(f.Fd()), unix.TCFLSH, unix.TCIFLUSH); err != nil {
		f.Close()
		return nil, fmt.Errorf("host peer control %s: flush: %w", PeerPort, err)
	}
	p := newPeer(f)
	if st, err := os.Stat(SharedDir); err == nil && st.IsDir() {
		p.share = SharedDir
	}
	if err := p.sync(); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// sync sends ping and passes over every line before its "ok pong": the
// late answers of an earlier user's commands, which the host wrote after
// the input flush (the serial port is shared by every spec of a run).
func (p *Peer) sync() error {
	if _, err := io.WriteString(p.f, "ping\n"); err != nil {
		return fmt.Errorf("peer ping: %w", err)
	}
	p.f.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := p.rd.ReadString('\n')
		if err != nil {
			return fmt.Errorf("peer ping: no answer: %w", err)
		}
		if strings.TrimSpace(line) == "ok pong" {
			return nil
		}
	}
}

func newPeer(c ctlConn) *Peer { return &Peer{f: c, rd: bufio.NewReaderSize(c, 64<<10)} }

func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	// cfmakeraw(3)
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

func (p *Peer) cmd(c string) (string, error) { return p.cmdWithin(c, 10*time.Second) }

// cmdWithin sends one command and waits at most timeout for its answer.
func (p *Peer) cmdWithin(c string, timeout time.Duration) (string, error) {
	if p.lost != nil {
		return "", fmt.Errorf("peer %q: %w (%v)", short(c), ErrDesync, p.lost)
	}
	if _, err := io.WriteString(p.f, c+"\n"); err != nil {
		return "", fmt.Errorf("peer %q: %w", short(c), err)
	}
	p.f.SetReadDeadline(time.Now().Add(timeout))
	line, err := p.rd.ReadString('\n')
	if err != nil {
		p.lost = fmt.Errorf("peer %q: no answer: %w", short(c), err)
		return "", p.lost
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("peer %q: %w: %s", short(c), ErrRefused, strings.TrimSpace(strings.TrimPrefix(line, "err")))
}

// SetMode switches the peer between echoing and counting.
func (p *Peer) SetMode(m PeerMode) error { _, err := p.cmd("mode " + string(m)); return err }

// Reset zeroes the counters.
func (p *Peer) Reset() error { _, err := p.cmd("reset"); return err }

// Stats returns the counters.
func (p *Peer) Stats() (PeerStats, error) {
	s, err := p.cmd("stats")
	if err != nil {
		return PeerStats{}, err
	}
	return ParsePeerStats(s)
}

// Blast asks the host peer to send n broadcast test frames of size bytes
// into usb-net at rate frames/s (0: as fast as usb-net takes them) and
// waits, at most timeout, for the answer given when the last one is written.
func (p *Peer) Blast(n, size, rate int, timeout time.Duration) (sent int, elapsed time.Duration, err error) {
	c := fmt.Sprintf("blast %d %d %d", n, size, rate)
	ans, err := p.cmdWithin(c, timeout)
	if err != nil {
		return 0, 0, err
	}
	var ns int64
	if _, err := fmt.Sscanf(ans, "sent=%d in_ns=%d", &sent, &ns); err != nil {
		return 0, 0, fmt.Errorf("host peer %q: answer %q", c, ans)
	}
	return sent, time.Duration(ns), nil
}

// Close closes the control port.
func (p *Peer) Close() error { return p.f.Close() }
