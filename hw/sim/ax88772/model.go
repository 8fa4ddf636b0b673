// Package ax88772 is a device model of the ASIX AX88772B USB 2.0 Fast
// Ethernet controller, and of its gigabit sibling the AX88178 (Options.Chip),
// for the hw/sim engine, written from the chips' documented behaviour (it
// does not import the driver it is tested against).
//
// The two chips share the vendor requests, the RX/TX framing and the
// register file; they differ in the PHY:
//
//	AX88772B  embedded 10/100 PHY at MDIO address 0x10, powered by SW_RESET
//	          (IPRL set, IPPD clear); chip code 0x20 in STATMNGSTS
//	AX88178   external gigabit PHY (Marvell 88E1111 by default) at the board's
//	          address (0x18 here), powered through a GPIO pin: it answers on
//	          MDIO only once the host has driven GPIO0 or GPIO1 as an output.
//	          EEPROM word 0x17 tells the host the board's PHY mode, power pin
//	          and LED mode. The medium mode must match the negotiated link
//	          (GM and ENCK at 1000, PS at 100, neither GM nor PS at 10, FD as
//	          negotiated): otherwise the MAC and the PHY disagree on the
//	          interface clock and no frame passes, which the model counts as
//	          MediumMismatch in TxStats and RxStats (see ax88178.go).
//
// What it models:
//
//	host ──control──► register file (RX_CTL, medium mode, IPG, NODE_ID, multicast
//	                  hash, GPIO, monitor, PHY select, SW_RESET), SW/HW MII
//	                  arbitration (STATMNGSTS HostEn), the embedded PHY (clause 22
//	                  registers, auto-negotiation against a configurable link
//	                  partner), EEPROM; unknown requests stall and are logged
//	host ◄──bulk IN 0x82── RX stream: [le16 len][le16 ~len][frame][pad to even] …
//	                  cut into writes of at most the RX_CTL MFB buffer size, so
//	                  records straddle transfers at any offset, as on the chip;
//	                  the AX88178 drops frames longer than 1514 bytes (1518 with
//	                  FCS) unless medium JFE is set and the MFB buffer holds them
//	host ──bulk OUT 0x03─► TX parser: checks every header, drops 00 00 ff ff fillers,
//	                  counts malformed transfers (TxStats), sends frames to the wire
//	host ◄──interrupt IN 0x81── 8-byte status {a1 00, link, 00 00, status, 00 00} on
//	                  every link change
//
// The Ethernet side is a Port on a sim.Wire (Plug): frames the host sends go out of the wire end, frames
// Receive'd (or Inject'ed) go through the RX_CTL filter to the host.
//
// Every control request is recorded (Requests) so that specs can compare
// the driver's sequence with the kernel's.
package ax88772

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"

	"dongle/hw"
	"dongle/hw/sim"
)

// Endpoint addresses.
const (
	EPStatus  uint8 = 0x81
	EPBulkIn  uint8 = 0x82
	EPBulkOut uint8 = 0x03
)

// Link is a link partner's offer (what its ANLPAR advertises). A 10 or 100
// Mbit/s partner offers exactly that mode; a 1000 Mbit/s partner offers its
// gigabit mode (STAT1000) and every 10/100 mode (ANLPAR), as gigabit NICs do.
type Link struct {
	Mbps       int  // 10, 100 or 1000
	FullDuplex bool // full duplex
	Pause      bool // symmetric pause advertised
}

func (l Link) String() string {
	d := "half"
	if l.FullDuplex {
		d = "full"
	}
	return fmt.Sprintf("%d/%s", l.Mbps, d)
}

// Chip is the modelled controller.
type Chip int

const (
	// AX88772B: 10/100, embedded PHY (the zero value).
	AX88772B Chip = iota
	// AX88178: 10/100/1000, external gigabit PHY powered through GPIO.
	AX88178
)

func (c Chip) String() string {
	if c == AX88178 {
		return "AX88178"
	}
	return "AX88772B"
}

