package specs

import (
	"context"
	"dongle/hw/vmlab/guest"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ifacePeer is --peer=iface:NAME: the host interface NAME, cabled to the
// adapter under test (a reference NIC, a switch port the host owns, one end
// of a veth pair, a gadget's own netdev), seen through an AF_PACKET socket.
//
// What it needs: CAP_NET_RAW (or root) for the socket, NAME up, and
// promiscuous mode, which the peer turns on itself through a
// PACKET_MR_PROMISC membership (dropped again when the socket closes), so
// that frames to other stations' addresses, which the filter specs send
// from the device, are captured too. Link control (SetLink) is `ip link set
// NAME down/up` and needs CAP_NET_ADMIN; a peer that took NAME down brings
// it up again on Close.
//
// Invariants: one reader goroutine per peer, started by Open and ended by
// Close (closing the socket wakes it); only frames the device sent reach
// the capture (the peer's own, PACKET_OUTGOING, are not), and of those only
// this run's test frames are kept.
type ifacePeer struct {
	name    string
	ifindex int
	f       *os.File // the AF_PACKET socket, non-blocking, in Go's poller
	rc      syscall.RawConn
	capt    *PeerCapture
	done    chan struct{} // closed when the reader has returned

	mu     sync.Mutex
	closed bool
	downed bool // SetLink(false) was the last link change
	drops  uint64
}

var (
	_ PeerConn = (*ifacePeer)(nil)
	_ PeerLink = (*ifacePeer)(nil)
)

func init() {
	RegisterPeer(PeerScheme{
		Name:  "iface",
		Usage: "iface:NAME  a host interface cabled to the adapter (AF_PACKET: CAP_NET_RAW or root, NAME up; link control needs CAP_NET_ADMIN)",
		Link:  true,
		Open:  func(_ context.Context, arg string) (PeerConn, error) { return openIfacePeer(arg) },
	})
}

// htons is a 16-bit value in network byte order, as AF_PACKET's protocol
// fields take it.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openIfacePeer(name string) (PeerConn, error) {
	if name == "" {
		return nil, fmt.Errorf("peer iface: %w: no interface name (iface:NAME)", ErrPeerArg)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("peer iface:%s: %w: %v", name, ErrPeerNotFound, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("peer iface:%s: %w: bring it up first (ip link set %s up)", name, ErrPeerDown, name)
	}
	// Protocol 0 until bound: an AF_PACKET socket with a protocol receives
	// from every interface from the moment it exists.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("peer iface:%s: %w: an AF_PACKET socket needs CAP_NET_RAW (or root): %v", name, ErrPeerPermission, err)
		}
		return nil, fmt.Errorf("peer iface:%s: AF_PACKET socket: %w", name, err)
	}
	fail := func(what string, err error) (PeerConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("peer iface:%s: %s: %w", name, what, err)
	}
	// The kernel filters our own frames out where it can (Linux 4.20);
	// the reader checks the packet type anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	// Room for a burst (the flow specs send 500 full frames back to back)
	// while the reader is off the CPU: FORCE needs CAP_NET_ADMIN, the plain
	// option is capped at net.core.rmem_max. Drops are reported, not hidden.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	mreq := &unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		return fail("promiscuous mode", err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("peer iface:%s: %w", name, err)
	}
	p := &ifacePeer{name: name, ifindex: ifi.Index, f: f, rc: rc, capt: NewPeerCapture(), done: make(chan struct{})}
	go p.read()
	return p, nil
}

// read feeds the capture until the socket closes.
func (p *ifacePeer) read() {
	defer close(p.done)
	buf := make([]byte, 1<<16)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := p.rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		switch {
		case err != nil: // the socket was closed
			p.capt.End(ErrPeerClosed)
			return
		case errors.Is(rerr, unix.ENETDOWN):
			// Reported once when NAME goes down (SetLink); the socket
			// receives again when it comes back up.
			continue
		case rerr != nil:
			p.capt.End(fmt.Errorf("peer iface:%s: receive: %w", p.name, rerr))
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		p.capt.Offer(buf[:n])
	}
}

// Inject sends frame out of NAME, towards the adapter.
func (p *ifacePeer) Inject(frame []byte) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("peer iface:%s: inject: %w", p.name, ErrPeerClosed)
	}
	var serr error
	err := p.rc.Write(func(fd uintptr) bool {
		// Bound to NAME: a send without an address goes out there.
		_, serr = unix.Write(int(fd), frame)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENETDOWN):
		return fmt.Errorf("peer iface:%s: inject %d bytes: %w: %v", p.name, len(frame), ErrPeerDown, err)
	}
	return fmt.Errorf("peer iface:%s: inject %d bytes: %w", p.name, len(frame), err)
}

// Received waits for n of this run's frames from the adapter. When they do
// not come, the error also says how many frames the socket itself dropped
// (a full receive buffer), so a loss at the peer is not blamed on the
// device.
func (p *ifacePeer) Received(ctx context.Context, n int) ([][]byte, error) {
	got, err := p.capt.WaitFor(ctx, n)
	if err != nil {
		if d := p.socketDrops(); d > 0 {
			err = fmt.Errorf("%w (the peer's socket on %s dropped %d frames: receive buffer full)", err, p.name, d)
		}
	}
	return got, err
}

// socketDrops is the socket's drop count so far (PACKET_STATISTICS, which
// resets on every read, accumulated).
func (p *ifacePeer) socketDrops() uint64 {
	var st *unix.TpacketStats
	p.rc.Control(func(fd uintptr) {
		st, _ = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if st != nil {
		p.drops += uint64(st.Drops)
	}
	return p.drops
}

func (p *ifacePeer) Reset()          { p.capt.Reset() }
func (p *ifacePeer) Ignored() uint64 { return p.capt.Ignored() }

// SetLink is `ip link set NAME down` or `up`: the cable's far end goes dark
// and the adapter must lose its carrier (a veth's other end and a reference
// NIC's link partner both do).
func (p *ifacePeer) SetLink(up bool) error {
	if err := setIfaceUp(p.name, up); err != nil {
		return err
	}
	p.mu.Lock()
	p.downed = !up
	p.mu.Unlock()
	return nil
}

// setIfaceUp sets or clears IFF_UP on name: guest.SetLink's ioctl (the
// same on any Linux host), with its errno told apart for the peer's
// sentinels.
func setIfaceUp(name string, up bool) error {
	state := map[bool]string{false: "down", true: "up"}[up]
	err := guest.SetLink(name, up)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("peer iface:%s: link %s: %w: %v", name, state, ErrPeerNotFound, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("peer iface:%s: link %s: %w: %v", name, state, ErrPeerArg, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("peer iface:%s: link %s: %w: needs CAP_NET_ADMIN (or root): %v", name, state, ErrPeerPermission, err)
	}
	return fmt.Errorf("peer iface:%s: link %s: %w", name, state, err)
}

// Close stops the reader, closes the socket (which drops the promiscuous
// membership) and brings NAME back up if the peer left it down.
func (p *ifacePeer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("peer iface:%s: close: %w", p.name, ErrPeerClosed)
	}
	p.closed = true
	downed := p.downed
	p.mu.Unlock()
	err := p.f.Close()
	<-p.done
	if downed {
		err = errors.Join(err, setIfaceUp(p.name, true))
	}
	return err
}
