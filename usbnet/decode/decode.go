// Package decode reads a capture of a USB network adapter (the kernel's
// usbmon, Wireshark, QEMU's pcap= writer, dongle's recorder, or USBPcap on
// Windows) and finds in it what a person debugging the adapter wants: the
// Ethernet frames carried by the bulk transfers, the control requests by
// name, link events from the interrupt endpoint, and everything that looks
// wrong.
//
//	pass 1: records ──► devices ──► descriptors, control requests, SET_CONFIGURATION / SET_INTERFACE
//	        choose the device (Options.Device, else the one adapter) and, per configuration state, what decodes it
//	pass 2: the device's records ──┬─ bulk IN ──reassemble──► transfers ──RxUnframer──► RX frames
//	                               ├─ bulk OUT ─reassemble──► transfers ──Unpad, UnframeTx──► TX frames
//	                               └─ interrupt IN ──► link events
//
// # One device of a busy bus
//
// usbmon captures a whole bus: root hubs, keyboards, other adapters.
// Records are grouped by bus and address; the device decoded is the one
// Options.Device names, else the one whose descriptors a driver (or RNDIS
// or CDC NCM) matches. With several, decode fails with ErrSeveralDevices
// listing them; every other device's records are ignored and counted
// (Stats.Ignored), so that a root hub's interrupt endpoint 0x81 is never a
// gadget's bulk IN 0x81, nor a hub's class request a CDC one. Address 0 is
// enumeration's, never a device. An adapter that re-enumerates at a new
// address is one adapter, not several: it is followed across its lives
// (lives.go, Trace.Lives).
//
// # What is wrong
//
// Pass 2 streams every record of the adapter, and what it decodes of them
// (transfers and their frames, link changes, the adapter's lives), as
// usbnet.Events to the failure rules (usbnet/rules, and the driver's own
// through usbnet.RuleSource) and to a timeline: Trace.Findings say what
// is wrong, most severe first, with the records that show it, and
// Trace.Timeline what happened per interval. Both keep bounded state.
//
// # The configuration the host selected
//
// The bulk data is the active configuration's. The trace is cut into spans
// at each successful SET_CONFIGURATION and SET_INTERFACE (Trace.Selections);
// each span decodes with what usbnet.Match binds in that configuration
// only (before any SET_CONFIGURATION the trace shows: Match's own order,
// the configuration usbcore would pick). RNDIS, which no minidriver binds,
// decodes with decode's own offline unframer (rndis.go); CDC NCM is named
// and its transfers counted as undecoded until a minidriver decodes it.
// Records on endpoints the active alternate settings do not have, or while
// unconfigured, are counted (Stats.Unconfigured), not decoded.
//
// # Streaming and damage
//
// ReadFile reads the file twice as a stream (usbmon.Reader): memory is
// what is in flight, the control requests kept (at most MaxListed), and
// the configuration states, not the file's size. With Options.Emit the
// frames go to the caller as they are found. The reader is tolerant:
// a damaged record is skipped, reported in Trace.Damage with its number
// (tshark's) and byte offset, and the reader resynchronises (see
// usbmon.Reader); only a file that is not a capture fails.
//
// # Transfers, not records
//
// The kernel's usbmon logs one record per URB, which is one transfer. QEMU
// logs one record per USBPacket, so a transfer that ends on a packet
// boundary shows up as its data followed by a zero-length record. Decode
// reassembles QEMU's records per endpoint until a short packet (a length
// that is not a multiple of wMaxPacketSize, a ZLP included), which is where
// the device-side transfer ended on the wire.
//
// # usbnet's pad byte
//
// A host whose driver neither pads itself nor sends ZLPs appends one 0x00
// byte to a transfer whose length is a multiple of wMaxPacketSize (Linux's
// usbnet, dongle's zlpRule). usbnet.Unpad removes it before UnframeTx,
// also where the capture cut the transfer and only its length shows the
// pad, and Stats.TxPads counts it. Whether the host pads is read from the
// trace (a host that sends ZLPs sends non-empty multiples of
// wMaxPacketSize); for raw IPv4/IPv6 frames the IP length decides.
//
// # Whose framing code
//
// Decode knows no chip. What it needs of the protocol it asks the
// minidriver that Probe would bind (usbnet.Match, over the catalog's
// drivers), through the optional interfaces of usbnet/offline.go: its
// Unframer (the inverse of TxFixup, and RxFixup without a bound device),
// StatusDescriber, RequestNamer, MACLocator and EndpointLocator. A driver
// that implements none of them still decodes: descriptors, standard
// requests, endpoints from the configuration; each thing it cannot do is
// one anomaly line ("driver X offers no unframing: ..."), never silence.
//
// # Truncation is not a framing error
//
// QEMU keeps only 256 bytes of bulk data; a snaplen cuts records too. A
// frame the capture cut is reported as truncated (and written to a pcap with
// CaptureLength < Length, like any snaplen-cut capture), never as a framing
// error: the device did nothing wrong.
package decode

