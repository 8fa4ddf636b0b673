package decode

import (
	"fmt"
	"strings"

	"dongle/hw"
	"dongle/usbnet/asix"
	"dongle/usbnet/ax88179"
	"dongle/usbnet/cdcecm"
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

// CDC class requests (CDC 1.2 table 19, ECM 1.2 table 6).
var cdcRequests = map[uint8]string{
	0x00: "SEND_ENCAPSULATED_COMMAND", 0x01: "GET_ENCAPSULATED_RESPONSE",
	cdcecm.ReqSetEthernetMulticastFilters: "SET_ETHERNET_MULTICAST_FILTERS",
	0x41:                                  "SET_ETHERNET_POWER_MANAGEMENT_PATTERN_FILTER", 0x42: "GET_ETHERNET_POWER_MANAGEMENT_PATTERN_FILTER",
	cdcecm.ReqSetEthernetPacketFilter: "SET_ETHERNET_PACKET_FILTER", 0x44: "GET_ETHERNET_STATISTIC",
	0x80: "GET_NTB_PARAMETERS",
}

var asixRequests = map[uint8]string{
	asix.CmdSetSWMII: "SET_SW_MII", asix.CmdReadMII: "READ_MII_REG", asix.CmdWriteMII: "WRITE_MII_REG",
	asix.CmdStatMngSts: "STATMNGSTS_REG", asix.CmdSetHWMII: "SET_HW_MII", asix.CmdReadEEPROM: "READ_EEPROM",
	asix.CmdWriteEEPROM: "WRITE_EEPROM", asix.CmdWriteEnable: "WRITE_ENABLE", asix.CmdWriteDisable: "WRITE_DISABLE",
	asix.CmdReadRxCtl: "READ_RX_CTL", asix.CmdWriteRxCtl: "WRITE_RX_CTL", asix.CmdReadIPG012: "READ_IPG012",
	asix.CmdWriteIPG0: "WRITE_IPG0", asix.CmdReadNodeID: "READ_NODE_ID", asix.CmdWriteNodeID: "WRITE_NODE_ID",
	asix.CmdWriteMultiFilt: "WRITE_MULTI_FILTER", asix.CmdReadPHYID: "READ_PHY_ID",
	asix.CmdReadMediumStat: "READ_MEDIUM_STATUS", asix.CmdWriteMediumMode: "WRITE_MEDIUM_MODE",
	asix.CmdReadMonitor: "READ_MONITOR_MODE", asix.CmdWriteMonitor: "WRITE_MONITOR_MODE",
	asix.CmdReadGPIOs: "READ_GPIOS", asix.CmdWriteGPIOs: "WRITE_GPIOS", asix.CmdSWReset: "SW_RESET",
	asix.CmdSWPHYStatus: "SW_PHY_STATUS", asix.CmdSWPHYSelect: "SW_PHY_SELECT", asix.CmdQCTCtrl: "QCTCTRL",
}

var ax88179Access = map[uint8]string{
	ax88179.AccessMAC: "ACCESS_MAC", ax88179.AccessPHY: "ACCESS_PHY", ax88179.AccessEEPROM: "ACCESS_EEPROM",
	ax88179.AccessEFuse: "ACCESS_EFUSE", ax88179.Reload: "RELOAD_EEPROM_EFUSE",
}

// FilterBits names the bits of SET_ETHERNET_PACKET_FILTER's wValue:
// "DIRECTED|BROADCAST".
func FilterBits(v uint16) string {
	names := []string{"PROMISCUOUS", "ALL_MULTICAST", "DIRECTED", "BROADCAST", "MULTICAST"}
	var out []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if rest := v &^ 0x1f; rest != 0 {
		out = append(out, fmt.Sprintf("%#x", rest))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "|")
}

// RequestName names a control request the way a person reads a trace:
// "GET_DESCRIPTOR(device)", "SET_CONFIGURATION(1)",
// "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)", "asix READ_PHY_ID",
// "ax88179 ACCESS_MAC read RX_CTL". driver ("cdc_ether", "asix",
// "ax88179_178a" or "") picks the vendor request table; an unknown request is
// named by its type, direction and numbers.
func RequestName(s hw.Setup, driver string) string {
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
	case hw.TypeClass:
		n, ok := cdcRequests[s.Request]
		if !ok {
			break
		}
		switch s.Request {
		case cdcecm.ReqSetEthernetPacketFilter:
			return n + "(" + FilterBits(s.Value) + ")"
		case cdcecm.ReqSetEthernetMulticastFilters:
			return fmt.Sprintf("%s(%d addresses)", n, s.Value)
		}
		return n
	case hw.TypeVendor:
		switch driver {
		case "asix":
			if n, ok := asixRequests[s.Request]; ok {
				return vendorASIX(n, s)
			}
		case "ax88179_178a":
			if n, ok := ax88179Access[s.Request]; ok {
				return vendorAX88179(n, s)
			}
		}
	}
	kind := [...]string{"standard", "class", "vendor", "reserved"}[typ>>5]
	dir := "OUT"
	if s.In() {
		dir = "IN"
	}
	return fmt.Sprintf("%s %s request %#02x (wValue %#04x wIndex %#04x wLength %d)", kind, dir, s.Request, s.Value, s.Index, s.Length)
}

func vendorASIX(n string, s hw.Setup) string {
	switch s.Request {
	case asix.CmdReadMII, asix.CmdWriteMII:
		return fmt.Sprintf("asix %s(phy %d reg %#02x)", n, s.Value, s.Index)
	case asix.CmdReadEEPROM, asix.CmdWriteEEPROM:
		return fmt.Sprintf("asix %s(word %#02x)", n, s.Value)
	case asix.CmdWriteRxCtl, asix.CmdWriteMediumMode, asix.CmdSWReset, asix.CmdWriteGPIOs, asix.CmdSWPHYSelect:
		return fmt.Sprintf("asix %s(%#04x)", n, s.Value)
	}
	return "asix " + n
}

var ax88179RegNames = func() map[uint16]string {
	m := map[uint16]string{}
	for _, r := range ax88179.MACRegs {
		m[r.Reg] = r.Name
	}
	m[ax88179.RegSROMAddr] = "SROM_ADDR"
	m[ax88179.RegSROMDataLow] = "SROM_DATA_LOW"
	m[ax88179.RegSROMDataHigh] = "SROM_DATA_HIGH"
	m[ax88179.RegSROMCmd] = "SROM_CMD"
	return m
}()

func vendorAX88179(n string, s hw.Setup) string {
	op := "write"
	if s.In() {
		op = "read"
	}
	switch s.Request {
	case ax88179.AccessMAC:
		reg, ok := ax88179RegNames[s.Value]
		if !ok {
			reg = fmt.Sprintf("%#02x", s.Value)
		}
		return fmt.Sprintf("ax88179 %s %s %s", n, op, reg)
	case ax88179.AccessPHY:
		return fmt.Sprintf("ax88179 %s %s reg %#02x", n, op, s.Index)
	case ax88179.AccessEEPROM, ax88179.AccessEFuse:
		return fmt.Sprintf("ax88179 %s %s %#02x", n, op, s.Value)
	}
	return "ax88179 " + n
}
