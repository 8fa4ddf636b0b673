package ecm

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
)

// Endpoint addresses and interface numbers of both flavors.
const (
	EpStatus   uint8 = 0x81 // interrupt IN, wMaxPacketSize 16
	EpIn       uint8 = 0x82 // bulk IN
	EpOut      uint8 = 0x02 // bulk OUT
	CtrlIface        = 0
	DataIface        = 1
	DataAltOn        = 1
	DefaultMAC       = "525400123456"
)

// CDC class requests and notifications (include/uapi/linux/usb/cdc.h).
const (
	ReqSetMulticastFilters = 0x40
	ReqSetPacketFilter     = 0x43
	ReqGetStatistic        = 0x44

	NotifyNetworkConnection = 0x00
	NotifySpeedChange       = 0x2a
)

// Packet filter bits (SET_ETHERNET_PACKET_FILTER wValue).
const (
	FilterPromiscuous  uint16 = 1 << 0
	FilterAllMulticast uint16 = 1 << 1
	FilterDirected     uint16 = 1 << 2
	FilterBroadcast    uint16 = 1 << 3
	FilterMulticast    uint16 = 1 << 4
)

// DefaultFilter is the filter before the host sets one: f_ecm's
// DEFAULT_FILTER (everything passes).
const DefaultFilter = FilterPromiscuous | FilterAllMulticast | FilterDirected | FilterBroadcast

// Flavor selects whose behaviour the model copies.
type Flavor int

const (
	// QEMU is QEMU 7.2 usb-net (CDC configuration): NETWORK_CONNECTION 1 on
	// every interrupt poll, no link-change notifications.
	QEMU Flavor = iota
	// Gadget is Linux f_ecm: NETWORK_CONNECTION + CONNECTION_SPEED_CHANGE on
	// data alt 1 and on every link change, nothing otherwise.
	Gadget
)

func (f Flavor) String() string {
	if f == Gadget {
		return "gadget"
	}
	return "qemu"
}

// Options configure a Model. The zero value is QEMU's usb-net as captured.
type Options struct {
	Flavor Flavor
	// Speed: SpeedFull (64-byte bulk) or SpeedHigh (512-byte bulk). Zero:
	// full for QEMU, high for Gadget.
	Speed hw.Speed
	// MAC is the iMACAddress string (default "525400123456"). It is served
	// as is, so an invalid one tests a driver's check; the model's own
	// directed filter then uses 02:00:00:00:00:01.
	MAC string
	// MaxSegmentSize is wMaxSegmentSize (default 1514). Frames longer than
	// it are dropped in both directions.
	MaxSegmentSize uint16
	// MCFilters is wNumberMCFilters (default 0: SET_ETHERNET_MULTICAST_FILTERS
	// stalls, as the CDC spec says).
	MCFilters uint16
	// LinkDown starts with the link down.
	LinkDown bool
	// BitRate is the CONNECTION_SPEED_CHANGE rate in bit/s (default f_ecm's
	// ecm_bitrate: 9,728,000 at full speed, 425,984,000 at high).
	BitRate uint32
	// SplitSpeedChange sends CONNECTION_SPEED_CHANGE as two device writes
	// (8-byte header, then 8 bytes of rates), so the host sees it in two
	// interrupt transfers (Linux's EVENT_STS_SPLIT case).
	SplitSpeedChange bool
	// NoInZLP sends IN frames without a terminating ZLP when their length
	// is a multiple of wMaxPacketSize (a non-conforming device: the host's
	// transfer keeps collecting the next frame).
	NoInZLP bool
	// PollInterval paces QEMU's status answers (default: bInterval, 32 ms).
	PollInterval time.Duration
	// PerCDC applies SET_ETHERNET_PACKET_FILTER (and the multicast list) to
	// frames from the wire as CDC ECM 1.2 says, instead of as the flavor's
	// device does: a conforming device, which neither QEMU nor f_ecm is.
	PerCDC bool
}

