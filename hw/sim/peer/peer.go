// Package peer is a tiny host on the Ethernet side of a device model: it
// answers ARP requests and ICMP echo requests for its IPv4 address, and can
// send frames of one EtherType straight back (the echo far side dongle's
// specs use with DONGLE_PEER=echo). It is what a kernel driver pings
// through an emulated adapter in the virtual lab.
//
//	model ──End A═══wire═══End B── Peer (10.9.9.2, 02:00:00:00:99:02)
//	                                  ARP request for 10.9.9.2  → ARP reply
//	                                  ICMP echo to 10.9.9.2     → echo reply
//	                                  EtherType Echo (0x88b5)   → same frame back
//
// Replies are sent from a goroutine of the Peer, never from inside Receive:
// a model may hold its own lock while it puts a frame on the wire, and a
// synchronous reply would re-enter it.
package peer

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"dongle/hw/sim"
)

// Default addresses.
var (
	DefaultIP  = net.IPv4(10, 9, 9, 2).To4()
	DefaultMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x99, 0x02}
)

// EchoEtherType is the EtherType dongle's specs echo (IEEE local experimental).
const EchoEtherType = 0x88b5

const (
	etherARP  = 0x0806
	etherIPv4 = 0x0800
	queueLen  = 256
	holdPoll  = 200 * time.Microsecond
)

// Stats count what the peer did.
type Stats struct {
	Received, ARPReplies, EchoReplies, Echoed, Ignored atomic.Uint64
	Dropped                                            atomic.Uint64 // replies not sent because the peer was closed
}

// Peer is a host on a wire end. Make it with New; Close stops it.
type Peer struct {
	IP   net.IP           // IPv4 address it answers for
	MAC  net.HardwareAddr // its MAC
	Echo uint16           // EtherType sent straight back (0: none)
	// Hold, if set, is asked before every frame the peer sends: while it
	// reports true the peer waits, as a link partner honours 802.3x PAUSE
	// from a device whose receive buffer is filling. Set it before the
	// first frame arrives.
	Hold func() bool

	end   *sim.End
	q     chan []byte
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	stats Stats
}

var _ sim.Port = (*Peer)(nil)

// New attaches a peer with ip and mac to e (nil: the defaults) and starts it.
func New(e *sim.End, ip net.IP, mac net.HardwareAddr) *Peer {
	if ip == nil {
		ip = DefaultIP
	}
	if mac == nil {
		mac = DefaultMAC
	}
	p := &Peer{IP: ip.To4(), MAC: mac, end: e, q: make(chan []byte, queueLen), done: make(chan struct{})}
	p.wg.Add(1)
	go p.run()
	e.Attach(p)
	return p
}

// Stats returns the counters.
func (p *Peer) Stats() *Stats { return &p.stats }

// Close detaches nothing but stops answering; it waits for the sender.
func (p *Peer) Close() {
	p.once.Do(func() { close(p.done) })
	p.wg.Wait()
}

func (p *Peer) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case f := <-p.q:
			for p.Hold != nil && p.Hold() {
				select {
				case <-p.done:
					return
				case <-time.After(holdPoll):
				}
			}
			p.end.Send(f)
		}
	}
}

// Receive implements sim.Port.
func (p *Peer) Receive(frame []byte) {
	p.stats.Received.Add(1)
	var reply []byte
	switch {
	case len(frame) < 14:
	case p.Echo != 0 && binary.BigEndian.Uint16(frame[12:]) == p.Echo:
		reply = append([]byte(nil), frame...)
		p.stats.Echoed.Add(1)
	default:
		reply = p.Reply(frame)
		if reply != nil {
			if binary.BigEndian.Uint16(reply[12:]) == etherARP {
				p.stats.ARPReplies.Add(1)
			} else {
				p.stats.EchoReplies.Add(1)
			}
		}
	}
	if reply == nil {
		p.stats.Ignored.Add(1)
		return
	}
	// A full queue blocks the caller (the model's transmit path), never
	// drops: with Hold that is the backpressure a paused link partner puts
	// on the device, which then stops taking bulk OUT data (the host sees
	// NAKs). Models put frames on the wire with their own lock released.
	select {
	case p.q <- reply:
	case <-p.done:
		p.stats.Dropped.Add(1)
	}
}

// Reply is the peer's answer to frame: an ARP reply, an ICMP echo reply, or
// nil when the frame asks nothing of it (malformed frames included).
func (p *Peer) Reply(frame []byte) []byte {
	if len(frame) < 14 {
		return nil
	}
	switch binary.BigEndian.Uint16(frame[12:]) {
	case etherARP:
		return p.arp(frame)
	case etherIPv4:
		return p.icmp(frame)
	}
	return nil
}

func (p *Peer) arp(f []byte) []byte {
	a := f[14:]
	if len(a) < 28 || binary.BigEndian.Uint16(a[0:]) != 1 || binary.BigEndian.Uint16(a[2:]) != etherIPv4 ||
		a[4] != 6 || a[5] != 4 || binary.BigEndian.Uint16(a[6:]) != 1 || !net.IP(a[24:28]).Equal(p.IP) {
		return nil
	}
	r := make([]byte, 60) // minimum frame, zero padded
	copy(r[0:], a[8:14])  // to the sender
	copy(r[6:], p.MAC)
	binary.BigEndian.PutUint16(r[12:], etherARP)
	ra := r[14:]
	copy(ra[0:8], a[0:8])
	binary.BigEndian.PutUint16(ra[6:], 2) // reply
	copy(ra[8:], p.MAC)
	copy(ra[14:], p.IP)
	copy(ra[18:], a[8:14])  // target hw = sender hw
	copy(ra[24:], a[14:18]) // target ip = sender ip
	return r
}

func (p *Peer) icmp(f []byte) []byte {
	ip := f[14:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return nil
	}
	ihl := int(ip[0]&0xf) * 4
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	if ihl < 20 || tot < ihl+8 || tot > len(ip) || ip[9] != 1 || !net.IP(ip[16:20]).Equal(p.IP) ||
		binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // fragments: not answered
		return nil
	}
	if ip[ihl] != 8 || checksum(ip[:ihl]) != 0 || checksum(ip[ihl:tot]) != 0 {
		return nil
	}
	r := make([]byte, max(14+tot, 60))
	copy(r[0:], f[6:12])
	copy(r[6:], p.MAC)
	binary.BigEndian.PutUint16(r[12:], etherIPv4)
	rip := r[14:]
	copy(rip, ip[:tot])
	copy(rip[12:16], p.IP)
	copy(rip[16:20], ip[12:16])
	rip[8] = 64
	rip[10], rip[11] = 0, 0
	binary.BigEndian.PutUint16(rip[10:], checksum(rip[:ihl]))
	ic := rip[ihl:tot]
	ic[0] = 0 // echo reply
	ic[2], ic[3] = 0, 0
	binary.BigEndian.PutUint16(ic[2:], checksum(ic))
	return r
}

// checksum is the Internet checksum (RFC 1071); 0 over data holding a
// correct checksum.
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
