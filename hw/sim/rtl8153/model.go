package rtl8153

import (
	"encoding/binary"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
)

// Config describes the chip and its surroundings. The zero value is an
// RTL8153B (0bda:8153) at high speed, vendor and ECM configurations, with
// a gigabit full-duplex link partner that does flow control.
type Config struct {
	Vendor, Product uint16           // 0bda:8153 when zero
	Speed           hw.Speed         // USB speed: SpeedHigh when unknown; SpeedSuper, SpeedFull
	MAC             net.HardwareAddr // the address in PLA_BACKUP; 00:e0:4c:68:01:53 when nil
	// LinkMbps is the link partner's best speed: 1000 (when 0), 100 or 10.
	LinkMbps   int
	HalfDuplex bool // the partner is half duplex
	NoCable    bool // no link partner at power-on (PlugCable later)
	// NoECM leaves the CDC ECM configuration out: the device has the
	// vendor configuration only (what the FunctionFS lab can present).
	NoECM bool
	// ManualFlush disables the RX aggregation timer: a partly filled RX
	// transfer is sent only by Flush (or by reaching USB_RX_EARLY_SIZE).
	ManualFlush bool
}

// DefaultMAC is the station address the model's PLA_BACKUP holds unless
// Config.MAC says otherwise (Realtek's OUI 00:e0:4c).
var DefaultMAC = net.HardwareAddr{0x00, 0xe0, 0x4c, 0x68, 0x01, 0x53}

// Request is one control request the model saw (sim.Request).
type Request = sim.Request

// Stats are the model's device-side counters. The TX fields count every
// violation of the tx_desc framing by name; none of them is ever expected
// from a correct driver.
type Stats struct {
	RxFrames    uint64 // frames put into RX transfers
	RxTransfers uint64 // RX transfers sent to the host
	RxFiltered  uint64 // frames PLA_RCR / PLA_MAR rejected
	RxStopped   uint64 // frames dropped: CR_RE off, RXDY_GATED_EN set, or the ECM data interface idle
	RxNoLink    uint64 // frames dropped while the link was down
	RxTooLong   uint64 // frames longer than PLA_RMS allows
	RxLost      uint64 // frames in transfers the host had no room for (the engine's IN queue full)

	TxFrames    uint64 // good frames sent to the Ethernet side
	TxDropped   uint64 // good frames dropped: link down or CR_TE off
	TxShortDesc uint64 // fewer than 8 bytes (a tx_desc) left where a descriptor should start, not all zero
	TxBadLength uint64 // tx_desc length 0, or longer than a jumbo frame
	TxTruncated uint64 // tx_desc length past the end of the transfer
	TxNotWhole  uint64 // TX_FS or TX_LS clear: the model takes whole frames only
	TxRunts     uint64 // frames shorter than an Ethernet header
	TxTSO       uint64 // GTSENDV4/GTSENDV6 (large send): not modelled, frame dropped
	TxCsumBad   uint64 // checksum offload asked at a transport offset outside the frame
	TxCsum      uint64 // frames whose L4 checksum the model filled in (TCP_CS/UDP_CS)

	IDRLocked  uint64 // PLA_IDR writes ignored because PLA_CRWECR was not CRWECR_CONFIG
	Interrupts uint64 // link reports queued on the interrupt endpoint
	IntDropped uint64 // link reports the engine refused
	Malformed  uint64 // requests stalled: wrong request/type, block, alignment or length
	Unmodelled uint64 // accesses to registers the model stores but gives no meaning to
}

// TxErrors is the sum of the TX framing violations.
func (s Stats) TxErrors() uint64 {
	return s.TxShortDesc + s.TxBadLength + s.TxTruncated + s.TxNotWhole + s.TxRunts + s.TxTSO + s.TxCsumBad
}

// Model is the RTL8153B. Create it with New; it is safe for concurrent use.
type Model struct {
	cfg  Config
	host *sim.Host
	dev  *sim.Device

	mu             sync.Mutex
	pla            [1 << 16]byte
	usb            [1 << 16]byte
	phy            phy
	tally          tally
	sim.RequestLog // Requests, ClearRequests, Stalled
	stats          Stats
	unknown        map[uint32]*Access
	agg            aggregator
	timer          *sim.FlushTimer // RX aggregation
	corrupt        []Corruption
	frames         [][]byte // the frames of one bulk OUT transfer (reused)
	stripped       []byte   // a received frame with its VLAN tag removed (reused)
	tx             *sim.End
	detach         bool

	intTimer   *time.Timer
	intPending bool // a report is scheduled or queued
	intBuf     [2]byte
}

var (
	_ sim.Model       = (*Model)(nil)
	_ sim.Port        = (*Model)(nil)
	_ sim.Detacher    = (*Model)(nil)
	_ sim.Resetter    = (*Model)(nil)
	_ sim.Poller      = (*Model)(nil)
	_ sim.Preferrer   = (*Model)(nil)
	_ sim.OutStreamer = (*Model)(nil)
)