func (o *Options) bulk() uint16 {
	if o.Speed >= hw.SpeedHigh {
		return 512
	}
	return 64
}

// Counters are the model's device-side counts.
type Counters struct {
	ToWire       uint64 // frames sent to the wire (from the host's bulk OUT)
	FromWire     uint64 // frames received from the wire
	ToHost       uint64 // frames queued to bulk IN
	Filtered     uint64 // wire frames dropped by the packet/multicast filter
	LinkDropped  uint64 // frames dropped (either way) because the link is down
	Inactive     uint64 // wire frames dropped because data alt 1 is not selected
	HostBusy     uint64 // wire frames dropped because the IN FIFO was full
	Oversize     uint64 // frames dropped, longer than wMaxSegmentSize
	Runts        uint64 // host transfers shorter than an Ethernet header, dropped
	EmptyOut     uint64 // lone ZLPs from the host (no frame)
	Notification uint64 // notifications sent on the status endpoint

	// From the engine's bulk OUT counters:
	ZLPs  uint64 // ZLPs the host sent
	NoZLP uint64 // host writes glued onto the previous one because it ended on a packet boundary without a ZLP (frames not delivered as sent)
}

// Model is a CDC-ECM device. Build it with New, plug it into the engine with
// sim.New(m, hw.Info{...}), and give it an Ethernet peer with Connect.
type Model struct {
	opts    Options
	host    *sim.Host
	device  []byte
	configs [][]byte
	strings map[uint8]string
	mac     [6]byte

	mu       sync.Mutex
	filter   uint16
	mc       [][6]byte // multicast filter list; cap MCFilters
	link     bool
	open     bool // data alt 1 selected
	lastPoll time.Time
	timer    *time.Timer
	detached bool

	end atomic.Pointer[sim.End]

	toWire, fromWire, toHost, filtered, linkDropped, inactive, hostBusy, oversize, runts, emptyOut, notes atomic.Uint64

	note [16]byte // notification buffer (device writes are copied by the engine)
}

var (
	_ sim.Model     = (*Model)(nil)
	_ sim.Port      = (*Model)(nil)
	_ sim.Poller    = (*Model)(nil)
	_ sim.AltSetter = (*Model)(nil)
	_ sim.Preferrer = (*Model)(nil)
	_ sim.Detacher  = (*Model)(nil)
)

// New returns a model with opts (zero fields take their defaults).
func New(opts Options) *Model {
	if opts.Speed == hw.SpeedUnknown {
		opts.Speed = hw.SpeedFull
		if opts.Flavor == Gadget {
			opts.Speed = hw.SpeedHigh
		}
	}
	if opts.MAC == "" {
		opts.MAC = DefaultMAC
	}
	if opts.MaxSegmentSize == 0 {
		opts.MaxSegmentSize = 1514
	}
	if opts.BitRate == 0 {
		opts.BitRate = 19 * 64 * 1 * 1000 * 8
		if opts.Speed >= hw.SpeedHigh {
			opts.BitRate = 13 * 512 * 8 * 1000 * 8
		}
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 32 * time.Millisecond
	}
	m := &Model{opts: opts, filter: DefaultFilter, link: !opts.LinkDown, mc: make([][6]byte, 0, opts.MCFilters)}
	if a, err := parseMAC(opts.MAC); err == nil {
		m.mac = a
	} else {
		m.mac = [6]byte{0x02, 0, 0, 0, 0, 1}
	}
	switch opts.Flavor {
	case Gadget:
		m.device = gadgetDevice()
		m.configs = [][]byte{cdcConfig(gadgetParams(&opts))}
		m.strings = map[uint8]string{
			gadgetStrProduct: "ecm gadget", gadgetStrSerial: "lab-ecm", gadgetStrMAC: opts.MAC,
			gadgetStrControl: "CDC Ethernet Control Model (ECM)", gadgetStrData: "CDC Ethernet Data",
		}
	default:
		m.device = append([]byte(nil), qemuDevice...)
		m.configs = [][]byte{append([]byte(nil), qemuRNDIS...), cdcConfig(qemuParams(&opts))}
		m.strings = map[uint8]string{
			qemuStrManufacturer: "QEMU", qemuStrProduct: "RNDIS/QEMU USB Network Device",
			qemuStrEthAddr: opts.MAC, qemuStrData: "QEMU USB Net Data Interface",
			qemuStrControl: "QEMU USB Net Control Interface", qemuStrRNDISControl: "QEMU USB Net RNDIS Control Interface",
			qemuStrCDC: "QEMU USB Net CDC", qemuStrSubset: "QEMU USB Net Subset", qemuStrRNDIS: "QEMU USB Net RNDIS",
			qemuStrSerial: "1-0000:00:03.0-1",
		}
	}
	return m
}

