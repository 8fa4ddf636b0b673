package ffs

import (
	"bufio"
	"io"
	"sync"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// Capture is the bridge's account of every transfer it served, kept as
// usbmon records (S/C pairs, link type 220) so that it can be written as a
// pcap that dongle's replay and tshark read like a kernel usbmon capture.
//
// What the bridge sees differs from usbmon on the host in three ways, and
// Capture evens them out:
//   - standard requests (enumeration) are answered by the gadget core:
//     Enumeration adds the GET_DESCRIPTOR and SET_CONFIGURATION records a
//     host makes, from the descriptors the host read, before everything else;
//   - IN data reaches the bridge one USB packet at a time: packets are joined
//     into one transfer up to a short packet (or MaxInTransfer bytes), which
//     is where a host URB at least as large as the device's writes ends;
//   - endpoint addresses are the host's (the UDC may renumber them): see
//     MapEndpoint, applied by Records to every record, earlier ones too.
//
// URB ids count from 1; bus and device are what SetAddress says.
type Capture struct {
	mu    sync.Mutex
	pre   []usbmon.Record
	recs  []usbmon.Record
	id    uint64
	bus   uint16
	dev   uint8
	epmap map[uint8]uint8
	acc   map[uint8]*inAcc
	now   func() time.Time
}

// MaxInTransfer bounds the IN data joined into one recorded transfer.
const MaxInTransfer = 32 << 10

type inAcc struct {
	data  []byte
	start time.Time
	typ   usbmon.XferType
}

// NewCapture returns an empty capture.
func NewCapture() *Capture {
	return &Capture{epmap: map[uint8]uint8{}, acc: map[uint8]*inAcc{}, now: time.Now, bus: 1, dev: 2}
}

// SetAddress sets the bus and device numbers written into the records (the
// host's busnum and devnum).
func (c *Capture) SetAddress(bus, dev int) {
	c.mu.Lock()
	c.bus, c.dev = uint16(bus), uint8(dev)
	for _, rs := range [][]usbmon.Record{c.pre, c.recs} {
		for i := range rs {
			rs[i].Bus, rs[i].Device = c.bus, c.dev
		}
	}
	c.mu.Unlock()
}

// MapEndpoint records that the model's endpoint model is host address host.
func (c *Capture) MapEndpoint(model, host uint8) {
	c.mu.Lock()
	c.epmap[model] = host
	c.mu.Unlock()
}

func (c *Capture) rec(t time.Time, typ usbmon.Event, x usbmon.XferType, ep uint8) usbmon.Record {
	r := usbmon.Record{ID: c.id, Type: typ, XferType: x, Endpoint: ep, Bus: c.bus, Device: c.dev,
		FlagSetup: usbmon.FlagNoSetup, FlagData: usbmon.FlagPresent}
	r.SetTime(t)
	return r
}

// control appends the S/C pair of one control transfer to dst.
func (c *Capture) control(dst []usbmon.Record, t time.Time, s hw.Setup, data []byte, status int32) []usbmon.Record {
	c.id++
	ep := uint8(0)
	if s.In() {
		ep = 0x80
	}
	sub := c.rec(t, usbmon.Submit, usbmon.XferControl, ep)
	sub.FlagSetup = usbmon.FlagPresent
	sub.Setup = s.Bytes()
	sub.Length = uint32(s.Length)
	comp := c.rec(t.Add(time.Microsecond), usbmon.Complete, usbmon.XferControl, ep)
	comp.Status = status
	if s.In() {
		sub.FlagData = usbmon.FlagDataIn
		comp.Length = uint32(len(data))
		comp.Data = append([]byte(nil), data...)
		if status != 0 {
			comp.Data, comp.Length = nil, 0
		}
	} else {
		comp.FlagData = usbmon.FlagDataOut
		if len(data) > 0 {
			sub.Data = append([]byte(nil), data...)
		} else {
			sub.FlagData = usbmon.FlagDataLength
		}
		if status == 0 {
			comp.Length = uint32(len(data))
		}
	}
	return append(dst, sub, comp)
}

// Control records one control transfer the bridge served: data is the OUT
// data or the IN answer; err is the model's refusal (a stall), or nil.
func (c *Capture) Control(s hw.Setup, data []byte, err error) {
	var status int32
	if err != nil {
		status = usbmon.StatusOf(err)
	}
	c.mu.Lock()
	c.recs = c.control(c.recs, c.now(), s, data, status)
	c.mu.Unlock()
}

// Enumeration records, ahead of everything else, what a host does before a
// function is enabled: GET_DESCRIPTOR(device), GET_DESCRIPTOR(config) for 9
// bytes and then for wTotalLength, SET_CONFIGURATION(bConfigurationValue).
// dev and cfg are the descriptors as the host read them.
func (c *Capture) Enumeration(dev, cfg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now()
	if len(c.recs) > 0 {
		t = c.recs[0].Time()
	}
	t = t.Add(-10 * time.Millisecond)
	var pre []usbmon.Record
	pre = c.control(pre, t, hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescDevice) << 8, Length: uint16(len(dev))}, dev, 0)
	if len(cfg) >= 9 {
		pre = c.control(pre, t.Add(time.Millisecond), hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescConfig) << 8, Length: 9}, cfg[:9], 0)
		pre = c.control(pre, t.Add(2*time.Millisecond), hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescConfig) << 8, Length: uint16(len(cfg))}, cfg, 0)
		pre = c.control(pre, t.Add(3*time.Millisecond), hw.Setup{RequestType: 0x00, Request: hw.ReqSetConfiguration, Value: uint16(cfg[5])}, nil, 0)
	}
	c.pre = pre
}

