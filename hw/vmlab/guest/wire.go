package guest

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The wire-side peers' control protocol: one request line, one answer line
// ("ok ..." or "err REASON"). The host peer of QEMU's usb-net serves it on
// the guest's PeerPort, ffsmodel on a unix socket (-sock). Frames travel in
// standard base64, one word each.
//
//	ping                   ok pong
//	mode echo|count|wire   ok             (wire: nothing sent back; frames kept)
//	reset                  ok             forget the kept frames, zero the counters
//	stats                  ok K=V ...
//	inject FRAME           ok             send FRAME to the device
//	inject @FILE           ok             send each frame of FILE (frame file, below)
//	frames N MS            ok K FRAME...  every kept frame, once K >= N or after MS ms
//	frames N MS @FILE      ok K           the same, written to FILE
//	link up|down           ok             take the wire's link up or down
//	stall EP               ok             halt endpoint EP (hex or decimal) until the host clears it
//	hold EP                ok             stop reading OUT endpoint EP: the host's transfers there stay pending
//	release EP             ok             read OUT endpoint EP again
//	fail EP STATUS N       ok             the next N URBs of EP complete with STATUS (a negative errno; EP 0:
//	                                      the next N vendor control requests) — USB/IP models only
//	oversize N             ok             the next NTB N bytes longer than the host's NTB input size (NCM)
//	linkgate on|off        ok             hold each link-up notification until the host's next packet filter (NCM)
//	unplug                 ok             the device leaves the bus
//	replug                 ok             it comes back (and is enumerated again)
//
// A peer that cannot do something answers "err" with the reason.
//
// @FILE names a file in a directory both sides see (the lab's 9p share:
// SharedDir in the guest), for frame data too bulky for the serial port
// (about 30 KB/s under TCG: 500 full-size frames took over 30 s). A frame
// file is each frame as a 4-byte big-endian length and its bytes.

// SharedDir is the guest's mount of the lab share, which the host peer
// sees as its run's share directory.
const SharedDir = "/mnt/lab"

// Frame-file names the guest uses in SharedDir.
const (
	injectFile = "wire-inject.bin"
	framesFile = "wire-frames.bin"
)

// WriteFrameFile writes frames to path as a frame file.
func WriteFrameFile(path string, frames [][]byte) error {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadFrameFile reads a frame file.
func ReadFrameFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 || int(binary.BigEndian.Uint32(b)) > len(b)-4 {
			return nil, fmt.Errorf("frame file %s: %w: record %d truncated", path, ErrBadAnswer, len(out))
		}
		n := int(binary.BigEndian.Uint32(b))
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

// FileArg is the file an "@FILE" argument names inside dir; it refuses
// anything but a plain name.
func FileArg(dir, arg string) (string, error) {
	name, ok := strings.CutPrefix(arg, "@")
	if !ok || name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return "", fmt.Errorf("file argument %q: want @NAME, a plain file name", arg)
	}
	if dir == "" {
		return "", fmt.Errorf("file argument %q: this peer shares no directory with the guest", arg)
	}
	return filepath.Join(dir, name), nil
}

// MaxLine bounds one protocol line (a "frames" answer carries every kept
// frame: 2000 full-size frames are 4 MB of base64).
const MaxLine = 64 << 20

var (
	// ErrRefused: the peer answered "err" (the wrapping error has its reason).
	ErrRefused = errors.New("refused")
	// ErrShort: fewer frames than asked for arrived before the deadline.
	ErrShort = errors.New("fewer frames than expected")
	// ErrBadAnswer: the peer's answer does not parse.
	ErrBadAnswer = errors.New("malformed answer")
)

// EncodeFrame is a frame as the protocol carries it.
func EncodeFrame(f []byte) string { return base64.StdEncoding.EncodeToString(f) }

// DecodeFrame is EncodeFrame's inverse.
func DecodeFrame(s string) ([]byte, error) {
	f, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("frame %q: %w: %v", short(s), ErrBadAnswer, err)
	}
	return f, nil
}

// FramesAnswer is the answer to "frames": the count, then every frame.
func FramesAnswer(frames [][]byte) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(frames)))
	for _, f := range frames {
		b.WriteByte(' ')
		b.WriteString(EncodeFrame(f))
	}
	return b.String()
}

