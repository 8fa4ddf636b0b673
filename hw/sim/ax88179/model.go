package ax88179

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
)

// Config describes the chip and its surroundings. The zero value is an
// AX88179 (0b95:1790) at high speed with a gigabit full-duplex link partner.
type Config struct {
	Vendor, Product uint16           // 0b95:1790 when zero (0x178a: AX88178A)
	Speed           hw.Speed         // USB speed: SpeedHigh when unknown; SpeedSuper, SpeedFull
	MAC             net.HardwareAddr // node ID in the EEPROM; 00:0e:c6:81:79:01 when nil
	// LinkMbps is the link partner's best speed: 1000 (when 0), 100 or 10.
	LinkMbps   int
	HalfDuplex bool // the partner is half duplex
	NoCable    bool // no link partner at power-on (PlugCable later)
	// ManualFlush disables the aggregation timer: a partly filled RX
	// transfer is sent only by Flush (or by reaching the size threshold).
	ManualFlush bool
	// TimerUnit is one tick of BULKIN_QCTRL's timer (1 µs when zero).
	TimerUnit time.Duration
	// UA1 makes GENERAL_STATUS report first-silicon (the driver then
	// enables the GPIOs).
	UA1 bool
}

// DefaultMAC is the node ID the model's EEPROM holds unless Config.MAC says
// otherwise.
var DefaultMAC = net.HardwareAddr{0x00, 0x0e, 0xc6, 0x81, 0x79, 0x01}

// Request is one control request the model saw (sim.Request).
type Request = sim.Request

// Stats are the model's device-side counters.
type Stats struct {
	RxFrames      uint64 // frames put into RX transfers
	RxTransfers   uint64 // RX transfers sent to the host
	RxFiltered    uint64 // frames the RX_CTL filter rejected
	RxStopped     uint64 // frames dropped: RX_CTL.START or MEDIUM.RE off, PHY off
	RxNoLink      uint64 // frames dropped while the link was down
	RxTooLong     uint64 // frames over 1518 bytes without MEDIUM.JUMBO (or over the jumbo limit)
	RxCRCDropped  uint64 // injected CRC errors dropped by RX_CTL.DROPCRCERR
	RxLost        uint64 // frames in transfers the host had no room for
	TxFrames      uint64 // good frames sent to the Ethernet side
	TxBadHeader   uint64 // header too short, zero or oversized length
	TxTruncated   uint64 // header length past the end of the transfer
	TxMissingPad  uint64 // 8+len a multiple of the packet size, padding flag clear
	TxSpuriousPad uint64 // padding flag set where no padding was needed
	TxNoPadBytes  uint64 // padding flag set but no pad bytes followed
	TxRunts       uint64 // frames shorter than an Ethernet header
	Interrupts    uint64 // link interrupts queued on the interrupt endpoint
	IntDropped    uint64 // link interrupts the engine refused (its IN queue full, endpoint inactive, device gone)
	Unknown       uint64 // requests stalled as unknown or malformed
}

// TxErrors is the sum of the TX validation errors.
func (s Stats) TxErrors() uint64 {
	return s.TxBadHeader + s.TxTruncated + s.TxMissingPad + s.TxSpuriousPad + s.TxNoPadBytes + s.TxRunts
}

// Model is the AX88179. Create it with New; it is safe for concurrent use.
type Model struct {
	cfg  Config
	host *sim.Host
	dev  *sim.Device

	mu             sync.Mutex
	mac            [macFileSize]byte
	phy            phy
	eeprom         [eepromWords]uint16
	efuse          [efuseSize]byte
	sim.RequestLog // Requests, ClearRequests, Stalled
	stats          Stats
	agg            aggregator
	timer          *sim.FlushTimer // RX aggregation
	corrupt        []Corruption
	crcNext        int
	tx             *sim.End
	detach         bool
}

var (
	_ sim.Model    = (*Model)(nil)
	_ sim.Port     = (*Model)(nil)
	_ sim.Detacher = (*Model)(nil)
	_ sim.Resetter = (*Model)(nil)
)