import (
	"fmt"
	"net"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/rules"
)

// Options tune Decode.
type Options struct {
	// Driver forces the protocol: a name or alias of Drivers ("ecm",
	// "asix", ...). Empty: chosen from the descriptors in the trace, as
	// Probe would (usbnet.Match), per configuration the host selected.
	Driver string
	// Drivers are the candidates (nil: catalog.ForModels()).
	Drivers []usbnet.Minidriver
	// Device picks the device by bus and address ("BUS.ADDR", see
	// ParseDevice). Empty: the one network adapter the trace holds.
	Device string
	// Emit, when set, receives each frame as it is found (data valid
	// during the call only) instead of Trace.Frames keeping it: memory
	// then stays bounded whatever the trace's length. An error ends the
	// decode with it.
	Emit func(f *Frame) error
	// Progress, when set, is called every ProgressEvery records of each
	// pass with the pass (1 or 2) and the bytes of the file read so far
	// (ReadFile only).
	Progress func(pass int, bytes int64)
}

// ProgressEvery is how many records pass between Progress calls.
const ProgressEvery = 1 << 16

// MaxListed bounds the anomalies, framing errors and control requests a
// Trace keeps (all are counted in Stats): a damaged or endless capture
// must not turn into an endless report.
const MaxListed = 1000

// Dir is a frame's direction.
type Dir uint8

const (
	RX Dir = iota // device to host (bulk IN)
	TX            // host to device (bulk OUT)
)

func (d Dir) String() string {
	if d == TX {
		return "TX"
	}
	return "RX"
}

// Frame is one Ethernet frame found in the trace.
type Frame struct {
	Dir    Dir
	Record int // index of the record holding the end of its transfer (tshark frame Record+1)
	Time   time.Time
	Data   []byte // the captured bytes
	Length int    // the frame's real length: > len(Data) when the capture cut it
}

// Truncated reports whether the capture cut the frame.
func (f *Frame) Truncated() bool { return len(f.Data) < f.Length }

// Control is one control request.
type Control struct {
	Record  int // index of its submission (or completion if the submission is missing)
	Time    time.Time
	Setup   hw.Setup
	Name    string // RequestName
	Status  int32  // usbmon status of the completion (0: success)
	Pending bool   // no completion in the trace
	Data    []byte // OUT data, or IN data returned
}

// Stalled reports whether the device refused the request.
func (c *Control) Stalled() bool { return usbmon.ErrnoOf(c.Status) == hw.ErrStall }

// Link is a link state change reported on the interrupt endpoint.
type Link struct {
	Record int
	Time   time.Time
	Up     bool
	Mbps   int // 0: not reported
}

// FrameError is a framing error in one bulk transfer.
type FrameError struct {
	Dir    Dir
	Record int
	Err    error
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("%s transfer ending at record %d: %v", e.Dir, e.Record, e.Err)
}

func (e *FrameError) Unwrap() error { return e.Err }

// Stats summarise a decode.
type Stats struct {
	Records, URBs      int
	Controls, Stalls   int
	RxTransfers        int // bulk IN transfers after reassembly
	TxTransfers        int
	RxFrames, TxFrames int
	RxBytes, TxBytes   int // frame bytes (real lengths)
	RxTruncated        int // frames the capture cut (still written)
	TxTruncated        int
	RxErrors, TxErrors int // framing errors
	LostTransfers      int // transfers cut so early no frame in them can be found (aggregated formats)
	ZLPs               int // zero-length bulk packets
	Pending            int // URBs still in flight when the capture ended
	Failed             int // bulk/interrupt URBs completed with an error status
	// RxDropped: bulk IN URBs that completed with an error status yet
	// carried data; none of it is decoded, as Linux's usbnet rx_complete
	// drops the buffer of any URB whose status is not 0. RxOverErrors
	// are those of -EOVERFLOW (babble), usbnet's rx_over_errors.
	RxDropped, RxOverErrors int
	Notifications           int // interrupt transfers with data
	TxPads                  int // usbnet's one-byte pads removed from bulk OUT transfers (cut ones included)
	Ignored                 int // records of other devices on the bus
	Damaged                 int // records the file holds damaged (skipped; see Trace.Damage)
	Unconfigured            int // bulk/interrupt records while no configuration (or no endpoint of the active alternates) carried them
	Undecoded               int // bulk transfers of a function dongle recognises but does not decode (CDC NCM)
	MoreAnomalies           int // anomalies beyond MaxListed, not kept
	MoreSelections          int // configuration selections beyond MaxListed, not kept in Trace.Selections
}