// Options configure a model. The zero value is a high-speed AX88772B with
// MAC 00:0e:c6:88:77:2b whose link partner offers 100/full with pause;
// Options{Chip: AX88178} is a high-speed AX88178 (product 0x1780, MAC
// 00:0e:c6:88:17:80) with a Marvell 88E1111 at MDIO address 0x18 whose link
// partner offers 1000/full with pause.
type Options struct {
	// Chip is the controller (zero: AX88772B).
	Chip Chip
	// Word17 is the AX88178's EEPROM word 0x17, the board's PHY
	// configuration: bits 0..6 PHY mode (0x00 Marvell, 0x0c RTL8211CL, ...),
	// bit 7 set: the PHY is powered through GPIO1 rather than GPIO0, bits
	// 8..15 LED mode. 0xffff is an unprogrammed EEPROM. Zero: a Marvell PHY
	// on GPIO0, LED mode 0.
	Word17 uint16
	// PHYID overrides the PHY's PHYSID1<<16|PHYSID2 (0: AX88772B embedded
	// PHY 0x003b1881; AX88178 Marvell 88E1111 0x01410cc2, or RTL8211CL
	// 0x001cc913 when Word17 says so).
	PHYID uint32
	// PHYSilent: the external PHY never answers on MDIO (reads 0xffff),
	// as with a dead or unpowered part.
	PHYSilent bool
	// FullSpeed enumerates at full speed: 64-byte bulk packets.
	FullSpeed bool
	// MAC is the address in NODE_ID and the EEPROM.
	MAC net.HardwareAddr
	// Partner is the link partner (zero: 100/full with pause).
	Partner Link
	// NoCable starts with the cable unplugged (link down).
	NoCable bool
	// PHYAddr is the primary PHY address READ_PHY_ID reports (0: the
	// embedded PHY, 0x10, on the AX88772B; 0x18 on the AX88178). A value ≥ 32 models the bogus answer of
	// CVE-2025-71094.
	PHYAddr uint8
	// HostEnDelay is how many STATMNGSTS reads after SET_SW_MII still
	// show HostEn clear (the MII arbiter is slow). Negative: never.
	HostEnDelay int
	// Product overrides the USB product ID (0: 0x772b; AX88178 0x1780).
	Product uint16
}

// Request is one control request the model saw (sim.Request).
type Request = sim.Request

// TxStats counts what the chip did with bulk OUT data.
type TxStats struct {
	Transfers   int // OUT transfers seen
	Frames      int // frames sent to the wire
	Pads        int // 00 00 ff ff fillers dropped
	BadHeader   int // header whose complement does not match: rest of the transfer dropped
	Truncated   int // header announcing more bytes than the transfer holds
	MissingPad  int // transfer ending on a packet boundary without a filler
	NeedlessPad int // filler where none was needed (harmless, counted)
	// MediumMismatch: frames not sent because the medium mode does not
	// match the negotiated link (AX88178: GM/ENCK/PS/FD).
	MediumMismatch int
	// TooLong: AX88178 frames longer than the medium mode allows (see
	// MaxFrame), not sent; the rest of the transfer is still parsed.
	TooLong int
}

// RxStats counts what the chip did with frames from the wire.
type RxStats struct {
	Received  int // frames offered by the wire
	Accepted  int // frames that passed the filter into the stream
	Filtered  int // frames the RX_CTL filter dropped
	Stopped   int // frames dropped because RX_CTL SO or medium RE is clear
	Overflow  int // frames dropped because the FIFO was full
	Writes    int // bulk IN writes made
	Corrupted int // headers deliberately corrupted (CorruptNextRxHeader)
	NoLink    int // frames from the wire dropped because the link was down
	// MediumMismatch: frames dropped because the medium mode does not
	// match the negotiated link (AX88178: GM/ENCK/PS/FD).
	MediumMismatch int
	// TooLong: AX88178 frames from the wire longer than the medium mode
	// and RX buffer allow (see MaxFrame), dropped.
	TooLong int
}