// Info is a hw.Info for sim.New naming this model: bus 1, address 2.
func (m *Model) Info() hw.Info {
	dd, _ := hw.ParseDeviceDescriptor(m.device)
	return hw.Info{Bus: 1, Address: 2, Vendor: dd.Vendor, Product: dd.Product, Speed: m.opts.Speed, Backend: "sim:ecm"}
}

// NewDevice is sim.New(New(opts), info) with the model's Info.
func NewDevice(opts Options) (*sim.Device, *Model) {
	m := New(opts)
	return sim.New(m, m.Info()), m
}

// Options returns the options in effect (defaults filled in).
func (m *Model) Options() Options { return m.opts }

// MACString is the iMACAddress string served.
func (m *Model) MACString() string { return m.opts.MAC }

// Descriptors implements sim.Model.
func (m *Model) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	return m.device, m.configs, m.strings
}

// PreferredConfig implements sim.Preferrer: the CDC configuration (value 1).
func (m *Model) PreferredConfig() int { return 1 }

// Attach implements sim.Model.
func (m *Model) Attach(h *sim.Host) { m.host = h }

// Connect plugs the model's Ethernet side into e (see sim.Wire).
func (m *Model) Connect(e *sim.End) {
	m.end.Store(e)
	e.Attach(m)
}

// Control implements sim.Model: the CDC-ECM class requests on the control
// interface. Everything else stalls (as QEMU's and f_ecm's do), including
// the RNDIS configuration's requests and GET_ETHERNET_STATISTIC
// (bmEthernetStatistics is 0).
func (m *Model) Control(s hw.Setup, data []byte) (int, error) {
	if s.RequestType == hw.DirIn|hw.TypeStandard|hw.RecipDevice && s.Request == hw.ReqGetDescriptor &&
		uint8(s.Value>>8) == hw.DescDeviceQualifier && m.opts.Flavor == Gadget && m.opts.Speed == hw.SpeedHigh {
		// A high-speed device's qualifier: what it would be at full speed.
		q := [10]byte{10, hw.DescDeviceQualifier, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00}
		return copy(data, q[:]), nil
	}
	if s.RequestType&0x60 != hw.TypeClass || s.RequestType&0x1f != hw.RecipInterface || s.Index != CtrlIface {
		return 0, hw.ErrStall
	}
	if m.host.Configuration() != 1 {
		return 0, hw.ErrStall
	}
	switch {
	case !s.In() && s.Request == ReqSetPacketFilter:
		m.mu.Lock()
		m.filter = s.Value
		m.mu.Unlock()
		return 0, nil
	case !s.In() && s.Request == ReqSetMulticastFilters:
		n := int(s.Value)
		if m.opts.MCFilters == 0 || n > int(m.opts.MCFilters&0x7fff) || len(data) != 6*n {
			return 0, hw.ErrStall
		}
		m.mu.Lock()
		m.mc = m.mc[:0]
		for i := 0; i < n; i++ {
			var a [6]byte
			copy(a[:], data[6*i:])
			m.mc = append(m.mc, a)
		}
		m.mu.Unlock()
		return 0, nil
	}
	return 0, hw.ErrStall
}

