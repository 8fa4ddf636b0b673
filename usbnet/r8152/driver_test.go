package r8152_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"net"
	"testing"
	"time"

	"dongle/usbnet"
	"dongle/usbnet/r8152"
)

func TestBindFollowsLinux(t *testing.T) {
	r := newRig(t, fakeOpts{})
	reqs := r.chip.requests()
	if s := reqs[0]; !s.In() || s.Value != r8152.PLATCR0 || s.Index != 0x0100 || s.Length != 4 {
		t.Errorf("first request %v, want the 4-byte PLA_TCR0 read", s)
	}
	if got := r.dev.Net.HardwareAddr(); !bytes.Equal(got, fakeMAC) {
		t.Errorf("MAC %v, want PLA_BACKUP's %v", got, net.HardwareAddr(fakeMAC))
	}
	if got := r.chip.reg(r8152.PLA, r8152.PLAIDR, 6); !bytes.Equal(got, fakeMAC) {
		t.Errorf("PLA_IDR %x, want the MAC", got)
	}
	// PLA_CRWECR: config mode around the two PLA_IDR writes, then normal.
	var seq []string
	for _, s := range reqs {
		switch {
		case !s.In() && s.Value == r8152.PLACRWECR:
			seq = append(seq, "crwecr")
		case !s.In() && (s.Value == r8152.PLAIDR || s.Value == r8152.PLAIDR+4):
			seq = append(seq, "idr")
		}
	}
	if want := []string{"crwecr", "idr", "idr", "crwecr"}; len(seq) != 4 || seq[0] != want[0] || seq[1] != want[1] || seq[2] != want[2] || seq[3] != want[3] {
		t.Errorf("PLA_IDR sequence %v, want %v", seq, want)
	}
	w := r.chip.writes(r8152.PLA, r8152.PLACRWECR)
	if w[0][0] != 0xc0 || w[1][0] != 0 {
		t.Errorf("CRWECR writes %x, want c0 then 00", w)
	}
	if v := r.chip.reg16(r8152.USB, r8152.USBUSBCtrl); v&(r8152.USBCtrlRxAggDis|r8152.USBCtrlRxZeroEn) != 0 {
		t.Errorf("USB_USB_CTRL %#04x: RX aggregation still disabled", v)
	}
	if v := r.chip.phyReg(r8152.OCPBaseMII); v&0x0800 != 0 {
		t.Errorf("BMCR %#04x: PHY still powered down", v)
	}
	if len(r.chip.writes(r8152.PLA, r8152.PLARstTally)) == 0 {
		t.Error("tally counters not reset")
	}
	if r.dev.RxURBSize != 32*1024 || r.dev.HardMTU != r8152.MaxMTU8153+14 || r.dev.Net.MaxMTU != r8152.MaxMTU8153 {
		t.Errorf("RxURBSize %d HardMTU %d MaxMTU %d", r.dev.RxURBSize, r.dev.HardMTU, r.dev.Net.MaxMTU)
	}
	if v := r.chip.violations(); len(v) > 0 {
		t.Errorf("protocol violations: %v", v)
	}
}

func TestBindRefusesUnknownAndUnsupportedChips(t *testing.T) {
	for _, tc := range []struct {
		ver  uint16
		want error
	}{{0x7010, r8152.ErrUnknownVersion}, {0x1234, r8152.ErrUnknownVersion}, {0x7030, r8152.ErrUnsupportedVersion}, {0x6400, r8152.ErrUnsupportedVersion}} {
		_, dev := newFake(fakeOpts{version: tc.ver})
		_, err := usbnet.Probe(dev, fast)
		if !errors.Is(err, tc.want) {
			t.Errorf("version %#04x: %v, want %v", tc.ver, err, tc.want)
		}
		_ = dev.Close()
	}
}

