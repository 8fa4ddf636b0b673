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
// Receive de-framing is the minidrivers' own: cdc_ether's and ax88179's
// RxFixup run on an offline usbnet.Dev (no hw.Device behind it), and
// asix's Deframer (its RxFixup needs the per-device state only Bind makes).
// Transmit framing is undone here, by the rules the drivers' TxFixup
// applies (ECM: the frame, or the frame and one 0x00 pad byte; ASIX: a
// 4-byte length/complement header and an optional 00 00 ff ff filler;
// AX88179: an 8-byte header per frame).
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
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/asix"
	"dongle/usbnet/ax88179"
	"dongle/usbnet/cdcecm"
	"dongle/usbnet/drivers"
)

// Options tune Decode.
type Options struct {
	// Driver forces the protocol ("ecm", "cdc_ether", "asix", "ax88179",
	// "ax88179_178a"). Empty: chosen from the descriptors in the trace.
	Driver string
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
	ECM             *cdcecm.Function

	Frames    []Frame // in record order
	Controls  []Control
	Links     []Link
	Errors    []*FrameError
	Anomalies []string
	Stats     Stats
}

// ReadFile reads and decodes a capture file. Errors name the file; a
// damaged record is a *usbmon.RecordError (record index and byte offset).
func ReadFile(path string, opts Options) (*Trace, error) {
	recs, lt, err := usbmon.ReadFile(path)
	if err != nil {
		if strings.Contains(err.Error(), path) {
			return nil, err // usbmon named the file already
		}
		return nil, fmt.Errorf("%s: %w", path, err)
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
	t.macAddress()
	t.data(urbs)
	sort.SliceStable(t.Frames, func(i, j int) bool { return t.Frames[i].Record < t.Frames[j].Record })
	return t, nil
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
	// Now that the driver may be known, name the requests.
}

// pickDriver chooses the protocol and names the control requests with it.
func (t *Trace) pickDriver(opts Options) error {
	if opts.Driver != "" {
		d := drivers.ByName(opts.Driver, true)
		if d == nil {
			return fmt.Errorf("unknown driver %q (want ecm, asix or ax88179)", opts.Driver)
		}
		t.Driver, t.DriverFrom = d.Name(), "option"
		if t.Device != nil {
			if _, id, cfg, err := Match(t.Device, t.Configs, []usbnet.Minidriver{d}); err == nil {
				t.ID, t.Config = id, cfg
			}
		}
		if t.Config == nil && len(t.Configs) > 0 {
			t.Config = t.Configs[0]
		}
	} else {
		if t.Device == nil {
			return errors.New("the trace holds no GET_DESCRIPTOR(device) answer to pick a driver from: pass --driver")
		}
		d, id, cfg, err := Match(t.Device, t.Configs, drivers.ForModels())
		if err != nil {
			return err
		}
		t.Driver, t.DriverFrom, t.ID, t.Config = d.Name(), "descriptors", id, cfg
	}
	stalled := map[string][]string{}
	var order []string
	for i := range t.Controls {
		c := &t.Controls[i]
		c.Name = RequestName(c.Setup, t.Driver)
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
		if t.Driver == "cdc_ether" {
			for i := range t.Config.Interfaces {
				in := &t.Config.Interfaces[i]
				if len(in.Alts) == 0 || in.Alts[0].Class != cdcecm.ClassComm || in.Alts[0].SubClass != cdcecm.SubClassEthernet {
					continue
				}
				fn, err := cdcecm.Parse(t.Config, in.Number)
				if err != nil {
					t.anomaly("CDC Ethernet function: %v", err)
					continue
				}
				t.ECM, t.In, t.Out, t.Status = fn, fn.In, fn.Out, fn.Status
				break
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

// macAddress finds the station address as the driver would read it.
func (t *Trace) macAddress() {
	switch t.Driver {
	case "cdc_ether":
		if t.ECM == nil {
			return
		}
		s, ok := t.Strings[t.ECM.MACIndex]
		if !ok {
			t.anomaly("iMACAddress (string %d) was not read in the trace", t.ECM.MACIndex)
			return
		}
		mac, err := cdcecm.ParseMAC(s)
		if err != nil {
			t.anomaly("iMACAddress %q: %v", s, err)
			return
		}
		t.MAC = mac
	case "asix":
		for _, c := range t.Controls {
			if c.Setup.RequestType&0x60 == hw.TypeVendor && c.Setup.In() && c.Setup.Request == asix.CmdReadNodeID && c.Status == 0 && len(c.Data) == 6 {
				t.MAC = net.HardwareAddr(append([]byte(nil), c.Data...))
			}
		}
	case "ax88179_178a":
		for _, c := range t.Controls {
			s := c.Setup
			if s.RequestType&0x60 == hw.TypeVendor && s.Request == ax88179.AccessMAC && s.Value == ax88179.RegNodeID && c.Status == 0 && len(c.Data) == 6 {
				t.MAC = net.HardwareAddr(append([]byte(nil), c.Data...))
			}
		}
	}
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
	for _, x := range tx {
		t.transmit(x)
	}
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
			t.status(idx, r.Time(), u.Data())
		}
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

// offlineDev is a usbnet.Dev with no device behind it, enough for an
// RxFixup that keeps no per-device state (cdc_ether, ax88179 with IPE on).
func offlineDev(t *Trace) *usbnet.Dev {
	d := &usbnet.Dev{Info: hw.Info{Backend: "trace"}, Config: t.Config, HardMTU: 1514}
	d.Endpoints = usbnet.Endpoints{In: t.In, Out: t.Out, Status: t.Status}
	d.Net = netdev.New("decode%d", d)
	return d
}

// receive de-frames the bulk IN transfers with the driver's RX code.
func (t *Trace) receive(rx []transfer) {
	var q skbuff.Queue
	drain := func(x *transfer) {
		for b := q.Dequeue(); b != nil; b = q.Dequeue() {
			t.frame(RX, x, b.Data(), b.Len())
			b.Free(skbuff.FreeRead)
		}
	}
	switch t.Driver {
	case "cdc_ether":
		d, drv := offlineDev(t), cdcecm.Driver{}
		for i := range rx {
			x := &rx[i]
			if x.truncated {
				t.frame(RX, x, x.data, x.length)
				continue
			}
			b := skbuff.Alloc(len(x.data))
			b.PutData(x.data)
			if err := drv.RxFixup(d, b, &q); err != nil {
				t.frameErr(RX, x, err)
			}
			drain(x)
		}
	case "asix":
		var df asix.Deframer
		for i := range rx {
			x := &rx[i]
			if err := df.Feed(x.data, &q); err != nil {
				t.frameErr(RX, x, err)
			}
			drain(x)
			if x.truncated {
				// The rest of the stream is lost with the cut bytes:
				// whatever frame was open is truncated, not malformed.
				if df.Partial() {
					t.Stats.LostTransfers++
					t.anomaly("bulk IN transfer at record %d cut by the capture (%d of %d bytes): the frame it ends in is lost", x.record+1, len(x.data), x.length)
				}
				df.Reset()
			}
		}
		df.Reset()
	case "ax88179_178a":
		d, drv := offlineDev(t), &ax88179.Driver{}
		ipe := t.ax88179IPE()
		for i := range rx {
			x := &rx[i]
			if x.truncated {
				// The trailer that locates the frames is in the cut part.
				t.Stats.LostTransfers++
				t.anomaly("bulk IN transfer at record %d cut by the capture (%d of %d bytes): its frames cannot be located", x.record+1, len(x.data), x.length)
				continue
			}
			if ipe {
				b := skbuff.Alloc(len(x.data))
				b.PutData(x.data)
				if err := drv.RxFixup(d, b, &q); err != nil {
					t.frameErr(RX, x, err)
				}
				drain(x)
				continue
			}
			_, err := ax88179.Walk(x.data, false, func(f ax88179.Frame) {
				t.frame(RX, x, x.data[f.Off:f.Off+f.Len], f.Len)
			})
			if err != nil {
				t.frameErr(RX, x, err)
			}
		}
	}
}

// ax88179IPE reports whether the last RX_CTL the host wrote has IPE set
// (Linux always sets it; true when the trace does not say).
func (t *Trace) ax88179IPE() bool {
	ipe := true
	for _, c := range t.Controls {
		s := c.Setup
		if !s.In() && s.RequestType&0x60 == hw.TypeVendor && s.Request == ax88179.AccessMAC && s.Value == ax88179.RegRxCtl && len(c.Data) >= 2 {
			// Unbind's stop (RX_CTL 0) ends a trace; what matters is the
			// value RX ran with.
			if v := binary.LittleEndian.Uint16(c.Data); v&ax88179.RxCtlStart != 0 {
				ipe = v&ax88179.RxCtlIPE != 0
			}
		}
	}
	return ipe
}

// Errors of TX de-framing.
var (
	ErrTxHeader = errors.New("TX header length and complement disagree")
	ErrTxShort  = errors.New("TX transfer shorter than its header says")
)

// transmit undoes the driver's TX framing on one bulk OUT transfer.
func (t *Trace) transmit(x transfer) {
	mp := int(t.Out.MaxPacketSize)
	p := x.data
	switch t.Driver {
	case "cdc_ether":
		n := x.length
		// Linux's usbnet appends one 0x00 byte to a frame whose length is
		// a multiple of wMaxPacketSize (cdc_ether has no FLAG_SEND_ZLP).
		if mp > 0 && n > 60 && (n-1)%mp == 0 && len(p) == n && p[n-1] == 0 {
			n--
			p = p[:n]
		}
		t.frame(TX, &x, p, n)
	case "asix":
		off := 0
		for off < x.length {
			if x.length-off == 4 && len(p)-off == 4 && [4]byte(p[off:off+4]) == asix.TxPad {
				break
			}
			if len(p)-off < 4 {
				if x.truncated {
					t.Stats.TxTruncated++
				} else {
					t.frameErr(TX, &x, fmt.Errorf("%w: %d bytes left at offset %d", ErrTxShort, len(p)-off, off))
				}
				break
			}
			h := binary.LittleEndian.Uint32(p[off:])
			if !asix.HeaderOK(h) {
				t.frameErr(TX, &x, fmt.Errorf("%w: header %#08x at offset %d", ErrTxHeader, h, off))
				break
			}
			n := int(h & 0x7ff)
			start := off + 4
			end := min(start+n, len(p))
			if start+n > x.length {
				t.frameErr(TX, &x, fmt.Errorf("%w: frame of %d bytes at offset %d, transfer %d", ErrTxShort, n, start, x.length))
				break
			}
			t.frame(TX, &x, p[start:end], n)
			off = start + n
		}
	case "ax88179_178a":
		off := 0
		for x.length-off >= ax88179.TxHdrLen {
			if len(p)-off < ax88179.TxHdrLen {
				break // header cut by the capture
			}
			w0 := binary.LittleEndian.Uint32(p[off:])
			n := int(w0 & ax88179.TxLenMask)
			start := off + ax88179.TxHdrLen
			if n == 0 || start+n > x.length {
				t.frameErr(TX, &x, fmt.Errorf("%w: header says %d bytes at offset %d, transfer %d", ErrTxShort, n, start, x.length))
				break
			}
			t.frame(TX, &x, p[start:min(start+n, len(p))], n)
			off = start + n
		}
	}
}

// status decodes one interrupt IN transfer into a link event (recorded only
// when the state changes).
func (t *Trace) status(idx int, ts time.Time, p []byte) {
	var up bool
	mbps := 0
	switch t.Driver {
	case "cdc_ether":
		if len(p) < cdcecm.NotificationLen || p[0] != 0xa1 {
			t.anomaly("interrupt transfer at record %d: not a CDC notification (% x)", idx+1, p)
			return
		}
		switch p[1] {
		case cdcecm.NotifyNetworkConnection:
			up = binary.LittleEndian.Uint16(p[2:]) != 0
			if l := len(t.Links); l > 0 {
				mbps = t.Links[l-1].Mbps
			}
		case cdcecm.NotifySpeedChange:
			if len(p) < 16 {
				return // split: the rates follow in the next transfer
			}
			if l := len(t.Links); l > 0 {
				up = t.Links[l-1].Up
			}
			mbps = int(binary.LittleEndian.Uint32(p[8:]) / 1000000)
			if l := len(t.Links); l > 0 && t.Links[l-1].Mbps == mbps {
				return
			}
			t.Links = append(t.Links, Link{Record: idx, Time: ts, Up: up, Mbps: mbps})
			return
		default:
			return
		}
	case "asix":
		if len(p) < 3 {
			t.anomaly("interrupt transfer at record %d: %d bytes, need 8", idx+1, len(p))
			return
		}
		up = p[2]&1 != 0
	case "ax88179_178a":
		if len(p) < 4 {
			t.anomaly("interrupt transfer at record %d: %d bytes, need 8", idx+1, len(p))
			return
		}
		up = ax88179.IntLinkUp(p)
	default:
		return
	}
	if l := len(t.Links); l > 0 && t.Links[l-1].Up == up {
		return
	}
	t.Links = append(t.Links, Link{Record: idx, Time: ts, Up: up, Mbps: mbps})
}
