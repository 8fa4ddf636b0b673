package r8152_test

import (
	"encoding/binary"
	"fmt"
	"sync"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/usbnet/r8152"
)

// fakeChip is a small register file standing in for an RTL8153 in these
// tests: it answers GET_REGS/SET_REGS as the chip does (4-byte aligned,
// byte enables on writes), reaches a PHY register file through the OCP
// page and window, self-clears CR_RST and BMCR reset, parses bulk OUT
// transfers as tx_desc-framed frames, and keeps a log of every request.
// It is the test's own reading of r8152.c, kept small on purpose; the
// independent model is hw/sim/rtl8153.
type fakeChip struct {
	mu    sync.Mutex
	regs  map[uint32]byte // block<<16 | addr
	phy   map[uint16]uint16
	log   []hw.Setup
	data  [][]byte
	bad   []string // protocol violations seen (misaligned access, bad byte enable, bad tx_desc)
	tx    [][]byte // frames taken from bulk OUT
	out   []int    // bulk OUT transfer lengths, in order
	host  *sim.Host
	cfgs  [][]byte
	pref  int
	speed hw.Speed
	// stallReq makes every request to this address stall (a failing read).
	stallReq uint16
	// busyReads is how many reads still see CR_RST and the BMCR reset bit
	// set after they are written (-1: they never clear).
	busyReads      int
	crBusy, bmBusy int
	powerDownPHY   bool // OCP_PHY_STATUS: PWRDN while BMCR_PDOWN, then two reads of 1, then LAN_ON
	phyUpBusy      int
	phyReads       map[uint16]int // reads of each OCP register through the window
}

const (
	fakeIn, fakeOut, fakeIntr = 0x81, 0x02, 0x83
)

var fakeMAC = []byte{0x00, 0xe0, 0x4c, 0x53, 0x81, 0x01}

type fakeOpts struct {
	version uint16 // PLA_TCR1 version bits (0: 0x6010, RTL8153B)
	mac     []byte // PLA_BACKUP (nil: fakeMAC)
	super   bool   // 1024-byte bulk endpoints
	full    bool   // 64-byte bulk endpoints (full speed)
	ecm     int    // the configuration value the host leaves active (1 vendor, 2 ECM)
	phyStat uint16 // PLA_PHYSTATUS (0: link up 1000 full)
}

func newFake(o fakeOpts) (*fakeChip, *sim.Device) {
	f := &fakeChip{regs: map[uint32]byte{}, phy: map[uint16]uint16{}, pref: 1, phyReads: map[uint16]int{}}
	if o.ecm != 0 {
		f.pref = o.ecm
	}
	ver := o.version
	if ver == 0 {
		ver = 0x6010
	}
	f.set32(r8152.PLA, r8152.PLATCR0, uint32(ver)<<16)
	mac := o.mac
	if mac == nil {
		mac = fakeMAC
	}
	for i, b := range mac {
		f.regs[uint32(r8152.PLA)<<16|uint32(r8152.PLABackup)+uint32(i)] = b
	}
	f.regs[uint32(r8152.PLA)<<16|uint32(r8152.PLABootCtrl)] = byte(r8152.BootAutoloadOK)
	f.regs[uint32(r8152.PLA)<<16|uint32(r8152.PLAOOBCtrl)] = r8152.OOBLinkListRdy
	st := o.phyStat
	if st == 0 {
		st = r8152.PhyLink | r8152.Phy1000 | r8152.PhyFullDup
	}
	f.regs[uint32(r8152.PLA)<<16|uint32(r8152.PLAPhyStatus)] = byte(st)
	f.regs[uint32(r8152.PLA)<<16|uint32(r8152.PLAPhyStatus)+1] = byte(st >> 8)
	f.phy[r8152.OCPPhyStatus] = r8152.PhyStatLANOn
	f.phy[r8152.OCPBaseMII+2*r8152.MIIBMCR] = 0x1140 | 0x0800 // AN enable, full, 1000, powered down
	f.phy[r8152.OCPBaseMII+2*r8152.MIIBMSR] = 0x796d
	f.phy[r8152.OCPBaseMII+2*r8152.MIIPhyID1] = 0x001c
	f.phy[r8152.OCPBaseMII+2*r8152.MIIPhyID2] = 0xc800
	mps := 512
	if o.super {
		mps = 1024
	}
	if o.full {
		mps = 64
	}
	f.cfgs = [][]byte{vendorConfig(1, mps), ecmConfig(2, mps)}
	dev := sim.New(f, hw.Info{Bus: 2, Address: 5})
	return f, dev
}