func TestBindMakesUpAnAddressForABadOne(t *testing.T) {
	r := newRig(t, fakeOpts{mac: []byte{0x01, 2, 3, 4, 5, 6}})
	m := r.dev.Net.HardwareAddr()
	if m[0]&1 != 0 || m[0]&2 == 0 {
		t.Errorf("MAC %v: want a locally administered unicast address", m)
	}
	if got := r.chip.reg(r8152.PLA, r8152.PLAIDR, 6); !bytes.Equal(got, m) {
		t.Errorf("PLA_IDR %x, want %v", got, m)
	}
}

func TestFramesBothWays(t *testing.T) {
	for _, super := range []bool{false, true} {
		r := newRig(t, fakeOpts{super: super})
		r.open()
		if !bytes.Equal(r.chip.reg(r8152.PLA, r8152.PLACR, 1), []byte{r8152.CRRE | r8152.CRTE}) {
			t.Errorf("PLA_CR %x: RX/TX not enabled", r.chip.reg(r8152.PLA, r8152.PLACR, 1))
		}
		if r.dev.Net.Speed() != 1000 {
			t.Errorf("speed %d, want 1000 from PLA_PHYSTATUS", r.dev.Net.Speed())
		}
		mps := r.dev.MaxPacket()
		// RX: a short (copied) and a long (cloned) frame in one transfer.
		in := [][]byte{ethFrame(60, r.mac(), peer, 1), ethFrame(1514, r.mac(), peer, 2), ethFrame(300, r.mac(), peer, 3)}
		r.sendIn(rxTransfer(in...))
		got := r.waitRx(3)
		for i := range in {
			if !bytes.Equal(got[i].data, in[i]) {
				t.Errorf("RX frame %d differs", i)
			}
		}
		// TX: a block that is exactly one packet (descriptor + mps-8) alone
		// gets a ZLP; then every size edge, aggregated as they come.
		r.xmit(ethFrame(mps-8, peer, r.mac(), 0))
		r.eventually("TX of the one-packet block", func() bool { return len(r.chip.frames()) == 1 })
		if z := r.dev.Counters().ZLPs.Load(); z != 1 {
			t.Errorf("%d ZLPs, want 1 (the %d-byte block)", z, mps)
		}
		sizes := []int{mps - 8, 60, 61, mps - 7, 1513, 1514}
		for i, n := range sizes[1:] {
			r.xmit(ethFrame(n, peer, r.mac(), byte(i+1)))
		}
		r.eventually("TX frames", func() bool { return len(r.chip.frames()) == len(sizes) })
		for i, f := range r.chip.frames() {
			if !bytes.Equal(f, ethFrame(sizes[i], peer, r.mac(), byte(i))) {
				t.Errorf("TX frame %d (%d bytes) differs", i, sizes[i])
			}
		}
		// Counted when the transfers complete, which may be after the
		// device took them.
		r.eventually("tx_packets", func() bool { return r.dev.Net.Stats().TxPackets.Load() == uint64(len(sizes)) })
		st := r.dev.Net.Stats()
		if st.RxErrors.Load() != 0 || st.TxErrors.Load() != 0 || st.RxPackets.Load() != 3 {
			t.Errorf("stats rx_errors %d tx_errors %d rx_packets %d", st.RxErrors.Load(), st.TxErrors.Load(), st.RxPackets.Load())
		}
		if v := r.chip.violations(); len(v) > 0 {
			t.Errorf("protocol violations: %v", v)
		}
	}
}

func TestChecksumVerdictReachesTheStack(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.open()
	f := ethFrame(400, r.mac(), peer, 7)
	p := rxTransfer(f, f)
	binary.LittleEndian.PutUint32(p[4:], r8152.RxIPv4CS|r8152.RxUDPCS)
	off := (r8152.RxDescLen + 404 + 7) &^ 7
	binary.LittleEndian.PutUint32(p[off+4:], r8152.RxIPv4CS|r8152.RxUDPCS)
	binary.LittleEndian.PutUint32(p[off+8:], r8152.RxUDPF)
	r.sendIn(p)
	got := r.waitRx(2)
	if !got[0].csum || got[1].csum {
		t.Errorf("CsumVerified %v %v, want true false", got[0].csum, got[1].csum)
	}
}