// ParseFramesAnswer is FramesAnswer's inverse.
func ParseFramesAnswer(s string) ([][]byte, error) {
	w := strings.Fields(s)
	if len(w) == 0 {
		return nil, fmt.Errorf("frames answer %q: %w: no count", short(s), ErrBadAnswer)
	}
	n, err := strconv.Atoi(w[0])
	if err != nil || n != len(w)-1 {
		return nil, fmt.Errorf("frames answer %q: %w: count %q for %d frames", short(s), ErrBadAnswer, w[0], len(w)-1)
	}
	out := make([][]byte, 0, n)
	for _, x := range w[1:] {
		f, err := DecodeFrame(x)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// ParseEndpoint reads an endpoint address as "stall" carries it: 0x81 or 129.
func ParseEndpoint(s string) (uint8, error) {
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("endpoint %q: %w", s, err)
	}
	return uint8(v), nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// DialWire connects to a wire-side peer's unix control socket (ffsmodel
// -sock PATH) and checks that it answers.
func DialWire(path string) (*Peer, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("wire peer %s: %w", path, err)
	}
	p := newPeer(c.(*net.UnixConn))
	if err := p.sync(); err != nil {
		c.Close()
		return nil, fmt.Errorf("wire peer %s: %w", path, err)
	}
	return p, nil
}

// UseShare makes bulk frame data go through files in dir, a directory the
// peer sees as its share (DialPeer uses SharedDir when it exists).
func (p *Peer) UseShare(dir string) { p.share = dir }

// Inject sends frame from the far side of the wire to the device.
func (p *Peer) Inject(frame []byte) error {
	if p.share != "" {
		if err := WriteFrameFile(filepath.Join(p.share, injectFile), [][]byte{frame}); err != nil {
			return fmt.Errorf("peer inject: %w", err)
		}
		_, err := p.cmd("inject @" + injectFile)
		return err
	}
	_, err := p.cmd("inject " + EncodeFrame(frame))
	return err
}

// Frames waits, at most timeout, until the peer has kept at least n frames
// since its last reset (mode PeerWire), and returns them all. With fewer it
// returns those it has and an error wrapping ErrShort.
func (p *Peer) Frames(n int, timeout time.Duration) ([][]byte, error) {
	ms := max(timeout.Milliseconds(), 1)
	c := fmt.Sprintf("frames %d %d", n, ms)
	if p.share != "" {
		c += " @" + framesFile
	}
	// An inline answer may be long: it gets as long again as the peer's own
	// wait to cross the control channel.
	ans, err := p.cmdWithin(c, 2*timeout+5*time.Second)
	if err != nil {
		return nil, err
	}
	var got [][]byte
	if p.share != "" {
		if got, err = ReadFrameFile(filepath.Join(p.share, framesFile)); err == nil && strconv.Itoa(len(got)) != ans {
			err = fmt.Errorf("%w: the answer counts %s frames, the file holds %d", ErrBadAnswer, ans, len(got))
		}
	} else {
		got, err = ParseFramesAnswer(ans)
	}
	if err != nil {
		return nil, fmt.Errorf("peer %q: %w", c, err)
	}
	if len(got) < n {
		return got, fmt.Errorf("peer %q: %w: %d of %d within %v", c, ErrShort, len(got), n, timeout)
	}
	return got, nil
}

// SetLink takes the wire's link up or down.
func (p *Peer) SetLink(up bool) error {
	s := "down"
	if up {
		s = "up"
	}
	_, err := p.cmd("link " + s)
	return err
}

// Stall halts endpoint ep of the device until the host clears it.
func (p *Peer) Stall(ep uint8) error {
	_, err := p.cmd(fmt.Sprintf("stall %#02x", ep))
	return err
}

// HoldOut stops the device reading its OUT endpoint ep (hold true): the
// host's transfers there stay pending, as with a chip whose TX FIFO never
// drains; false reads it again.
func (p *Peer) HoldOut(ep uint8, hold bool) error {
	c := "release"
	if hold {
		c = "hold"
	}
	_, err := p.cmd(fmt.Sprintf("%s %#02x", c, ep))
	return err
}

// Do sends one request line of the protocol above and returns the answer
// after "ok" (an "err" answer is an error wrapping ErrRefused). It waits at
// most timeout.
func (p *Peer) Do(line string, timeout time.Duration) (string, error) {
	return p.cmdWithin(line, timeout)
}

// Unplug makes the device leave the bus; Replug brings it back. Both answer
// once the peer has done its part (the host may still be catching up).
func (p *Peer) Unplug() error { _, err := p.cmdWithin("unplug", 30*time.Second); return err }

// Replug brings an unplugged device back.
func (p *Peer) Replug() error { _, err := p.cmdWithin("replug", 30*time.Second); return err }
