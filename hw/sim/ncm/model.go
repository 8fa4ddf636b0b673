package ncm

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
)

// Options configure a Model. The zero value is the model as the suite runs
// it: high speed, NTB16 and NTB32, 16 KiB NTBs both ways, the timer on.
type Options struct {
	// Speed: SpeedHigh (512-byte bulk, the default) or SpeedSuper (1024).
	Speed hw.Speed
	// MAC is the iMACAddress string (default DefaultMAC), served as is.
	MAC string
	// MaxSegmentSize is wMaxSegmentSize, the largest datagram size the
	// host may set (default 1514).
	MaxSegmentSize uint16
	// MCFilters is wNumberMCFilters (default 16, perfect filtering).
	MCFilters uint16
	// NoNTB32 makes a device that supports NTB16 only.
	NoNTB32 bool
	// InputSize8 announces the 8-byte GET/SET_NTB_INPUT_SIZE form
	// (dwNtbInMaxSize, wNtbInMaxDatagrams, reserved).
	InputSize8 bool
	// NTB parameters (GET_NTB_PARAMETERS); zero fields take f_ncm's
	// values: 16384-byte NTBs both ways, divisor 4, remainder 0,
	// alignment 4, no datagram cap on OUT.
	NtbInMaxSize, NtbOutMaxSize            uint32
	InDivisor, InRemainder, InAlignment    uint16
	OutDivisor, OutRemainder, OutAlignment uint16
	OutMaxDatagrams                        uint16
	// MaxInDatagrams caps the datagrams the model puts in one RX NTB
	// (default 32) when the host sets no wNtbInMaxDatagrams.
	MaxInDatagrams int
	// FlushDelay is how long a partly filled RX NTB waits for more
	// frames (default 400 µs).
	FlushDelay time.Duration
	// ManualFlush turns the timer off: a partly filled NTB goes only on
	// Flush or when the next frame does not fit.
	ManualFlush bool
	// LinkDown starts with the link down.
	LinkDown bool
	// BitRate is the CONNECTION_SPEED_CHANGE rate, both ways (default
	// 1 Gb/s).
	BitRate uint32
}

func (o *Options) defaults() {
	if o.Speed == hw.SpeedUnknown || o.Speed < hw.SpeedHigh {
		o.Speed = hw.SpeedHigh
	}
	if o.MAC == "" {
		o.MAC = DefaultMAC
	}
	if o.MaxSegmentSize == 0 {
		o.MaxSegmentSize = 1514
	}
	if o.MCFilters == 0 {
		o.MCFilters = 16
	}
	if o.NtbInMaxSize == 0 {
		o.NtbInMaxSize = 16384
	}
	if o.NtbOutMaxSize == 0 {
		o.NtbOutMaxSize = 16384
	}
	for _, p := range []*uint16{&o.InDivisor, &o.InAlignment, &o.OutDivisor, &o.OutAlignment} {
		if *p == 0 {
			*p = 4
		}
	}
	if o.MaxInDatagrams == 0 {
		o.MaxInDatagrams = 32
	}
	if o.FlushDelay == 0 {
		o.FlushDelay = 400 * time.Microsecond
	}
	if o.BitRate == 0 {
		o.BitRate = 1000000000
	}
}

// Stats are the model's device-side counters.
type Stats struct {
	RxFrames      uint64 // frames put into RX NTBs
	RxNTBs        uint64 // RX NTBs sent to the host
	RxFiltered    uint64 // wire frames the packet filter dropped
	RxNoLink      uint64 // wire frames dropped while the link was down
	RxInactive    uint64 // wire frames dropped: data alt 1 not selected
	RxTooLong     uint64 // wire frames longer than the datagram size (or shorter than a header)
	RxLost        uint64 // frames in NTBs the engine's IN queue refused
	RxCorrupted   uint64 // NTBs sent with an injected fault
	RxOversize    uint64 // NTBs sent longer than the host's input size (OversizeNext)
	TxNTBs        uint64 // host NTBs received
	TxBadNTBs     uint64 // host NTBs dropped for a violation
	TxFrames      uint64 // frames of good NTBs sent to the wire
	TxNoLink      uint64 // frames of good NTBs dropped while the link was down
	TxChained     uint64 // good host NTBs with more than one NDP
	Notifications uint64 // notifications queued on the interrupt endpoint
}

// Request is one control request the model saw (sim.Request).
type Request = sim.Request