func TestMalformedTransferIsCountedAndTheNextOneWorks(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.open()
	good := ethFrame(100, r.mac(), peer, 1)
	p := rxTransfer(good, good)
	binary.LittleEndian.PutUint32(p[(r8152.RxDescLen+104+7)&^7:], 30) // second descriptor: a runt
	r.sendIn(p)
	st := r.dev.Net.Stats()
	r.eventually("length error", func() bool { return st.RxLengthErrors.Load() == 1 })
	if st.RxErrors.Load() != 1 || r.dev.Counters().RxFixupErrors.Load() != 1 {
		t.Errorf("rx_errors %d fixup errors %d, want 1 1", st.RxErrors.Load(), r.dev.Counters().RxFixupErrors.Load())
	}
	r.sendIn(rxTransfer(ethFrame(200, r.mac(), peer, 2)))
	got := r.waitRx(2)
	if !bytes.Equal(got[0].data, good) || !bytes.Equal(got[1].data, ethFrame(200, r.mac(), peer, 2)) {
		t.Error("frames before the bad descriptor and after the bad transfer were not delivered intact")
	}
	// RD_CRC: counted as a CRC error, the rest delivered.
	p = rxTransfer(good, good)
	binary.LittleEndian.PutUint32(p, 104|uint32(r8152.RxCRC))
	r.sendIn(p)
	r.waitRx(3)
	if st.RxCRCErrors.Load() != 1 || st.RxErrors.Load() != 2 {
		t.Errorf("rx_crc_errors %d rx_errors %d, want 1 2", st.RxCRCErrors.Load(), st.RxErrors.Load())
	}
}

func TestLinkFollowsTheInterruptAndPHYSTATUS(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.open()
	resets := r.dev.Counters().LinkResets.Load()
	r.link(false)
	r.eventually("carrier off", func() bool { return !r.dev.Net.Carrier() })
	r.chip.setPhyStatus(r8152.PhyLink | r8152.Phy100 | r8152.PhyFullDup)
	r.link(true)
	r.eventually("carrier on", func() bool { return r.dev.Net.Carrier() })
	if r.dev.Net.Speed() != 100 {
		t.Errorf("speed %d, want 100", r.dev.Net.Speed())
	}
	if r.dev.Counters().LinkResets.Load() != resets+1 {
		t.Errorf("link resets %d, want %d", r.dev.Counters().LinkResets.Load(), resets+1)
	}
	// A short interrupt packet is an error and changes nothing.
	if err := r.chip.host.SendIn(fakeIntr, []byte{0}); err != nil {
		t.Fatal(err)
	}
	r.eventually("status error", func() bool { return r.dev.Counters().StatusErrors.Load() == 1 })
	if !r.dev.Net.Carrier() {
		t.Error("carrier dropped on a short interrupt packet")
	}
}

func TestRxEarlySizeAndTimeoutForTheLink(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.open()
	// RTL8153B: (32768 - (1500+22+24+8)) / 8 = 3901; timeout 128 ns / 8 and
	// 15000 ns / 8 in USB_RX_EXTRA_AGGR_TMR.
	if v := r.chip.reg16(r8152.USB, r8152.USBRxEarlySz); v != 3901 {
		t.Errorf("USB_RX_EARLY_SIZE %d, want 3901", v)
	}
	if v := r.chip.reg16(r8152.USB, r8152.USBRxEarlyTO); v != 16 {
		t.Errorf("USB_RX_EARLY_TIMEOUT %d, want 16", v)
	}
	if v := r.chip.reg16(r8152.USB, r8152.USBRxExtraAgg); v != 1875 {
		t.Errorf("USB_RX_EXTRA_AGGR_TMR %d, want 1875", v)
	}
	if v := binary.LittleEndian.Uint32(r.chip.reg(r8152.USB, r8152.USBRxBufTh, 4)); v != r8152.RxThrB {
		t.Errorf("USB_RX_BUF_TH %#x", v)
	}
	if v := r.chip.reg16(r8152.PLA, r8152.PLAMisc1); v&r8152.Misc1RxdyGated != 0 {
		t.Error("RXDY gating left on")
	}
	if got := r8152.RxEarlySize(r8152.Ver04, 16*1024, 1500); got != (16384-1554)/4 {
		t.Errorf("RTL8153 early size %d", got)
	}
}