// Trace is everything Decode found.
type Trace struct {
	LinkType   usbmon.LinkType
	QEMU       bool   // written by QEMU's pcap= (one record per USB packet)
	Driver     string // minidriver name
	DriverFrom string // "descriptors" or "option"
	ID         usbnet.ID

	Device  *hw.DeviceDescriptor // nil if the trace holds no GET_DESCRIPTOR(device)
	Configs []*hw.Config         // by descriptor index
	Config  *hw.Config           // the configuration the driver matched in
	Strings map[uint8]string
	MAC     net.HardwareAddr // as the driver would read it, if the trace shows it
	Speed   hw.Speed         // inferred from the bulk wMaxPacketSize

	In, Out, Status hw.EndpointDesc // the data and status endpoints

	Frames    []Frame // in record order (empty when Options.Emit took them)
	Controls  []Control
	Links     []Link
	Errors    []*FrameError
	Anomalies []string
	Stats     Stats

	// Bus and Address are the device decoded; Devices every device the
	// trace holds, with what each is.
	Bus     uint16
	Address uint8
	Devices []DeviceInfo
	// Selections are the configurations (and alternate settings) the host
	// selected, in trace order, with what decoded each; the first covers
	// the trace before any SET_CONFIGURATION it shows.
	Selections []Selection
	// Damage names each damaged record of the file (record number, byte
	// offset, cause), the first MaxListed of Stats.Damaged.
	Damage []string
	// Lives are the adapter's lives: one per address it enumerated at
	// (see lives.go), in trace order.
	Lives []Life
	// Findings are the failure rules (usbnet/rules, and the driver's own)
	// that fired, most severe first; Timeline the trace's activity per
	// interval.
	Findings []usbnet.Finding
	Timeline *rules.Timeline
	Rules    int // how many rules ran

	drv     usbnet.Minidriver
	intf    uint8           // the interface the driver matched on
	capture *usbnet.Capture // what the driver reads of the trace

	emit      func(*Frame) error
	emitErr   error
	scratch   Frame           // the frame handed to emit (no allocation per frame)
	inX, outX reasm           // the transfers being put together
	cur       *reasm          // the transfer being unframed (for emitRX/emitTX)
	emitRX    usbnet.EmitFunc // t.frame for RX, made once
	emitTX    usbnet.EmitFunc // t.frame for TX, made once
	txCut     bool            // a TX frame of the transfer being unframed was cut
	noUnframe [2]int          // transfers a driver without an Unframer could not decode, by Dir
	noStatus  int

	lifeKeys []devKey      // the adapter's lives, in order
	engine   *rules.Engine // the failure rules and timeline, fed in pass 2
	ev       usbnet.Event  // the event handed to engine (no allocation per record)
	frames   [2]int        // frames found in the transfer being unframed, by Dir
	// lastLink is the link state last reported in the current life
	// (linkKnown: one was): Links lists changes only, and is capped.
	lastLink  Link
	linkKnown bool
}

// DeviceInfo is one device of the trace.
type DeviceInfo struct {
	Bus      uint16
	Address  uint8
	Vendor   uint16 // 0 without a device descriptor in the trace
	Product  uint16
	Class    uint8
	Records  int
	Function string // the driver that matches, "RNDIS", "hub", or "" (unknown)
	Selected bool
}

func (d DeviceInfo) String() string {
	s := fmt.Sprintf("%d.%d", d.Bus, d.Address)
	if d.Vendor != 0 || d.Product != 0 {
		s += fmt.Sprintf(" %04x:%04x", d.Vendor, d.Product)
	} else {
		s += " (no device descriptor)"
	}
	if d.Function != "" {
		s += " " + d.Function
	}
	return s + fmt.Sprintf(", %d records", d.Records)
}

// Selection is one configuration state of the device: from Record on,
// configuration Config (0: unconfigured; -1: the trace shows no
// SET_CONFIGURATION before this point) with the alternate settings Alts
// ("interface 1 alt 1"), decoded as Function (a driver's name, "RNDIS",
// or "" for nothing that decodes).
type Selection struct {
	Record   int
	Config   int
	Alts     string
	Function string
}

// String reads "from record 120: configuration 2: RNDIS" (record numbers
// as tshark's frame numbers).
func (s Selection) String() string {
	cfg := fmt.Sprintf("configuration %d", s.Config)
	switch s.Config {
	case -1:
		cfg = "before any SET_CONFIGURATION"
	case 0:
		cfg = "unconfigured"
	}
	line := fmt.Sprintf("from record %d: %s", s.Record+1, cfg)
	if s.Alts != "" {
		line += ", " + s.Alts
	}
	if s.Function == "" {
		return line + ": nothing decodes it"
	}
	return line + ": " + s.Function
}