// Model is a CDC-NCM device. Build it with New (or NewDevice), give it an
// Ethernet peer with Connect. It is safe for concurrent use.
type Model struct {
	opts    Options
	host    *sim.Host
	dev     *sim.Device
	device  []byte
	configs [][]byte
	strings map[uint8]string
	mac     [6]byte
	params  []byte

	// outMu serialises Out (the reader, frame and the wire send); it is
	// taken before mu, never while holding it.
	outMu sync.Mutex

	mu             sync.Mutex
	format         int
	inSize         int // the host's NTB input size
	inMaxDg        int // the host's wNtbInMaxDatagrams (0: none)
	dgSize         int // the maximum datagram size in effect
	filter         uint16
	mc             [][6]byte
	link           bool
	open           bool // data alt 1 selected
	detached       bool
	sim.RequestLog // Requests, ClearRequests, Stalled
	stats          Stats
	viol           [numViolations]uint64
	tx             *sim.End

	w        writer
	timer    *sim.FlushTimer // flushes the NTB being built FlushDelay after its first frame
	corrupt  []Corruption
	chainOne bool
	oversize int // OversizeNext: bytes past the input size for the next NTB
	// linkGate (GateLinkOnFilter) holds a link-up NETWORK_CONNECTION
	// until filterSince: a SET_ETHERNET_PACKET_FILTER came after the
	// link or the data path came up.
	linkGate, filterSince bool

	rd    reader              // under outMu; check runs under mu too
	seen  [numViolations]bool // under mu
	frame []byte              // under outMu: a TX datagram copied out of the NTB for the wire

	// Notifications: pending holds what is still to be sent, in order
	// (speed then connection), latest state only.
	pendSpeed, pendConn bool
	note                [16]byte
}

var (
	_ sim.Model        = (*Model)(nil)
	_ sim.Port         = (*Model)(nil)
	_ sim.Poller       = (*Model)(nil)
	_ sim.AltSetter    = (*Model)(nil)
	_ sim.ConfigSetter = (*Model)(nil)
	_ sim.Resetter     = (*Model)(nil)
	_ sim.Detacher     = (*Model)(nil)
	_ sim.OutLimiter   = (*Model)(nil)
)

// New returns a model with opts (zero fields take their defaults).
func New(opts Options) *Model {
	opts.defaults()
	m := &Model{opts: opts, link: !opts.LinkDown, filter: DefaultFilter, mc: make([][6]byte, 0, opts.MCFilters)}
	m.timer = sim.NewFlushTimer(&m.mu, m.flushLocked)
	if a, err := parseMAC(opts.MAC); err == nil {
		m.mac = a
	} else {
		m.mac = [6]byte{0x02, 0, 0, 0, 0, 4}
	}
	dev, cfg := descriptors(&m.opts)
	m.device, m.configs = dev, [][]byte{cfg}
	m.strings = map[uint8]string{strManufacturer: "dongle", strProduct: "NCM model", strSerial: "ncm-" + opts.MAC,
		strMAC: opts.MAC, strControl: "CDC NCM control", strData: "CDC NCM data"}
	m.params = m.ntbParameters()
	m.defaultsLocked()
	return m
}

// NewDevice plugs a new model into the sim engine (bus 1, address 2).
func NewDevice(opts Options) (*sim.Device, *Model) {
	m := New(opts)
	d := sim.New(m, m.Info())
	m.dev = d
	return d, m
}

// Info names the model for sim.New.
func (m *Model) Info() hw.Info {
	return hw.Info{Bus: 1, Address: 2, Vendor: Vendor, Product: Product, Speed: m.opts.Speed, Backend: "sim:ncm"}
}

// Options returns the options in effect (defaults filled in).
func (m *Model) Options() Options { return m.opts }

// MAC is the address the model announces (and filters directed frames on).
func (m *Model) MAC() [6]byte { return m.mac }

// Device is the sim.Device the model was plugged into by NewDevice (nil
// after New alone).
func (m *Model) Device() *sim.Device { return m.dev }

// defaultsLocked returns the negotiable settings to their power-on values.
func (m *Model) defaultsLocked() {
	m.format = FormatNTB16
	m.inSize = int(m.opts.NtbInMaxSize)
	m.inMaxDg = 0
	m.dgSize = int(m.opts.MaxSegmentSize)
	m.w.reset(&layouts[m.format])
	m.timer.Disarm()
}

// Descriptors implements sim.Model.
func (m *Model) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	return m.device, m.configs, m.strings
}

// Attach implements sim.Model.
func (m *Model) Attach(h *sim.Host) { m.host = h }

// OutLimit implements sim.OutLimiter: an NTB of dwNtbOutMaxSize bytes ends
// its transfer without a ZLP.
func (m *Model) OutLimit(ep uint8) int {
	if ep == EpOut {
		return int(m.opts.NtbOutMaxSize)
	}
	return 0
}

