package decode

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"dongle/hw"
	"dongle/usbnet"
)

// epoch is one configuration state of the device (see Selection) and how
// its data decode.
type epoch struct {
	from   int // first record of its first span
	config int // -1: before any SET_CONFIGURATION the trace shows
	alts   map[uint8]uint8

	drv      usbnet.Minidriver // nil: nothing decodes this epoch's data
	function string            // drv's name, or the recognised function ("RNDIS")
	from2    string            // "descriptors" or "option"
	id       usbnet.ID
	cfg      *hw.Config
	intf     uint8
	matchErr error

	in, out, status hw.EndpointDesc
	capture         *usbnet.Capture
	valid           map[uint8]bool    // endpoints of the active alternate settings (nil: not known)
	rx              usbnet.RxUnframer // made at first use, closed at the end
	unconf          int               // data records this epoch could not carry
	undecoded       int
	hostPads        bool // the host pads bulk OUT transfers (see hostPads)
	rawEthernet     bool // a bulk transfer is an Ethernet frame as it is (not decode's RNDIS)
}

// span is a stretch of the trace in one configuration state: from record
// from on, until the next span.
type span struct {
	from int
	e    *epoch
}

// epochs splits the device's trace at each successful SET_CONFIGURATION
// and SET_INTERFACE (standard requests to the device and to an interface)
// of controls. States that recur (an interface toggled between alternate
// settings, the same configuration selected again) are one epoch, so that
// a trace selecting thousands of times holds as many spans, not as many
// bindings.
func epochs(controls []Control) ([]span, []*epoch) {
	byKey := map[string]*epoch{}
	var states []*epoch
	state := func(config int, alts map[uint8]uint8, from int) *epoch {
		e := &epoch{from: from, config: config, alts: alts}
		k := fmt.Sprint(config, e.altString())
		if old := byKey[k]; old != nil {
			return old
		}
		byKey[k] = e
		states = append(states, e)
		return e
	}
	cur := state(-1, map[uint8]uint8{}, 0)
	spans := []span{{0, cur}}
	for _, c := range controls {
		s := c.Setup
		if c.Pending || c.Status != 0 || s.RequestType&0x60 != hw.TypeStandard || s.In() {
			continue
		}
		switch {
		case s.Request == hw.ReqSetConfiguration && s.RequestType&0x1f == hw.RecipDevice:
			cur = state(int(s.Value&0xff), map[uint8]uint8{}, c.Record)
		case s.Request == hw.ReqSetInterface && s.RequestType&0x1f == hw.RecipInterface:
			alts := map[uint8]uint8{}
			for k, v := range cur.alts {
				alts[k] = v
			}
			alts[uint8(s.Index)] = uint8(s.Value)
			cur = state(cur.config, alts, c.Record)
		default:
			continue
		}
		if last := &spans[len(spans)-1]; last.from == c.Record {
			last.e = cur
		} else {
			spans = append(spans, span{c.Record, cur})
		}
	}
	return spans, states
}

func (e *epoch) altString() string {
	var ks []int
	for k := range e.alts {
		ks = append(ks, int(k))
	}
	sort.Ints(ks)
	var s []string
	for _, k := range ks {
		s = append(s, fmt.Sprintf("interface %d alt %d", k, e.alts[uint8(k)]))
	}
	return strings.Join(s, ", ")
}

