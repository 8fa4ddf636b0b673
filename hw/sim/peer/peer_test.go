package peer_test

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

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

// echoRequest is built by gopacket, an implementation independent of the
// peer's own, so the peer's checksums are checked against a referee.
func echoRequest(dst net.IP, payload int) []byte {
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i)
	}
	return serialize(
		&layers.Ethernet{SrcMAC: hostMAC, DstMAC: peer.DefaultMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IPv4(10, 9, 9, 1), DstIP: dst},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x1234},
		gopacket.Payload(data))
}

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// checksumsOK decodes an IPv4/ICMP frame with gopacket and reports whether
// its IP and ICMP checksums equal what gopacket computes for the same
// headers and payload.
func checksumsOK(frame []byte) bool {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ic, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if eth == nil || ip == nil || ic == nil {
		return false
	}
	wantIP, wantIC := ip.Checksum, ic.Checksum
	again := gopacket.NewPacket(serialize(eth, ip, ic, gopacket.Payload(ic.Payload)), layers.LayerTypeEthernet, gopacket.Default)
	ip2, _ := again.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ic2, _ := again.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	return ip2 != nil && ic2 != nil && ip2.Checksum == wantIP && ic2.Checksum == wantIC
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
	if !net.IP(ip[12:16]).Equal(peer.DefaultIP) || !net.IP(ip[16:20]).Equal(net.IPv4(10, 9, 9, 1)) {
		t.Errorf("IP header of the reply wrong: % x", ip[:20])
	}
	ic := ip[20 : 20+8+57]
	if ic[0] != 0 || binary.BigEndian.Uint16(ic[4:]) != 0x1234 || ic[8+56] != 56 {
		t.Errorf("ICMP reply wrong: % x", ic)
	}
	if !checksumsOK(icmp) {
		t.Errorf("reply checksums differ from gopacket's: % x", icmp)
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