func vendorConfig(value byte, mps int) []byte {
	b := []byte{9, hw.DescConfig, 0, 0, 1, value, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 3, 0xff, 0xff, 0x00, 0,
		7, hw.DescEndpoint, fakeIn, hw.XferBulk, byte(mps), byte(mps >> 8), 0,
		7, hw.DescEndpoint, fakeOut, hw.XferBulk, byte(mps), byte(mps >> 8), 0,
		7, hw.DescEndpoint, fakeIntr, hw.XferInterrupt, 2, 0, 8,
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func ecmConfig(value byte, mps int) []byte {
	b := []byte{9, hw.DescConfig, 0, 0, 2, value, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 1, 0x02, 0x06, 0x00, 0,
		7, hw.DescEndpoint, fakeIntr, hw.XferInterrupt, 16, 0, 8,
		9, hw.DescInterface, 1, 0, 0, 0x0a, 0, 0, 0,
		9, hw.DescInterface, 1, 1, 2, 0x0a, 0, 0, 0,
		7, hw.DescEndpoint, fakeIn, hw.XferBulk, byte(mps), byte(mps >> 8), 0,
		7, hw.DescEndpoint, fakeOut, hw.XferBulk, byte(mps), byte(mps >> 8), 0,
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func (f *fakeChip) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	dd := []byte{18, hw.DescDevice, 0x10, 0x03, 0, 0, 0, 9, 0xda, 0x0b, 0x53, 0x81, 0x00, 0x30, 1, 2, 3, 2}
	return dd, f.cfgs, map[uint8]string{1: "Realtek", 2: "USB 10/100/1000 LAN", 3: "000001"}
}

func (f *fakeChip) PreferredConfig() int { return f.pref }
func (f *fakeChip) Attach(h *sim.Host)   { f.host = h }

func (f *fakeChip) key(b r8152.Block, a uint16) uint32 { return uint32(b)<<16 | uint32(a) }

func (f *fakeChip) set32(b r8152.Block, a uint16, v uint32) {
	for i := 0; i < 4; i++ {
		f.regs[f.key(b, a)+uint32(i)] = byte(v >> (8 * i))
	}
}

// reg reads n bytes of the register file.
func (f *fakeChip) reg(b r8152.Block, a uint16, n int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]byte, n)
	for i := range out {
		out[i] = f.regs[f.key(b, a)+uint32(i)]
	}
	return out
}

func (f *fakeChip) reg16(b r8152.Block, a uint16) uint16 {
	return binary.LittleEndian.Uint16(f.reg(b, a, 2))
}

func (f *fakeChip) phyReg(a uint16) uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.phy[a]
}

func (f *fakeChip) setPhyStatus(st uint16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.regs[f.key(r8152.PLA, r8152.PLAPhyStatus)] = byte(st)
	f.regs[f.key(r8152.PLA, r8152.PLAPhyStatus)+1] = byte(st >> 8)
}

func (f *fakeChip) requests() []hw.Setup {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hw.Setup(nil), f.log...)
}

func (f *fakeChip) violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bad...)
}

func (f *fakeChip) frames() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.tx...)
}

// writes lists the data of every write to (block, addr), in order.
func (f *fakeChip) writes(b r8152.Block, a uint16) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for i, s := range f.log {
		if !s.In() && s.Value == a && r8152.Block(s.Index&0xff00) == b {
			out = append(out, f.data[i])
		}
	}
	return out
}