func (c *Capture) hostEP(ep uint8) uint8 {
	if h, ok := c.epmap[ep]; ok {
		return h
	}
	return ep
}

// In records one IN packet sent on the model's endpoint ep (transfer type
// typ, wMaxPacketSize mps). On bulk endpoints a packet shorter than mps ends
// the recorded transfer; an interrupt packet is a transfer of its own (a
// host polls with URBs of wMaxPacketSize).
func (c *Capture) In(ep uint8, typ uint8, pkt []byte, mps int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.acc[ep]
	if a == nil {
		a = &inAcc{typ: usbmon.XferTypeOf(typ)}
		c.acc[ep] = a
	}
	if len(a.data) == 0 {
		a.start = c.now()
	}
	a.data = append(a.data, pkt...)
	if typ == hw.XferBulk && len(pkt) == mps && len(a.data) < MaxInTransfer {
		return // a bulk transfer runs on to a short packet
	}
	c.id++
	sub := c.rec(a.start, usbmon.Submit, a.typ, ep)
	sub.FlagData = usbmon.FlagDataIn
	sub.Length = uint32(len(a.data))
	comp := c.rec(c.now(), usbmon.Complete, a.typ, ep)
	comp.Length = uint32(len(a.data))
	comp.Data = a.data
	c.recs = append(c.recs, sub, comp)
	a.data = nil
}

// InURB records one whole IN transfer on the model's endpoint ep (transfer
// type typ) as the host's URB of urbLen bytes that it completed, the way
// the kernel's usbmon shows it: the submission carries the URB's length, so
// a completion of whole packets shorter than it reads as one a ZLP ended.
// For a server that sees the host's URBs (hw/usbip); a FunctionFS bridge
// sees packets and calls In.
func (c *Capture) InURB(ep uint8, typ uint8, data []byte, urbLen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	x := usbmon.XferTypeOf(typ)
	t := c.now()
	sub := c.rec(t, usbmon.Submit, x, ep)
	sub.FlagData = usbmon.FlagDataIn
	sub.Length = uint32(urbLen)
	comp := c.rec(t, usbmon.Complete, x, ep)
	comp.Length = uint32(len(data))
	comp.Data = append([]byte(nil), data...)
	c.recs = append(c.recs, sub, comp)
}

// Out records one OUT transfer received on the model's endpoint ep.
func (c *Capture) Out(ep uint8, typ uint8, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	t := c.now()
	x := usbmon.XferTypeOf(typ)
	sub := c.rec(t, usbmon.Submit, x, ep)
	sub.Length = uint32(len(data))
	sub.Data = append([]byte(nil), data...)
	if len(data) == 0 {
		sub.FlagData = usbmon.FlagDataLength
	}
	comp := c.rec(t, usbmon.Complete, x, ep)
	comp.FlagData = usbmon.FlagDataOut
	comp.Length = uint32(len(data))
	c.recs = append(c.recs, sub, comp)
}

// Records returns a copy of the records: the enumeration first, then the
// transfers in the order they finished.
func (c *Capture) Records() []usbmon.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]usbmon.Record, 0, len(c.pre)+len(c.recs))
	for _, rs := range [][]usbmon.Record{c.pre, c.recs} {
		for i := range rs {
			r := rs[i].Clone()
			if r.XferType != usbmon.XferControl {
				r.Endpoint = c.hostEP(r.Endpoint)
			}
			out = append(out, *r)
		}
	}
	return out
}

// WriteTo writes the capture as a pcap file (link type 220).
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	pw, err := usbmon.NewWriter(bw)
	if err != nil {
		return cw.n, err
	}
	for _, r := range c.Records() {
		if err := pw.Write(&r); err != nil {
			return cw.n, err
		}
	}
	err = bw.Flush()
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
