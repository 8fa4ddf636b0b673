package peer_test

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"dongle/hw/sim"
	"dongle/hw/sim/peer"
)

var hostMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}

func arpRequest(target net.IP) []byte {
	f := make([]byte, 42)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], hostMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	a := f[14:]
	copy(a, []byte{0, 1, 8, 0, 6, 4, 0, 1})
	copy(a[8:], hostMAC)
	copy(a[14:], net.IPv4(10, 9, 9, 1).To4())
	copy(a[24:], target.To4())
	return f
}

func sum(b []byte) uint16 {
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

func echoRequest(dst net.IP, payload int) []byte {
	f := make([]byte, 14+20+8+payload)
	copy(f, peer.DefaultMAC)
	copy(f[6:], hostMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	copy(ip[12:], net.IPv4(10, 9, 9, 1).To4())
	copy(ip[16:], dst.To4())
	binary.BigEndian.PutUint16(ip[10:], sum(ip[:20]))
	ic := ip[20:]
	ic[0] = 8
	binary.BigEndian.PutUint16(ic[4:], 0x1234)
	for i := range payload {
		ic[8+i] = byte(i)
	}
	binary.BigEndian.PutUint16(ic[2:], sum(ic))
	return f
}

func TestARPAndPing(t *testing.T) {
	w := sim.NewWire()
	capt := sim.NewCapture()
	w.A().Attach(capt)
	p := peer.New(w.B(), nil, nil)
	defer p.Close()

	w.A().Send(arpRequest(net.IPv4(10, 9, 9, 3))) // not ours: no answer
	w.A().Send(arpRequest(peer.DefaultIP))
	w.A().Send(echoRequest(peer.DefaultIP, 57))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := capt.WaitFor(ctx, 2)
	if err != nil {
		t.Fatalf("replies: %v (got %d)", err, len(got))
	}
	arp := got[0]
	if len(arp) != 60 || binary.BigEndian.Uint16(arp[20:]) != 2 || net.HardwareAddr(arp[22:28]).String() != peer.DefaultMAC.String() ||
		!net.IP(arp[28:32]).Equal(peer.DefaultIP) || net.HardwareAddr(arp[0:6]).String() != hostMAC.String() {
		t.Errorf("ARP reply wrong: % x", arp)
	}
	icmp := got[1]
	ip := icmp[14:]
	if !net.IP(ip[12:16]).Equal(peer.DefaultIP) || !net.IP(ip[16:20]).Equal(net.IPv4(10, 9, 9, 1)) || sum(ip[:20]) != 0 {
		t.Errorf("IP header of the reply wrong: % x", ip[:20])
	}
	ic := ip[20 : 20+8+57]
	if ic[0] != 0 || sum(ic) != 0 || binary.BigEndian.Uint16(ic[4:]) != 0x1234 || ic[8+56] != 56 {
		t.Errorf("ICMP reply wrong: % x", ic)
	}
	if p.Stats().ARPReplies.Load() != 1 || p.Stats().EchoReplies.Load() != 1 || p.Stats().Ignored.Load() != 1 {
		t.Errorf("stats: arp %d echo %d ignored %d", p.Stats().ARPReplies.Load(), p.Stats().EchoReplies.Load(), p.Stats().Ignored.Load())
	}
}

func TestMalformedIgnored(t *testing.T) {
	p := peer.New(sim.NewWire().B(), nil, nil)
	defer p.Close()
	bad := echoRequest(peer.DefaultIP, 8)
	bad[14+20+2] ^= 1 // ICMP checksum
	for _, f := range [][]byte{nil, {1, 2, 3}, arpRequest(peer.DefaultIP)[:30], bad, echoRequest(peer.DefaultIP, 8)[:30]} {
		if r := p.Reply(f); r != nil {
			t.Errorf("reply to malformed % x: % x", f, r)
		}
	}
}

func TestEchoWithHold(t *testing.T) {
	w := sim.NewWire()
	capt := sim.NewCapture()
	w.A().Attach(capt)
	p := peer.New(w.B(), nil, nil)
	defer p.Close()
	var held = true
	done := make(chan struct{})
	p.Hold = func() bool {
		select {
		case <-done:
			return false
		default:
			return held
		}
	}
	f := make([]byte, 100)
	binary.BigEndian.PutUint16(f[12:], peer.EchoEtherType)
	p.Echo = peer.EchoEtherType
	w.A().Send(f)
	time.Sleep(20 * time.Millisecond)
	if capt.Len() != 0 {
		t.Fatal("frame sent while the peer was held")
	}
	close(done)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := capt.WaitFor(ctx, 1)
	if err != nil || string(got[0]) != string(f) {
		t.Fatalf("echo: %v % x", err, got)
	}
}
