package guest

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// rcvBuf is the receive buffer of a listening packet socket: room for
// several thousand full-size frames.
const rcvBuf = 16 << 20

// PacketConn is an AF_PACKET raw socket on one interface (packet(7)):
// frames go out and come in whole, Ethernet header included, without any
// protocol stack in between.
type PacketConn struct {
	fd      int
	ifname  string
	ifindex int
	proto   uint16
	addr    unix.SockaddrLinklayer
}

// ListenPacket opens a packet socket on ifname that receives frames of
// ethertype (0: receive nothing, send only).
func ListenPacket(ifname string, ethertype uint16) (*PacketConn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", ifname, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethertype)))
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", ifname, err)
	}
	if ethertype != 0 {
		// An echo or a counter must not lose a burst to its own socket:
		// the default receive buffer (~200 KB) holds about 140 full frames,
		// and a Go program under TCG falls behind a 500-frame burst (the
		// flow specs' saturated queue). Root may exceed rmem_max.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
		}
	}
	c := &PacketConn{fd: fd, ifname: ifname, ifindex: ifi.Index, proto: ethertype}
	c.addr = unix.SockaddrLinklayer{Protocol: htons(ethertype), Ifindex: ifi.Index}
	if err := unix.Bind(fd, &c.addr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket on %s: bind: %w", ifname, err)
	}
	return c, nil
}

// Send transmits one whole Ethernet frame. When the device's queue is full
// (ENOBUFS) it waits briefly and retries, so a blaster measures the link,
// not the drop rate of the qdisc.
func (c *PacketConn) Send(frame []byte) error {
	for tries := 0; ; tries++ {
		err := unix.Sendto(c.fd, frame, 0, &c.addr)
		if err == nil {
			return nil
		}
		if err != unix.ENOBUFS || tries > 10000 {
			return fmt.Errorf("packet send on %s (%d bytes): %w", c.ifname, len(frame), err)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// Recv reads the next incoming frame (frames this host sent are skipped)
// into buf. A timeout > 0 bounds the wait; when it passes, the error wraps
// unix.EAGAIN.
func (c *PacketConn) Recv(buf []byte, timeout time.Duration) (int, error) {
	if timeout > 0 {
		tv := unix.NsecToTimeval(timeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err == unix.EINTR {
			// A signal (the Go runtime preempts with SIGURG) ends a
			// recvfrom bounded by SO_RCVTIMEO even under SA_RESTART
			// (socket(7)). It is not the timeout: wait out the rest.
			if timeout > 0 {
				left := time.Until(deadline)
				if left <= 0 {
					return 0, fmt.Errorf("packet recv on %s: %w", c.ifname, unix.EAGAIN)
				}
				tv := unix.NsecToTimeval(left.Nanoseconds())
				if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
					return 0, err
				}
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("packet recv on %s: %w", c.ifname, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		return n, nil
	}
}

// Close closes the socket.
func (c *PacketConn) Close() error { return unix.Close(c.fd) }

// TestFrame fills a frame of size bytes (at least 18) with EtherType et,
// source src, destination broadcast, sequence number seq at offset 14 and
// a payload pattern derived from seq, so an echo can be checked byte for byte.
func TestFrame(frame []byte, src net.HardwareAddr, et uint16, seq uint32) {
	for i := 0; i < 6; i++ {
		frame[i] = 0xff
	}
	copy(frame[6:12], src)
	binary.BigEndian.PutUint16(frame[12:], et)
	binary.BigEndian.PutUint32(frame[14:], seq)
	for i := 18; i < len(frame); i++ {
		frame[i] = byte(uint32(i) * (seq | 1))
	}
}

// SetLink brings a netdev administratively up or down (ip link set IF up|down,
// via SIOCSIFFLAGS). On a gadget's netdev (gecm0) this is how the lab makes
// the USB function report NETWORK_CONNECTION to the host.
func SetLink(ifname string, up bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set link %s: %w", ifname, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return fmt.Errorf("set link %s: %w", ifname, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set link %s: get flags: %w", ifname, err)
	}
	flags := ifr.Uint16()
	if up {
		flags |= unix.IFF_UP
	} else {
		flags &^= unix.IFF_UP
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set link %s up=%v: %w", ifname, up, err)
	}
	return nil
}

// Stats are the socket's own counters since the last call (PACKET_STATISTICS:
// frames queued to it, and frames dropped because its receive buffer was
// full), and its receive buffer size.
func (c *PacketConn) Stats() (packets, drops uint32, rcvbuf int, err error) {
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("packet socket on %s: statistics: %w", c.ifname, err)
	}
	rcvbuf, err = unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	return st.Packets, st.Drops, rcvbuf, err
}
