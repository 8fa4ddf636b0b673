package r8152_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/r8152"
)

// TestPollsWaitAsLinuxDoes: a chip whose self-clearing bits take a few
// reads to clear is read until they do, and no further.
func TestPollsWaitAsLinuxDoes(t *testing.T) {
	f, dev := newFake(fakeOpts{})
	f.busyReads = 2
	f.powerDownPHY = true
	var sleeps int
	drv := &r8152.Driver{Sleep: func(time.Duration) { sleeps++ }}
	d, err := usbnet.Probe(dev, drv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Disconnect(); _ = dev.Close() })
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	// After every CR_RST write, PLA_CR is read until it reads clear: 3 reads.
	runs := f.readsAfterWrites(r8152.PLA, 0xe810, func(data []byte) bool { return data[3]&r8152.CRRst != 0 })
	if len(runs) != 2 {
		t.Fatalf("%d NIC resets at open, want 2 (r8153_first_init)", len(runs))
	}
	for i, n := range runs {
		if n != 3 {
			t.Errorf("reset %d: PLA_CR read %d times, want 3 (two busy, one clear)", i, n)
		}
	}
	// BMCR reset (rtl8152_set_speed): the window read until the bit clears.
	if n := f.phyReads[r8152.OCPBaseMII]; n < 3 {
		t.Errorf("BMCR read %d times, want the reset waited for", n)
	}
	// OCP_PHY_STATUS: PWRDN once (the first wait accepts it), then LAN_ON
	// after the PHY left power-down: 1 + 3 reads.
	if n := f.phyReads[r8152.OCPPhyStatus]; n != 4 {
		t.Errorf("OCP_PHY_STATUS read %d times, want 4", n)
	}
	if sleeps == 0 || sleeps > 20 {
		t.Errorf("%d sleeps between polls", sleeps)
	}
	if f.phyReg(r8152.OCPBaseMII)&0x0800 != 0 {
		t.Error("PHY left in power-down")
	}
}

// TestStuckChipIsNotFatal: a bit that never changes is given up on after
// Linux's bound, and bring-up goes on as Linux's does.
func TestStuckChipIsNotFatal(t *testing.T) {
	f, dev := newFake(fakeOpts{})
	f.busyReads = -1 // CR_RST and BMCR reset never clear
	d, err := usbnet.Probe(dev, fast)
	if err != nil {
		t.Fatalf("bind with a stuck chip: %v", err)
	}
	t.Cleanup(func() { _ = d.Disconnect(); _ = dev.Close() })
	if err := d.Net.Open(); err != nil {
		t.Fatalf("open with a stuck chip: %v", err)
	}
	runs := f.readsAfterWrites(r8152.PLA, 0xe810, func(data []byte) bool { return data[3]&r8152.CRRst != 0 })
	if len(runs) == 0 || runs[0] != 1000 {
		t.Errorf("PLA_CR reads after a reset %v, want 1000 (rtl8152_nic_reset's bound)", runs)
	}
}

