package cdcncm

import (
	"fmt"

	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// SetRxMode implements usbnet.Minidriver (cdc_ncm_update_filter): only a
// device whose bmNetworkCapabilities has the packet filter bit gets
// SET_ETHERNET_PACKET_FILTER, computed as cdc_ether does
// (cdcecm.PacketFilter); with a multicast list that fits wNumberMCFilters
// (and no ALLMULTI) SET_ETHERNET_MULTICAST_FILTERS goes first, and a
// refusal falls back to ALL_MULTICAST. A device without the bit filters
// as it likes (Linux sends nothing either).
func (*Driver) SetRxMode(d *usbnet.Dev) error {
	st := priv(d)
	if st.fn.Capabilities&CapPacketFilter == 0 {
		return nil
	}
	m := d.RxMode()
	programmed := false
	if !m.AllMulti && len(m.Multicast) > 0 && int(st.fn.NumMCFilters) >= len(m.Multicast) {
		buf := make([]byte, 0, 6*len(m.Multicast))
		for _, a := range m.Multicast {
			buf = append(buf, a...)
		}
		err := d.ControlOut(reqOut, cdcecm.ReqSetEthernetMulticastFilters, uint16(len(m.Multicast)), uint16(st.fn.Control), buf)
		programmed = err == nil
	}
	f := cdcecm.PacketFilter(m, programmed)
	if err := d.ControlOut(reqOut, cdcecm.ReqSetEthernetPacketFilter, f, uint16(st.fn.Control), nil); err != nil {
		return fmt.Errorf("SET_ETHERNET_PACKET_FILTER %#04x: %w", f, err)
	}
	st.mu.Lock()
	st.filter, st.mcastOK = f, programmed
	st.mu.Unlock()
	return nil
}
