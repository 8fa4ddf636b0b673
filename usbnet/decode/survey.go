package decode

import (
	"encoding/binary"
	"io"
	"sort"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// devKey is a device of the trace: bus and address.
type devKey struct {
	bus  uint16
	addr uint8
}

// devSurvey is what the first pass learns of one device.
type devSurvey struct {
	key      devKey
	records  int
	qemu     bool
	device   *hw.DeviceDescriptor
	cfgRaw   map[uint8][]byte
	configs  []*hw.Config
	strings  map[uint8]string
	controls []Control // the first MaxListed requests
	ncontrol int
	nstall   int
	// selections are the SET_CONFIGURATION and SET_INTERFACE requests that
	// succeeded, in order (all of them, however many controls are kept).
	selections []Control
	pending    map[urbKey][]pendCtl // control URBs in flight, oldest first
	traffic    []trafficEP
	// multiples has, per bulk OUT endpoint, bit i set when a non-empty
	// transfer's length is a multiple of packetSizes[i]: a host that pads
	// (see usbnet.Unpad) never sends one.
	multiples map[uint8]uint8
	bulk      int // bulk and interrupt records
	anoms     []string
	// first and last are the device's first and last records (indices),
	// at firstT and lastT: a life of the adapter (see lives.go).
	first, last   int
	firstT, lastT time.Time
}

type urbKey struct {
	id   uint64
	ep   uint8
	xfer usbmon.XferType
}

// survey is the first pass: every device, and for each its descriptors
// and control requests (paired), endpoints with traffic and record counts.
func survey(src source, progress func(int64)) (map[devKey]*devSurvey, []devKey, int, error) {
	devs := map[devKey]*devSurvey{}
	var order []devKey
	var rec usbmon.Record
	n := 0
	for {
		idx, err := src.next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, n, err
		}
		n++
		if progress != nil && n%ProgressEvery == 0 {
			progress(src.pos())
		}
		k := devKey{rec.Bus, rec.Device}
		d := devs[k]
		if d == nil {
			d = &devSurvey{key: k, cfgRaw: map[uint8][]byte{}, strings: map[uint8]string{}, pending: map[urbKey][]pendCtl{}, first: idx, firstT: rec.Time()}
			devs[k] = d
			order = append(order, k)
		}
		d.records++
		d.last, d.lastT = idx, rec.Time()
		if rec.FlagData == usbmon.FlagDataQEMU {
			d.qemu = true
		}
		if rec.XferType != usbmon.XferControl {
			if rec.XferType == usbmon.XferBulk || rec.XferType == usbmon.XferInterrupt {
				d.bulk++
				d.seen(rec.Endpoint, uint8(rec.XferType))
				if rec.XferType == usbmon.XferBulk && rec.Type == usbmon.Submit && !rec.In() && rec.Length > 0 {
					if d.multiples == nil {
						d.multiples = map[uint8]uint8{}
					}
					for i, mp := range packetSizes {
						if rec.Length%mp == 0 {
							d.multiples[rec.Endpoint] |= 1 << i
						}
					}
				}
			}
			continue
		}
		d.control(idx, &rec)
	}
	for _, d := range devs {
		d.finish()
	}
	return devs, order, n, nil
}

func (d *devSurvey) seen(ep, xfer uint8) {
	for _, x := range d.traffic {
		if x.addr == ep {
			return
		}
	}
	d.traffic = append(d.traffic, trafficEP{ep, xfer})
}

// pendCtl is a control request submitted and not yet completed.
type pendCtl struct {
	setup hw.Setup
	rec   int
	kept  int // index in controls, -1 beyond MaxListed
}

// control pairs one control record (the way usbmon.Pair does: the oldest
// pending submission with the same id and endpoint), keeps the first
// MaxListed requests, reads descriptors from every one, and notes the
// configuration and interface selections that succeeded.
func (d *devSurvey) control(idx int, r *usbmon.Record) {
	k := urbKey{r.ID, r.Endpoint, r.XferType}
	if r.Type == usbmon.Submit {
		s, ok := r.SetupPacket()
		if !ok {
			return
		}
		d.ncontrol++
		p := pendCtl{setup: s, rec: idx, kept: -1}
		if len(d.controls) < MaxListed {
			c := Control{Record: idx, Time: r.Time(), Setup: s, Pending: true}
			if !s.In() && len(r.Data) > 0 {
				c.Data = append([]byte(nil), r.Data...)
			}
			p.kept = len(d.controls)
			d.controls = append(d.controls, c)
		}
		d.pending[k] = append(d.pending[k], p)
		return
	}
	p, ok := d.oldest(k)
	if !ok {
		return // a completion whose submission the capture missed: no setup to name it by
	}
	s := p.setup
	ok = r.Type == usbmon.Complete && r.Status == 0
	if usbmon.ErrnoOf(r.Status) == hw.ErrStall {
		d.nstall++
	}
	if p.kept >= 0 {
		c := &d.controls[p.kept]
		c.Pending, c.Status = false, r.Status
		if s.In() && ok {
			c.Data = append([]byte(nil), r.Data...)
		}
	}
	if !ok {
		return
	}
	if s.RequestType&0x60 == hw.TypeStandard && !s.In() && (s.Request == hw.ReqSetConfiguration && s.RequestType&0x1f == hw.RecipDevice ||
		s.Request == hw.ReqSetInterface && s.RequestType&0x1f == hw.RecipInterface) {
		d.selections = append(d.selections, Control{Record: p.rec, Setup: s})
	}
	if s.Request != hw.ReqGetDescriptor || s.RequestType != hw.DirIn {
		return
	}
	typ, di := uint8(s.Value>>8), uint8(s.Value)
	switch typ {
	case hw.DescDevice:
		if dd, err := hw.ParseDeviceDescriptor(r.Data); err == nil {
			d.device = dd
		}
	case hw.DescConfig:
		if len(r.Data) > len(d.cfgRaw[di]) {
			d.cfgRaw[di] = append([]byte(nil), r.Data...)
		}
	case hw.DescString:
		if di != 0 {
			if str, err := hw.ParseString(r.Data); err == nil {
				d.strings[di] = str
			}
		}
	}
}

// oldest takes the oldest pending control request under k (QEMU's ids
// are all 0: control requests on one endpoint complete in order).
func (d *devSurvey) oldest(k urbKey) (pendCtl, bool) {
	q := d.pending[k]
	if len(q) == 0 {
		return pendCtl{}, false
	}
	if len(q) == 1 {
		delete(d.pending, k)
	} else {
		d.pending[k] = q[1:]
	}
	return q[0], true
}

// finish parses the configuration descriptors read (by index, the longest
// answer at each; one where only the 9-byte header was read is skipped).
func (d *devSurvey) finish() {
	idxs := make([]int, 0, len(d.cfgRaw))
	for i := range d.cfgRaw {
		idxs = append(idxs, int(i))
	}
	sort.Ints(idxs)
	for _, i := range idxs {
		raw := d.cfgRaw[uint8(i)]
		if len(raw) >= 4 && int(binary.LittleEndian.Uint16(raw[2:])) > len(raw) {
			continue
		}
		c, err := hw.ParseConfig(raw)
		if err != nil {
			d.anoms = append(d.anoms, "configuration descriptor "+itoa(i)+": "+err.Error())
			continue
		}
		d.configs = append(d.configs, c)
	}
	d.pending = nil
}