// Filter returns the packet filter and multicast list in effect.
func (m *Model) Filter() (bits uint16, multicast [][6]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.filter, append([][6]byte(nil), m.mc...)
}

// Out implements sim.Model: one device-side bulk OUT transfer is one frame
// for the wire.
func (m *Model) Out(ep uint8, data []byte) {
	if ep != EpOut {
		return
	}
	switch {
	case len(data) == 0:
		m.emptyOut.Add(1)
		return
	case len(data) < 14:
		m.runts.Add(1)
		return
	case len(data) > int(m.opts.MaxSegmentSize):
		m.oversize.Add(1)
		return
	}
	m.mu.Lock()
	up := m.link
	m.mu.Unlock()
	if !up {
		m.linkDropped.Add(1)
		return
	}
	m.toWire.Add(1)
	if e := m.end.Load(); e != nil {
		e.Send(data)
	}
}

// Receive implements sim.Port: a frame from the wire, for the host.
func (m *Model) Receive(frame []byte) {
	m.fromWire.Add(1)
	if len(frame) < 14 || len(frame) > int(m.opts.MaxSegmentSize) {
		m.oversize.Add(1)
		return
	}
	m.mu.Lock()
	up, open, pass := m.link, m.open, m.passLocked(frame)
	m.mu.Unlock()
	switch {
	case !up:
		m.linkDropped.Add(1)
		return
	case !open || !m.host.Active(EpIn):
		m.inactive.Add(1)
		return
	case !pass:
		m.filtered.Add(1)
		return
	}
	var err error
	if m.opts.NoInZLP {
		err = m.host.SendIn(EpIn, frame)
	} else {
		err = m.host.SendInZLP(EpIn, frame)
	}
	if err != nil {
		m.hostBusy.Add(1)
		return
	}
	m.toHost.Add(1)
}

// passLocked applies the packet filter to a frame's destination address.
// The QEMU flavor passes every frame, as QEMU's usb-net does (its
// usbnet_receive looks at no destination; the CDC filter request is
// answered and forgotten). The Gadget flavor filters as Linux u_ether's
// eth_start_xmit does: broadcast needs PACKET_TYPE_BROADCAST, any other
// multicast PACKET_TYPE_ALL_MULTICAST (PACKET_TYPE_MULTICAST is ignored),
// and unicast always passes, to any address (PACKET_TYPE_DIRECTED is
// ignored). Options.PerCDC filters as CDC says.
func (m *Model) passLocked(frame []byte) bool {
	f := m.filter
	if f&FilterPromiscuous != 0 || (m.opts.Flavor == QEMU && !m.opts.PerCDC) {
		return true
	}
	dst := frame[:6]
	if m.opts.Flavor == Gadget && !m.opts.PerCDC {
		switch {
		case dst[0]&1 == 0:
			return true
		case [6]byte(dst) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
			return f&FilterBroadcast != 0
		}
		return f&FilterAllMulticast != 0
	}
	if dst[0]&1 == 0 {
		return f&FilterDirected != 0 && [6]byte(dst) == m.mac
	}
	if [6]byte(dst) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
		return f&FilterBroadcast != 0
	}
	if f&FilterAllMulticast != 0 {
		return true
	}
	if f&FilterMulticast != 0 {
		for _, a := range m.mc {
			if a == [6]byte(dst) {
				return true
			}
		}
	}
	return false
}

// Link reports the link state.
func (m *Model) Link() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.link
}