func TestOpenTakesALinkThePHYAlreadyHas(t *testing.T) {
	r := newRig(t, fakeOpts{})
	if err := r.dev.Net.Open(); err != nil {
		t.Fatal(err)
	}
	// No interrupt packet: PLA_PHYSTATUS at open says the link is up.
	r.eventually("carrier from PLA_PHYSTATUS", func() bool { return r.dev.Net.Carrier() })
	if r.dev.Net.Speed() != 1000 {
		t.Errorf("speed %d", r.dev.Net.Speed())
	}
	// Autonegotiation as rtl8152_set_speed leaves it.
	if v := r.chip.phyReg(r8152.OCPBaseMII + 2*r8152.MIIAdv); v&0x01e0 != 0x01e0 {
		t.Errorf("ADVERTISE %#04x: 10/100 not all advertised", v)
	}
	if v := r.chip.phyReg(r8152.OCPBaseMII + 2*r8152.MIICtrl1000); v&0x0300 != 0x0200 {
		t.Errorf("CTRL1000 %#04x: want 1000 full only", v)
	}
	if v := r.chip.phyReg(r8152.OCPBaseMII); v&0x1200 != 0x1200 {
		t.Errorf("BMCR %#04x: want AN enable and restart", v)
	}
	// r8153_first_init's registers.
	if v := r.chip.reg16(r8152.PLA, r8152.PLATCR0); v&r8152.TCR0AutoFIFO == 0 {
		t.Errorf("PLA_TCR0 %#04x: no AUTO_FIFO", v)
	}
	if v := binary.LittleEndian.Uint32(r.chip.reg(r8152.PLA, r8152.PLATxFIFOCtl, 4)); v != r8152.TxFIFOThrNormal2 {
		t.Errorf("PLA_TXFIFO_CTRL %#x", v)
	}
	if v := binary.LittleEndian.Uint32(r.chip.reg(r8152.PLA, r8152.PLARxFIFOCtl0, 4)); v != r8152.RxFIFOThr1Normal {
		t.Errorf("PLA_RXFIFO_CTRL0 %#x", v)
	}
	if v := r.chip.reg16(r8152.PLA, r8152.PLARxFIFOCtl2); v != r8152.RxFIFOThr3Normal {
		t.Errorf("PLA_RXFIFO_CTRL2 %#x", v)
	}
	// r8153_teredo_off on an RTL8153B: bits 0-7 write-1-to-clear, then
	// the watchdog mode and the two wake timers.
	if w := r.chip.writes(r8152.PLA, r8152.PLATeredoCfg); len(w) == 0 || w[0][0] != 0xff {
		t.Errorf("PLA_TEREDO_CFG writes %x, want 0xff", w)
	}
	if v := r.chip.reg16(r8152.PLA, r8152.PLAWDT6Ctrl); v != r8152.WDT6SetMode {
		t.Errorf("PLA_WDT6_CTRL %#x", v)
	}
	if len(r.chip.writes(r8152.PLA, r8152.PLARealWoWTmr&^3)) == 0 || len(r.chip.writes(r8152.PLA, r8152.PLATeredoTmr)) == 0 {
		t.Error("wake timers not cleared")
	}
	if v := r.chip.reg16(r8152.PLA, r8152.PLACPCR); v&r8152.CPCRRxVLAN != 0 {
		t.Error("RX VLAN untagging left on")
	}
	if v := r.chip.reg(r8152.PLA, r8152.PLAOOBCtrl, 1)[0]; v&r8152.OOBNowIsOOB != 0 {
		t.Error("still out of band")
	}
	if v := r.chip.reg16(r8152.PLA, r8152.PLASFFSts7); v&r8152.SFFReInitLL == 0 || v&r8152.SFFMCUBorwEn != 0 {
		t.Errorf("PLA_SFF_STS_7 %#04x", v)
	}
	if v := r.chip.reg(r8152.USB, r8152.USBBMUReset, 1)[0]; v&3 != 3 {
		t.Errorf("USB_BMU_RESET %#x", v)
	}
	// r8153b_init's power settings.
	for _, c := range []struct {
		b    r8152.Block
		a    uint16
		bit  uint16
		name string
	}{{r8152.USB, r8152.USBLPMConfig, r8152.LPMU1U2Enable, "U1/U2"}, {r8152.USB, r8152.USBU2P3Ctrl, r8152.U2P3Enable, "U2P3"},
		{r8152.USB, r8152.USBPowerCut, r8152.PwrCutPwrEn, "power cut"}, {r8152.USB, r8152.USBMisc0, r8152.Misc0PCutStatus, "PCUT status"},
		{r8152.PLA, r8152.PLAMACPwr3, r8152.MACPwr3MCUSpdwn, "MCU speed-down"}} {
		if r.chip.reg16(c.b, c.a)&c.bit != 0 {
			t.Errorf("%s left on", c.name)
		}
	}
	if v := r.chip.reg16(r8152.USB, r8152.USBMSCTimer); v != 0x0fff {
		t.Errorf("USB_MSC_TIMER %#x", v)
	}
	if r.chip.reg(r8152.USB, r8152.USBRxDMAOwn, 1)[0] != r8152.RxDMAOwnUpdate|r8152.RxDMAOwnClear {
		t.Error("RTL8153B RX DMA ownership not updated")
	}
}