// Connect plugs the model's Ethernet side into e.
func (m *Model) Connect(e *sim.End) {
	m.mu.Lock()
	m.tx = e
	m.mu.Unlock()
	e.Attach(m)
}

// Control implements sim.Model: the NCM class requests on the control
// interface; everything else stalls.
func (m *Model) Control(s hw.Setup, data []byte) (int, error) {
	n, err := m.control(s, data)
	m.Log(s, data, n, err)
	return n, err
}

func (m *Model) control(s hw.Setup, data []byte) (int, error) {
	if s.RequestType&0x60 != hw.TypeClass || s.RequestType&0x1f != hw.RecipInterface || s.Index != CtrlIface {
		return 0, fmt.Errorf("ncm: %v: not a class request to the control interface: %w", s, hw.ErrStall)
	}
	le := binary.LittleEndian
	m.mu.Lock()
	defer m.mu.Unlock()
	in := s.In()
	switch {
	case in && s.Request == ReqGetNTBParameters:
		return copy(data, m.params), nil
	case in && s.Request == ReqGetNTBFormat && len(data) >= 2:
		le.PutUint16(data, uint16(m.format))
		return 2, nil
	case !in && s.Request == ReqSetNTBFormat && len(data) == 0:
		if s.Value > FormatNTB32 || (s.Value == FormatNTB32 && m.opts.NoNTB32) {
			return 0, fmt.Errorf("ncm: SET_NTB_FORMAT %d: unsupported: %w", s.Value, hw.ErrStall)
		}
		if int(s.Value) != m.format {
			m.format = int(s.Value)
			m.w.reset(&layouts[m.format])
			m.timer.Disarm()
		}
		return 0, nil
	case in && s.Request == ReqGetNTBInputSize:
		var b [8]byte
		le.PutUint32(b[:], uint32(m.inSize))
		le.PutUint16(b[4:], uint16(m.inMaxDg))
		n := 4
		if m.opts.InputSize8 {
			n = 8
		}
		return copy(data, b[:n]), nil
	case !in && s.Request == ReqSetNTBInputSize:
		want := 4
		if m.opts.InputSize8 {
			want = 8
		}
		if len(data) != want {
			return 0, fmt.Errorf("ncm: SET_NTB_INPUT_SIZE with %d bytes, want %d: %w", len(data), want, hw.ErrStall)
		}
		size := int(le.Uint32(data))
		if size < 2048 || size > int(m.opts.NtbInMaxSize) {
			return 0, fmt.Errorf("ncm: SET_NTB_INPUT_SIZE %d outside 2048..%d: %w", size, m.opts.NtbInMaxSize, hw.ErrStall)
		}
		m.inSize = size
		if want == 8 {
			m.inMaxDg = int(le.Uint16(data[4:]))
		}
		return 0, nil
	case in && s.Request == ReqGetMaxDatagramSize && len(data) >= 2:
		le.PutUint16(data, uint16(m.dgSize))
		return 2, nil
	case !in && s.Request == ReqSetMaxDatagramSize && len(data) == 2:
		v := int(le.Uint16(data))
		if v < 1514 || v > int(m.opts.MaxSegmentSize) {
			return 0, fmt.Errorf("ncm: SET_MAX_DATAGRAM_SIZE %d outside 1514..%d: %w", v, m.opts.MaxSegmentSize, hw.ErrStall)
		}
		m.dgSize = v
		return 0, nil
	case !in && s.Request == ReqSetPacketFilter && len(data) == 0:
		m.filter = s.Value
		m.filterSince = true
		if m.open {
			m.pumpNotifyLocked() // a link-up the gate held goes now
		}
		return 0, nil
	case !in && s.Request == ReqSetMulticastFilters:
		n := int(s.Value)
		if n > int(m.opts.MCFilters&0x7fff) || len(data) != 6*n {
			return 0, fmt.Errorf("ncm: SET_ETHERNET_MULTICAST_FILTERS of %d addresses (%d bytes), room for %d: %w", n, len(data), m.opts.MCFilters, hw.ErrStall)
		}
		m.mc = m.mc[:0]
		for i := 0; i < n; i++ {
			m.mc = append(m.mc, [6]byte(data[6*i:6*i+6]))
		}
		return 0, nil
	}
	return 0, fmt.Errorf("ncm: %v: unsupported request: %w", s, hw.ErrStall)
}

// Negotiated returns the NTB format, the host's NTB input size and
// wNtbInMaxDatagrams, and the maximum datagram size in effect.
func (m *Model) Negotiated() (format, inSize, inMaxDatagrams, datagramSize int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.format, m.inSize, m.inMaxDg, m.dgSize
}