// SetLink changes the link. A down link drops frames both ways. The Gadget
// flavor notifies the host (when data alt 1 is selected); QEMU does not.
func (m *Model) SetLink(up bool) {
	m.mu.Lock()
	changed := m.link != up
	m.link = up
	notify := changed && m.open && m.opts.Flavor == Gadget
	m.mu.Unlock()
	if notify {
		m.notifyChange(up)
	}
}

// SetAlt implements sim.AltSetter: data alt 1 opens the data path (and
// makes the Gadget flavor notify the link state, as f_ecm's ecm_set_alt).
func (m *Model) SetAlt(iface, alt int) {
	if iface != DataIface {
		return
	}
	m.mu.Lock()
	m.open = alt == DataAltOn
	notify := m.open && m.opts.Flavor == Gadget
	up := m.link
	m.mu.Unlock()
	if notify {
		m.notifyChange(up)
	}
}

// SetConfiguration implements sim.ConfigSetter: the data path closes and
// the filter returns to its default.
func (m *Model) SetConfiguration(int) {
	m.mu.Lock()
	m.open, m.filter, m.mc = false, DefaultFilter, m.mc[:0]
	m.mu.Unlock()
}

// Reset implements sim.Resetter (as SetConfiguration).
func (m *Model) Reset() { m.SetConfiguration(0) }

// notifyChange sends NETWORK_CONNECTION then CONNECTION_SPEED_CHANGE, as
// f_ecm's ecm_do_notify does (wIndex is the control interface).
func (m *Model) notifyChange(up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var v uint16
	if up {
		v = 1
	}
	n := m.note[:8]
	n[0], n[1] = 0xa1, NotifyNetworkConnection
	binary.LittleEndian.PutUint16(n[2:], v)
	binary.LittleEndian.PutUint16(n[4:], CtrlIface)
	binary.LittleEndian.PutUint16(n[6:], 0)
	if m.host.SendIn(EpStatus, n) == nil {
		m.notes.Add(1)
	}
	s := m.note[:16]
	s[0], s[1] = 0xa1, NotifySpeedChange
	binary.LittleEndian.PutUint16(s[2:], 0)
	binary.LittleEndian.PutUint16(s[4:], CtrlIface)
	binary.LittleEndian.PutUint16(s[6:], 8)
	binary.LittleEndian.PutUint32(s[8:], m.opts.BitRate)
	binary.LittleEndian.PutUint32(s[12:], m.opts.BitRate)
	var err error
	if m.opts.SplitSpeedChange {
		if err = m.host.SendIn(EpStatus, s[:8]); err == nil {
			err = m.host.SendIn(EpStatus, s[8:])
		}
	} else {
		err = m.host.SendIn(EpStatus, s)
	}
	if err == nil {
		m.notes.Add(1)
	}
}

// qemuConnected is what QEMU 7.2 answers every status poll with, as
// captured: NETWORK_CONNECTION, wValue 1, wIndex 1.
var qemuConnected = [8]byte{0xa1, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00}

// Poll implements sim.Poller. In the QEMU flavor a status poll is answered
// at most once per PollInterval (the interrupt endpoint's bInterval), by a
// timer when the host polls sooner.
func (m *Model) Poll(ep uint8) {
	if ep != EpStatus || m.opts.Flavor != QEMU {
		return
	}
	m.mu.Lock()
	if m.detached {
		m.mu.Unlock()
		return
	}
	wait := m.opts.PollInterval - time.Since(m.lastPoll)
	if wait > 0 {
		if m.timer == nil {
			m.timer = time.AfterFunc(wait, m.tick)
		} else {
			m.timer.Reset(wait)
		}
		m.mu.Unlock()
		return
	}
	m.lastPoll = time.Now()
	m.mu.Unlock()
	m.answerPoll()
}

func (m *Model) tick() {
	m.mu.Lock()
	if m.detached || m.host.Waiting(EpStatus) == 0 || m.host.Queued(EpStatus) > 0 {
		m.mu.Unlock()
		return
	}
	m.lastPoll = time.Now()
	m.mu.Unlock()
	m.answerPoll()
}