// New builds the model and plugs it into a sim.Device.
func New(cfg Config) (*Model, *sim.Device) {
	if cfg.Vendor == 0 && cfg.Product == 0 {
		cfg.Vendor, cfg.Product = 0x0b95, 0x1790
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
	if cfg.TimerUnit == 0 {
		cfg.TimerUnit = time.Microsecond
	}
	m := &Model{cfg: cfg}
	m.powerOn()
	d := sim.New(m, hw.Info{Vendor: cfg.Vendor, Product: cfg.Product, Speed: cfg.Speed, Backend: "sim:ax88179", Bus: 1, Address: 2})
	m.timer = sim.NewFlushTimer(&m.mu, m.flushLocked)
	m.dev = d
	return m, d
}

// powerOn loads the power-on state: EEPROM, eFuse, registers, PHY.
func (m *Model) powerOn() {
	c := m.cfg
	var e [2 * eepromWords]byte
	for i := range e {
		e[i] = 0xff
	}
	copy(e[0:6], c.MAC)
	binary.LittleEndian.PutUint16(e[6:], c.Vendor)
	binary.LittleEndian.PutUint16(e[8:], c.Product)
	s := uint16(e[6]) + uint16(e[7]) + uint16(e[8]) + uint16(e[9])
	s = s>>8 + s&0xff
	e[10] = byte(0xff - s)
	e[11] = 0x00
	// Word 0x42: LED mode (LED_VALID | LED0 active | LED1 link 1000 | LED2 link 100/10).
	binary.LittleEndian.PutUint16(e[2*0x42:], 0x8000|0x0001|0x0100|0x1000|0x0800)
	// Word 0x43: bit 8 clear, no auto-detach.
	binary.LittleEndian.PutUint16(e[2*0x43:], 0x0000)
	for i := range m.eeprom {
		m.eeprom[i] = binary.LittleEndian.Uint16(e[2*i:])
	}
	// eFuse: a valid image (byte 0 not 0xff, folded sum 0xff) with the LED mode at 51..52.
	m.efuse = [efuseSize]byte{}
	m.efuse[0] = 0x01
	m.efuse[51], m.efuse[52] = 0x99, 0x01
	sum := 0
	for _, b := range m.efuse[:efuseSize-1] {
		sum += int(b)
	}
	for sum > 0xff {
		sum = sum&0xff + sum>>8
	}
	m.efuse[efuseSize-1] = byte(0xff - sum)

	m.mac = [macFileSize]byte{}
	m.reloadLocked()
	switch {
	case c.Speed >= hw.SpeedSuper:
		m.mac[regPhysLink] = 0x04
	case c.Speed == hw.SpeedHigh:
		m.mac[regPhysLink] = 0x02
	}
	if !c.UA1 {
		m.mac[regGenStatus] = 0x04
	}
	m.phy.reset(c)
}

// reloadLocked is RELOAD: the node ID from the EEPROM.
func (m *Model) reloadLocked() {
	for i := 0; i < 3; i++ {
		binary.LittleEndian.PutUint16(m.mac[regNodeID+2*i:], m.eeprom[i])
	}
}

// Descriptors implements sim.Model.
func (m *Model) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	dev, cfg := descriptors(m.cfg.Vendor, m.cfg.Product, m.cfg.Speed)
	return dev, [][]byte{cfg}, map[uint8]string{1: "ASIX Elec. Corp.", 2: "AX88179", 3: "0000000000" + fmt.Sprintf("%02X", m.cfg.MAC[5])}
}

// Attach implements sim.Model.
func (m *Model) Attach(h *sim.Host) { m.host = h }

// Detach implements sim.Detacher: the device is gone, stop the timer.
func (m *Model) Detach() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.detach = true
	m.timer.Close()
}

// Reset implements sim.Resetter: a port reset returns the chip to its
// power-on state (the request log and counters stay).
func (m *Model) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timer.Disarm()
	m.agg.reset()
	m.powerOn()
}

// Device is the sim.Device the model is plugged into (for faults).
func (m *Model) Device() *sim.Device { return m.dev }

// Connect attaches the model's Ethernet side to e: frames the driver sends
// go out of e, frames arriving at e are received.
func (m *Model) Connect(e *sim.End) {
	m.mu.Lock()
	m.tx = e
	m.mu.Unlock()
	e.Attach(m)
}

