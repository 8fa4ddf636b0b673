package replay

import (
	"context"
	"fmt"
	"sync"

	"dongle/hw"
)

// behaviour is what differs between strict and model replay. Every method
// is called with core.mu held.
type behaviour interface {
	// control answers a control transfer (Control, and the standard
	// requests SetConfiguration/SetAlt/ClearHalt stand for).
	control(s hw.Setup, data []byte) (int, error)
	// submit takes a transfer just queued on e; it may complete it.
	submit(e *endpoint, x *xfer) error
	// cancel completes what Cancel should complete on e.
	cancel(e *endpoint)
	// reset clears the device state a USB reset clears (model replay's
	// halted endpoints), after core has cancelled every transfer.
	reset()
	// failed is the sticky error every call returns (strict after a
	// divergence), or nil.
	failed() error
}

// core is the hw.Device bookkeeping both replays share: configuration,
// claims, alternate settings and open endpoints, checked as a real device
// and libusb would (the same answers hw/sim gives).
//
// One mutex guards the whole device, its endpoints and the behaviour's
// state: replay is not a hot path, and one lock makes the cross-endpoint
// ordering of strict replay easy to get right. Wait sleeps on changed,
// a channel closed and replaced at every state change.
type core struct {
	mu      sync.Mutex
	info    hw.Info
	name    string
	beh     behaviour
	trace   *trace
	config  int
	claimed map[int]bool
	alt     map[int]int
	open    map[uint8]*endpoint
	closed  bool
	changed chan struct{}
}

func newCore(t *trace, info hw.Info, beh behaviour) *core {
	c := &core{info: info, beh: beh, trace: t, claimed: map[int]bool{}, alt: map[int]int{},
		open: map[uint8]*endpoint{}, changed: make(chan struct{})}
	c.name = info.Backend + " " + info.Name()
	c.config = t.initial // configured, as the kernel leaves a device before libusb opens it
	return c
}

func (c *core) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *core) errLocked(what string) error {
	if c.closed {
		return hw.Errorf(c.name+what, hw.ErrClosed)
	}
	return c.beh.failed()
}

func (c *core) Info() hw.Info { return c.info }

func (c *core) Control(ctx context.Context, s hw.Setup, data []byte) (int, error) {
	s.Length = uint16(len(data))
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errLocked(": control " + s.String()); err != nil {
		return 0, err
	}
	return c.beh.control(s, data)
}

func (c *core) Configuration() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errLocked(": configuration"); err != nil {
		return 0, err
	}
	return c.config, nil
}

func (c *core) SetConfiguration(value int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf(": SET_CONFIGURATION %d", value)
	if err := c.errLocked(what); err != nil {
		return err
	}
	if len(c.claimed) > 0 {
		return hw.Errorf(c.name+what+": an interface is claimed", hw.ErrBusy)
	}
	if value != 0 && c.trace.config(value) == nil && len(c.trace.configs) > 0 {
		return hw.Errorf(c.name+what+": no such configuration in the trace", hw.ErrNotFound)
	}
	s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqSetConfiguration, Value: uint16(value)}
	if _, err := c.beh.control(s, nil); err != nil {
		return err
	}
	c.config = value
	clear(c.alt)
	return nil
}

func (c *core) Claim(iface int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf(": claim interface %d", iface)
	if err := c.errLocked(what); err != nil {
		return err
	}
	if len(c.trace.configs) > 0 {
		cfg := c.trace.config(c.config)
		if cfg == nil {
			return hw.Errorf(c.name+what+": device is unconfigured", hw.ErrNotFound)
		}
		if iface < 0 || iface > 255 || cfg.Interface(uint8(iface)) == nil {
			return hw.Errorf(fmt.Sprintf("%s%s: configuration %d has no such interface", c.name, what, c.config), hw.ErrNotFound)
		}
	}
	if c.claimed[iface] {
		return hw.Errorf(c.name+what+": already claimed", hw.ErrBusy)
	}
	c.claimed[iface] = true
	return nil
}

