package rtl8153

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
)

// rig is a model driven as r8152 drives it: register requests, the OCP
// window, bulk and interrupt endpoints.
type rig struct {
	t    *testing.T
	m    *Model
	d    *sim.Device
	wire *sim.Wire
	cap  *sim.Capture
	in   hw.Endpoint
	out  hw.Endpoint
	base uint16 // the OCP page r8152 believes is selected (tp->ocp_base)
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	m, d := New(cfg)
	r := &rig{t: t, m: m, d: d, wire: sim.NewWire(), cap: sim.NewCapture(), base: 0xffff}
	m.Connect(r.wire.A())
	r.wire.B().Attach(r.cap)
	if err := d.Claim(0); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.in, err = d.OpenEndpoint(EPBulkIn); err != nil {
		t.Fatal(err)
	}
	if r.out, err = d.OpenEndpoint(EPBulkOut); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.in.Close(); r.out.Close(); d.Close() })
	return r
}

func (r *rig) ctl(in bool, value, index uint16, data []byte) error {
	rt := uint8(typeWrite)
	if in {
		rt = typeRead
	}
	_, err := r.d.Control(context.Background(), hw.Setup{RequestType: rt, Request: reqRegs, Value: value, Index: index}, data)
	return err
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// word and the writes below are ocp_read_word / ocp_write_word / ...
func (r *rig) word(b uint16, addr uint16) uint16 {
	r.t.Helper()
	var d [4]byte
	r.must(r.ctl(true, addr&^3, b|0x33<<(addr&2), d[:]))
	return uint16(binary.LittleEndian.Uint32(d[:]) >> (8 * (addr & 2)))
}

func (r *rig) dword(b uint16, addr uint16) uint32 {
	r.t.Helper()
	var d [4]byte
	r.must(r.ctl(true, addr, b, d[:]))
	return binary.LittleEndian.Uint32(d[:])
}

func (r *rig) setWord(b uint16, addr, v uint16) {
	r.t.Helper()
	var d [4]byte
	sh := addr & 2
	binary.LittleEndian.PutUint32(d[:], uint32(v)<<(8*sh))
	r.must(r.ctl(false, addr&^3, b|0x33<<sh, d[:]))
}

func (r *rig) setByte(b uint16, addr uint16, v byte) {
	r.t.Helper()
	var d [4]byte
	sh := addr & 3
	d[sh] = v
	r.must(r.ctl(false, addr&^3, b|0x11<<sh, d[:]))
}

func (r *rig) setDword(b uint16, addr uint16, v uint32) {
	r.t.Helper()
	var d [4]byte
	binary.LittleEndian.PutUint32(d[:], v)
	r.must(r.ctl(false, addr, b|0xff, d[:]))
}

// ocp is ocp_reg_read; setOCP is ocp_reg_write.
func (r *rig) ocp(addr uint16) uint16 {
	if addr&0xf000 != r.base {
		r.setWord(mcuPLA, plaGPHYBase, addr&0xf000)
		r.base = addr & 0xf000
	}
	return r.word(mcuPLA, addr&0x0fff|0xb000)
}

func (r *rig) setOCP(addr, v uint16) {
	if addr&0xf000 != r.base {
		r.setWord(mcuPLA, plaGPHYBase, addr&0xf000)
		r.base = addr & 0xf000
	}
	r.setWord(mcuPLA, addr&0x0fff|0xb000, v)
}

// bringUp is the part of r8153b_init, hw_phy_cfg and rtl8153_enable that
// matters to the data path: PHY out of power-down, RX filter, CR_RE|CR_TE,
// RX gate open.
func (r *rig) bringUp() {
	bmcr := r.ocp(ocpBaseMII + 2*miiBMCR)
	r.setOCP(ocpBaseMII+2*miiBMCR, bmcr&^bmcrPDown|bmcrANEnable|bmcrANRestart)
	r.setDword(mcuPLA, plaRCR, rcrAPM|rcrAB)
	r.setByte(mcuPLA, plaCR, crRE|crTE)
	r.setWord(mcuPLA, plaMisc1, r.word(mcuPLA, plaMisc1)&^rxdyGatedEn)
}

func (r *rig) readIn(size int) []byte {
	r.t.Helper()
	tr := &hw.Transfer{Buf: make([]byte, size)}
	r.must(r.in.Submit(tr))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := r.in.Wait(ctx)
	if err != nil {
		r.in.Cancel()
		r.in.Wait(context.Background())
		r.t.Fatalf("bulk IN: %v", err)
	}
	return got.Buf[:got.N]
}

func (r *rig) write(b []byte) {
	r.t.Helper()
	r.must(r.out.Submit(&hw.Transfer{Buf: b}))
	if _, err := r.out.Wait(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func TestDescriptorsAsR8152ChecksThem(t *testing.T) {
	for _, tc := range []struct {
		s   hw.Speed
		mps uint16
	}{{hw.SpeedFull, 64}, {hw.SpeedHigh, 512}, {hw.SpeedSuper, 1024}} {
		_, cfgs := descriptors(0x0bda, 0x8153, tc.s, true)
		if len(cfgs) != 2 {
			t.Fatalf("%v: %d configurations", tc.s, len(cfgs))
		}
		c, err := hw.ParseConfig(cfgs[0])
		if err != nil {
			t.Fatalf("%v: %v", tc.s, err)
		}
		a := c.Interfaces[0].Alts[0]
		if c.Value != 1 || a.Class != 0xff || len(a.Endpoints) != 3 {
			t.Fatalf("%v: vendor configuration %+v", tc.s, a)
		}
		// rtl_check_vendor_ok: bulk IN number 1, bulk OUT number 2, interrupt number 3.
		for _, ep := range a.Endpoints {
			switch ep.Address {
			case 0x81, 0x02:
				if ep.Type() != hw.XferBulk || ep.MaxPacketSize != tc.mps {
					t.Fatalf("%v: %+v", tc.s, ep)
				}
			case 0x83:
				if ep.Type() != hw.XferInterrupt || ep.MaxPacketSize != 2 {
					t.Fatalf("%v: %+v", tc.s, ep)
				}
			default:
				t.Fatalf("%v: endpoint %#02x", tc.s, ep.Address)
			}
		}
		e, err := hw.ParseConfig(cfgs[1])
		if err != nil {
			t.Fatalf("%v ECM: %v", tc.s, err)
		}
		if e.Value != 2 || len(e.Interfaces) != 2 || e.Interfaces[0].Alts[0].Class != 0x02 || e.Interfaces[0].Alts[0].SubClass != 0x06 ||
			len(e.Interfaces[1].Alts) != 2 || len(e.Interfaces[1].Alts[1].Endpoints) != 2 {
			t.Fatalf("%v: ECM configuration %+v", tc.s, e)
		}
	}
	_, d := New(Config{NoECM: true})
	defer d.Close()
	dd, err := hw.ReadDeviceDescriptor(context.Background(), d)
	if err != nil || dd.NumConfigurations != 1 || dd.Vendor != 0x0bda || dd.Product != 0x8153 {
		t.Fatalf("NoECM device descriptor %+v %v", dd, err)
	}
	_, d2 := New(Config{})
	defer d2.Close()
	if v, _ := d2.Configuration(); v != 1 {
		t.Fatalf("active configuration %d, want the vendor one r8152's cfgselector sets", v)
	}
}

// TestVersionAsLinuxReadsIt: __rtl_get_hw_ver reads 4 bytes at PLA_TCR0
// and takes (le32 >> 16) & VERSION_MASK; 0x6010 is RTL_VER_09. Writes to
// TCR1 (rtl_set_ifg) keep the version bits.
func TestVersionAsLinuxReadsIt(t *testing.T) {
	r := newRig(t, Config{})
	if v := r.dword(mcuPLA, plaTCR0) >> 16 & versionMask; v != 0x6010 {
		t.Fatalf("version %#04x", v)
	}
	r.setWord(mcuPLA, plaTCR1, 0x0308) // IFG bits, version bits cleared
	if v := r.word(mcuPLA, plaTCR1); v&versionMask != 0x6010 || v&0x0308 != 0x0308 {
		t.Fatalf("TCR1 after an IFG write %#04x", v)
	}
	if r.word(mcuPLA, plaTCR0)&tcr0TxEmpty == 0 {
		t.Fatal("TCR0_TX_EMPTY clear: rtl_disable would wait 1000 times")
	}
}

// TestInitPolls: every condition r8152's init loops wait for becomes true
// after the action the driver takes, not before.
func TestInitPolls(t *testing.T) {
	r := newRig(t, Config{})
	if r.word(mcuPLA, plaBootCtrl)&autoloadDone == 0 {
		t.Fatal("AUTOLOAD_DONE clear")
	}
	if s := r.ocp(ocpPHYStatus) & 7; s != phyStatPwrDn {
		t.Fatalf("PHY status at power-on %d, want PHY_STAT_PWRDN", s)
	}
	if up, _ := r.m.Link(); up {
		t.Fatal("link up with the PHY powered down")
	}
	bmcr := r.ocp(ocpBaseMII + 2*miiBMCR)
	r.setOCP(ocpBaseMII+2*miiBMCR, bmcr&^bmcrPDown)
	if s := r.ocp(ocpPHYStatus) & 7; s != phyStatLANOn {
		t.Fatalf("PHY status after clearing BMCR_PDOWN %d, want PHY_STAT_LAN_ON", s)
	}
	if st := r.word(mcuPLA, plaPHYStatus); st != physLink|physFullDup|phys1000|physRxFlow|physTxFlow {
		t.Fatalf("PLA_PHYSTATUS %#02x, want link 1000 full with flow control", st)
	}
	// rtl8152_nic_reset: CR_RST reads back clear.
	r.setByte(mcuPLA, plaCR, crRST)
	if r.Reg(PLA, plaCR)&crRST != 0 {
		t.Fatal("CR_RST stuck")
	}
	// r8153_first_init: RE_INIT_LL completes, LINK_LIST_READY set.
	r.setWord(mcuPLA, plaSFFSts7, reInitLL)
	if r.word(mcuPLA, plaSFFSts7)&reInitLL != 0 || r.Reg(PLA, plaOOBCtrl)&oobLinkList == 0 {
		t.Fatal("link list not ready")
	}
	if r.Reg(PLA, plaOOBCtrl)&(oobTxFIFOEmpty|oobRxFIFOEmpty) != oobTxFIFOEmpty|oobRxFIFOEmpty {
		t.Fatal("FIFOs not empty with nothing queued")
	}
	// r8153_aldps_en(false) waits for bit 8 of PLA 0xe000.
	if r.word(mcuPLA, plaALDPSStat)&aldpsLeftBit != 0 {
		t.Fatal("ALDPS-left bit set while EN_ALDPS is on")
	}
	r.setOCP(ocpPowerCfg, r.ocp(ocpPowerCfg)&^powerCfgALDPS)
	if r.word(mcuPLA, plaALDPSStat)&aldpsLeftBit == 0 {
		t.Fatal("ALDPS-left bit clear after EN_ALDPS off")
	}
	// rtl_phy_patch_request: PATCH_READY follows PATCH_REQUEST.
	r.setOCP(ocpPatchCmd, patchRequest)
	if r.ocp(ocpPatchStat)&patchReady == 0 {
		t.Fatal("PATCH_READY not granted")
	}
	r.setOCP(ocpPatchCmd, 0)
	if r.ocp(ocpPatchStat)&patchReady != 0 {
		t.Fatal("PATCH_READY after the request was dropped")
	}
	// rtl8152_set_speed: BMCR_RESET clears itself.
	r.setOCP(ocpBaseMII+2*miiBMCR, bmcrReset|bmcrANEnable|bmcrANRestart)
	if r.ocp(ocpBaseMII+2*miiBMCR)&(bmcrReset|bmcrANRestart) != 0 {
		t.Fatal("BMCR reset/restart stuck")
	}
	// The ADC calibration reads a blank efuse: 17 bits of ones, skipped.
	r.setWord(mcuPLA, plaEfuseCmd, efuseReadCmd|0x7d)
	d := uint32(r.word(mcuPLA, plaEfuseCmd)&efuseDataBit)<<9 | uint32(r.word(mcuPLA, plaEfuseData))
	if v := uint16((d&0x1fff0)>>1 | d&7); v != 0xffff {
		t.Fatalf("efuse 0x7d gives %#04x, want the blank 0xffff", v)
	}
}

// Reg is a test shorthand for one byte of the register file.
func (r *rig) Reg(b Block, a int) byte { return r.m.Reg(b, a, 1)[0] }

func TestAutonegotiation(t *testing.T) {
	for _, tc := range []struct {
		partner int
		half    bool
		adv1k   uint16
		mbps    int
		phys    uint8
	}{
		{1000, false, adv1000Full, 1000, physLink | physFullDup | phys1000 | physRxFlow | physTxFlow},
		{1000, false, 0, 100, physLink | physFullDup | phys100 | physRxFlow | physTxFlow},
		{100, true, adv1000Full, 100, physLink | phys100},
		{10, false, adv1000Full, 10, physLink | physFullDup | phys10 | physRxFlow | physTxFlow},
	} {
		r := newRig(t, Config{LinkMbps: tc.partner, HalfDuplex: tc.half})
		r.setOCP(ocpBaseMII+2*miiCTRL1000, tc.adv1k)
		r.setOCP(ocpBaseMII+2*miiBMCR, bmcrANEnable|bmcrANRestart)
		if up, mbps := r.m.Link(); !up || mbps != tc.mbps {
			t.Fatalf("partner %d half %v adv1k %#x: link %v %d", tc.partner, tc.half, tc.adv1k, up, mbps)
		}
		if st := uint8(r.word(mcuPLA, plaPHYStatus)); st != tc.phys {
			t.Fatalf("partner %d: PLA_PHYSTATUS %#02x want %#02x", tc.partner, st, tc.phys)
		}
		if bmsr := r.ocp(ocpBaseMII + 2*miiBMSR); bmsr&(bmsrLStatus|bmsrANEGDone) != bmsrLStatus|bmsrANEGDone {
			t.Fatalf("BMSR %#04x", bmsr)
		}
	}
	r := newRig(t, Config{NoCable: true})
	r.bringUp()
	if up, _ := r.m.Link(); up || r.word(mcuPLA, plaPHYStatus) != 0 {
		t.Fatal("link without a cable")
	}
	r.m.PlugCable(100, true)
	if up, mbps := r.m.Link(); !up || mbps != 100 {
		t.Fatalf("after PlugCable: %v %d", up, mbps)
	}
}

// TestByteEnables: a word write at the upper half (be 0xcc) and a byte
// write (be 0x88) leave the other bytes of the dword alone.
func TestByteEnables(t *testing.T) {
	r := newRig(t, Config{})
	const a = 0xd40c // USB_RX_BUF_TH: plain storage
	r.setDword(mcuUSB, a, 0x11223344)
	r.setWord(mcuUSB, a+2, 0xaabb)
	if v := r.dword(mcuUSB, a); v != 0xaabb3344 {
		t.Fatalf("after a word write %#08x", v)
	}
	r.setByte(mcuUSB, a+3, 0x55)
	if v := r.dword(mcuUSB, a); v != 0x55bb3344 {
		t.Fatalf("after a byte write %#08x", v)
	}
	// A multi-dword write: first dword enables from bits 3:0, last from 7:4.
	buf := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	r.setDword(mcuUSB, 0xd500, 0)
	r.setDword(mcuUSB, 0xd504, 0)
	r.setDword(mcuUSB, 0xd508, 0)
	r.must(r.ctl(false, 0xd500, mcuUSB|0x3c, buf))
	if got := r.m.Reg(USB, 0xd500, 12); string(got) != string([]byte{0, 0, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0}) {
		t.Fatalf("multi-dword write with be 0x3c: % x", got)
	}
}

// TestStationAddress: the MAC is read from PLA_BACKUP; PLA_IDR takes a
// write only while PLA_CRWECR is CRWECR_CONFIG.
func TestStationAddress(t *testing.T) {
	r := newRig(t, Config{})
	var b [8]byte
	r.must(r.ctl(true, plaBackup, mcuPLA, b[:]))
	if string(b[:6]) != string(DefaultMAC) {
		t.Fatalf("PLA_BACKUP % x", b[:6])
	}
	mac := []byte{0x02, 0, 0, 0, 0, 0x42, 0, 0}
	write := func() {
		r.must(r.ctl(false, plaIDR, mcuPLA|0xff, mac[:4]))
		r.must(r.ctl(false, plaIDR+4, mcuPLA|0x33, mac[4:]))
	}
	write()
	if st := r.m.Stats(); st.IDRLocked != 2 || string(r.m.Reg(PLA, plaIDR, 6)) != string(DefaultMAC) {
		t.Fatalf("locked IDR write took effect: %+v % x", st, r.m.Reg(PLA, plaIDR, 6))
	}
	r.setByte(mcuPLA, plaCRWECR, crwecrConfig)
	write()
	r.setByte(mcuPLA, plaCRWECR, 0)
	if got := r.m.Reg(PLA, plaIDR, 6); string(got) != string(mac[:6]) {
		t.Fatalf("PLA_IDR % x", got)
	}
}

func TestMalformedRequestsStall(t *testing.T) {
	r := newRig(t, Config{})
	var b [68]byte
	for _, tc := range []struct {
		name string
		s    hw.Setup
		data []byte
	}{
		{"other request", hw.Setup{RequestType: typeRead, Request: 0x01, Value: plaTCR0, Index: mcuPLA}, b[:4]},
		{"class type", hw.Setup{RequestType: 0xa1, Request: reqRegs, Value: plaTCR0, Index: mcuPLA}, b[:4]},
		{"no block", hw.Setup{RequestType: typeRead, Request: reqRegs, Value: plaTCR0, Index: 0x0200}, b[:4]},
		{"misaligned", hw.Setup{RequestType: typeRead, Request: reqRegs, Value: plaTCR0 + 2, Index: mcuPLA}, b[:4]},
		{"odd length", hw.Setup{RequestType: typeRead, Request: reqRegs, Value: plaTCR0, Index: mcuPLA}, b[:6]},
		{"read over 64", hw.Setup{RequestType: typeRead, Request: reqRegs, Value: plaTallyCnt, Index: mcuPLA}, b[:68]},
		{"no byte enabled", hw.Setup{RequestType: typeWrite, Request: reqRegs, Value: 0xd40c, Index: mcuUSB}, b[:4]},
		{"past the block", hw.Setup{RequestType: typeRead, Request: reqRegs, Value: 0xfffc, Index: mcuUSB}, b[:8]},
	} {
		if _, err := r.d.Control(context.Background(), tc.s, tc.data); !errors.Is(err, hw.ErrStall) {
			t.Errorf("%s: %v, want a stall", tc.name, err)
		}
	}
	if st := r.m.Stats(); st.Malformed != 8 {
		t.Fatalf("Malformed %d, want 8", st.Malformed)
	}
	if log := r.m.Requests(); len(log) != 8 || log[0].Err == nil {
		t.Fatalf("log %v", log)
	}
}

// TestUnmodelledAccessesListed: registers the model only stores are
// listed with their counts; modelled ones are not.
func TestUnmodelledAccessesListed(t *testing.T) {
	r := newRig(t, Config{})
	r.setWord(mcuUSB, 0xcbfc, 0x0fff) // USB_MSC_TIMER
	_ = r.word(mcuUSB, 0xcbfc)        // read back
	_ = r.word(mcuPLA, plaBootCtrl)   // modelled
	r.setOCP(0xa5d0, 0x0006)          // OCP_EEE_ADV: stored only
	_ = r.ocp(ocpPHYStatus)           // modelled
	got := r.m.Unmodelled()
	want := []Access{{Block: USB, Addr: 0xcbfc, Reads: 1, Writes: 1}}
	var ocp *Access
	for i := range got {
		if got[i].Block == OCP && got[i].Addr == 0xa5d0 {
			ocp = &got[i]
		}
	}
	if len(got) < 2 || got[0] != want[0] || ocp == nil || ocp.Writes != 1 {
		t.Fatalf("unmodelled %v", got)
	}
	for _, a := range got {
		if a.Block == PLA && (a.Addr == plaBootCtrl || a.Addr == plaGPHYBase) || a.Block == OCP && a.Addr == ocpPHYStatus {
			t.Fatalf("modelled register listed: %v", a)
		}
	}
}

func frame(dst []byte, n int) []byte {
	f := make([]byte, n)
	copy(f, dst)
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 0x99})
	f[12], f[13] = 0x88, 0xb5
	for i := 14; i < n; i++ {
		f[i] = byte(i)
	}
	return f
}

// parseRX walks a transfer as r8152's rx_bottom does and returns the
// frames (FCS checked and removed) and each descriptor's opts2/opts3.
func parseRX(t *testing.T, b []byte) (frames [][]byte, opts [][2]uint32) {
	t.Helper()
	off := 0
	for off+rxDescLen <= len(b) {
		l := int(binary.LittleEndian.Uint32(b[off:]) & rxLenMask)
		if l < ethMinLen {
			break
		}
		if off+rxDescLen+l > len(b) {
			t.Fatalf("descriptor at %d: length %d past the end (%d)", off, l, len(b))
		}
		f := b[off+rxDescLen : off+rxDescLen+l-4]
		if crc32.ChecksumIEEE(f) != binary.LittleEndian.Uint32(b[off+rxDescLen+l-4:]) {
			t.Fatalf("descriptor at %d: bad FCS", off)
		}
		frames = append(frames, f)
		opts = append(opts, [2]uint32{binary.LittleEndian.Uint32(b[off+4:]), binary.LittleEndian.Uint32(b[off+8:])})
		off = (off + rxDescLen + l + 7) &^ 7
	}
	return frames, opts
}

func TestRXAggregationAndFilter(t *testing.T) {
	r := newRig(t, Config{ManualFlush: true})
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	other := []byte{0x02, 1, 2, 3, 4, 5}
	r.wire.B().Send(frame(DefaultMAC, 60))
	if st := r.m.Stats(); st.RxNoLink != 1 {
		t.Fatalf("frame with the PHY down: %+v", st)
	}
	r.bringUp()
	r.setByte(mcuPLA, plaCR, crTE)
	r.wire.B().Send(frame(DefaultMAC, 60))
	if st := r.m.Stats(); st.RxStopped != 1 {
		t.Fatalf("frame with CR_RE off: %+v", st)
	}
	r.setByte(mcuPLA, plaCR, crRE|crTE)
	want := [][]byte{frame(DefaultMAC, 60), frame(bcast, 61), frame(DefaultMAC, 1514)}
	for _, f := range want {
		r.wire.B().Send(f)
	}
	r.wire.B().Send(frame(other, 100)) // another station's unicast: filtered
	if r.m.Pending() != 3 {
		t.Fatalf("pending %d", r.m.Pending())
	}
	r.m.Flush()
	got, _ := parseRX(t, r.readIn(32768))
	if len(got) != 3 {
		t.Fatalf("%d frames", len(got))
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	st := r.m.Stats()
	if st.RxFiltered != 1 || st.RxFrames != 3 || st.RxTransfers != 1 {
		t.Fatalf("stats %+v", st)
	}
	var tl [tallySize]byte
	r.must(r.ctl(true, plaTallyCnt, mcuPLA, tl[:]))
	if rx := binary.LittleEndian.Uint64(tl[8:]); rx != 3 || binary.LittleEndian.Uint64(tl[40:]) != 2 || binary.LittleEndian.Uint64(tl[48:]) != 1 {
		t.Fatalf("tally rx %d unicast %d broadcast %d", rx, binary.LittleEndian.Uint64(tl[40:]), binary.LittleEndian.Uint64(tl[48:]))
	}
	r.setWord(mcuPLA, plaRstTally, tallyReset)
	r.must(r.ctl(true, plaTallyCnt, mcuPLA, tl[:]))
	if binary.LittleEndian.Uint64(tl[8:]) != 0 {
		t.Fatal("TALLY_RESET left the counters")
	}
}

// TestMulticastHash: the PLA_MAR layout r8152's _rtl8152_set_rx_mode
// writes is the one the filter reads.
func TestMulticastHash(t *testing.T) {
	r := newRig(t, Config{ManualFlush: true})
	r.bringUp()
	group := []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
	// As Linux: bit_nr = ether_crc >> 26; mc_filter[bit_nr>>5] |= 1<<(bit_nr&31);
	// PLA_MAR = le32(swab32(mc_filter[1])), le32(swab32(mc_filter[0])).
	crc := uint32(0xffffffff)
	for _, c := range group {
		for i := 0; i < 8; i++ {
			bit := (crc>>31)&1 ^ uint32(c>>i)&1
			crc <<= 1
			if bit != 0 {
				crc ^= 0x04c11db7
			}
		}
	}
	nr := crc >> 26
	var mc [2]uint32
	mc[nr>>5] |= 1 << (nr & 31)
	var mar [8]byte
	binary.BigEndian.PutUint32(mar[0:], mc[1])
	binary.BigEndian.PutUint32(mar[4:], mc[0])
	r.must(r.ctl(false, plaMAR, mcuPLA|0xff, mar[:4]))
	r.must(r.ctl(false, plaMAR+4, mcuPLA|0xff, mar[4:]))
	r.wire.B().Send(frame(group, 80))
	if st := r.m.Stats(); st.RxFiltered != 1 {
		t.Fatalf("group accepted without RCR_AM: %+v", st)
	}
	r.setDword(mcuPLA, plaRCR, rcrAPM|rcrAB|rcrAM)
	r.wire.B().Send(frame(group, 80))
	r.wire.B().Send(frame([]byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, 80)) // not subscribed
	if st := r.m.Stats(); st.RxFrames != 1 || st.RxFiltered != 2 {
		t.Fatalf("hash filter: %+v", st)
	}
}

// TestRXChecksumBits: a UDP/IPv4 datagram gets RD_IPV4_CS|RD_UDP_CS and no
// failure bit; the same with a broken UDP checksum gets UDPF.
func TestRXChecksumBits(t *testing.T) {
	r := newRig(t, Config{ManualFlush: true})
	r.bringUp()
	f := udpFrame(DefaultMAC)
	r.wire.B().Send(f)
	bad := append([]byte(nil), f...)
	bad[len(bad)-1] ^= 0xff
	r.wire.B().Send(bad)
	r.m.Flush()
	_, opts := parseRX(t, r.readIn(32768))
	if len(opts) != 2 || opts[0][0] != rdIPv4CS|rdUDPCS || opts[0][1] != 0 || opts[1][1] != rdUDPF {
		t.Fatalf("opts %x", opts)
	}
}

// udpFrame is a UDP/IPv4 datagram to dst with correct checksums.
func udpFrame(dst []byte) []byte {
	payload := []byte("rtl8153 model checksum test.")
	f := make([]byte, 14+20+8+len(payload))
	copy(f, dst)
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 0x99})
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	copy(ip[12:], []byte{10, 9, 9, 2, 10, 9, 9, 1})
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:20], 0)))
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], 4000)
	binary.BigEndian.PutUint16(u[2:], 5000)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	c := ^fold(sum(u, sum(ip[12:20], 0)+17+uint32(len(u))))
	binary.BigEndian.PutUint16(u[6:], c)
	return f
}