// Filter returns the packet filter and multicast list in effect.
func (m *Model) Filter() (bits uint16, multicast [][6]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.filter, append([][6]byte(nil), m.mc...)
}

// Stats returns a snapshot of the counters.
func (m *Model) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Violations returns how many host NTBs showed each violation (only those
// seen), by name.
func (m *Model) Violations() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]uint64{}
	for i, n := range m.viol {
		if n > 0 {
			out[Violation(i).String()] = n
		}
	}
	return out
}

// ViolationCount is how many host NTBs showed v.
func (m *Model) ViolationCount(v Violation) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v < 0 || v >= numViolations {
		return 0
	}
	return m.viol[v]
}

// Out implements sim.Model: one bulk OUT transfer is one host NTB. The
// NTB is checked and counted under mu; its frames go to the wire after mu
// is released, because a wire delivers synchronously and a loopback plug
// brings each frame straight back into Receive, which takes mu. outMu
// keeps the reader's frame list and the copy buffer to one Out at a time.
func (m *Model) Out(ep uint8, data []byte) {
	if ep != EpOut {
		return
	}
	m.outMu.Lock()
	defer m.outMu.Unlock()
	m.mu.Lock()
	m.stats.TxNTBs++
	lim := limits{format: m.format, outMax: int(m.opts.NtbOutMaxSize), div: int(m.opts.OutDivisor),
		rem: int(m.opts.OutRemainder), ndpAlign: int(m.opts.OutAlignment), maxDgrs: int(m.opts.OutMaxDatagrams),
		maxDatagram: m.dgSize}
	m.seen = [numViolations]bool{}
	if !m.rd.check(data, &lim, &m.seen) {
		m.stats.TxBadNTBs++
		for i, s := range m.seen {
			if s {
				m.viol[i]++
			}
		}
		m.mu.Unlock()
		return
	}
	if len(m.rd.ndps) > 1 {
		m.stats.TxChained++
	}
	if !m.link {
		m.stats.TxNoLink += uint64(len(m.rd.frames))
		m.mu.Unlock()
		return
	}
	m.stats.TxFrames += uint64(len(m.rd.frames))
	e := m.tx
	m.mu.Unlock()
	if e == nil {
		return
	}
	for _, f := range m.rd.frames {
		// The frame is copied so that a port keeping it never aliases
		// the engine's buffer.
		m.frame = append(m.frame[:0], data[f.lo:f.hi]...)
		e.Send(m.frame)
	}
}

// Receive implements sim.Port: a frame from the wire, for the host.
func (m *Model) Receive(frame []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.detached:
		return
	case !m.link:
		m.stats.RxNoLink++
		return
	case !m.open:
		m.stats.RxInactive++
		return
	case len(frame) < 14 || len(frame) > m.dgSize:
		m.stats.RxTooLong++
		return
	case !m.passLocked(frame):
		m.stats.RxFiltered++
		return
	}
	l := &layouts[m.format]
	div, al := int(m.opts.InDivisor), int(m.opts.InAlignment)
	rem := startRemainder(div, int(m.opts.InRemainder))
	maxDg := m.opts.MaxInDatagrams
	if m.inMaxDg > 0 {
		maxDg = m.inMaxDg
	}
	if m.w.count() > 0 && m.w.sizeWith(l, len(frame), div, rem, al) > m.inSize {
		m.flushLocked()
	}
	m.w.add(frame, div, rem)
	m.stats.RxFrames++
	if m.w.count() >= maxDg || m.w.sizeWith(l, 0, div, rem, al) >= m.inSize {
		m.flushLocked()
		return
	}
	if m.w.count() == 1 && !m.opts.ManualFlush && !m.timer.Armed() {
		m.timer.Arm(m.opts.FlushDelay)
	}
}

// Flush sends the partly filled RX NTB now.
func (m *Model) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushLocked()
}

// flushLocked sends the NTB being built (if any) and starts the next.
func (m *Model) flushLocked() {
	m.timer.Disarm()
	l := &layouts[m.format]
	n := m.w.count()
	if n == 0 {
		return
	}
	var c Corruption
	if len(m.corrupt) > 0 {
		c, m.corrupt = m.corrupt[0], m.corrupt[1:]
	}
	chain := m.chainOne && n >= 2
	if chain {
		m.chainOne = false
	}
	ntb := m.w.finish(l, int(m.opts.InAlignment), chain)
	if c != 0 {
		ntb = c.apply(ntb, l, &m.w)
		m.stats.RxCorrupted++
	}
	over := m.oversize > 0
	if over {
		ntb = oversize(ntb, l, m.inSize+m.oversize)
		m.oversize = 0
		m.stats.RxOversize++
	}
	var err error
	if len(ntb) >= m.inSize && !over {
		err = m.host.SendIn(EpIn, ntb) // fills the host's transfer: no ZLP
	} else {
		// An oversize NTB's tail is a transfer of its own: a ZLP ends
		// it when it is a whole number of packets.
		err = m.host.SendInZLP(EpIn, ntb)
	}
	if err != nil {
		m.stats.RxLost += uint64(n)
	} else {
		m.stats.RxNTBs++
	}
	m.w.buf = ntb[:0] // keep a grown buffer
	m.w.reset(l)
}