func (c *core) Release(iface int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf(": release interface %d", iface)
	if c.closed {
		return hw.Errorf(c.name+what, hw.ErrClosed)
	}
	if !c.claimed[iface] {
		return hw.Errorf(c.name+what+": not claimed", hw.ErrNotFound)
	}
	for _, e := range c.open {
		if e.iface == iface {
			return hw.Errorf(fmt.Sprintf("%s%s: endpoint %#02x is open", c.name, what, e.desc.Address), hw.ErrBusy)
		}
	}
	delete(c.claimed, iface)
	return nil
}

func (c *core) SetAlt(iface, alt int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf(": SET_INTERFACE %d alt %d", iface, alt)
	if err := c.errLocked(what); err != nil {
		return err
	}
	if !c.claimed[iface] {
		return hw.Errorf(c.name+what+": interface not claimed", hw.ErrNotFound)
	}
	for _, e := range c.open {
		if e.iface == iface {
			return hw.Errorf(fmt.Sprintf("%s%s: endpoint %#02x is open", c.name, what, e.desc.Address), hw.ErrBusy)
		}
	}
	if len(c.trace.configs) > 0 && c.trace.altSetting(c.config, iface, alt) == nil {
		return hw.Errorf(c.name+what+": no such alternate setting", hw.ErrNotFound)
	}
	s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipInterface, Request: hw.ReqSetInterface, Value: uint16(alt), Index: uint16(iface)}
	if _, err := c.beh.control(s, nil); err != nil {
		return err
	}
	c.alt[iface] = alt
	return nil
}

// endpointDesc finds addr in the current alternate setting of a claimed
// interface; iface is -1 if it exists but its interface is not claimed.
func (c *core) endpointDesc(addr uint8) (hw.EndpointDesc, int, bool) {
	if len(c.trace.configs) == 0 {
		d, ok := c.trace.seenEndpoint(addr)
		return d, 0, ok
	}
	cfg := c.trace.config(c.config)
	if cfg == nil {
		return hw.EndpointDesc{}, 0, false
	}
	for _, in := range cfg.Interfaces {
		a := c.trace.altSetting(c.config, int(in.Number), c.alt[int(in.Number)])
		if a == nil {
			continue
		}
		for _, ep := range a.Endpoints {
			if ep.Address == addr {
				if !c.claimed[int(in.Number)] {
					return ep, -1, true
				}
				return ep, int(in.Number), true
			}
		}
	}
	return hw.EndpointDesc{}, 0, false
}

func (c *core) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf(": endpoint %#02x", addr)
	if err := c.errLocked(what); err != nil {
		return nil, err
	}
	desc, iface, ok := c.endpointDesc(addr)
	if !ok {
		return nil, hw.Errorf(c.name+what+": not in the current alternate setting of any interface", hw.ErrNotFound)
	}
	if iface < 0 {
		return nil, hw.Errorf(c.name+what+": its interface is not claimed", hw.ErrNotFound)
	}
	if c.open[addr] != nil {
		return nil, hw.Errorf(c.name+what+": already open", hw.ErrBusy)
	}
	e := &endpoint{c: c, desc: desc, iface: iface, name: c.name + ": " + desc.String()}
	e.errEmpty = hw.Errorf(e.name+": wait: nothing in flight", hw.ErrNotFound)
	c.open[addr] = e
	return e, nil
}

func (c *core) ClearHalt(addr uint8) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf(": CLEAR_FEATURE(ENDPOINT_HALT) %#02x", addr)
	if err := c.errLocked(what); err != nil {
		return err
	}
	s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: uint16(addr)}
	_, err := c.beh.control(s, nil)
	return err
}

func (c *core) Reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errLocked(": reset"); err != nil {
		return err
	}
	for _, e := range c.open {
		e.completeAllLocked(hw.ErrCancelled)
	}
	c.beh.reset()
	c.broadcastLocked()
	return nil
}

func (c *core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return hw.Errorf(c.name+": close", hw.ErrClosed)
	}
	if len(c.claimed) > 0 {
		return hw.Errorf(c.name+": close: an interface is claimed", hw.ErrBusy)
	}
	c.closed = true
	c.broadcastLocked()
	return nil
}