// etherCRCBit is Linux's ether_crc(6, a) >> 26, computed bit by bit
// (independently of hash/crc32).
func etherCRCBit(a []byte) uint {
	crc := ^uint32(0)
	for _, b := range a {
		for i := 0; i < 8; i++ {
			if (crc^uint32(b>>i))&1 != 0 {
				crc = crc>>1 ^ 0xedb88320
			} else {
				crc >>= 1
			}
		}
	}
	return uint(bits.Reverse32(crc) >> 26)
}

func TestReceiveFilter(t *testing.T) {
	mc := net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
	r := newRig(t, fakeOpts{})
	r.open()
	rcr := func() uint32 { return binary.LittleEndian.Uint32(r.chip.reg(r8152.PLA, r8152.PLARCR, 4)) }
	mar := func() []byte { return r.chip.reg(r8152.PLA, r8152.PLAMAR, 8) }
	if rcr()&r8152.RCRAcptAll != r8152.RCRAB|r8152.RCRAPM || !bytes.Equal(mar(), make([]byte, 8)) {
		t.Errorf("plain: RCR %#x MAR %x", rcr(), mar())
	}
	if err := r.dev.Net.AddMulticast(mc); err != nil {
		t.Fatal(err)
	}
	bit := etherCRCBit(mc)
	want := make([]byte, 8)
	// r8152: tmp[0] = cpu_to_le32(swab32(mc_filter[1])), tmp[1] the same
	// of mc_filter[0]: each 32-bit half big-endian, the high half first.
	var halves [2]uint32
	halves[bit/32] = 1 << (bit % 32)
	binary.BigEndian.PutUint32(want[0:], halves[1])
	binary.BigEndian.PutUint32(want[4:], halves[0])
	if !bytes.Equal(mar(), want) || rcr()&r8152.RCRAM == 0 {
		t.Errorf("one group (bit %d): MAR %x want %x, RCR %#x", bit, mar(), want, rcr())
	}
	r.dev.Net.SetAllMulti(1)
	if !bytes.Equal(mar(), bytes.Repeat([]byte{0xff}, 8)) || rcr()&r8152.RCRAAP != 0 {
		t.Errorf("allmulti: MAR %x RCR %#x", mar(), rcr())
	}
	r.dev.Net.SetPromisc(1)
	if rcr()&(r8152.RCRAAP|r8152.RCRAM|r8152.RCRAB|r8152.RCRAPM) != r8152.RCRAAP|r8152.RCRAM|r8152.RCRAB|r8152.RCRAPM {
		t.Errorf("promisc: RCR %#x", rcr())
	}
	mode := usbnet.RxMode{}
	for i := 0; i <= r8152.MulticastLimit; i++ {
		mode.Multicast = append(mode.Multicast, net.HardwareAddr{0x01, 0, 0x5e, 1, 0, byte(i)})
	}
	rc, m := r8152.RxMode(mode)
	if rc&r8152.RCRAM == 0 || !bytes.Equal(m[:], bytes.Repeat([]byte{0xff}, 8)) {
		t.Errorf("33 groups: RCR %#x MAR %x, want all multicast", rc, m)
	}
	mode.Multicast = mode.Multicast[:r8152.MulticastLimit]
	if _, m := r8152.RxMode(mode); bytes.Equal(m[:], bytes.Repeat([]byte{0xff}, 8)) {
		t.Error("32 groups: all multicast, want the hash")
	}
}