func (f *fakeChip) Control(s hw.Setup, data []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
	f.data = append(f.data, append([]byte(nil), data...))
	if s.RequestType&0x60 != hw.TypeVendor || s.Request != r8152.ReqRegs {
		return 0, hw.ErrStall
	}
	if f.stallReq != 0 && s.Value == f.stallReq {
		return 0, hw.ErrStall
	}
	b := r8152.Block(s.Index & 0xff00)
	if b != r8152.PLA && b != r8152.USB || s.Value&3 != 0 || len(data)&3 != 0 || len(data) == 0 {
		f.bad = append(f.bad, fmt.Sprintf("bad access %v", s))
		return 0, hw.ErrStall
	}
	if s.In() {
		f.beforeRead(b, s)
		if len(data) > 64 {
			f.bad = append(f.bad, fmt.Sprintf("read of %d bytes (Linux reads at most 64)", len(data)))
		}
		for i := range data {
			a := s.Value + uint16(i)
			data[i] = f.regs[f.key(b, a)]
			if b == r8152.PLA && a&0xf000 == r8152.OCPWindow {
				base := binary.LittleEndian.Uint16([]byte{f.regs[f.key(r8152.PLA, r8152.PLAOCPBase)], f.regs[f.key(r8152.PLA, r8152.PLAOCPBase)+1]})
				v := f.phy[base|a&0x0ffe]
				data[i] = byte(v >> (8 * (a & 1)))
			}
		}
		return len(data), nil
	}
	en := s.Index & 0xff
	if len(data) == 4 && en&0x0f != en>>4 {
		f.bad = append(f.bad, fmt.Sprintf("byte enable %#02x: nibbles differ", en))
	}
	if len(data) > 4 && en != 0xff {
		f.bad = append(f.bad, fmt.Sprintf("%d-byte write with byte enable %#02x", len(data), en))
	}
	for i := range data {
		if len(data) == 4 && en&(1<<i) == 0 {
			continue
		}
		a := s.Value + uint16(i)
		f.regs[f.key(b, a)] = data[i]
		if b == r8152.PLA && a&0xf000 == r8152.OCPWindow && a&1 == 1 {
			base := binary.LittleEndian.Uint16([]byte{f.regs[f.key(r8152.PLA, r8152.PLAOCPBase)], f.regs[f.key(r8152.PLA, r8152.PLAOCPBase)+1]})
			v := uint16(data[i-1]) | uint16(data[i])<<8
			addr := base | (a-1)&0x0fff
			if addr == r8152.OCPBaseMII+2*r8152.MIIBMCR && v&0x8000 != 0 {
				if f.busyReads == 0 {
					v &^= 0x8000 // reset self-clears
				} else {
					f.bmBusy = f.busyReads
				}
			}
			if addr == r8152.OCPBaseMII+2*r8152.MIIBMCR && f.powerDownPHY && f.phy[addr]&0x0800 != 0 && v&0x0800 == 0 {
				f.phyUpBusy = 2
			}
			f.phy[addr] = v
		}
	}
	// CR_RST self-clears (after busyReads reads); TALLY_RESET clears the
	// counters.
	if b == r8152.PLA && s.Value == r8152.PLACR&^3 && en&0x88 != 0 && data[3]&r8152.CRRst != 0 && f.busyReads != 0 {
		f.crBusy = f.busyReads
	} else {
		f.regs[f.key(r8152.PLA, r8152.PLACR)] &^= r8152.CRRst
	}
	if f.regs[f.key(r8152.PLA, r8152.PLARstTally)]&1 != 0 {
		f.regs[f.key(r8152.PLA, r8152.PLARstTally)] &^= 1
		for i := 0; i < r8152.TallyLen; i++ {
			f.regs[f.key(r8152.PLA, r8152.PLATallyCnt)+uint32(i)] = 0
		}
	}
	return len(data), nil
}

