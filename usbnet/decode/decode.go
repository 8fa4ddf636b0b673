// Package decode reads a usbmon capture of a USB network adapter (the
// kernel's usbmon, Wireshark, QEMU's pcap= writer, or dongle's recorder) and
// finds in it what a person debugging the adapter wants: the Ethernet frames
// carried by the bulk transfers, the control requests by name, link events
// from the interrupt endpoint, and everything that looks wrong.
//
//	records ──Pair──► URBs ──┬─ control ──► descriptors, names, MAC, anomalies
//	                         ├─ bulk IN ──reassemble──► transfers ──RxFixup──► RX frames
//	                         ├─ bulk OUT ─reassemble──► transfers ──deframe──► TX frames
//	                         └─ interrupt IN ──► link events
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
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// Options tune Decode.
type Options struct {
	// Driver forces the protocol: a name or alias of Drivers ("ecm",
	// "asix", ...). Empty: chosen from the descriptors in the trace, as
	// Probe would (usbnet.Match).
	Driver string
	// Drivers are the candidates (nil: catalog.ForModels()).
	Drivers []usbnet.Minidriver
}

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
	Notifications      int // interrupt transfers with data
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

	Frames    []Frame // in record order
	Controls  []Control
	Links     []Link
	Errors    []*FrameError
	Anomalies []string
	Stats     Stats

	drv     usbnet.Minidriver
	intf    uint8           // the interface the driver matched on
	capture *usbnet.Capture // what the driver reads of the trace
}

// ReadFile reads and decodes a capture file. Errors name the file, as
// usbmon.ReadFile's all do (an *fs.PathError, the file name before a bad
// header, a *usbmon.RecordError with the record index and byte offset).
func ReadFile(path string, opts Options) (*Trace, error) {
	recs, lt, err := usbmon.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(recs, lt, opts)
}

// Decode decodes records already read.
func Decode(recs []usbmon.Record, lt usbmon.LinkType, opts Options) (*Trace, error) {
	t := &Trace{LinkType: lt, Strings: map[uint8]string{}}
	t.Stats.Records = len(recs)
	for i := range recs {
		if recs[i].FlagData == usbmon.FlagDataQEMU {
			t.QEMU = true
			break
		}
	}
	urbs := usbmon.Pair(recs)
	t.Stats.URBs = len(urbs)
	t.controls(urbs)
	if err := t.pickDriver(opts); err != nil {
		return nil, err
	}
	t.endpoints(urbs)
	t.capture = t.captureView()
	t.macAddress()
	t.data(urbs)
	sort.SliceStable(t.Frames, func(i, j int) bool { return t.Frames[i].Record < t.Frames[j].Record })
	return t, nil
}

// name names the device in errors: "trace device 0b95:1790".
func (t *Trace) name() string {
	return fmt.Sprintf("trace device %04x:%04x", t.Device.Vendor, t.Device.Product)
}

func (t *Trace) anomaly(format string, args ...any) {
	t.Anomalies = append(t.Anomalies, fmt.Sprintf(format, args...))
}