// bind decides what decodes the epoch: the driver usbnet.Match binds in
// the configuration the host selected (only that one: the bulk data is
// that configuration's), or, before any SET_CONFIGURATION, Match's own
// order (the configuration usbcore would pick first); RNDIS and CDC NCM
// are recognised when no driver matches (RNDIS is decoded offline).
func (t *Trace) bind(e *epoch, d *devSurvey, forced usbnet.Minidriver, cands []usbnet.Minidriver) {
	cfgs := d.configs
	active := 0
	if len(cfgs) > 0 {
		active = int(cfgs[0].Value)
	}
	if e.config >= 0 {
		cfgs = nil
		for _, c := range d.configs {
			if int(c.Value) == e.config {
				cfgs = append(cfgs, c)
			}
		}
		active = e.config
	}
	if forced != nil {
		e.drv, e.function, e.from2 = forced, forced.Name(), "option"
		if d.device != nil {
			if b, err := usbnet.Match(devName(d), d.device, cfgs, active, []usbnet.Minidriver{forced}); err == nil {
				e.id, e.cfg, e.intf = b.ID, b.Config, b.Intf.Number
			}
		}
		if e.cfg == nil && len(cfgs) > 0 {
			e.cfg = cfgs[0]
		}
		return
	}
	e.from2 = "descriptors"
	if d.device == nil {
		e.matchErr = fmt.Errorf("%w to pick a driver from: pass --driver", ErrNoDescriptors)
		return
	}
	if e.config == 0 {
		e.matchErr = errUnconfigured
		return
	}
	b, err := usbnet.Match(devName(d), d.device, cfgs, active, cands)
	if err == nil {
		e.drv, e.function, e.id, e.cfg, e.intf = b.Driver, b.Driver.Name(), b.ID, b.Config, b.Intf.Number
		return
	}
	e.matchErr = err
	var ue *usbnet.UnsupportedError
	if !errors.As(err, &ue) {
		return
	}
	e.function = ue.Function
	for _, c := range cfgs {
		if c.Value == ue.Config {
			e.cfg = c
		}
	}
	e.intf = ue.Iface
	if ue.Function == "RNDIS" {
		e.drv = rndis{}
	}
}

var errUnconfigured = errors.New("the host selected configuration 0 (unconfigured)")

// endpoints finds the epoch's data and status endpoints: the driver's own
// rules (EndpointLocator) in its configuration, else the first bulk IN,
// bulk OUT and interrupt IN there, else (no descriptors) from the traffic.
func (t *Trace) endpoints(e *epoch, d *devSurvey, captured []usbnet.CapturedControl) {
	if e.cfg != nil {
		if el, ok := e.drv.(usbnet.EndpointLocator); ok {
			if ep, err := el.TraceEndpoints(e.cfg, e.intf); err != nil {
				t.anomaly("%s endpoints: %v", e.function, err)
			} else {
				e.in, e.out, e.status = ep.In, ep.Out, ep.Status
			}
		}
		if e.in.Address == 0 {
			for _, in := range e.cfg.Interfaces {
				for _, a := range in.Alts {
					for _, ep := range a.Endpoints {
						switch {
						case ep.Type() == hw.XferBulk && ep.In() && e.in.Address == 0:
							e.in = ep
						case ep.Type() == hw.XferBulk && !ep.In() && e.out.Address == 0:
							e.out = ep
						case ep.Type() == hw.XferInterrupt && ep.In() && e.status.Address == 0:
							e.status = ep
						}
					}
				}
			}
		}
		if e.config > 0 {
			// What the active alternate settings offer.
			e.valid = map[uint8]bool{}
			for _, in := range e.cfg.Interfaces {
				alt := e.alts[in.Number]
				for _, a := range in.Alts {
					if a.Alternate == alt {
						for _, ep := range a.Endpoints {
							e.valid[ep.Address] = true
						}
					}
				}
			}
		}
	}
	{
		// Whatever the descriptors left open, from the traffic.
		mp := uint16(512)
		if d.qemu {
			mp = 64 // QEMU's usb-net is full speed
		}
		for _, x := range d.traffic {
			ep := hw.EndpointDesc{Address: x.addr, MaxPacketSize: mp}
			switch {
			case x.xfer == 3 && ep.In() && e.in.Address == 0:
				ep.Attributes = hw.XferBulk
				e.in = ep
			case x.xfer == 3 && !ep.In() && e.out.Address == 0:
				ep.Attributes = hw.XferBulk
				e.out = ep
			case x.xfer == 1 && ep.In() && e.status.Address == 0:
				ep.Attributes = hw.XferInterrupt
				e.status = ep
			}
		}
		if e.cfg == nil && len(d.traffic) > 0 {
			t.anomalyOnce("no configuration descriptor in the trace: endpoints taken from the traffic, wMaxPacketSize assumed %d", mp)
		}
	}
	e.capture = &usbnet.Capture{Config: e.cfg, Intf: e.intf, ID: e.id, In: e.in, Out: e.out, Status: e.status, Strings: t.Strings, Controls: captured}
	e.hostPads = hostPads(d, e.out.Address, int(e.out.MaxPacketSize))
	_, isRNDIS := e.drv.(rndis)
	e.rawEthernet = !isRNDIS
}

// trafficEP is an endpoint with bulk or interrupt traffic (usbmon's
// transfer type numbering: 1 interrupt, 3 bulk), in first-seen order.
type trafficEP struct {
	addr uint8
	xfer uint8
}