func TestLinkDownAtOpenWaitsForTheInterrupt(t *testing.T) {
	r := newRig(t, fakeOpts{phyStat: r8152.Phy1000}) // no LINK_STATUS
	if err := r.dev.Net.Open(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if r.dev.Net.Carrier() {
		t.Fatal("carrier on with PLA_PHYSTATUS saying no link")
	}
	// An interrupt that says up while PLA_PHYSTATUS still says down: the
	// MAC is not enabled, the carrier stays off.
	r.link(true)
	r.eventually("link reset", func() bool { return r.dev.Counters().LinkResets.Load() == 1 })
	if len(r.chip.writes(r8152.PLA, 0xe810)) > 2 {
		t.Error("MAC enabled for a link PLA_PHYSTATUS does not report")
	}
}

func TestUnbindStopsReceiving(t *testing.T) {
	f, dev := newFake(fakeOpts{})
	d, err := usbnet.Probe(dev, fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(f.reg(r8152.PLA, r8152.PLARCR, 4))&r8152.RCRAcptAll == 0 {
		t.Fatal("RCR accepts nothing while up")
	}
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(f.reg(r8152.PLA, r8152.PLARCR, 4)); v&r8152.RCRAcptAll != 0 {
		t.Errorf("PLA_RCR %#x after unbind, want nothing accepted", v)
	}
	_ = dev.Close()
}

func TestRTL8152TakesItsOwnPath(t *testing.T) {
	r := newRig(t, fakeOpts{version: 0x4c10})
	if r.dev.RxURBSize != 16*1024 || r.dev.HardMTU != 1514 {
		t.Errorf("RxURBSize %d HardMTU %d, want 16384 1514", r.dev.RxURBSize, r.dev.HardMTU)
	}
	r.open()
	if v := r.chip.reg16(r8152.PLA, r8152.PLARMS); v != r8152.RMS8152 {
		t.Errorf("PLA_RMS %d, want %d", v, r8152.RMS8152)
	}
	if v := binary.LittleEndian.Uint32(r.chip.reg(r8152.USB, r8152.USBRxBufTh, 4)); v != 0x7a120180 {
		t.Errorf("USB_RX_BUF_TH %#x, want RX_THR_HIGH", v)
	}
	if v := r.chip.reg(r8152.USB, r8152.USBTxAgg, 1)[0]; v != 3 {
		t.Errorf("USB_TX_AGG %d", v)
	}
	// The RTL8152 clears the Teredo bits (read-modify-write), no 0xff.
	for _, w := range r.chip.writes(r8152.PLA, r8152.PLATeredoCfg) {
		if w[0] == 0xff {
			t.Errorf("PLA_TEREDO_CFG written %x on an RTL8152", w)
		}
	}
	if v := r.chip.phyReg(r8152.OCPBaseMII + 2*r8152.MIICtrl1000); v&0x0200 != 0 {
		t.Error("1000BASE-T advertised on a Fast Ethernet chip")
	}
	if len(r.chip.writes(r8152.USB, r8152.USBLPMConfig)) != 0 || len(r.chip.writes(r8152.USB, r8152.USBRxEarlyTO&^3)) != 0 {
		t.Error("RTL8153-only registers written on an RTL8152")
	}
	if err := r.dev.Net.SetMTU(1501); err == nil {
		t.Error("jumbo MTU accepted on an RTL8152")
	}
	f := ethFrame(1514, peer, r.mac(), 1)
	r.xmit(f)
	r.eventually("TX", func() bool { return len(r.chip.frames()) == 1 })
}

func TestMTUSurvivesOpen(t *testing.T) {
	r := newRig(t, fakeOpts{})
	if err := r.dev.Net.SetMTU(4000); err != nil {
		t.Fatal(err)
	}
	r.open()
	if v := r.chip.reg16(r8152.PLA, r8152.PLARMS); v != 4022 {
		t.Errorf("PLA_RMS %d after open, want 4022", v)
	}
	if v := r.chip.reg16(r8152.USB, r8152.USBRxEarlySz); v != uint16((32768-(4000+54))/8) {
		t.Errorf("USB_RX_EARLY_SIZE %d", v)
	}
}

func TestReadPhyStatusIsAWord(t *testing.T) {
	// rtl8152_get_speed reads a word since the RTL8156's 2.5G bit (the
	// kernel's trace of the model: GET_REGS 0xe908 byte enable 0x33).
	c := &recCtrl{mem: map[uint16]byte{0xe908: 0x03, 0xe909: 0x04}}
	st, err := r8152.ReadPhyStatus(c)
	if err != nil || st != 0x0403 || c.reqs[0].index != 0x0133 || c.reqs[0].value != 0xe908 {
		t.Errorf("%#x %v %+v", st, err, c.reqs)
	}
	if r8152.PhyStatusMbps(st) != 2500 {
		t.Errorf("mbps %d", r8152.PhyStatusMbps(st))
	}
	for _, tc := range []struct {
		st   uint16
		mbps int
	}{{0x12, 1000}, {0x0a, 100}, {0x06, 10}, {0x10, 0}, {0x02, 0}, {0x0412, 2500}} {
		if got := r8152.PhyStatusMbps(tc.st); got != tc.mbps {
			t.Errorf("PhyStatusMbps(%#x) = %d, want %d", tc.st, got, tc.mbps)
		}
	}
}

func TestDiagnoseDecodes(t *testing.T) {
	mem := map[uint16]byte{}
	put := func(a uint16, b ...byte) {
		for i, x := range b {
			mem[a+uint16(i)] = x
		}
	}
	put(0xe612, 0x10, 0x60)                // RTL_VER_09
	put(0xc000, 0x00, 0xe0, 0x4c, 1, 2, 3) // PLA_IDR
	put(0xd000, 0x00, 0xe0, 0x4c, 9, 8, 7) // PLA_BACKUP
	put(0xc010, 0x0a)                      // RCR: APM|AB
	put(0xe908, 0x2b)                      // link, full, 100, TX flow
	put(0xb402, 0x04, 0x00)                // BMSR via the window: link, no AN complete
	put(0xb420, 0x03)                      // OCP_PHY_STATUS LAN_ON
	put(0xe890, 7)                         // tally tx_packets 7
	put(0xe890+40, 5)                      // rx_unicast 5
	g := r8152.Diagnose(&recCtrl{mem: mem})
	find := func(name string) usbnet.Reg {
		for _, r := range append(g.MACRegs, g.PHYRegs...) {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("no %s", name)
		return usbnet.Reg{}
	}
	if n := find("PLA_IDR").Note; n != "00:e0:4c:01:02:03" {
		t.Errorf("PLA_IDR note %q", n)
	}
	if n := find("PLA_BACKUP").Note; n != "00:e0:4c:09:08:07" {
		t.Errorf("PLA_BACKUP note %q", n)
	}
	if n := find("PLA_RCR").Note; n != "accept APM|AB" {
		t.Errorf("PLA_RCR note %q", n)
	}
	if n := find("USB_U2P3_CTRL").Note; n != "" {
		t.Errorf("a USB register got a note %q", n)
	}
	if a := find("BMSR").Addr; a != "OCP 0xa402" {
		t.Errorf("BMSR address %q", a)
	}
	if !strings.Contains(strings.Join(g.PHY, "\n"), "BMSR 0x0004: link true, autoneg complete false") {
		t.Errorf("PHY lines %q", g.PHY)
	}
	l := g.Link
	if l == nil || !l.Up || l.Mbps != 100 || !l.FullDuplex || !l.TxPause || l.RxPause {
		t.Errorf("link %+v", l)
	}
	var tx, uni uint64
	for _, c := range g.Counters {
		switch c.Name {
		case "tx_packets":
			tx = c.Value
		case "rx_unicast":
			uni = c.Value
		}
	}
	if tx != 7 || uni != 5 {
		t.Errorf("tally tx_packets %d rx_unicast %d", tx, uni)
	}
	if len(g.Problems) != 0 {
		t.Errorf("problems %v", g.Problems)
	}
	// PHYSTATUS and BMSR disagreeing is a problem.
	put(0xb402, 0x00, 0x00)
	g = r8152.Diagnose(&recCtrl{mem: mem})
	if len(g.Problems) != 1 || !strings.Contains(g.Problems[0], "BMSR says false") {
		t.Errorf("problems %v", g.Problems)
	}
	// An unknown version is reported, the rest still read.
	put(0xe612, 0x34, 0x12)
	g = r8152.Diagnose(&recCtrl{mem: mem})
	if len(g.Problems) == 0 || !strings.Contains(g.Problems[0], "chip version") || g.Link == nil {
		t.Errorf("unknown version: problems %v link %v", g.Problems, g.Link)
	}
	// A device that answers nothing: every read a problem, no panic.
	g = r8152.Diagnose(&recCtrl{fail: hw.ErrStall})
	if len(g.Problems) < 5 || g.Link != nil {
		t.Errorf("dead device: %d problems, link %v", len(g.Problems), g.Link)
	}
	for _, tc := range []struct {
		rcr  byte
		want string
	}{{0, "accepts nothing"}, {0x0f, "accept AAP|APM|AM|AB"}, {0x04, "accept AM"}} {
		put(0xc010, tc.rcr)
		if n := func() string {
			for _, r := range r8152.Diagnose(&recCtrl{mem: mem}).MACRegs {
				if r.Name == "PLA_RCR" {
					return r.Note
				}
			}
			return ""
		}(); n != tc.want {
			t.Errorf("RCR %#x: %q, want %q", tc.rcr, n, tc.want)
		}
	}
	_ = errors.New
}