// Out takes tx_desc-framed frames from bulk OUT and counts them in the
// tally's tx_packets.
func (f *fakeChip) Out(ep uint8, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = append(f.out, len(data))
	off := 0
	for off+r8152.TxDescLen <= len(data) {
		d := r8152.ParseTxDesc(data[off:])
		if err := d.Check(); err != nil {
			f.bad = append(f.bad, fmt.Sprintf("tx_desc at %d: %v", off, err))
			return
		}
		start := off + r8152.TxDescLen
		if start+d.Len() > len(data) {
			f.bad = append(f.bad, fmt.Sprintf("tx_desc at %d: %d bytes past the %d-byte transfer", off, d.Len(), len(data)))
			return
		}
		f.tx = append(f.tx, append([]byte(nil), data[start:start+d.Len()]...))
		k := f.key(r8152.PLA, r8152.PLATallyCnt)
		n := binary.LittleEndian.Uint64([]byte{f.regs[k], f.regs[k+1], f.regs[k+2], f.regs[k+3], f.regs[k+4], f.regs[k+5], f.regs[k+6], f.regs[k+7]}) + 1
		for i := 0; i < 8; i++ {
			f.regs[k+uint32(i)] = byte(n >> (8 * i))
		}
		off = (start + d.Len() + 3) &^ 3
	}
	if off < len(data) {
		f.bad = append(f.bad, fmt.Sprintf("%d stray bytes at the end of a %d-byte transfer", len(data)-off, len(data)))
	}
}

// rxTransfer aggregates frames as the chip does: rx_desc (length + FCS),
// frame, 4 FCS bytes; each descriptor 8-aligned, nothing after the last
// frame.
func rxTransfer(frames ...[]byte) []byte {
	var p []byte
	for _, f := range frames {
		for len(p)%8 != 0 {
			p = append(p, 0)
		}
		d := make([]byte, r8152.RxDescLen)
		r8152.PutRxDesc(d, len(f)+4, 0, 0)
		p = append(p, d...)
		p = append(p, f...)
		p = append(p, 0xde, 0xad, 0xbe, 0xef)
	}
	return p
}

// beforeRead updates what a read is about to see: the busy bits count
// down, the PHY status follows its power state, window reads are counted.
func (f *fakeChip) beforeRead(b r8152.Block, s hw.Setup) {
	if b != r8152.PLA {
		return
	}
	if s.Value == r8152.PLACR&^3 {
		// busyReads reads see the bit, the next one sees it cleared.
		switch {
		case f.crBusy > 0:
			f.crBusy--
		case f.crBusy == 0:
			f.regs[f.key(r8152.PLA, r8152.PLACR)] &^= r8152.CRRst
		}
	}
	if s.Value&0xf000 != r8152.OCPWindow {
		return
	}
	base := uint16(f.regs[f.key(r8152.PLA, r8152.PLAOCPBase)]) | uint16(f.regs[f.key(r8152.PLA, r8152.PLAOCPBase)+1])<<8
	lo := base | s.Value&0x0fff
	switch s.Index & 0xff {
	case 0x33:
		f.phyReads[lo]++
	case 0xcc:
		f.phyReads[lo+2]++
	default:
		f.phyReads[lo]++
		f.phyReads[lo+2]++
	}
	bmcr := r8152.OCPBaseMII + 2*r8152.MIIBMCR
	if lo == bmcr || lo+2 == bmcr {
		switch {
		case f.bmBusy > 0:
			f.bmBusy--
		case f.bmBusy == 0:
			f.phy[bmcr] &^= 0x8000
		}
	}
	if f.powerDownPHY && (lo == r8152.OCPPhyStatus || lo+2 == r8152.OCPPhyStatus) {
		switch {
		case f.phy[bmcr]&0x0800 != 0:
			f.phy[r8152.OCPPhyStatus] = 5 // PHY_STAT_PWRDN
		case f.phyUpBusy > 0:
			f.phyUpBusy--
			f.phy[r8152.OCPPhyStatus] = 1
		default:
			f.phy[r8152.OCPPhyStatus] = r8152.PhyStatLANOn
		}
	}
}

// readsAfterWrites counts, for every write to (b, a) whose data isWrite
// accepts, the reads of (b, a) before the next write of any register.
func (f *fakeChip) readsAfterWrites(b r8152.Block, a uint16, isWrite func([]byte) bool) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var runs []int
	counting := false
	for i, s := range f.log {
		same := s.Value == a && r8152.Block(s.Index&0xff00) == b
		switch {
		case !s.In() && same && isWrite(f.data[i]):
			runs = append(runs, 0)
			counting = true
		case !s.In():
			counting = false
		case counting && same:
			runs[len(runs)-1]++
		}
	}
	return runs
}