// Writes returns the data of every MAC register write to reg, in order.
func (m *Model) Writes(reg uint16) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, r := range m.Requests() {
		if r.Err == nil && !r.Setup.In() && r.Setup.Request == reqMAC && r.Setup.Value == reg {
			out = append(out, r.Data)
		}
	}
	return out
}

// Stats returns a snapshot of the counters.
func (m *Model) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Reg returns n bytes of the MAC register file at reg.
func (m *Model) Reg(reg, n int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reg < 0 || n < 0 || reg+n > macFileSize {
		return nil
	}
	return append([]byte(nil), m.mac[reg:reg+n]...)
}

// Reg16 returns a two-byte little-endian register.
func (m *Model) Reg16(reg int) uint16 { return binary.LittleEndian.Uint16(m.Reg(reg, 2)) }

// PHYReg returns page-0 PHY register reg as the driver would read it.
func (m *Model) PHYReg(reg int) uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.read(uint16(reg))
}

// EEPROM returns the EEPROM image (256 bytes).
func (m *Model) EEPROM() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := make([]byte, 2*eepromWords)
	for i, w := range m.eeprom {
		binary.LittleEndian.PutUint16(b[2*i:], w)
	}
	return b
}

// Control implements sim.Model: the vendor requests.
func (m *Model) Control(s hw.Setup, data []byte) (int, error) {
	m.mu.Lock()
	n, ev, err := m.controlLocked(s, data)
	m.Log(s, data, n, err)
	if err != nil {
		m.stats.Unknown++
	}
	m.mu.Unlock()
	if ev != nil {
		ev()
	}
	return n, err
}

// ctlErr is a stalled request's reason.
func ctlErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{hw.ErrStall}, args...)...)
}

// controlLocked answers one request. ev, when non-nil, runs after the lock
// is released (a link change raises an interrupt).
func (m *Model) controlLocked(s hw.Setup, data []byte) (n int, ev func(), err error) {
	if s.RequestType&0x60 != hw.TypeVendor || s.RequestType&0x1f != hw.RecipDevice {
		return 0, nil, ctlErr("request type %#02x not handled", s.RequestType)
	}
	in := s.In()
	switch s.Request {
	case reqMAC:
		reg, l := int(s.Value), int(s.Index)
		if l != len(data) || l == 0 {
			return 0, nil, ctlErr("MAC register %#02x: wIndex %d but %d data bytes", reg, l, len(data))
		}
		if reg+l > macFileSize {
			return 0, nil, ctlErr("MAC register %#02x+%d past the register file", reg, l)
		}
		if in {
			return copy(data, m.mac[reg:reg+l]), nil, nil
		}
		return 0, m.writeMACLocked(reg, data), nil
	case reqPHY:
		if len(data) != 2 {
			return 0, nil, ctlErr("PHY access with %d bytes", len(data))
		}
		if s.Value != phyAddr {
			if in { // nothing answers MDIO at that address: the bus reads all ones
				data[0], data[1] = 0xff, 0xff
				return 2, nil, nil
			}
			return 0, nil, nil
		}
		if in {
			binary.LittleEndian.PutUint16(data, m.phy.read(s.Index))
			return 2, nil, nil
		}
		before := m.linkUpLocked()
		m.phy.write(s.Index, binary.LittleEndian.Uint16(data), m.poweredLocked(), m.cfg)
		return 0, m.linkEventLocked(before), nil
	case reqEEPROM:
		w, cnt := int(s.Value), int(s.Index)
		if cnt < 1 || len(data) != 2*cnt || w+cnt > eepromWords {
			return 0, nil, ctlErr("EEPROM word %#02x count %d with %d bytes", w, cnt, len(data))
		}
		for i := 0; i < cnt; i++ {
			if in {
				binary.LittleEndian.PutUint16(data[2*i:], m.eeprom[w+i])
			} else {
				m.eeprom[w+i] = binary.LittleEndian.Uint16(data[2*i:])
			}
		}
		if in {
			return len(data), nil, nil
		}
		return 0, nil, nil
	case reqEFuse:
		off, l := int(s.Value), int(s.Index)
		if !in || l != len(data) || off+l > efuseSize {
			return 0, nil, ctlErr("eFuse offset %d length %d with %d bytes", off, l, len(data))
		}
		return copy(data, m.efuse[off:off+l]), nil, nil
	case reqReload:
		if in || len(data) != 0 {
			return 0, nil, ctlErr("RELOAD with data")
		}
		m.reloadLocked()
		return 0, nil, nil
	case reqUSBCtl:
		if !in || s.Value != usbCtlTxFIFO || len(data) != 4 {
			return 0, nil, ctlErr("USB controller register %#02x with %d bytes", s.Value, len(data))
		}
		// TX FIFO status: never busy in the model (bit 30 clear).
		clear(data)
		return 4, nil, nil
	}
	return 0, nil, ctlErr("unknown vendor request %#02x", s.Request)
}