// controls decodes every control URB, collecting descriptors on the way.
func (t *Trace) controls(urbs []usbmon.URB) {
	cfgRaw := map[uint8][]byte{}
	for i := range urbs {
		u := &urbs[i]
		if u.XferType() != usbmon.XferControl {
			continue
		}
		s, ok := u.Setup()
		if !ok {
			continue
		}
		c := Control{Setup: s, Pending: u.Complete == nil, Status: u.Status(), Data: u.Data()}
		if u.Submit != nil {
			c.Record, c.Time = u.SubmitIndex, u.Submit.Time()
		} else {
			c.Record, c.Time = u.CompleteIndex, u.Complete.Time()
		}
		t.Controls = append(t.Controls, c)
		t.Stats.Controls++
		if c.Stalled() {
			t.Stats.Stalls++
		}
		if c.Pending || c.Status != 0 || s.Request != hw.ReqGetDescriptor || s.RequestType != hw.DirIn {
			continue
		}
		typ, idx := uint8(s.Value>>8), uint8(s.Value)
		switch typ {
		case hw.DescDevice:
			if dd, err := hw.ParseDeviceDescriptor(c.Data); err == nil {
				t.Device = dd
			}
		case hw.DescConfig:
			if len(c.Data) > len(cfgRaw[idx]) {
				cfgRaw[idx] = append([]byte(nil), c.Data...)
			}
		case hw.DescString:
			if idx != 0 {
				if str, err := hw.ParseString(c.Data); err == nil {
					t.Strings[idx] = str
				}
			}
		}
	}
	idxs := make([]int, 0, len(cfgRaw))
	for i := range cfgRaw {
		idxs = append(idxs, int(i))
	}
	sort.Ints(idxs)
	for _, i := range idxs {
		raw := cfgRaw[uint8(i)]
		if len(raw) >= 4 && int(binary.LittleEndian.Uint16(raw[2:])) > len(raw) {
			continue // only the 9-byte header was read at this index
		}
		c, err := hw.ParseConfig(raw)
		if err != nil {
			t.anomaly("configuration descriptor %d: %v", i, err)
			continue
		}
		t.Configs = append(t.Configs, c)
	}
}

// activeConfig is the configuration the device was in, as far as the trace
// tells: the last SET_CONFIGURATION that succeeded, else the first
// configuration read (the one usbcore picks).
func (t *Trace) activeConfig() int {
	active := 0
	for _, c := range t.Controls {
		s := c.Setup
		if s.Request == hw.ReqSetConfiguration && s.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipDevice && !c.Pending && c.Status == 0 {
			active = int(s.Value)
		}
	}
	if active == 0 && len(t.Configs) > 0 {
		active = int(t.Configs[0].Value)
	}
	return active
}

// pickDriver chooses the driver, with Probe's matching, and names the
// control requests with it.
func (t *Trace) pickDriver(opts Options) error {
	cands := opts.Drivers
	if cands == nil {
		cands = catalog.ForModels()
	}
	if opts.Driver != "" {
		d, err := pickByName(opts.Driver, cands)
		if err != nil {
			return err
		}
		t.drv, t.Driver, t.DriverFrom = d, d.Name(), "option"
		if t.Device != nil {
			if b, err := usbnet.Match(t.name(), t.Device, t.Configs, t.activeConfig(), []usbnet.Minidriver{d}); err == nil {
				t.ID, t.Config, t.intf = b.ID, b.Config, b.Intf.Number
			}
		}
		if t.Config == nil && len(t.Configs) > 0 {
			t.Config = t.Configs[0]
		}
	} else {
		if t.Device == nil {
			return fmt.Errorf("%w to pick a driver from: pass --driver", ErrNoDescriptors)
		}
		b, err := usbnet.Match(t.name(), t.Device, t.Configs, t.activeConfig(), cands)
		if err != nil {
			return err
		}
		t.drv, t.Driver, t.DriverFrom, t.ID, t.Config, t.intf = b.Driver, b.Driver.Name(), "descriptors", b.ID, b.Config, b.Intf.Number
	}
	stalled := map[string][]string{}
	var order []string
	for i := range t.Controls {
		c := &t.Controls[i]
		c.Name = RequestName(c.Setup, t.drv)
		if c.Stalled() {
			if stalled[c.Name] == nil {
				order = append(order, c.Name)
			}
			stalled[c.Name] = append(stalled[c.Name], fmt.Sprint(c.Record+1))
		} else if c.Status != 0 && !c.Pending {
			t.anomaly("control request %s failed with status %d (record %d)", c.Name, c.Status, c.Record+1)
		}
	}
	for _, n := range order {
		note := ""
		if strings.HasPrefix(n, "GET_DESCRIPTOR(device qualifier)") {
			note = " (normal for a full-speed-only device)"
		}
		t.anomaly("control request %s stalled %d time(s), record(s) %s%s", n, len(stalled[n]), strings.Join(stalled[n], ", "), note)
	}
	return nil
}

