package asix

import (
	"net"
	"testing"
)

// etherCRC is Linux's original bit-serial ether_crc: MSB-first shift
// register, LSB of each byte first, no final inversion.
func etherCRC(data []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, b := range data {
		for bit := 0; bit < 8; bit, b = bit+1, b>>1 {
			fb := crc>>31 ^ uint32(b&1)
			crc <<= 1
			if fb != 0 {
				crc ^= 0x04c11db7
			}
		}
	}
	return crc
}

func TestHashIndexIsEtherCRC(t *testing.T) {
	addrs := []net.HardwareAddr{
		{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, {0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa},
		{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e},
	}
	for i := 0; i < 1000; i++ {
		addrs = append(addrs, net.HardwareAddr{0x01, byte(i), byte(i >> 8), byte(i * 31), byte(i * 7), byte(i * 13)})
	}
	for _, a := range addrs {
		if got, want := HashIndex(a), uint(etherCRC(a)>>26); got != want {
			t.Fatalf("%v: HashIndex %d, ether_crc>>26 %d", a, got, want)
		}
	}
}

func TestBuildFilter(t *testing.T) {
	base := DefaultRxCtl
	mc := []net.HardwareAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}
	if f := BuildFilter(base, true, true, mc); f.RxCtl != base|RxCtlPRO {
		t.Fatalf("promisc: %#x", f.RxCtl)
	}
	if f := BuildFilter(base, false, true, mc); f.RxCtl != base|RxCtlAMALL {
		t.Fatalf("allmulti: %#x", f.RxCtl)
	}
	if f := BuildFilter(base, false, false, nil); f.RxCtl != base {
		t.Fatalf("none: %#x", f.RxCtl)
	}
	f := BuildFilter(base, false, false, mc)
	i := HashIndex(mc[0])
	if f.RxCtl != base|RxCtlAM || f.Hash[i>>3] != 1<<(i&7) {
		t.Fatalf("hash: %#x % x", f.RxCtl, f.Hash)
	}
	many := make([]net.HardwareAddr, 65)
	for j := range many {
		many[j] = net.HardwareAddr{0x01, 0, 0x5e, 0, 1, byte(j)}
	}
	if f := BuildFilter(base, false, false, many); f.RxCtl != base|RxCtlAMALL {
		t.Fatalf("65 groups: %#x", f.RxCtl)
	}
}

func TestResolveAndMedium(t *testing.T) {
	adv := ADVAll | ADVCSMA | ADVPauseCap
	up := BMSRLStatus | BMSRANegDone
	for _, tc := range []struct {
		lpa  uint16
		want uint16
	}{
		{ADV100Full | ADVPauseCap | LPAAck, Medium772Default},
		{ADV100Full | LPAAck, MediumAC | MediumRE | MediumPS | MediumFD},
		{ADV100Half | ADVPauseCap | LPAAck, MediumAC | MediumRE | MediumPS},
		{ADV10Full | ADVPauseCap | LPAAck, MediumAC | MediumRE | MediumFD | MediumRFC | MediumTFC},
		{ADV10Half | LPAAck, MediumAC | MediumRE},
	} {
		l := Resolve(BMCRANEnable, up, adv, tc.lpa, 0, 0)
		if got := MediumMode(AX88772B, l); got != tc.want {
			t.Fatalf("lpa %#x (%v): medium %#x, want %#x", tc.lpa, l, got, tc.want)
		}
	}
	if l := Resolve(BMCRANEnable, 0, adv, ADV100Full, 0, 0); l.Up {
		t.Fatal("link without BMSR link status")
	}
}