// fifoLimit bounds the RX stream waiting for the host.
const fifoLimit = 64 << 10

// Model is an AX88772B or AX88178. Make one with New; it is safe for
// concurrent use.
type Model struct {
	mu   sync.Mutex
	opts Options
	host *sim.Host
	mps  int

	// register file
	rxCtl, medium uint16
	ipg           [3]byte
	nodeID        [6]byte
	mcast         [8]byte
	gpio, monitor byte
	phySel        uint16
	swReset       uint16
	swMII         bool
	hostEnWait    int
	eeprom        [256]uint16
	eepromWE      bool

	phy      phy
	gpioLog  []byte // every GPIO value written, oldest first
	linkSent bool   // last link state reported on the status endpoint
	statusQ  bool   // a status packet is due

	rx      []byte        // RX stream not yet written to the host
	rxChunk int           // test override of the write size (0: MFB size)
	corrupt int           // headers still to corrupt
	short   map[uint8]int // request → length of its next (short) answer

	end *sim.End // Ethernet side

	sim.RequestLog // Requests, ClearRequests, Stalled
	tx             TxStats
	rxs            RxStats
}

var (
	_ sim.Model    = (*Model)(nil)
	_ sim.Poller   = (*Model)(nil)
	_ sim.Resetter = (*Model)(nil)
	_ sim.Port     = (*Model)(nil)
)

// DefaultMAC is the AX88772B's MAC when Options.MAC is nil.
var DefaultMAC = net.HardwareAddr{0x00, 0x0e, 0xc6, 0x88, 0x77, 0x2b}

// DefaultMAC178 is the AX88178's MAC when Options.MAC is nil.
var DefaultMAC178 = net.HardwareAddr{0x00, 0x0e, 0xc6, 0x88, 0x17, 0x80}

// New makes a model.
func New(o Options) *Model {
	gig := o.Chip == AX88178
	if o.MAC == nil {
		o.MAC = DefaultMAC
		if gig {
			o.MAC = DefaultMAC178
		}
	}
	if o.Partner.Mbps == 0 {
		o.Partner = Link{Mbps: 100, FullDuplex: true, Pause: true}
		if gig {
			o.Partner.Mbps = 1000
		}
	}
	if o.PHYAddr == 0 {
		o.PHYAddr = embeddedPHYAddr
		if gig {
			o.PHYAddr = externalPHYAddr
		}
	}
	if o.Product == 0 {
		o.Product = 0x772b
		if gig {
			o.Product = 0x1780
		}
	}
	if o.PHYID == 0 {
		o.PHYID = defaultPHYID(o)
	}
	m := &Model{opts: o, mps: 512}
	if o.FullSpeed {
		m.mps = 64
	}
	// EEPROM: the MAC in words 4..6, low byte first; the model stores
	// nothing else (unprogrammed words read 0xffff).
	for i := range m.eeprom {
		m.eeprom[i] = 0xffff
	}
	for i := 0; i < 3; i++ {
		m.eeprom[4+i] = uint16(o.MAC[2*i]) | uint16(o.MAC[2*i+1])<<8
	}
	if gig {
		m.eeprom[eepromBoardWord] = o.Word17
	}
	m.powerOn()
	return m
}

// NewDevice makes a model and plugs it into the engine.
func NewDevice(o Options) (*sim.Device, *Model) {
	m := New(o)
	name := "sim:ax88772"
	if o.Chip == AX88178 {
		name = "sim:ax88178"
	}
	return sim.New(m, hw.Info{Bus: 1, Address: 7, Backend: name}), m
}

// powerOn puts the register file in its reset state (SW_RESET does not
// touch it; a port reset does).
func (m *Model) powerOn() {
	m.rxCtl, m.medium = resetRxCtl, resetMedium
	m.ipg = [3]byte{0x15, 0x0c, 0x12}
	copy(m.nodeID[:], m.opts.MAC)
	m.mcast = [8]byte{}
	m.gpio, m.monitor = 0, 0
	m.gpioLog = nil
	m.phySel = 0x01 // embedded PHY selected
	m.swReset = 0
	m.swMII = false
	m.rx = m.rx[:0]
	m.phy.init(m.opts, !m.opts.NoCable)
	m.statusQ = true
}