// endpoints finds the data and status endpoints, from the descriptors when
// the trace has them, else from the traffic.
func (t *Trace) endpoints(urbs []usbmon.URB) {
	if t.Config != nil {
		if el, ok := t.drv.(usbnet.EndpointLocator); ok {
			if ep, err := el.TraceEndpoints(t.Config, t.intf); err != nil {
				t.anomaly("%s endpoints: %v", t.Driver, err)
			} else {
				t.In, t.Out, t.Status = ep.In, ep.Out, ep.Status
			}
		}
		if t.In.Address == 0 {
			for _, in := range t.Config.Interfaces {
				for _, a := range in.Alts {
					for _, e := range a.Endpoints {
						switch {
						case e.Type() == hw.XferBulk && e.In() && t.In.Address == 0:
							t.In = e
						case e.Type() == hw.XferBulk && !e.In() && t.Out.Address == 0:
							t.Out = e
						case e.Type() == hw.XferInterrupt && e.In() && t.Status.Address == 0:
							t.Status = e
						}
					}
				}
			}
		}
		for _, in := range t.Config.Interfaces {
			for _, a := range in.Alts {
				for _, e := range a.Endpoints {
					t.checkMaxPacket(e)
				}
			}
		}
	}
	if t.In.Address == 0 || t.Out.Address == 0 {
		mp := uint16(512)
		if t.QEMU {
			mp = 64 // QEMU's usb-net is full speed
		}
		for i := range urbs {
			u := &urbs[i]
			e := hw.EndpointDesc{Address: u.Endpoint(), MaxPacketSize: mp}
			switch {
			case u.XferType() == usbmon.XferBulk && e.In() && t.In.Address == 0:
				e.Attributes = hw.XferBulk
				t.In = e
			case u.XferType() == usbmon.XferBulk && !e.In() && t.Out.Address == 0:
				e.Attributes = hw.XferBulk
				t.Out = e
			case u.XferType() == usbmon.XferInterrupt && e.In() && t.Status.Address == 0:
				e.Attributes = hw.XferInterrupt
				t.Status = e
			}
		}
		t.anomaly("no configuration descriptor in the trace: endpoints taken from the traffic, wMaxPacketSize assumed %d", mp)
	}
	switch t.In.MaxPacketSize {
	case 64:
		t.Speed = hw.SpeedFull
	case 512:
		t.Speed = hw.SpeedHigh
	case 1024:
		t.Speed = hw.SpeedSuper
	}
}

// checkMaxPacket flags wMaxPacketSize values no USB speed allows.
func (t *Trace) checkMaxPacket(e hw.EndpointDesc) {
	mp := e.MaxPacketSize
	switch e.Type() {
	case hw.XferBulk:
		switch mp {
		case 8, 16, 32, 64, 512, 1024:
			return
		}
		t.anomaly("%v: wMaxPacketSize %d is not a legal bulk size (8/16/32/64 full, 512 high, 1024 super speed)", e, mp)
	case hw.XferInterrupt:
		if mp == 0 || mp > 1024 {
			t.anomaly("%v: wMaxPacketSize %d", e, mp)
		}
	}
}

// captureView is what the driver may read of the trace.
func (t *Trace) captureView() *usbnet.Capture {
	c := &usbnet.Capture{Config: t.Config, Intf: t.intf, ID: t.ID, In: t.In, Out: t.Out, Status: t.Status, Strings: t.Strings}
	for _, r := range t.Controls {
		c.Controls = append(c.Controls, usbnet.CapturedControl{Setup: r.Setup, Data: r.Data, OK: !r.Pending && r.Status == 0})
	}
	return c
}

// macAddress finds the station address as the driver would read it.
func (t *Trace) macAddress() {
	ml, ok := t.drv.(usbnet.MACLocator)
	if !ok {
		t.anomaly("driver %s offers no MAC locator: the station address is not read from the trace", t.Driver)
		return
	}
	mac, err := ml.TraceMAC(t.capture)
	if err != nil {
		t.anomaly("MAC address: %v", err)
		return
	}
	t.MAC = mac
}

// transfer is one device-side bulk or interrupt transfer.
type transfer struct {
	record    int // the record holding its last data
	time      time.Time
	data      []byte
	length    int
	truncated bool
}