func TestSetMACAndMTU(t *testing.T) {
	r := newRig(t, fakeOpts{})
	addr := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	if err := r.dev.Net.ChangeHardwareAddr(addr); err != nil {
		t.Fatal(err)
	}
	if got := r.chip.reg(r8152.PLA, r8152.PLAIDR, 6); !bytes.Equal(got, addr) {
		t.Errorf("PLA_IDR %x, want %v", got, addr)
	}
	if err := r.dev.Net.SetMTU(9000); err != nil {
		t.Fatal(err)
	}
	if v := r.chip.reg16(r8152.PLA, r8152.PLARMS); v != 9022 {
		t.Errorf("PLA_RMS %d, want 9022", v)
	}
	if v := r.chip.reg(r8152.PLA, r8152.PLAMTPS, 1)[0]; v != r8152.MTPSJumbo {
		t.Errorf("PLA_MTPS %d", v)
	}
	if err := r.dev.Net.SetMTU(r8152.MaxMTU8153 + 1); err == nil {
		t.Error("MTU above 9194 accepted")
	}
	r.open()
	if err := r.dev.Net.SetMTU(1500); !errors.Is(err, usbnet.ErrBusy) {
		t.Errorf("MTU change while up: %v, want ErrBusy", err)
	}
	// A 9000-byte MTU frame goes out whole.
	f := ethFrame(9014, peer, r.mac(), 5)
	r.xmit(f)
	r.eventually("jumbo TX", func() bool { return len(r.chip.frames()) == 1 })
	if !bytes.Equal(r.chip.frames()[0], f) {
		t.Error("jumbo frame differs")
	}
}

func TestDiagnose(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.open()
	for i := 0; i < 3; i++ {
		r.xmit(ethFrame(100, peer, r.mac(), byte(i)))
	}
	r.eventually("TX", func() bool { return len(r.chip.frames()) == 3 })
	g := (&r8152.Driver{}).Diagnose(r.dev)
	if len(g.Problems) != 0 {
		t.Errorf("problems: %v", g.Problems)
	}
	if g.MACRegs[0].Name != "chip version" || g.MACRegs[0].Value != "0x6010" || g.MACRegs[0].Note != "RTL_VER_09 (RTL8153B)" {
		t.Errorf("version reg %+v", g.MACRegs[0])
	}
	var tx uint64 = 99
	for _, c := range g.Counters {
		if c.Name == "tx_packets" {
			tx = c.Value
		}
	}
	if tx != 3 {
		t.Errorf("tally tx_packets %d, want 3", tx)
	}
	if g.Link == nil || !g.Link.Up || g.Link.Mbps != 1000 || !g.Link.FullDuplex {
		t.Errorf("link %+v", g.Link)
	}
	var id1 string
	for _, p := range g.PHYRegs {
		if p.Name == "PHYSID1" {
			id1 = p.Value
		}
	}
	if id1 != "0x001c" {
		t.Errorf("PHYSID1 %q, want 0x001c (read through OCP)", id1)
	}
	// A failing read is a problem, not an abort.
	r.chip.mu.Lock()
	r.chip.stallReq = r8152.PLATallyCnt
	r.chip.mu.Unlock()
	g = (&r8152.Driver{}).Diagnose(r.dev)
	if len(g.Problems) == 0 || g.Link == nil {
		t.Errorf("problems %v link %v: want the tally read reported and the rest kept", g.Problems, g.Link)
	}
}

func TestVendorConfigurationIsChosen(t *testing.T) {
	r := newRig(t, fakeOpts{ecm: 2})
	c, err := r.hw.Configuration()
	if err != nil || c != 1 {
		t.Errorf("configuration %d (%v), want the vendor one, 1", c, err)
	}
	if r.dev.Driver.Name() != "r8152" || !r.dev.ID.SelectsConfig {
		t.Errorf("bound %s", r.dev.Driver.Name())
	}
}

var _ = time.Second
