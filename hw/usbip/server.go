package usbip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"dongle/hw"
)

// Protocol constants (drivers/usb/usbip/usbip_common.h).
const (
	cmdSubmit = 1
	cmdUnlink = 2
	retSubmit = 3
	retUnlink = 4

	headerLen = 48

	// maxURB is the longest transfer buffer a CMD_SUBMIT may carry, and
	// maxPending the most bytes of URB buffers held at once (both bound
	// what a peer can make the server allocate; vhci_hcd's class drivers
	// stay far below: r8152 keeps 10 RX URBs of at most 32 KiB).
	maxURB     = 1 << 20
	maxPending = 64 << 20

	urbZeroPacket = 0x0040 // URB_ZERO_PACKET

	// Linux USB speeds (enum usb_device_speed) for the attach file.
	speedHigh  = 3
	speedSuper = 5

	// VHCIDir is vhci_hcd's first controller in sysfs.
	VHCIDir = "/sys/devices/platform/vhci_hcd.0"
)

// Recorder hears every transfer the server completes (hw/ffs's Capture
// implements it). An IN transfer is told packet by packet: a bulk packet
// shorter than wMaxPacketSize ends it, and one that ends on a whole packet
// is followed by an empty packet.
type Recorder interface {
	Control(s hw.Setup, data []byte, err error)
	In(ep uint8, typ uint8, pkt []byte, mps int)
	Out(ep uint8, typ uint8, data []byte)
}

// URBRecorder is a Recorder that takes a completed IN URB whole, with the
// URB's length (hw/ffs's Capture implements it): the server uses it instead
// of In when the recorder has it, so that the record shows what the kernel's
// usbmon would.
type URBRecorder interface {
	InURB(ep uint8, typ uint8, data []byte, urbLen int)
}

// Stats are the server's counters.
type Stats struct {
	Submits, Controls, Stalls, Unlinks, Dropped, Errors atomic.Uint64
	Faults                                              atomic.Uint64 // URBs failed on command (FailNext)
}

// Server serves one device on one vhci_hcd port.
type Server struct {
	dev  hw.Device
	conn *os.File
	rec  Recorder
	logf func(string, ...any)
	port int

	wmu sync.Mutex // one message on the socket at a time

	mu         sync.Mutex
	eps        map[uint8]*epServ
	claimed    map[int]bool
	pending    int // bytes of URB buffers held (mu)
	maxPending int
	faults     map[uint8]*fault // FailNext, by endpoint (mu)

	Stats Stats
}

// urb is one submitted URB waiting for its transfer.
type urb struct {
	seq      uint32
	t        *hw.Transfer
	internal bool // the ZLP after an URB_ZERO_PACKET OUT: no reply
	unlinked bool
}

// epServ is one endpoint's pending URBs, completed in order by a waiter.
type epServ struct {
	addr    uint8
	typ     uint8
	mps     int
	ep      hw.Endpoint
	pending []*urb
	wake    chan struct{}
	done    chan struct{}
}

// Options configure Attach.
type Options struct {
	Super    bool     // attach to a SuperSpeed port (the device must be SuperSpeed)
	Recorder Recorder // nil: no capture
	Logf     func(string, ...any)
}

// Attach hands the kernel's vhci_hcd one end of a new socket pair for dev
// on a free port of the right speed, and returns the server for the other
// end (call Serve).
func Attach(dev hw.Device, o Options) (*Server, error) {
	speed, hub := speedHigh, "hs"
	if o.Super {
		speed, hub = speedSuper, "ss"
	}
	port, err := freePort(hub)
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("usbip: socketpair: %w", err)
	}
	devid := 1<<16 | 2
	arg := fmt.Sprintf("%d %d %d %d", port, fds[1], devid, speed)
	if err := os.WriteFile(filepath.Join(VHCIDir, "attach"), []byte(arg), 0); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("usbip: attach %q: %w", arg, err)
	}
	unix.Close(fds[1]) // the kernel holds its own reference
	s := NewServer(dev, os.NewFile(uintptr(fds[0]), "usbip"), o)
	s.port = port
	return s, nil
}