// reassemble turns the URBs of endpoint ep into transfers (see the package
// doc): per URB for kernel captures, per short packet for QEMU's.
func (t *Trace) reassemble(urbs []usbmon.URB, ep uint8, mp int, dataRec func(u *usbmon.URB) (int, *usbmon.Record)) []transfer {
	type piece struct {
		idx int
		rec *usbmon.Record
		u   *usbmon.URB
	}
	var ps []piece
	for i := range urbs {
		u := &urbs[i]
		if u.Endpoint() != ep || u.XferType() == usbmon.XferControl {
			continue
		}
		idx, r := dataRec(u)
		if r == nil {
			t.Stats.Pending++
			continue
		}
		if st := u.Status(); st != 0 {
			if e := usbmon.ErrnoOf(st); e != hw.ErrCancelled || u.Length() != 0 {
				t.Stats.Failed++
				t.anomaly("endpoint %#02x: transfer at record %d completed with status %d (%v)", ep, idx+1, st, e)
			}
			if u.Length() == 0 {
				continue
			}
		}
		ps = append(ps, piece{idx, r, u})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].idx < ps[j].idx })
	var out []transfer
	var cur *transfer
	for _, p := range ps {
		n := p.u.Length()
		if n == 0 && cur == nil {
			t.Stats.ZLPs++
			continue
		}
		if n == 0 {
			t.Stats.ZLPs++
		}
		if cur == nil {
			cur = &transfer{}
		}
		data := p.u.Data()
		if !cur.truncated {
			cur.data = append(cur.data, data...)
		}
		cur.length += n
		cur.truncated = cur.truncated || len(data) < n
		cur.record, cur.time = p.idx, p.rec.Time()
		if !t.QEMU || mp <= 0 || n%mp != 0 || n == 0 {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

func inData(u *usbmon.URB) (int, *usbmon.Record) {
	if u.Complete == nil || u.Complete.Type != usbmon.Complete {
		return -1, nil
	}
	return u.CompleteIndex, u.Complete
}

func outData(u *usbmon.URB) (int, *usbmon.Record) {
	if u.Submit == nil {
		return -1, nil
	}
	return u.SubmitIndex, u.Submit
}

// data runs the driver's framing over the bulk transfers and decodes the
// interrupt endpoint.
func (t *Trace) data(urbs []usbmon.URB) {
	rx := t.reassemble(urbs, t.In.Address, int(t.In.MaxPacketSize), inData)
	tx := t.reassemble(urbs, t.Out.Address, int(t.Out.MaxPacketSize), outData)
	t.Stats.RxTransfers, t.Stats.TxTransfers = len(rx), len(tx)
	t.receive(rx)
	t.transmit(tx)
	sd, describes := t.drv.(usbnet.StatusDescriber)
	if t.Status.Address != 0 {
		for i := range urbs {
			u := &urbs[i]
			if u.Endpoint() != t.Status.Address || u.XferType() != usbmon.XferInterrupt {
				continue
			}
			idx, r := inData(u)
			if r == nil || u.Status() != 0 || len(u.Data()) == 0 {
				continue
			}
			t.Stats.Notifications++
			if describes {
				t.status(sd, idx, r.Time(), u.Data())
			}
		}
	}
	if !describes && t.Stats.Notifications > 0 {
		t.anomaly("driver %s offers no status decoding: %d interrupt transfers not decoded", t.Driver, t.Stats.Notifications)
	}
	for _, f := range t.Frames {
		if f.Dir == RX {
			t.Stats.RxFrames++
			t.Stats.RxBytes += f.Length
			if f.Truncated() {
				t.Stats.RxTruncated++
			}
		} else {
			t.Stats.TxFrames++
			t.Stats.TxBytes += f.Length
			if f.Truncated() {
				t.Stats.TxTruncated++
			}
		}
	}
	for _, e := range t.Errors {
		if e.Dir == RX {
			t.Stats.RxErrors++
		} else {
			t.Stats.TxErrors++
		}
	}
}

func (t *Trace) frame(dir Dir, x *transfer, data []byte, length int) {
	t.Frames = append(t.Frames, Frame{Dir: dir, Record: x.record, Time: x.time, Data: append([]byte(nil), data...), Length: length})
}

func (t *Trace) frameErr(dir Dir, x *transfer, err error) {
	t.Errors = append(t.Errors, &FrameError{Dir: dir, Record: x.record + 1, Err: err})
}

// receive de-frames the bulk IN transfers with the driver's Unframer.
func (t *Trace) receive(rx []transfer) {
	uf, ok := t.drv.(usbnet.Unframer)
	if !ok {
		if len(rx) > 0 {
			t.anomaly("driver %s offers no unframing: %d bulk IN transfers not decoded into frames", t.Driver, len(rx))
		}
		return
	}
	u := uf.RxUnframer(t.capture)
	defer u.Close()
	for i := range rx {
		x := &rx[i]
		lost, err := u.Rx(x.data, x.length, func(data []byte, length int) { t.frame(RX, x, data, length) })
		if err != nil {
			t.frameErr(RX, x, err)
		}
		if lost {
			t.Stats.LostTransfers++
			t.anomaly("bulk IN transfer at record %d cut by the capture (%d of %d bytes): frames in it are lost", x.record+1, len(x.data), x.length)
		}
	}
}

// Errors of decoding.
var (
	// ErrTxHeader and ErrTxShort are the TX de-framing errors the drivers
	// wrap (usbnet's sentinels, named here for decode's callers).
	ErrTxHeader = usbnet.ErrTxHeader
	ErrTxShort  = usbnet.ErrTxShort
	// ErrNoDescriptors: the trace lacks the device descriptor a driver
	// is matched by.
	ErrNoDescriptors = errors.New("the trace holds no GET_DESCRIPTOR(device) answer")
	// ErrUnknownDriver: Options.Driver names no candidate.
	ErrUnknownDriver = errors.New("unknown driver")
)

// pickByName finds name among cands, by Linux name or catalog alias.
func pickByName(name string, cands []usbnet.Minidriver) (usbnet.Minidriver, error) {
	if e, ok := catalog.Lookup(name); ok {
		name = e.Name
	}
	var names []string
	for _, d := range cands {
		if d.Name() == name {
			return d, nil
		}
		names = append(names, d.Name())
	}
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownDriver, name, strings.Join(names, ", "))
}

// transmit undoes the driver's TX framing on the bulk OUT transfers.
func (t *Trace) transmit(tx []transfer) {
	uf, ok := t.drv.(usbnet.Unframer)
	if !ok {
		if len(tx) > 0 {
			t.anomaly("driver %s offers no unframing: %d bulk OUT transfers not decoded into frames", t.Driver, len(tx))
		}
		return
	}
	for i := range tx {
		x := &tx[i]
		cut := false
		err := uf.UnframeTx(t.capture, x.data, x.length, func(data []byte, length int) {
			cut = cut || len(data) < length
			t.frame(TX, x, data, length)
		})
		if err != nil {
			t.frameErr(TX, x, err)
		} else if x.truncated && !cut {
			// The capture cut the transfer where no frame could be
			// emitted (inside a header): one frame is truncated.
			t.Stats.TxTruncated++
		}
	}
}

// status decodes one interrupt IN transfer into a link event (recorded only
// when the state changes).
func (t *Trace) status(sd usbnet.StatusDescriber, idx int, ts time.Time, p []byte) {
	ev, err := sd.DescribeStatus(p)
	if err != nil {
		t.anomaly("interrupt transfer at record %d: %v", idx+1, err)
		return
	}
	if !ev.HasLink && ev.Mbps == 0 {
		return
	}
	var l Link
	if n := len(t.Links); n > 0 {
		l = t.Links[n-1]
	}
	next := l
	if ev.HasLink {
		next.Up = ev.Up
	}
	if ev.Mbps > 0 {
		next.Mbps = ev.Mbps
	}
	if len(t.Links) > 0 && next.Up == l.Up && next.Mbps == l.Mbps {
		return
	}
	next.Record, next.Time = idx, ts
	t.Links = append(t.Links, next)
}
