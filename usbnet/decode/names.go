package decode

import (
	"fmt"

	"dongle/hw"
	"dongle/usbnet"
)

var stdRequests = map[uint8]string{
	hw.ReqGetStatus: "GET_STATUS", hw.ReqClearFeature: "CLEAR_FEATURE", hw.ReqSetFeature: "SET_FEATURE",
	hw.ReqSetAddress: "SET_ADDRESS", hw.ReqGetDescriptor: "GET_DESCRIPTOR", hw.ReqSetDescriptor: "SET_DESCRIPTOR",
	hw.ReqGetConfiguration: "GET_CONFIGURATION", hw.ReqSetConfiguration: "SET_CONFIGURATION",
	hw.ReqGetInterface: "GET_INTERFACE", hw.ReqSetInterface: "SET_INTERFACE",
}

var descNames = map[uint8]string{
	hw.DescDevice: "device", hw.DescConfig: "configuration", hw.DescString: "string",
	hw.DescInterface: "interface", hw.DescEndpoint: "endpoint", hw.DescDeviceQualifier: "device qualifier",
	7: "other speed configuration", hw.DescBOS: "BOS", 0x21: "HID", 0x22: "HID report",
}

// RequestName names a control request the way a person reads a trace:
// standard requests here ("GET_DESCRIPTOR(device)", "SET_CONFIGURATION(1)"),
// class and vendor requests by the driver's usbnet.RequestNamer
// ("SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)", "asix READ_PHY_ID");
// drv may be nil. A request nobody knows is named by its type, direction
// and numbers.
func RequestName(s hw.Setup, drv usbnet.Minidriver) string {
	typ := s.RequestType & 0x60
	switch typ {
	case hw.TypeStandard:
		n, ok := stdRequests[s.Request]
		if !ok {
			break
		}
		switch s.Request {
		case hw.ReqGetDescriptor, hw.ReqSetDescriptor:
			t, idx := uint8(s.Value>>8), uint8(s.Value)
			dn, ok := descNames[t]
			if !ok {
				dn = fmt.Sprintf("type %#02x", t)
			}
			if t == hw.DescString && idx == 0 {
				return n + "(string 0: languages)"
			}
			if t == hw.DescString || t == hw.DescConfig {
				return fmt.Sprintf("%s(%s %d)", n, dn, idx)
			}
			return n + "(" + dn + ")"
		case hw.ReqSetConfiguration:
			return fmt.Sprintf("%s(%d)", n, s.Value)
		case hw.ReqSetInterface:
			return fmt.Sprintf("%s(interface %d alt %d)", n, s.Index, s.Value)
		case hw.ReqClearFeature, hw.ReqSetFeature:
			if s.RequestType&0x1f == hw.RecipEndpoint && s.Value == 0 {
				return fmt.Sprintf("%s(ENDPOINT_HALT %#02x)", n, s.Index)
			}
			return fmt.Sprintf("%s(%d)", n, s.Value)
		case hw.ReqSetAddress:
			return fmt.Sprintf("%s(%d)", n, s.Value)
		}
		return n
	}
	if rn, ok := drv.(usbnet.RequestNamer); ok {
		if n, ok := rn.RequestName(s); ok {
			return n
		}
	}
	kind := [...]string{"standard", "class", "vendor", "reserved"}[typ>>5]
	dir := "OUT"
	if s.In() {
		dir = "IN"
	}
	return fmt.Sprintf("%s %s request %#02x (wValue %#04x wIndex %#04x wLength %d)", kind, dir, s.Request, s.Value, s.Index, s.Length)
}