// NewServer serves dev on conn, a stream whose other end speaks for a
// USB/IP host (Attach gives that end to vhci_hcd; tests keep it).
func NewServer(dev hw.Device, conn *os.File, o Options) *Server {
	s := &Server{dev: dev, conn: conn, rec: o.Recorder, logf: o.Logf, port: -1,
		eps: map[uint8]*epServ{}, claimed: map[int]bool{}, maxPending: maxPending}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	return s
}

// Port is the vhci_hcd port the device is attached to.
func (s *Server) Port() int { return s.port }

// Detach unplugs the device from vhci_hcd (the host sees a disconnect).
func (s *Server) Detach() error {
	return os.WriteFile(filepath.Join(VHCIDir, "detach"), []byte(strconv.Itoa(s.port)), 0)
}

// freePort finds a port of hub ("hs" or "ss") with no device in vhci_hcd's
// status file: "hub port sta spd dev sockfd local_busid", sta 4 free.
func freePort(hub string) (int, error) {
	b, err := os.ReadFile(filepath.Join(VHCIDir, "status"))
	if err != nil {
		return 0, fmt.Errorf("usbip: vhci_hcd status (modprobe vhci-hcd?): %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != hub || f[2] != "004" {
			continue
		}
		p, err := strconv.Atoi(f[1])
		if err == nil {
			return p, nil
		}
	}
	return 0, fmt.Errorf("usbip: no free %s port in %s/status", hub, VHCIDir)
}

// ErrProtocol is wrapped by the errors about messages the server cannot
// read.
var ErrProtocol = errors.New("usbip: protocol error")

// Serve answers the kernel until ctx ends or the kernel closes its end of
// the socket between two messages (the port was detached, with or without
// replies it had not read); both return nil. It closes its end
// of the socket when it returns: a replug attaches a new server.
func (s *Server) Serve(ctx context.Context) error {
	defer s.conn.Close() // last: closeAll's waiters may still reply
	// AfterFunc, not a goroutine waiting on ctx: Serve also ends on a
	// detach or a protocol error, with ctx still live.
	defer context.AfterFunc(ctx, func() { s.conn.Close() })()
	defer s.closeAll()
	var h [headerLen]byte
	be := binary.BigEndian
	for {
		if n, err := io.ReadFull(s.conn, h[:]); err != nil {
			// Detached: the kernel closed its end. With replies it had
			// not read yet (a detach under traffic) a Unix socket says
			// so with ECONNRESET instead of EOF. Within a header, either
			// is a message cut short.
			if ctx.Err() != nil || err == io.EOF || n == 0 && errors.Is(err, syscall.ECONNRESET) {
				return nil
			}
			return fmt.Errorf("usbip: reading a header: %w", err)
		}
		cmd, seq, dir, ep := be.Uint32(h[0:]), be.Uint32(h[4:]), be.Uint32(h[12:]), be.Uint32(h[16:])
		switch cmd {
		case cmdSubmit:
			flags, length := be.Uint32(h[20:]), int(int32(be.Uint32(h[24:])))
			if length < 0 || length > maxURB || ep > 15 || dir > 1 {
				return fmt.Errorf("%w: CMD_SUBMIT seq %d ep %d direction %d length %d", ErrProtocol, seq, ep, dir, length)
			}
			// ISO packet descriptors would follow the data; no model has an
			// isochronous endpoint, and unread they would be taken for the
			// next header. 0 and -1 both mean "not isochronous".
			if np := int32(be.Uint32(h[32:])); np != 0 && np != -1 {
				return fmt.Errorf("%w: CMD_SUBMIT seq %d: %d ISO packets", ErrProtocol, seq, np)
			}
			if !s.reserve(length) {
				return fmt.Errorf("%w: CMD_SUBMIT seq %d: more than %d bytes of URBs in flight", ErrProtocol, seq, s.maxPending)
			}
			buf := make([]byte, length)
			if dir == 0 && length > 0 {
				if _, err := io.ReadFull(s.conn, buf); err != nil {
					if ctx.Err() != nil {
						return nil // stopped: the socket was closed under the read
					}
					return fmt.Errorf("usbip: reading %d OUT bytes of seq %d: %w", length, seq, err)
				}
			}
			s.Stats.Submits.Add(1)
			if ep == 0 {
				var setup hw.Setup
				setup.RequestType, setup.Request = h[40], h[41]
				setup.Value, setup.Index = binary.LittleEndian.Uint16(h[42:]), binary.LittleEndian.Uint16(h[44:])
				setup.Length = binary.LittleEndian.Uint16(h[46:])
				s.control(ctx, seq, setup, buf)
				s.release(length)
				continue
			}
			addr := uint8(ep)
			if dir == 1 {
				addr |= 0x80
			}
			s.submit(ctx, seq, addr, flags, buf)
		case cmdUnlink:
			s.unlink(seq, be.Uint32(h[20:]))
		default:
			return fmt.Errorf("%w: command %d (seq %d)", ErrProtocol, cmd, seq)
		}
	}
}

