package sim

import (
	"dongle/hw"
)

// Model is a device's personality: its descriptors, the requests the engine
// does not answer itself, and what it does with OUT data.
type Model interface {
	// Descriptors returns the device descriptor bytes, the full
	// configuration descriptor sets (index 0..n-1) and the string table
	// (index → text; index 0, the language list, is the engine's). Called
	// once, by New.
	Descriptors() (device []byte, configs [][]byte, strings map[uint8]string)
	// Control handles every request the engine does not (class and vendor
	// requests, and standard ones it does not know). For IN it writes into
	// data and returns the byte count; for OUT data holds what the host
	// sent. Returning hw.ErrStall (or any error) stalls the request. Called
	// with the engine's lock NOT held.
	Control(setup hw.Setup, data []byte) (n int, err error)
	// Out receives one completed device-side bulk or interrupt OUT transfer
	// (packets up to a short packet or ZLP). A lone ZLP arrives as an empty
	// slice. data is only valid during the call.
	Out(ep uint8, data []byte)
	// Attach is called once, by New, with the handle the model talks back
	// through.
	Attach(h *Host)
}

// Optional hooks: a Model that implements one of these hears about the
// standard requests the engine handled. All are called with no engine lock
// held.
type (
	// ConfigSetter hears SET_CONFIGURATION (value 0: unconfigured).
	ConfigSetter interface{ SetConfiguration(value int) }
	// AltSetter hears SET_INTERFACE.
	AltSetter interface{ SetAlt(iface, alt int) }
	// Resetter hears a port reset.
	Resetter interface{ Reset() }
	// Poller hears a host IN transfer submitted on an endpoint with no
	// device data queued: the moment a real device sees an IN token it has
	// nothing for and NAKs. Models that answer polls (QEMU's status
	// endpoint) use it.
	Poller interface{ Poll(ep uint8) }
	// Preferrer names the configuration the host OS selects at
	// enumeration (Linux avoids RNDIS and vendor configurations); without
	// it the first configuration is active when New returns.
	Preferrer interface{ PreferredConfig() int }
	// Detacher hears that the device was closed or unplugged, so the model
	// can stop its timers.
	Detacher interface{ Detach() }
	// OutLimiter gives a bulk OUT endpoint a device-side transfer length:
	// the packets of a transfer that reach OutLimit(ep) bytes end it there,
	// without a short packet or ZLP, as a device that knows the largest
	// transfer its protocol allows does (CDC-NCM's dwNtbOutMaxSize: an NTB
	// of exactly that size needs no ZLP). A host transfer longer than
	// that is several device-side transfers when the limit is a packet
	// multiple (NTBs sent back to back in one transfer); packets after the
	// last limit wait for a short packet, a ZLP or the limit. 0: no limit.
	// Asked once, by New.
	OutLimiter interface{ OutLimit(ep uint8) int }
	// OutStreamer is a model whose bulk and interrupt OUT endpoints read
	// the byte stream as its packets arrive, as a chip's descriptor
	// parser does, instead of whole device-side transfers (RTL8153: the
	// host sends no ZLP after an aggregate that fills whole packets and
	// expects its frames sent at once). The engine calls StreamOut, never
	// Out, for every host transfer: data is what the device holds of the
	// current device-side transfer (the bytes the model left last time,
	// then the new packets), end says a short packet or ZLP ended it. The
	// model returns how many leading bytes it is done with; the engine
	// keeps the rest for the next call, and drops it once end was true.
	// data is only valid during the call. A ZLP with nothing held is an
	// empty call with end set. A port reset or a configuration or
	// alternate-setting change drops what is held without a call, as it
	// empties a FIFO; so does an overrun of MaxOutAssembly (counted in
	// OutOverruns). It applies to every OUT endpoint of the model, and
	// excludes OutLimiter (New panics on a model that is both). A count
	// outside 0..len(data) is a programming error (panic).
	OutStreamer interface {
		StreamOut(ep uint8, data []byte, end bool) (took int)
	}
)

// Host is a model's handle on the engine: the device side of the bus.
type Host struct {
	d *Device
}

// SendIn is one device-side IN write of data on ep: ⌊len/M⌋ full packets and
// a short packet, with no ZLP when len is a non-zero multiple of M (so the
// host keeps collecting into the same transfer). An empty data is a ZLP.
// data is copied. It fails (and the write is dropped, as a full FIFO drops
// it) if ep is not an IN endpoint of the active alternate setting, if
// InQueueDepth writes are already waiting for the host, or if the device is
// unplugged.
func (h *Host) SendIn(ep uint8, data []byte) error { return h.d.sendIn(ep, data, false) }

// SendInZLP is SendIn followed by a ZLP when len(data) is a multiple of the
// endpoint's wMaxPacketSize (what a conforming CDC device does).
func (h *Host) SendInZLP(ep uint8, data []byte) error { return h.d.sendIn(ep, data, true) }

// Speed is the speed the device enumerated at.
func (h *Host) Speed() hw.Speed { return h.d.info.Speed }

// MaxPacket is ep's wMaxPacketSize as the device uses it (0 if ep is not in
// any configuration).
func (h *Host) MaxPacket(ep uint8) int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if e := h.d.eps[epIndex(ep)]; e != nil {
		return e.mps
	}
	return 0
}

// Configuration is the active bConfigurationValue (0: unconfigured).
func (h *Host) Configuration() int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	return h.d.config
}

// Alt is the current alternate setting of iface.
func (h *Host) Alt(iface int) int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if iface < 0 || iface >= maxIfaces {
		return 0
	}
	return int(h.d.alt[iface])
}

// Active reports whether ep belongs to the active configuration's current
// alternate setting of its interface (a device only moves data on those).
func (h *Host) Active(ep uint8) bool {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	e := h.d.eps[epIndex(ep)]
	return e != nil && e.active
}

// Queued is the number of device writes on ep waiting for host IN transfers.
func (h *Host) Queued(ep uint8) int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if e := h.d.eps[epIndex(ep)]; e != nil {
		return e.inCount
	}
	return 0
}

// Waiting is the number of host IN transfers on ep waiting for data.
func (h *Host) Waiting(ep uint8) int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if e := h.d.eps[epIndex(ep)]; e != nil {
		return e.count - e.ndone
	}
	return 0
}

// Stats is the engine's counters for ep (see Device.Stats).
func (h *Host) Stats(ep uint8) EndpointStats { return h.d.Stats(ep) }

// Static is a Model made of fixed descriptors and optional functions, for
// tests and for Fake. Nil functions stall every request / drop OUT data.
type Static struct {
	Device  []byte
	Configs [][]byte
	Strings map[uint8]string
	// ControlFunc answers non-standard requests; nil stalls them.
	ControlFunc func(setup hw.Setup, data []byte) (int, error)
	// OutFunc receives OUT transfers; nil drops them.
	OutFunc func(ep uint8, data []byte)

	host *Host
}

var _ Model = (*Static)(nil)

// Descriptors implements Model.
func (s *Static) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	return s.Device, s.Configs, s.Strings
}

// Control implements Model.
func (s *Static) Control(setup hw.Setup, data []byte) (int, error) {
	if s.ControlFunc == nil {
		return 0, hw.ErrStall
	}
	return s.ControlFunc(setup, data)
}

// Out implements Model.
func (s *Static) Out(ep uint8, data []byte) {
	if s.OutFunc != nil {
		s.OutFunc(ep, data)
	}
}

// Attach implements Model.
func (s *Static) Attach(h *Host) { s.host = h }

// Host is the handle Attach received (nil before New).
func (s *Static) Host() *Host { return s.host }