// passLocked applies the packet filter to a frame's destination.
func (m *Model) passLocked(frame []byte) bool {
	f := m.filter
	if f&FilterPromiscuous != 0 {
		return true
	}
	dst := [6]byte(frame[:6])
	switch {
	case dst[0]&1 == 0:
		return f&FilterDirected != 0 && dst == m.mac
	case dst == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
		return f&FilterBroadcast != 0
	case f&FilterAllMulticast != 0:
		return true
	case f&FilterMulticast != 0:
		for _, a := range m.mc {
			if a == dst {
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

// SetLink plugs (true) or pulls the cable. A down link drops frames both
// ways; a change is notified while data alt 1 is selected.
func (m *Model) SetLink(up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.link == up {
		return
	}
	m.link = up
	if up {
		m.filterSince = false
	}
	if !up {
		m.w.reset(&layouts[m.format]) // frames in the NTB being built are lost with the link
		m.timer.Disarm()
	}
	if m.open {
		m.notifyLocked()
	}
}

// SetAlt implements sim.AltSetter: data alt 1 opens the data path and
// notifies the link; alt 0 closes it and returns the NTB settings to their
// defaults.
func (m *Model) SetAlt(iface, alt int) {
	if iface != DataIface {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open = alt == DataAltOn
	if !m.open {
		m.defaultsLocked()
		return
	}
	m.filterSince = false
	m.notifyLocked()
}

// SetConfiguration implements sim.ConfigSetter: a new configuration
// closes the data path and resets the filter and the NTB settings.
func (m *Model) SetConfiguration(int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open, m.filter, m.mc = false, DefaultFilter, m.mc[:0]
	m.pendSpeed, m.pendConn = false, false
	m.defaultsLocked()
}

// Reset implements sim.Resetter: as a new configuration.
func (m *Model) Reset() { m.SetConfiguration(0) }

// Detach implements sim.Detacher: stops the timer for good.
func (m *Model) Detach() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.detached = true
	m.timer.Close()
}

// notifyLocked schedules CONNECTION_SPEED_CHANGE then NETWORK_CONNECTION
// with the current link state (replacing any not yet sent).
func (m *Model) notifyLocked() {
	m.pendSpeed, m.pendConn = true, true
	m.pumpNotifyLocked()
}

// pumpNotifyLocked queues the next pending notification if the host has
// taken the previous one (f_ncm keeps one request in flight).
func (m *Model) pumpNotifyLocked() {
	if m.host == nil || m.host.Queued(EpStatus) > 0 || !m.host.Active(EpStatus) {
		return
	}
	le := binary.LittleEndian
	switch {
	case m.pendSpeed:
		s := m.note[:16]
		s[0], s[1] = 0xa1, NotifySpeedChange
		le.PutUint16(s[2:], 0)
		le.PutUint16(s[4:], CtrlIface)
		le.PutUint16(s[6:], 8)
		le.PutUint32(s[8:], m.opts.BitRate) // f_ncm reports its rate whatever the link
		le.PutUint32(s[12:], m.opts.BitRate)
		if m.host.SendIn(EpStatus, s) == nil {
			m.pendSpeed = false
			m.stats.Notifications++
		}
	case m.pendConn && m.link && m.linkGate && !m.filterSince:
		// held: this device shows no link until the host sets a filter
	case m.pendConn:
		n := m.note[:8]
		n[0], n[1] = 0xa1, NotifyNetworkConnection
		var v uint16
		if m.link {
			v = 1
		}
		le.PutUint16(n[2:], v)
		le.PutUint16(n[4:], CtrlIface)
		le.PutUint16(n[6:], 0)
		if m.host.SendIn(EpStatus, n) == nil {
			m.pendConn = false
			m.stats.Notifications++
		}
	}
}

// Poll implements sim.Poller: the host polls the interrupt endpoint and
// nothing is queued: the next pending notification goes.
func (m *Model) Poll(ep uint8) {
	if ep != EpStatus {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pumpNotifyLocked()
}