// reserve accounts for an URB buffer of n bytes; false: over maxPending.
func (s *Server) reserve(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending+n > s.maxPending {
		return false
	}
	s.pending += n
	return true
}

// release gives back what reserve took for an URB that is done.
func (s *Server) release(n int) {
	s.mu.Lock()
	s.pending -= n
	s.mu.Unlock()
}

// reply writes a RET_SUBMIT (status a negative errno) with data for IN.
func (s *Server) reply(seq uint32, status int32, actual int, data []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.replyLocked(seq, status, actual, data)
}

// replyLocked is reply with wmu held.
func (s *Server) replyLocked(seq uint32, status int32, actual int, data []byte) {
	var h [headerLen]byte
	be := binary.BigEndian
	be.PutUint32(h[0:], retSubmit)
	be.PutUint32(h[4:], seq)
	be.PutUint32(h[20:], uint32(status))
	be.PutUint32(h[24:], uint32(int32(actual)))
	if _, err := s.conn.Write(h[:]); err == nil && len(data) > 0 {
		s.conn.Write(data)
	}
}

func errno(err error) int32 {
	if err == nil {
		return 0
	}
	switch hw.StatusOf(err) {
	case hw.ErrStall:
		return -int32(syscall.EPIPE)
	case hw.ErrCancelled:
		return -int32(syscall.ENOENT)
	case hw.ErrNoDevice, hw.ErrClosed:
		return -int32(syscall.ESHUTDOWN)
	case hw.ErrOverflow:
		return -int32(syscall.EOVERFLOW)
	case hw.ErrTimeout:
		return -int32(syscall.ETIMEDOUT)
	}
	return -int32(syscall.EPROTO)
}

func (s *Server) control(ctx context.Context, seq uint32, setup hw.Setup, buf []byte) {
	s.Stats.Controls.Add(1)
	if setup.RequestType&0x60 == hw.TypeVendor {
		s.mu.Lock()
		st := s.takeFault(0)
		s.mu.Unlock()
		if st != 0 {
			s.logf("usbip: control %s: failed on command with %d", setup, st)
			s.reply(seq, st, 0, nil)
			return
		}
	}
	std := setup.RequestType&0x60 == hw.TypeStandard
	var n int
	var err error
	switch {
	case std && !setup.In() && (setup.Request == 0x30 || setup.Request == 0x31): // SET_SEL, SET_ISOCH_DELAY
		n = len(buf)
	case std && setup.In() && setup.Request == hw.ReqGetDescriptor && setup.RequestType&0x1f == hw.RecipDevice &&
		uint8(setup.Value>>8) != hw.DescDevice && uint8(setup.Value>>8) != hw.DescConfig && uint8(setup.Value>>8) != hw.DescString:
		err = hw.ErrStall // BOS, qualifier: the device has none to give
	case std && !setup.In() && setup.Request == hw.ReqSetConfiguration && setup.RequestType&0x1f == hw.RecipDevice:
		s.closeAll()
		n, err = s.dev.Control(ctx, setup, buf)
	default:
		n, err = s.dev.Control(ctx, setup, buf)
	}
	if err != nil {
		s.Stats.Stalls.Add(1)
		s.logf("usbip: control %s: %v", setup, err)
	}
	if s.rec != nil {
		if setup.In() {
			s.rec.Control(setup, buf[:n], err)
		} else {
			s.rec.Control(setup, buf, err)
		}
	}
	if err != nil {
		s.reply(seq, errno(err), 0, nil)
		return
	}
	if setup.In() {
		s.reply(seq, 0, n, buf[:n])
		return
	}
	s.reply(seq, 0, len(buf), nil)
}