// TestRXTransferEnd: a transfer of a whole number of packets ends with 8
// zero bytes when RX_ZERO_EN is clear (r8152's setting) and with a ZLP
// when it is set; either way the host's transfer ends.
func TestRXTransferEnd(t *testing.T) {
	r := newRig(t, Config{ManualFlush: true})
	r.bringUp()
	n := 512 - rxDescLen - ethFCSLen // one descriptor + frame + FCS = 512
	r.wire.B().Send(frame(DefaultMAC, n))
	r.m.Flush()
	got := r.readIn(32768)
	if len(got) != 512+8 || !allZero(got[512:]) {
		t.Fatalf("transfer of %d bytes, tail % x", len(got), got[min(512, len(got)):])
	}
	if f, _ := parseRX(t, got); len(f) != 1 {
		t.Fatalf("%d frames", len(f))
	}
	r.setWord(mcuUSB, usbUSBCtrl, rxZeroEn)
	r.wire.B().Send(frame(DefaultMAC, n))
	r.m.Flush()
	if got := r.readIn(32768); len(got) != 512 {
		t.Fatalf("with RX_ZERO_EN: %d bytes", len(got))
	}
}

func txDesc(f []byte, o2 uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, txFS|txLS|uint32(len(f)))
	b = binary.LittleEndian.AppendUint32(b, o2)
	return append(b, f...)
}