// Descriptors implements sim.Model: one configuration, one vendor-class
// interface with interrupt IN 0x81 (8 bytes), bulk IN 0x82 and bulk OUT
// 0x03.
func (m *Model) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	dev := []byte{18, hw.DescDevice, 0x00, 0x02, 0xff, 0xff, 0x00, 64,
		0x95, 0x0b, byte(m.opts.Product), byte(m.opts.Product >> 8), 0x01, 0x00, 1, 2, 3, 1}
	intr := byte(11) // 2^(11-1) microframes = 128 ms at high speed
	if m.opts.FullSpeed {
		intr = 128
	}
	mps := []byte{byte(m.mps), byte(m.mps >> 8)}
	cfg := []byte{9, hw.DescConfig, 39, 0, 1, 1, 0, 0xa0, 0x64,
		9, hw.DescInterface, 0, 0, 3, 0xff, 0xff, 0x00, 0,
		7, hw.DescEndpoint, EPStatus, hw.XferInterrupt, 8, 0, intr,
		7, hw.DescEndpoint, EPBulkIn, hw.XferBulk, mps[0], mps[1], 0,
		7, hw.DescEndpoint, EPBulkOut, hw.XferBulk, mps[0], mps[1], 0,
	}
	serial := fmt.Sprintf("%02X%02X%02X", m.opts.MAC[3], m.opts.MAC[4], m.opts.MAC[5])
	return dev, [][]byte{cfg}, map[uint8]string{1: "ASIX Elec. Corp.", 2: m.opts.Chip.String(), 3: serial}
}

// Attach implements sim.Model.
func (m *Model) Attach(h *sim.Host) {
	m.mu.Lock()
	m.host = h
	m.mu.Unlock()
}

// Reset implements sim.Resetter: a port reset reloads everything.
func (m *Model) Reset() {
	m.mu.Lock()
	m.powerOn()
	m.mu.Unlock()
}

// Plug connects the Ethernet side to a wire end: frames the host
// transmits are sent from e, frames arriving at e go to Receive.
func (m *Model) Plug(e *sim.End) {
	e.Attach(m)
	m.mu.Lock()
	m.end = e
	m.mu.Unlock()
}

// TxStats returns the TX counters.
func (m *Model) TxStats() TxStats { m.mu.Lock(); defer m.mu.Unlock(); return m.tx }

// RxStats returns the RX counters.
func (m *Model) RxStats() RxStats { m.mu.Lock(); defer m.mu.Unlock(); return m.rxs }

// RxPending is how many bytes of RX stream wait in the chip's FIFO for the
// host (not yet handed to a bulk IN write). A link partner that honours
// 802.3x PAUSE watches this: the chip sends PAUSE while its FIFO is above
// its high-water mark, so a burst from the wire is held back rather than
// dropped as Overflow.
func (m *Model) RxPending() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.rx) }

// RxFIFOSize is the RX FIFO's capacity in bytes: a frame that would take
// the pending stream past it is dropped and counted as RxStats.Overflow.
const RxFIFOSize = fifoLimit

// Registers is the register file as the chip holds it.
type Registers struct {
	RxCtl, Medium uint16
	IPG           [3]byte
	NodeID        net.HardwareAddr
	Multicast     [8]byte
	GPIO, Monitor byte
	PHYSelect     uint16
	SWReset       uint16
	SWMII         bool // the host owns the MDIO bus
}

// Registers returns a snapshot of the register file.
func (m *Model) Registers() Registers {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Registers{RxCtl: m.rxCtl, Medium: m.medium, IPG: m.ipg, NodeID: append(net.HardwareAddr(nil), m.nodeID[:]...),
		Multicast: m.mcast, GPIO: m.gpio, Monitor: m.monitor, PHYSelect: m.phySel, SWReset: m.swReset, SWMII: m.swMII}
}