// endpoint returns the served endpoint addr, opening it (and claiming its
// interface) at first use.
func (s *Server) endpoint(ctx context.Context, addr uint8) (*epServ, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.eps[addr]; e != nil {
		return e, nil
	}
	v, err := s.dev.Configuration()
	if err != nil {
		return nil, err
	}
	dd, err := hw.ReadDeviceDescriptor(ctx, s.dev)
	if err != nil {
		return nil, err
	}
	for i := 0; i < int(dd.NumConfigurations); i++ {
		c, err := hw.ReadConfig(ctx, s.dev, uint8(i))
		if err != nil || int(c.Value) != v {
			continue
		}
		for _, in := range c.Interfaces {
			for _, a := range in.Alts {
				for _, ep := range a.Endpoints {
					if ep.Address != addr {
						continue
					}
					if !s.claimed[int(in.Number)] {
						if err := s.dev.Claim(int(in.Number)); err != nil {
							return nil, err
						}
						s.claimed[int(in.Number)] = true
					}
					h, err := s.dev.OpenEndpoint(addr)
					if err != nil {
						return nil, err
					}
					e := &epServ{addr: addr, typ: ep.Type(), mps: int(ep.MaxPacketSize), ep: h,
						wake: make(chan struct{}, 1), done: make(chan struct{})}
					s.eps[addr] = e
					go s.wait(e)
					return e, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("usbip: endpoint %#02x: not in configuration %d: %w", addr, v, hw.ErrNotFound)
}

func (s *Server) submit(ctx context.Context, seq uint32, addr uint8, flags uint32, buf []byte) {
	e, err := s.endpoint(ctx, addr)
	if err != nil {
		s.release(len(buf))
		s.Stats.Errors.Add(1)
		s.logf("%v", err)
		s.reply(seq, -int32(syscall.EPIPE), 0, nil)
		return
	}
	urbs := []*urb{{seq: seq, t: &hw.Transfer{Buf: buf}}}
	if addr&0x80 == 0 && flags&urbZeroPacket != 0 && len(buf) > 0 && e.mps > 0 && len(buf)%e.mps == 0 {
		urbs = append(urbs, &urb{seq: seq, t: &hw.Transfer{Buf: buf[:0]}, internal: true})
	}
	s.mu.Lock()
	for _, u := range urbs {
		if err := e.ep.Submit(u.t); err != nil {
			s.pending -= len(u.t.Buf)
			s.mu.Unlock()
			s.Stats.Errors.Add(1)
			if !u.internal {
				s.reply(seq, errno(err), 0, nil)
			}
			return
		}
		e.pending = append(e.pending, u)
	}
	s.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// wait completes e's URBs in order.
func (s *Server) wait(e *epServ) {
	defer close(e.done)
	for {
		s.mu.Lock()
		n := len(e.pending)
		s.mu.Unlock()
		if n == 0 {
			if _, ok := <-e.wake; !ok {
				return
			}
			continue
		}
		t, err := e.ep.Wait(context.Background())
		if err != nil {
			if hw.StatusOf(err) == hw.ErrClosed {
				return
			}
			continue // nothing in flight after all
		}
		// wmu before the URB leaves pending: an unlink either finds it
		// there (and its completion is dropped) or waits until its
		// RET_SUBMIT is on the socket. vhci_hcd gives an URB back on a
		// RET_UNLINK, and a RET_SUBMIT after that is fatal to the
		// connection ("cannot find a urb of seqnum").
		s.wmu.Lock()
		s.mu.Lock()
		var u *urb
		fault := int32(0)
		if len(e.pending) > 0 {
			u, e.pending = e.pending[0], e.pending[1:]
			s.pending -= len(u.t.Buf)
			if u.t == t && !u.internal && !u.unlinked {
				fault = s.takeFault(e.addr)
			}
		}
		s.mu.Unlock()
		switch {
		case u == nil || u.t != t:
			s.Stats.Errors.Add(1)
			s.wmu.Unlock()
			continue
		case u.internal:
			s.wmu.Unlock()
			continue
		case u.unlinked:
			s.Stats.Dropped.Add(1)
			s.wmu.Unlock()
			continue
		case fault != 0:
			s.replyLocked(u.seq, fault, 0, nil)
			s.wmu.Unlock()
			continue
		}
		if s.rec != nil && t.Err == nil {
			if u, ok := s.rec.(URBRecorder); ok && e.addr&0x80 != 0 {
				u.InURB(e.addr, e.typ, t.Buf[:t.N], len(t.Buf))
			} else if e.addr&0x80 != 0 {
				data := t.Buf[:t.N]
				for len(data) > e.mps {
					s.rec.In(e.addr, e.typ, data[:e.mps], e.mps)
					data = data[e.mps:]
				}
				s.rec.In(e.addr, e.typ, data, e.mps)
				if len(data) == e.mps {
					// The transfer ended on a whole packet (a ZLP
					// followed it, or it filled the URB): a recorder
					// that joins full packets must hear that it ended.
					s.rec.In(e.addr, e.typ, nil, e.mps)
				}
			} else {
				s.rec.Out(e.addr, e.typ, t.Buf)
			}
		}
		if e.addr&0x80 != 0 {
			s.replyLocked(u.seq, errno(t.Err), t.N, t.Buf[:t.N])
		} else {
			s.replyLocked(u.seq, errno(t.Err), len(t.Buf), nil)
		}
		s.wmu.Unlock()
	}
}

// unlink answers CMD_UNLINK(seq) for the URB target: -ECONNRESET if it
// was still pending (its completion will not be answered), 0 if its
// RET_SUBMIT was already written.
func (s *Server) unlink(seq, target uint32) {
	s.Stats.Unlinks.Add(1)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	status := int32(0)
	s.mu.Lock()
	for _, e := range s.eps {
		all, found := true, false
		for _, u := range e.pending {
			// The internal ZLP shares its URB's seq; once the URB is
			// answered, an unlink of it finds nothing left to cancel.
			if u.seq == target && !u.internal {
				u.unlinked, found = true, true
			}
			all = all && (u.unlinked || u.internal)
		}
		if found {
			status = -int32(syscall.ECONNRESET)
			if all {
				e.ep.Cancel()
			}
		}
	}
	s.mu.Unlock()
	var h [headerLen]byte
	be := binary.BigEndian
	be.PutUint32(h[0:], retUnlink)
	be.PutUint32(h[4:], seq)
	be.PutUint32(h[20:], uint32(status))
	s.conn.Write(h[:])
}

// closeAll cancels and closes every endpoint and releases the claims.
func (s *Server) closeAll() {
	s.mu.Lock()
	eps := s.eps
	s.eps = map[uint8]*epServ{}
	for _, e := range eps {
		for _, u := range e.pending {
			u.unlinked = true
		}
		e.ep.Cancel()
	}
	s.mu.Unlock()
	for _, e := range eps {
		close(e.wake)
		<-e.done
		e.ep.Close()
	}
	s.mu.Lock()
	for _, e := range eps {
		// The waiter ended on a closed endpoint with these unreaped.
		for _, u := range e.pending {
			s.pending -= len(u.t.Buf)
		}
		e.pending = nil
	}
	for i := range s.claimed {
		s.dev.Release(i)
	}
	s.claimed = map[int]bool{}
	s.mu.Unlock()
}
