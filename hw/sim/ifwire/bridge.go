package ifwire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw/sim"
)

// ErrBridge is the root of the bridge's errors.
var ErrBridge = errors.New("ifwire")

// Bridge joins a sim.End to a host interface. It is the End's Port:
// frames the wire delivers to it go out of the interface.
//
// Invariants: two goroutines per Bridge (frames from the interface, carrier
// changes), both started by Open and ended by Close; frames the bridge
// itself wrote (PACKET_OUTGOING) are never sent back into the wire.
type Bridge struct {
	name string
	end  *sim.End
	link func(up bool)

	pkt    *os.File // AF_PACKET, bound to the interface
	pktRC  syscall.RawConn
	nl     *os.File // NETLINK_ROUTE, RTMGRP_LINK
	nlRC   syscall.RawConn
	wg     sync.WaitGroup
	once   sync.Once
	hold   atomic.Pointer[func() bool]
	closed atomic.Bool

	// ToIface, FromIface: frames moved each way; WriteErrors: frames the
	// interface refused (down, or no carrier on a veth whose peer is down);
	// Padded: frames from the interface shorter than the Ethernet minimum,
	// padded onto the cable.
	ToIface, FromIface, WriteErrors, Padded atomic.Uint64
}

var _ sim.Port = (*Bridge)(nil)

// Open attaches a Bridge to end and to the interface name, which must be
// up. link, if not nil, is called with the interface's carrier now and on
// every change. Needs CAP_NET_RAW.
func Open(end *sim.End, name string, link func(up bool)) (*Bridge, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: bridge to %s: %v", ErrBridge, name, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("%w: bridge to %s: interface down", ErrBridge, name)
	}
	b := &Bridge{name: name, end: end, link: link}
	if b.pkt, b.pktRC, err = packetSocket(ifi.Index); err != nil {
		return nil, fmt.Errorf("%w: bridge to %s: %v", ErrBridge, name, err)
	}
	if b.nl, b.nlRC, err = linkSocket(); err != nil {
		b.pkt.Close()
		return nil, fmt.Errorf("%w: bridge to %s: netlink: %v", ErrBridge, name, err)
	}
	if link != nil {
		// After the netlink subscription: a change from here on is seen.
		link(carrier(name))
	}
	end.Attach(b)
	b.wg.Add(2)
	go b.fromIface()
	go b.watchLink(ifi.Index)
	return b, nil
}

func packetSocket(ifindex int) (*os.File, syscall.RawConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("AF_PACKET socket (needs CAP_NET_RAW): %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("bind: %w", err)
	}
	// Every frame on the cable is the model's, whatever its destination.
	mreq := &unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("promiscuous mode: %w", err)
	}
	return rawFile(fd, "packet")
}

func linkSocket() (*os.File, syscall.RawConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	return rawFile(fd, "netlink")
}

func rawFile(fd int, name string) (*os.File, syscall.RawConn, error) {
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

// SetHold makes the bridge hold the frames from the interface while hold
// reports true: the model's PAUSE (802.3x), which a link partner obeys by
// waiting. The frames wait in the socket's receive buffer (8 MB), as in a
// partner's transmit queue. nil stops holding.
func (b *Bridge) SetHold(hold func() bool) {
	if hold == nil {
		b.hold.Store(nil)
		return
	}
	b.hold.Store(&hold)
}

// holdPoll is how often a held bridge asks again.
const holdPoll = 50 * time.Microsecond

// minFrame is the shortest Ethernet frame on a cable, FCS not counted
// (ETH_ZLEN).
const minFrame = 60

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// carrier reports whether the interface is operationally up (IFF_RUNNING:
// up, with carrier). Not sysfs: it shows the interfaces of the namespace
// it was mounted in, which need not be this process's.
func carrier(name string) bool {
	ifi, err := net.InterfaceByName(name)
	return err == nil && ifi.Flags&net.FlagRunning != 0
}

// Receive implements sim.Port: a frame from the model goes out of the
// interface. A frame the interface refuses is lost, as on a cable with
// nothing at its far end, and counted.
func (b *Bridge) Receive(frame []byte) {
	var werr error
	err := b.pktRC.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), frame)
		return werr != unix.EAGAIN
	})
	if err != nil || werr != nil {
		b.WriteErrors.Add(1)
		return
	}
	b.ToIface.Add(1)
}

// fromIface sends every frame arriving on the interface into the wire.
func (b *Bridge) fromIface() {
	defer b.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		if err := b.pktRC.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		}); err != nil {
			return // closed
		}
		if rerr != nil {
			continue // ENETDOWN while the interface is down, reported once
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n < minFrame {
			// A real sender's MAC pads a short frame on the cable; a veth
			// or a TAP hands it over as the stack built it (a 42-byte ARP
			// reply), and a chip counts such a runt as an error.
			clear(buf[n:minFrame])
			n = minFrame
			b.Padded.Add(1)
		}
		if h := b.hold.Load(); h != nil {
			for (*h)() && !b.closed.Load() {
				time.Sleep(holdPoll)
			}
			if b.closed.Load() {
				return // a frame held across Close stays out of the model
			}
		}
		b.FromIface.Add(1)
		b.end.Send(buf[:n])
	}
}

// watchLink follows RTM_NEWLINK for the interface and reports carrier
// changes (IFF_LOWER_UP) to link.
func (b *Bridge) watchLink(ifindex int) {
	defer b.wg.Done()
	buf := make([]byte, 1<<16)
	last := -1
	for {
		var n int
		var rerr error
		if err := b.nlRC.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		}); err != nil {
			return // closed
		}
		if rerr != nil {
			continue // ENOBUFS: messages lost; the next one carries the state
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
				continue
			}
			ifi := (*unix.IfInfomsg)(unsafePointer(m.Data))
			if int(ifi.Index) != ifindex {
				continue
			}
			up := 0
			if ifi.Flags&unix.IFF_LOWER_UP != 0 {
				up = 1
			}
			if up != last && b.link != nil {
				b.link(up == 1)
			}
			last = up
		}
	}
}

// Close detaches the bridge from the wire, closes both sockets and waits
// for both goroutines. A second Close does nothing.
func (b *Bridge) Close() error {
	var err error
	b.once.Do(func() {
		b.closed.Store(true) // a held reader stops waiting
		b.end.Attach(nil)
		err = errors.Join(b.pkt.Close(), b.nl.Close())
		b.wg.Wait()
	})
	return err
}