// PHY returns the PHY's register r (0..31) as the MDIO bus would read it.
func (m *Model) PHY(r int) uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.read(r)
}

// Link reports the negotiated link (ok false when down).
func (m *Model) Link() (l Link, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.resolved()
}

// SetPartner changes the link partner (renegotiating) and reports the
// change on the status endpoint.
func (m *Model) SetPartner(l Link) {
	m.mu.Lock()
	m.phy.partner = l
	m.phy.negotiate()
	m.linkChangedLocked()
	m.mu.Unlock()
	m.pump()
}

// SetCable plugs or unplugs the cable.
func (m *Model) SetCable(plugged bool) {
	m.mu.Lock()
	m.phy.cable = plugged
	m.phy.negotiate()
	m.linkChangedLocked()
	m.mu.Unlock()
	m.pump()
}

// SetRxChunk makes bulk IN writes at most n bytes (0: the RX_CTL MFB
// buffer size, as the chip does). Specs use it to put transfer
// boundaries at chosen offsets of a record.
func (m *Model) SetRxChunk(n int) {
	m.mu.Lock()
	m.rxChunk = n
	m.mu.Unlock()
}

// CorruptNextRxHeader flips a bit in the complement half of the next n
// RX headers, as a line glitch would.
func (m *Model) CorruptNextRxHeader(n int) {
	m.mu.Lock()
	m.corrupt += n
	m.mu.Unlock()
}

// ShortReply makes the next IN answer to vendor request req only n bytes
// long, as a misbehaving device does (CVE-2021-47101, CVE-2022-49226).
func (m *Model) ShortReply(req uint8, n int) {
	m.mu.Lock()
	if m.short == nil {
		m.short = map[uint8]int{}
	}
	m.short[req] = n
	m.mu.Unlock()
}

func (m *Model) linkChangedLocked() {
	_, up := m.phy.resolved()
	if up != m.linkSent {
		m.statusQ = true
	}
}

// status is the 8-byte interrupt packet.
func (m *Model) statusLocked() []byte {
	_, up := m.phy.resolved()
	b := make([]byte, 8)
	b[0], b[1] = 0xa1, 0x00
	if up {
		b[2] = 0x01
	}
	m.linkSent = up
	return b
}

// Poll implements sim.Poller: the host is waiting on an endpoint with
// nothing queued.
func (m *Model) Poll(ep uint8) { m.pump() }

// pump moves what is due to the host: a status packet, and RX stream
// writes while the engine's IN queue has room.
func (m *Model) pump() {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.host
	if h == nil {
		return
	}
	if m.statusQ && h.Active(EPStatus) && h.Waiting(EPStatus) > 0 {
		if h.SendIn(EPStatus, m.statusLocked()) == nil {
			m.statusQ = false
		}
	}
	for len(m.rx) > 0 && h.Active(EPBulkIn) && h.Queued(EPBulkIn) < 2 {
		c := m.chunkLocked()
		n := min(c, len(m.rx))
		// A burst shorter than the buffer ends the host's transfer: with
		// a short packet, or with a ZLP when it is a multiple of
		// wMaxPacketSize. A full buffer ends it by itself.
		send := h.SendIn
		if n < c {
			send = h.SendInZLP
		}
		if send(EPBulkIn, m.rx[:n]) != nil {
			return
		}
		m.rxs.Writes++
		m.rx = append(m.rx[:0], m.rx[n:]...)
	}
}

func (m *Model) chunkLocked() int {
	if m.rxChunk > 0 {
		return m.rxChunk
	}
	return m.bufSizeLocked()
}

// bufSizeLocked is the RX burst size RX_CTL's MFB field selects: 2048,
// 4096, 8192 or 16384 bytes.
func (m *Model) bufSizeLocked() int { return 2048 << ((m.rxCtl & RxCtlMFB) >> 8) }

// le16 answers a 2-byte register read.
func le16(data []byte, v uint16) int {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], v)
	return copy(data, b[:])
}