// New builds the model and plugs it into a sim.Device.
func New(cfg Config) (*Model, *sim.Device) {
	if cfg.Vendor == 0 && cfg.Product == 0 {
		cfg.Vendor, cfg.Product = 0x0bda, 0x8153
	}
	if cfg.Speed == hw.SpeedUnknown {
		cfg.Speed = hw.SpeedHigh
	}
	if cfg.MAC == nil {
		cfg.MAC = DefaultMAC
	}
	if cfg.LinkMbps == 0 {
		cfg.LinkMbps = 1000
	}
	m := &Model{cfg: cfg, unknown: map[uint32]*Access{}}
	m.powerOn()
	d := sim.New(m, hw.Info{Vendor: cfg.Vendor, Product: cfg.Product, Speed: cfg.Speed, Backend: "sim:rtl8153", Bus: 1, Address: 2})
	m.timer = sim.NewFlushTimer(&m.mu, m.flushLocked)
	m.dev = d
	return m, d
}

// powerOn loads the power-on state: the autoload from the chip's
// EEPROM/efuse (station address into PLA_BACKUP and PLA_IDR, the version
// in PLA_TCR1), receive configuration off, the PHY powered down.
func (m *Model) powerOn() {
	m.pla = [1 << 16]byte{}
	m.usb = [1 << 16]byte{}
	copy(m.pla[plaBackup:], m.cfg.MAC)
	copy(m.pla[plaIDR:], m.cfg.MAC)
	binary.LittleEndian.PutUint16(m.pla[plaTCR1:], Version8153B)
	binary.LittleEndian.PutUint16(m.pla[plaRMS:], defaultRMS)
	m.pla[plaCR] = 0
	m.tally = tally{}
	m.phy.reset()
	m.phy.negotiate(m.cfg)
}

// Descriptors implements sim.Model.
func (m *Model) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	dev, cfgs := descriptors(m.cfg.Vendor, m.cfg.Product, m.cfg.Speed, !m.cfg.NoECM)
	mac := fmt.Sprintf("%X", []byte(m.cfg.MAC))
	return dev, cfgs, map[uint8]string{strManufacturer: "Realtek", strProduct: "USB 10/100/1000 LAN", strSerial: mac, strMAC: mac}
}

// PreferredConfig implements sim.Preferrer: configuration 1. Linux's
// generic choice would be the ECM configuration (the first whose first
// interface is not vendor-specific), but r8152's cfgselector, which binds
// to the device before any interface driver, reads PLA_TCR0 and sets the
// vendor configuration; a device plugged into a Linux host with r8152 is
// therefore left in configuration 1.
func (m *Model) PreferredConfig() int { return 1 }

// Attach implements sim.Model.
func (m *Model) Attach(h *sim.Host) { m.host = h }

// Detach implements sim.Detacher: the device is gone, stop the timers.
func (m *Model) Detach() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.detach = true
	m.timer.Close()
	if m.intTimer != nil {
		m.intTimer.Stop()
	}
}

// Reset implements sim.Resetter. A USB port reset does not power-cycle
// the chip: r8152 resets the port in every probe (usb_reset_device) and
// then expects the PHY and MAC state it left, as a real RTL8153 keeps it;
// only the RX aggregation in flight is lost with the endpoint's FIFO.
func (m *Model) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timer.Disarm()
	m.agg.reset()
}

// Device is the sim.Device the model is plugged into (for faults).
func (m *Model) Device() *sim.Device { return m.dev }

// Connect attaches the model's Ethernet side to e.
func (m *Model) Connect(e *sim.End) {
	m.mu.Lock()
	m.tx = e
	m.mu.Unlock()
	e.Attach(m)
}

// Stats returns a snapshot of the counters.
func (m *Model) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Reg returns n bytes of a block's register file at addr, as a read
// request would answer them.
func (m *Model) Reg(b Block, addr, n int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr < 0 || n < 0 || addr+n > 1<<16 || b == OCP {
		return nil
	}
	out := make([]byte, n)
	for i := 0; i < n; i++ {
		out[i] = m.readByteLocked(b, addr+i)
	}
	return out
}

// PHYReg returns MII register reg as the driver would read it.
func (m *Model) PHYReg(reg int) uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.read(uint16(ocpBaseMII + 2*reg))
}

// Link reports the PHY's link and its speed in Mb/s.
func (m *Model) Link() (up bool, mbps int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.link, m.phy.mbps
}

// Access counts the requests that touched one register the model stores
// without giving it meaning.
type Access struct {
	Block  Block
	Addr   uint16 // the dword (PLA/USB) or word (OCP) address
	Reads  int
	Writes int
}

func (a Access) String() string {
	return fmt.Sprintf("%s %#04x reads %d writes %d", a.Block, a.Addr, a.Reads, a.Writes)
}

// Unmodelled lists the registers the host touched that the model only
// stores (a write is kept and read back, nothing else happens), in
// address order: the list of what a driver asked that the model does not
// implement.
func (m *Model) Unmodelled() []Access {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Access, 0, len(m.unknown))
	for _, a := range m.unknown {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Block != out[j].Block {
			return out[i].Block < out[j].Block
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

func (m *Model) noteUnmodelledLocked(b Block, addr uint16, write bool) {
	k := uint32(b)<<16 | uint32(addr)
	a := m.unknown[k]
	if a == nil {
		a = &Access{Block: b, Addr: addr}
		m.unknown[k] = a
	}
	if write {
		a.Writes++
	} else {
		a.Reads++
	}
	m.stats.Unmodelled++
}
