package usbnet

import (
	"errors"
	"fmt"

	"dongle/hw"
)

// ErrEndpoints: the interface a driver binds lacks an endpoint it needs,
// or has one with wMaxPacketSize 0.
var ErrEndpoints = errors.New("missing or unusable endpoint")

// GetEndpoints is usbnet_get_endpoints for a vendor chip whose one
// interface carries all three endpoints (ASIX AX88179, Realtek RTL815x):
// the first bulk IN, bulk OUT and interrupt IN of the matched interface's
// first alternate setting become d.In, d.Out and d.Status, and that
// interface is both the control and the data interface.
//
// Endpoints of the wrong type are never taken for the right one
// (CVE-2023-53548), and a wMaxPacketSize of 0 is refused (CVE-2021-47495):
// the errors wrap ErrEndpoints.
func GetEndpoints(d *Dev) error {
	intf := d.Intf
	if intf == nil && d.Config != nil && len(d.Config.Interfaces) > 0 {
		intf = &d.Config.Interfaces[0]
	}
	if intf == nil || len(intf.Alts) == 0 {
		return fmt.Errorf("%s: %s: no interface to bind: %w", d.Driver.Name(), d.Name(), ErrEndpoints)
	}
	alt := intf.Alts[0]
	var in, out, st hw.EndpointDesc
	for _, e := range alt.Endpoints {
		switch {
		case e.Type() == hw.XferBulk && e.In() && in.Address == 0:
			in = e
		case e.Type() == hw.XferBulk && !e.In() && out.Address == 0:
			out = e
		case e.Type() == hw.XferInterrupt && e.In() && st.Address == 0:
			st = e
		}
	}
	var missing string
	switch {
	case in.Address == 0:
		missing = "no bulk IN endpoint"
	case out.Address == 0:
		missing = "no bulk OUT endpoint"
	case st.Address == 0:
		missing = "no interrupt IN endpoint"
	case in.MaxPacketSize == 0 || out.MaxPacketSize == 0 || st.MaxPacketSize == 0:
		missing = "an endpoint with wMaxPacketSize 0"
	}
	if missing != "" {
		return fmt.Errorf("%s: %s: interface %d: %s: %w", d.Driver.Name(), d.Name(), alt.Number, missing, ErrEndpoints)
	}
	d.In, d.Out, d.Status = in, out, st
	d.CtrlIface, d.DataIface, d.DataAlt = int(alt.Number), int(alt.Number), int(alt.Alternate)
	return nil
}