// writeMACLocked stores a register write and applies its side effects.
func (m *Model) writeMACLocked(reg int, data []byte) func() {
	switch reg {
	case regPhysLink, regGenStatus: // read-only
		return nil
	}
	before := m.linkUpLocked()
	wasPowered := m.poweredLocked()
	copy(m.mac[reg:], data)
	end := reg + len(data)
	touches := func(r int) bool { return reg <= r && r < end }
	if touches(regSROMCmd) && m.mac[regSROMCmd]&sromRD != 0 {
		w := int(m.mac[regSROMAddr])
		v := uint16(0xffff)
		if w < eepromWords {
			v = m.eeprom[w]
		}
		binary.LittleEndian.PutUint16(m.mac[regSROMLow:], v)
		m.mac[regSROMCmd] &^= sromRD | sromBusy
	}
	if touches(regPhyPwr) || touches(regPhyPwr+1) {
		switch powered := m.poweredLocked(); {
		case !powered:
			m.phy.powerDown()
		case !wasPowered: // out of reset: the PHY starts autonegotiating
			m.phy.reset(m.cfg)
			m.phy.negotiate(true, m.cfg)
		}
	}
	if touches(regRxCtl) && m.mac[regRxCtl]&rxSTART == 0 {
		m.agg.reset() // RX stopped: whatever was collected is gone
		m.timer.Disarm()
	}
	return m.linkEventLocked(before)
}

func (m *Model) poweredLocked() bool {
	return binary.LittleEndian.Uint16(m.mac[regPhyPwr:])&pwrIPRL != 0
}

func (m *Model) linkUpLocked() bool { return m.phy.link }

// linkEventLocked returns the interrupt to raise if the link changed.
func (m *Model) linkEventLocked(before bool) func() {
	if m.phy.link == before {
		return nil
	}
	up := m.phy.link
	if !up {
		m.agg.reset()
		m.timer.Disarm()
	}
	h := m.host
	return func() {
		var p [8]byte
		p[0] = 0xa1
		if up {
			p[2] = 0x01 // bit 16 of the first le32: PPLS link
		}
		// Counted by the engine's answer, not when raised: a report the
		// engine refused never reaches the host, and a log that counted
		// it as sent would point at the USB path instead of the model.
		err := h.SendIn(intEndpoint, p[:])
		m.mu.Lock()
		if err == nil {
			m.stats.Interrupts++
		} else {
			m.stats.IntDropped++
		}
		m.mu.Unlock()
	}
}

// PlugCable connects a link partner with the given best speed (1000, 100,
// 10) and duplex; if the PHY is up and autonegotiating, the link comes up
// and an interrupt is raised.
func (m *Model) PlugCable(mbps int, full bool) {
	m.mu.Lock()
	before := m.phy.link
	m.cfg.NoCable, m.cfg.LinkMbps, m.cfg.HalfDuplex = false, mbps, !full
	m.phy.negotiate(m.poweredLocked(), m.cfg)
	ev := m.linkEventLocked(before)
	m.mu.Unlock()
	if ev != nil {
		ev()
	}
}

// UnplugCable removes the link partner: link down, interrupt raised.
func (m *Model) UnplugCable() {
	m.mu.Lock()
	before := m.phy.link
	m.cfg.NoCable = true
	m.phy.negotiate(m.poweredLocked(), m.cfg)
	ev := m.linkEventLocked(before)
	m.mu.Unlock()
	if ev != nil {
		ev()
	}
}