func align4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestTXAggregate(t *testing.T) {
	r := newRig(t, Config{})
	r.bringUp()
	a, b := frame(other(), 61), frame(other(), 1514)
	x := align4(txDesc(a, 0))
	x = append(x, txDesc(b, 0)...)
	r.write(x)
	got := r.cap.Frames()
	if len(got) != 2 || string(got[0]) != string(a) || string(got[1]) != string(b) {
		t.Fatalf("wire got %d frames", len(got))
	}
	if st := r.m.Stats(); st.TxErrors() != 0 || st.TxFrames != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTXAggregateOfWholePacketsSentAtOnce: r8152 sends no ZLP after an
// aggregate that fills whole packets, and the chip sends its frames as
// they arrive: 128 frames of 64 bytes behind their descriptors are 18 ×
// 512 (9 × 1024) bytes, all on the wire before the host sends anything
// else (a model that waited for a short packet held them until then).
func TestTXAggregateOfWholePacketsSentAtOnce(t *testing.T) {
	for _, speed := range []hw.Speed{hw.SpeedHigh, hw.SpeedSuper} {
		t.Run(speed.String(), func(t *testing.T) {
			r := newRig(t, Config{Speed: speed})
			r.bringUp()
			var x []byte
			for i := 0; i < 128; i++ {
				f := frame(other(), 64)
				f[20] = byte(i)
				x = append(x, txDesc(f, 0)...)
			}
			if len(x)%1024 != 0 {
				t.Fatalf("aggregate of %d bytes is not whole packets", len(x))
			}
			r.write(x)
			got := r.cap.Frames()
			if len(got) != 128 {
				t.Fatalf("wire got %d of 128 frames before the host's next transfer", len(got))
			}
			for i, f := range got {
				if f[20] != byte(i) {
					t.Fatalf("frame %d on the wire is frame %d", i, f[20])
				}
			}
			if st := r.d.Stats(EPBulkOut); st.Unterminated != 1 || st.OutDelivered != 0 {
				t.Errorf("engine: Unterminated=%d OutDelivered=%d, want 1 0 (no short packet came)", st.Unterminated, st.OutDelivered)
			}
		})
	}
}

// TestTXFrameAcrossTransfers: a frame whose descriptor or bytes are cut by
// the end of a transfer of whole packets goes out whole once the rest
// arrives, exactly once; the frames before the cut go at once.
func TestTXFrameAcrossTransfers(t *testing.T) {
	a, b, c := frame(other(), 500), frame(other(), 1000), frame(other(), 200)
	stream := align4(txDesc(a, 0))
	stream = append(align4(append(stream, txDesc(b, 0)...)), txDesc(c, 0)...)
	// a's descriptor and bytes end at 508; b's descriptor is 508..516,
	// its bytes 516..1516; c's descriptor 1516..1524.
	for _, tc := range []struct{ cut, before int }{
		{512, 1},  // inside b's descriptor
		{1024, 1}, // inside b's bytes
		{1536, 2}, // inside c's bytes
	} {
		t.Run(fmt.Sprint(tc.cut), func(t *testing.T) {
			r := newRig(t, Config{})
			r.bringUp()
			r.write(stream[:tc.cut])
			if n := r.cap.Len(); n != tc.before {
				t.Fatalf("after %d bytes: %d frames on the wire, want %d", tc.cut, n, tc.before)
			}
			r.write(stream[tc.cut:])
			got := r.cap.Frames()
			if len(got) != 3 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) || !bytes.Equal(got[2], c) {
				t.Fatalf("wire got %d frames", len(got))
			}
			if st := r.m.Stats(); st.TxErrors() != 0 || st.TxFrames != 3 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestTXZeroFillHeldUntilDecided: zeros where a descriptor would start, at
// the end of a transfer that has not ended, may be zero fill or the start
// of a descriptor still on its way: the model waits. Followed by a short
// packet that ends the transfer, they are what they are: zero fill, then
// nothing more is read (a length of 0).
func TestTXZeroFillHeldUntilDecided(t *testing.T) {
	good := frame(other(), 100)
	x := align4(txDesc(good, 0))
	x = append(x, make([]byte, 512-len(x))...)
	r := newRig(t, Config{})
	r.bringUp()
	r.write(x)
	if r.cap.Len() != 1 {
		t.Fatalf("%d frames, want the one before the zeros", r.cap.Len())
	}
	r.write(txDesc(good, 0)) // continues the transfer after the zeros
	if st := r.m.Stats(); r.cap.Len() != 1 || st.TxBadLength != 1 {
		t.Fatalf("%d frames, TxBadLength %d: want 1 and 1 (zeros then more data: a zero length)", r.cap.Len(), st.TxBadLength)
	}
}

// TestTXUndecidedCountedOnceAtTheEnd: what the model cannot read in a
// transfer that has not ended is decided, counted once and dropped, when
// the transfer ends; the frames before it still go at once.
func TestTXUndecidedCountedOnceAtTheEnd(t *testing.T) {
	good := frame(other(), 100)
	bad := binary.LittleEndian.AppendUint32(nil, txFS|txLS) // length 0
	bad = binary.LittleEndian.AppendUint32(bad, 0)
	x := append(align4(txDesc(good, 0)), bad...)
	x = append(x, make([]byte, 512-len(x))...)
	r := newRig(t, Config{})
	r.bringUp()
	r.write(x)
	r.write(x) // more of the same transfer: still unreadable
	if st := r.m.Stats(); r.cap.Len() != 1 || st.TxBadLength != 0 {
		t.Fatalf("before the end: %d frames, TxBadLength %d", r.cap.Len(), st.TxBadLength)
	}
	r.write(nil) // ZLP
	if st := r.m.Stats(); r.cap.Len() != 1 || st.TxBadLength != 1 {
		t.Fatalf("after the ZLP: %d frames, TxBadLength %d, want 1 1", r.cap.Len(), st.TxBadLength)
	}
	r.write(txDesc(good, 0))
	if r.cap.Len() != 2 {
		t.Fatalf("the next transfer: %d frames, want 2", r.cap.Len())
	}
}

func other() []byte { return []byte{0x02, 1, 2, 3, 4, 5} }

// TestTXViolationsCounted: each malformed descriptor is counted by name
// and sends nothing.
func TestTXViolationsCounted(t *testing.T) {
	f := frame(other(), 100)
	notWhole := binary.LittleEndian.AppendUint32(nil, txFS|uint32(len(f)))
	notWhole = append(binary.LittleEndian.AppendUint32(notWhole, 0), f...)
	tso := binary.LittleEndian.AppendUint32(nil, txFS|txLS|txGTSendV4|uint32(len(f)))
	tso = append(binary.LittleEndian.AppendUint32(tso, 0), f...)
	for _, tc := range []struct {
		name string
		data []byte
		get  func(Stats) uint64
	}{
		{"truncated", txDesc(f, 0)[:60], func(s Stats) uint64 { return s.TxTruncated }},
		{"zero length", append(binary.LittleEndian.AppendUint32(nil, txFS|txLS), 0, 0, 0, 1, 9, 9), func(s Stats) uint64 { return s.TxBadLength }},
		{"short descriptor", append(align4(txDesc(f, 0)), 1, 2, 3), func(s Stats) uint64 { return s.TxShortDesc }},
		{"not whole", notWhole, func(s Stats) uint64 { return s.TxNotWhole }},
		{"tso", tso, func(s Stats) uint64 { return s.TxTSO }},
		{"runt", txDesc(f[:10], 0), func(s Stats) uint64 { return s.TxRunts }},
		{"checksum offset", txDesc(f, txUDPCS|txIPv4CS|5<<txTCPHOShift), func(s Stats) uint64 { return s.TxCsumBad }},
	} {
		r := newRig(t, Config{})
		r.bringUp()
		r.write(tc.data)
		if n := tc.get(r.m.Stats()); n != 1 {
			t.Errorf("%s: counted %d, stats %+v", tc.name, n, r.m.Stats())
		}
		if tc.name != "short descriptor" && r.cap.Len() != 0 {
			t.Errorf("%s: %d frames sent", tc.name, r.cap.Len())
		}
	}
}

// TestTXChecksumOffload: UDP_CS fills the checksum a zeroed datagram
// lacks, so the far side sees a valid one.
func TestTXChecksumOffload(t *testing.T) {
	r := newRig(t, Config{})
	r.bringUp()
	good := udpFrame(other())
	f := append([]byte(nil), good...)
	f[14+20+6], f[14+20+7] = 0, 0
	r.write(txDesc(f, txUDPCS|txIPv4CS|uint32(14+20)<<txTCPHOShift))
	got := r.cap.Frames()
	if len(got) != 1 || string(got[0]) != string(good) {
		t.Fatalf("wire got % x\nwant % x", got, good)
	}
	if r.m.Stats().TxCsum != 1 {
		t.Fatal("TxCsum not counted")
	}
}

// TestTXEndsInZeroFillOrABareDescriptor: zeros after the last frame of a
// transfer that ends are fill, not an error; a descriptor with no frame
// bytes after it at the end is a truncated frame.
func TestTXEndsInZeroFillOrABareDescriptor(t *testing.T) {
	good := frame(other(), 100)
	r := newRig(t, Config{})
	r.bringUp()
	r.write(append(align4(txDesc(good, 0)), make([]byte, 40)...))
	if st := r.m.Stats(); r.cap.Len() != 1 || st.TxErrors() != 0 {
		t.Fatalf("frame then zero fill: %d frames, stats %+v", r.cap.Len(), st)
	}
	r.write(txDesc(good, 0)[:txDescLen])
	if st := r.m.Stats(); r.cap.Len() != 1 || st.TxTruncated != 1 || st.TxShortDesc != 0 {
		t.Fatalf("bare descriptor: %d frames, stats %+v", r.cap.Len(), st)
	}
}

// TestTXChecksumEdges: the checksum engine's limits, each frame alone.
func TestTXChecksumEdges(t *testing.T) {
	udpCS := txUDPCS | txIPv4CS | uint32(14+20)<<txTCPHOShift
	pseudo := func(f []byte) uint32 {
		u := f[14+20:]
		return sum(f[14+12:14+20], 0) + 17 + uint32(len(u))
	}
	send := func(t *testing.T, f []byte, o2 uint32) (Stats, [][]byte) {
		t.Helper()
		r := newRig(t, Config{})
		r.bringUp()
		r.write(txDesc(f, o2))
		return r.m.Stats(), r.cap.Frames()
	}
	t.Run("zero sum is sent as 0xffff", func(t *testing.T) {
		f := udpFrame(other())
		u := f[14+20:]
		u[6], u[7], u[8], u[9] = 0, 0, 0, 0
		binary.BigEndian.PutUint16(u[8:], ^fold(sum(u, pseudo(f)))) // the datagram now sums to 0xffff
		st, got := send(t, f, udpCS)
		if st.TxCsum != 1 || len(got) != 1 || got[0][14+20+6] != 0xff || got[0][14+20+7] != 0xff {
			t.Fatalf("stats %+v, checksum % x, want ff ff (RFC 768: a computed 0 is sent as all ones)", st, got[0][14+20+6:14+20+8])
		}
	})
	t.Run("header-only datagram", func(t *testing.T) {
		f := udpFrame(other())[:14+20+8]
		binary.BigEndian.PutUint16(f[14+2:], 28)
		binary.BigEndian.PutUint16(f[14+20+4:], 8)
		f[14+20+6], f[14+20+7] = 0, 0
		st, got := send(t, f, udpCS)
		u := got[0][14+20:]
		if st.TxCsum != 1 || fold(sum(u, pseudo(got[0]))) != 0xffff {
			t.Fatalf("stats %+v, checksum % x does not verify", st, u[6:8])
		}
	})
	t.Run("IPv4 total length past the frame", func(t *testing.T) {
		f := udpFrame(other())
		binary.BigEndian.PutUint16(f[14+2:], 1000)
		if st, got := send(t, f, udpCS); st.TxCsumBad != 1 || len(got) != 0 {
			t.Fatalf("stats %+v, %d frames sent", st, len(got))
		}
	})
	t.Run("TCP segment shorter than its header", func(t *testing.T) {
		f := udpFrame(other())[:14+20+16]
		f[14+9] = 6
		binary.BigEndian.PutUint16(f[14+2:], 20+16)
		if st, got := send(t, f, txTCPCS|txIPv4CS|uint32(14+20)<<txTCPHOShift); st.TxCsumBad != 1 || len(got) != 0 {
			t.Fatalf("stats %+v, %d frames sent", st, len(got))
		}
	})
}

// TestTXNeedsCRTE: with CR_TE off, frames are dropped and counted.
func TestTXNeedsCRTE(t *testing.T) {
	r := newRig(t, Config{})
	r.bringUp()
	r.setByte(mcuPLA, plaCR, crRE)
	r.write(txDesc(frame(other(), 80), 0))
	if st := r.m.Stats(); st.TxDropped != 1 || r.cap.Len() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCorruptionsBreakTheLayout(t *testing.T) {
	for _, c := range Corruptions {
		r := newRig(t, Config{ManualFlush: true})
		r.bringUp()
		r.wire.B().Send(frame(DefaultMAC, 100))
		r.wire.B().Send(frame(DefaultMAC, 200))
		r.m.Flush()
		good := append([]byte(nil), r.readIn(32768)...)
		r.m.CorruptNext(c)
		r.wire.B().Send(frame(DefaultMAC, 100))
		r.wire.B().Send(frame(DefaultMAC, 200))
		r.m.Flush()
		bad := r.readIn(32768)
		if string(bad) == string(good) {
			t.Errorf("%v left the transfer unchanged", c)
		}
	}
}

// TestLinkInterrupt: the interrupt endpoint answers a poll with the link
// state within one interval, and a link change is reported.
func TestLinkInterrupt(t *testing.T) {
	r := newRig(t, Config{})
	ie, err := r.d.OpenEndpoint(EPIntr)
	r.must(err)
	defer ie.Close()
	read := func() uint16 {
		t.Helper()
		tr := &hw.Transfer{Buf: make([]byte, 2)}
		r.must(ie.Submit(tr))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err := ie.Wait(ctx)
		if err != nil {
			ie.Cancel()
			ie.Wait(context.Background())
			t.Fatalf("interrupt: %v", err)
		}
		return binary.LittleEndian.Uint16(got.Buf[:got.N])
	}
	if v := read(); v&intrLink != 0 {
		t.Fatalf("INTR_LINK with the PHY down: %#04x", v)
	}
	r.bringUp() // link comes up: reported at once
	if v := read(); v&intrLink == 0 {
		t.Fatalf("no INTR_LINK after link up: %#04x", v)
	}
	if v := read(); v&intrLink == 0 { // and again on the next poll
		t.Fatalf("periodic report %#04x", v)
	}
	r.m.UnplugCable()
	if v := read(); v&intrLink != 0 {
		t.Fatalf("INTR_LINK after the cable went: %#04x", v)
	}
}

// TestPortResetKeepsState: r8152 resets the port in every probe and
// expects the chip as it left it.
func TestPortResetKeepsState(t *testing.T) {
	r := newRig(t, Config{})
	r.bringUp()
	r.m.Reset()
	if up, _ := r.m.Link(); !up || r.dword(mcuPLA, plaRCR) != rcrAPM|rcrAB {
		t.Fatal("port reset lost the chip's state")
	}
}
