package cdcncm

import (
	"encoding/binary"
	"fmt"

	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// Diagnose implements usbnet.Diagnoser: the NTB parameters as the device
// sent them, the sizes dongle negotiated from them (and what it had to
// clamp), what the device says it runs now (GET_NTB_FORMAT,
// GET_NTB_INPUT_SIZE, GET_MAX_DATAGRAM_SIZE: a disagreement is a
// problem), the filter, and the NTB counters (cdc_ncm's ethtool -S and
// the reader's anomalies).
func (dr *Driver) Diagnose(d *usbnet.Dev) *usbnet.Diagnosis {
	st := priv(d)
	g := &usbnet.Diagnosis{}
	problem := func(format string, args ...any) { g.Problems = append(g.Problems, fmt.Sprintf(format, args...)) }
	st.mu.Lock()
	z, p, filter, mc := st.sizes, st.params, st.filter, st.mcastOK
	failed := append([]string(nil), st.setFailed...)
	st.mu.Unlock()
	reg := func(name string, v any) {
		g.MACRegs = append(g.MACRegs, usbnet.Reg{Name: name, Value: fmt.Sprint(v)})
	}
	reg("bmNtbFormatsSupported", fmt.Sprintf("%#04x", p.FormatsSupported))
	reg("dwNtbInMaxSize", p.InMaxSize)
	reg("wNdpInDivisor", p.InDivisor)
	reg("wNdpInPayloadRemainder", p.InPayloadRemainder)
	reg("wNdpInAlignment", p.InAlignment)
	reg("dwNtbOutMaxSize", p.OutMaxSize)
	reg("wNdpOutDivisor", p.OutDivisor)
	reg("wNdpOutPayloadRemainder", p.OutPayloadRemainder)
	reg("wNdpOutAlignment", p.OutAlignment)
	reg("wNtbOutMaxDatagrams", p.OutMaxDatagrams)
	reg("bmNetworkCapabilities", fmt.Sprintf("%#02x (%s)", st.fn.Capabilities, CapabilityNames(st.fn.Capabilities)))
	g.PHY = []string{
		fmt.Sprintf("NCM %x.%02x, no PHY or MAC registers (link state from NETWORK_CONNECTION notifications)", st.fn.NCMVersion>>8, st.fn.NCMVersion&0xff),
		fmt.Sprintf("negotiated: %v, NTB in %d bytes (rx_max), NTB out %d bytes (tx_max), max datagram %d, MTU %d",
			z.Format, z.RxMax, z.TxMax, z.MaxDatagram, d.Net.MTU()),
		fmt.Sprintf("TX layout: datagrams at ≡ %d (mod %d), NDP aligned to %d, at most %d datagrams per NTB, padded to tx_max above %d bytes%s",
			z.TxRemainder, z.TxDivisor, z.TxNDPAlign, z.TxMaxDgrams, z.MinTxPkt, map[bool]string{true: " (ZLP mode: never)", false: ""}[dr.SendZLP]),
		fmt.Sprintf("packet filter %s%s", cdcecm.FilterBits(filter), map[bool]string{true: ", multicast list programmed", false: ""}[mc]),
	}
	for _, n := range z.Notes {
		problem("NTB parameters: %s", n)
	}
	for _, f := range failed {
		problem("device refused %s", f)
	}
	iface := uint16(st.fn.Control)
	if p.FormatsSupported&FormatsNTB32 != 0 {
		b := make([]byte, 2)
		if err := d.ControlIn(reqIn, ReqGetNTBFormat, 0, iface, b); err != nil {
			problem("GET_NTB_FORMAT: %v", err)
		} else if f := Format(binary.LittleEndian.Uint16(b)); f != z.Format {
			problem("device runs %v, dongle negotiated %v", f, z.Format)
		}
	}
	n := 4
	if st.fn.Capabilities&CapInputSize8 != 0 {
		n = 8
	}
	b := make([]byte, n)
	if err := d.ControlIn(reqIn, ReqGetNTBInputSize, 0, iface, b); err != nil {
		problem("GET_NTB_INPUT_SIZE: %v", err)
	} else if v := int(binary.LittleEndian.Uint32(b)); v != z.RxMax {
		problem("device's NTB input size is %d, dongle negotiated %d", v, z.RxMax)
	}
	if st.fn.Capabilities&CapMaxDatagramSize != 0 {
		b := make([]byte, 2)
		if err := d.ControlIn(reqIn, ReqGetMaxDatagramSize, 0, iface, b); err != nil {
			problem("GET_MAX_DATAGRAM_SIZE: %v", err)
		} else if v := int(binary.LittleEndian.Uint16(b)); v != z.MaxDatagram {
			problem("device's max datagram size is %d, dongle negotiated %d", v, z.MaxDatagram)
		}
	}
	for _, c := range append(st.txc.Named(), st.rxc.Named()...) {
		g.Counters = append(g.Counters, usbnet.Counter{Name: c.Name, Value: c.C.Load()})
	}
	return g
}
