package asix

import (
	"encoding/binary"
	"fmt"
	"net"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
)

// What asix knows about its traffic without a bound device (see
// usbnet/offline.go).
var (
	_ usbnet.Unframer        = (*Driver)(nil)
	_ usbnet.TxFraming       = (*Driver)(nil)
	_ usbnet.StatusDescriber = (*Driver)(nil)
	_ usbnet.RequestNamer    = (*Driver)(nil)
	_ usbnet.MACLocator      = (*Driver)(nil)
)

// rxUnframer runs the RX stream through a Deframer, as RxFixup does.
type rxUnframer struct {
	df Deframer
	q  skbuff.Queue
}

// Rx feeds one transfer. A transfer the capture cut loses the rest of the
// stream with its cut bytes: whatever frame was open is lost, not
// malformed, and the stream restarts at the next transfer.
func (u *rxUnframer) Rx(p []byte, length int, emit usbnet.EmitFunc) (lost bool, err error) {
	err = u.df.Feed(p, &u.q)
	for b := u.q.Dequeue(); b != nil; b = u.q.Dequeue() {
		emit(b.Data(), b.Len())
		b.Free(skbuff.FreeRead)
	}
	if len(p) < length {
		lost = u.df.Partial()
		u.df.Reset()
	}
	return lost, err
}

// Close implements usbnet.RxUnframer: a frame still open at the end of
// the trace is freed.
func (u *rxUnframer) Close() { u.df.Reset() }

// RxUnframer implements usbnet.Unframer.
func (*Driver) RxUnframer(*usbnet.Capture) usbnet.RxUnframer { return &rxUnframer{} }

// UnframeTx implements usbnet.Unframer: 4-byte length/complement headers,
// each followed by its frame, and the optional 00 00 ff ff filler that
// keeps a transfer off a packet multiple (asix_tx_fixup).
func (*Driver) UnframeTx(_ *usbnet.Capture, p []byte, length int, emit usbnet.EmitFunc) error {
	off := 0
	for off < length {
		if length-off == 4 && len(p)-off == 4 && [4]byte(p[off:off+4]) == TxPad {
			return nil
		}
		if len(p)-off < 4 {
			if len(p) < length {
				return nil // the header is in the part the capture cut
			}
			return fmt.Errorf("%w: %d bytes left at offset %d", usbnet.ErrTxShort, len(p)-off, off)
		}
		h := binary.LittleEndian.Uint32(p[off:])
		if !HeaderOK(h) {
			return fmt.Errorf("%w: header %#08x at offset %d", usbnet.ErrTxHeader, h, off)
		}
		n := int(h & 0x7ff)
		start := off + 4
		if start+n > length {
			return fmt.Errorf("%w: frame of %d bytes at offset %d, transfer %d", usbnet.ErrTxShort, n, start, length)
		}
		emit(p[start:min(start+n, len(p))], n)
		off = start + n
	}
	return nil
}

// TxHeaderLen implements usbnet.TxFraming.
func (*Driver) TxHeaderLen() int { return 4 }

// DescribeStatus implements usbnet.StatusDescriber: bit 0 of byte 2 is the
// link (asix_status), in a packet of at least 8 bytes: Linux ignores a
// shorter one, so decode reports no link event for it either.
func (*Driver) DescribeStatus(p []byte) (usbnet.LinkEvent, error) {
	if len(p) < 8 {
		return usbnet.LinkEvent{}, fmt.Errorf("%w: %d bytes, need 8", ErrStatus, len(p))
	}
	return usbnet.LinkEvent{HasLink: true, Up: p[2]&1 != 0}, nil
}

var requestNames = map[uint8]string{
	CmdSetSWMII: "SET_SW_MII", CmdReadMII: "READ_MII_REG", CmdWriteMII: "WRITE_MII_REG",
	CmdStatMngSts: "STATMNGSTS_REG", CmdSetHWMII: "SET_HW_MII", CmdReadEEPROM: "READ_EEPROM",
	CmdWriteEEPROM: "WRITE_EEPROM", CmdWriteEnable: "WRITE_ENABLE", CmdWriteDisable: "WRITE_DISABLE",
	CmdReadRxCtl: "READ_RX_CTL", CmdWriteRxCtl: "WRITE_RX_CTL", CmdReadIPG012: "READ_IPG012",
	CmdWriteIPG0: "WRITE_IPG0", CmdReadNodeID: "READ_NODE_ID", CmdWriteNodeID: "WRITE_NODE_ID",
	CmdWriteMultiFilt: "WRITE_MULTI_FILTER", CmdReadPHYID: "READ_PHY_ID",
	CmdReadMediumStat: "READ_MEDIUM_STATUS", CmdWriteMediumMode: "WRITE_MEDIUM_MODE",
	CmdReadMonitor: "READ_MONITOR_MODE", CmdWriteMonitor: "WRITE_MONITOR_MODE",
	CmdReadGPIOs: "READ_GPIOS", CmdWriteGPIOs: "WRITE_GPIOS", CmdSWReset: "SW_RESET",
	CmdSWPHYStatus: "SW_PHY_STATUS", CmdSWPHYSelect: "SW_PHY_SELECT", CmdQCTCtrl: "QCTCTRL",
}

// RequestName implements usbnet.RequestNamer for the ASIX vendor commands:
// "asix READ_MII_REG(phy 16 reg 0x01)".
func (*Driver) RequestName(s hw.Setup) (string, bool) {
	if s.RequestType&0x60 != hw.TypeVendor {
		return "", false
	}
	n, ok := requestNames[s.Request]
	if !ok {
		return "", false
	}
	switch s.Request {
	case CmdReadMII, CmdWriteMII:
		return fmt.Sprintf("asix %s(phy %d reg %#02x)", n, s.Value, s.Index), true
	case CmdReadEEPROM, CmdWriteEEPROM:
		return fmt.Sprintf("asix %s(word %#02x)", n, s.Value), true
	case CmdWriteRxCtl, CmdWriteMediumMode, CmdSWReset, CmdWriteGPIOs, CmdSWPHYSelect:
		return fmt.Sprintf("asix %s(%#04x)", n, s.Value), true
	}
	return "asix " + n, true
}

// TraceMAC implements usbnet.MACLocator: where Bind reads the MAC
// (readMAC), the last successful read of it in the trace: EEPROM words
// 4..6 on the AX88772B (FLAG_EEPROM_MAC), READ_NODE_ID on the others.
// When the trace does not say which chip it is (a forced driver), the
// EEPROM words if all three were read, else NODE_ID.
func (*Driver) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	var node net.HardwareAddr
	var words [3][]byte
	for _, r := range c.Controls {
		s := r.Setup
		if s.RequestType&0x60 != hw.TypeVendor || !s.In() || !r.OK {
			continue
		}
		switch {
		case s.Request == CmdReadNodeID && len(r.Data) == 6:
			node = net.HardwareAddr(append([]byte(nil), r.Data...))
		case s.Request == CmdReadEEPROM && s.Value >= EEPROMMACWord && s.Value < EEPROMMACWord+3 && len(r.Data) == 2:
			words[s.Value-EEPROMMACWord] = r.Data
		}
	}
	var eeprom net.HardwareAddr
	if words[0] != nil && words[1] != nil && words[2] != nil {
		eeprom = net.HardwareAddr(append(append(append([]byte(nil), words[0]...), words[1]...), words[2]...))
	}
	v, known := c.ID.Info.(Variant)
	switch {
	case known && v == AX88772B:
		return eeprom, nil
	case known:
		return node, nil
	case eeprom != nil:
		return eeprom, nil
	}
	return node, nil
}