func (m *Model) answerPoll() {
	b := qemuConnected
	if m.host.SendIn(EpStatus, b[:]) == nil {
		m.notes.Add(1)
	}
}

// Detach implements sim.Detacher: stops the poll timer.
func (m *Model) Detach() {
	m.mu.Lock()
	m.detached = true
	if m.timer != nil {
		m.timer.Stop()
	}
	m.mu.Unlock()
}

// Counters returns the model's counters (and the engine's ZLP counts for
// bulk OUT).
func (m *Model) Counters() Counters {
	c := Counters{
		ToWire: m.toWire.Load(), FromWire: m.fromWire.Load(), ToHost: m.toHost.Load(),
		Filtered: m.filtered.Load(), LinkDropped: m.linkDropped.Load(), Inactive: m.inactive.Load(),
		HostBusy: m.hostBusy.Load(), Oversize: m.oversize.Load(), Runts: m.runts.Load(),
		EmptyOut: m.emptyOut.Load(), Notification: m.notes.Load(),
	}
	if m.host != nil {
		s := m.host.Stats(EpOut)
		c.ZLPs, c.NoZLP = s.ZLPs, s.Merged
	}
	return c
}

// Corruption names a descriptor fault preset for Corrupt.
type Corruption int

const (
	CorruptZeroMaxPacket     Corruption = iota + 1 // bulk wMaxPacketSize 0
	CorruptZeroMaxSegment                          // wMaxSegmentSize 0
	CorruptLyingLength                             // Ethernet descriptor bLength runs past the end
	CorruptNoUnion                                 // no union descriptor
	CorruptUnionSlaveNotData                       // slave interface is not class 0x0a
	CorruptIntrAsBulk                              // status endpoint is bulk
	CorruptBadMAC                                  // iMACAddress string is not 12 hex digits
)

func (c Corruption) String() string {
	switch c {
	case CorruptZeroMaxPacket:
		return "wMaxPacketSize 0"
	case CorruptZeroMaxSegment:
		return "wMaxSegmentSize 0"
	case CorruptLyingLength:
		return "lying bLength"
	case CorruptNoUnion:
		return "missing union"
	case CorruptUnionSlaveNotData:
		return "union slave not CDC data"
	case CorruptIntrAsBulk:
		return "status endpoint bulk"
	case CorruptBadMAC:
		return "bad MAC string"
	}
	return fmt.Sprintf("corruption %d", int(c))
}

// Corruptions lists every preset, for DescribeTable.
var Corruptions = []Corruption{CorruptZeroMaxPacket, CorruptZeroMaxSegment, CorruptLyingLength,
	CorruptNoUnion, CorruptUnionSlaveNotData, CorruptIntrAsBulk, CorruptBadMAC}

// Corrupt applies preset c to d (a device made from m): what the host reads
// changes, the model keeps working as before.
func (m *Model) Corrupt(d *sim.Device, c Corruption) {
	switch c {
	case CorruptZeroMaxPacket:
		d.CorruptDescriptors(ZeroMaxPacket)
	case CorruptZeroMaxSegment:
		d.CorruptDescriptors(ZeroMaxSegment)
	case CorruptLyingLength:
		d.CorruptDescriptors(LyingLength)
	case CorruptNoUnion:
		d.CorruptDescriptors(NoUnion)
	case CorruptUnionSlaveNotData:
		d.CorruptDescriptors(UnionSlaveNotData)
	case CorruptIntrAsBulk:
		d.CorruptDescriptors(IntrAsBulk)
	case CorruptBadMAC:
		idx := uint8(qemuStrEthAddr)
		if m.opts.Flavor == Gadget {
			idx = gadgetStrMAC
		}
		d.SetString(idx, "52540012345G", false)
	default:
		panic(fmt.Sprintf("ecm: unknown corruption %d", int(c)))
	}
}
