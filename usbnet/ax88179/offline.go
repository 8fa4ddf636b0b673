package ax88179

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"dongle/hw"
	"dongle/usbnet"
)

// What ax88179_178a knows about its traffic without a bound device (see
// usbnet/offline.go).
var (
	_ usbnet.Unframer        = (*Driver)(nil)
	_ usbnet.TxFraming       = (*Driver)(nil)
	_ usbnet.StatusDescriber = (*Driver)(nil)
	_ usbnet.RequestNamer    = (*Driver)(nil)
	_ usbnet.MACLocator      = (*Driver)(nil)
)

// rxUnframer walks each transfer in place (Walk: zero-copy).
type rxUnframer struct{ ipe bool }

// Rx de-aggregates one transfer. A transfer the capture cut has lost its
// trailer, which is what locates the frames: they are lost.
func (u rxUnframer) Rx(p []byte, length int, emit usbnet.EmitFunc) (bool, error) {
	if len(p) < length {
		return true, nil
	}
	_, err := Walk(p, u.ipe, func(f Frame) { emit(p[f.Off:f.Off+f.Len], f.Len) })
	return false, err
}

// Close implements usbnet.RxUnframer: nothing is held between transfers.
func (rxUnframer) Close() {}

// RxUnframer implements usbnet.Unframer, with RX_CTL.IPE as the host last
// started RX with (Linux always sets it; on when the trace does not say).
func (*Driver) RxUnframer(c *usbnet.Capture) usbnet.RxUnframer {
	ipe := true
	for _, r := range c.Controls {
		s := r.Setup
		if !s.In() && s.RequestType&0x60 == hw.TypeVendor && s.Request == AccessMAC && s.Value == RegRxCtl && len(r.Data) >= 2 {
			// Unbind's stop (RX_CTL 0) ends a trace; what matters is the
			// value RX ran with.
			if v := binary.LittleEndian.Uint16(r.Data); v&RxCtlStart != 0 {
				ipe = v&RxCtlIPE != 0
			}
		}
	}
	return rxUnframer{ipe: ipe}
}

// UnframeTx implements usbnet.Unframer: an 8-byte header before every
// frame (PutTxHeader), the frame, and at most a pad byte at the end.
func (*Driver) UnframeTx(_ *usbnet.Capture, p []byte, length int, emit usbnet.EmitFunc) error {
	off := 0
	for length-off >= TxHdrLen {
		if len(p)-off < TxHdrLen {
			return nil // the header is in the part the capture cut
		}
		n := int(binary.LittleEndian.Uint32(p[off:]) & TxLenMask)
		start := off + TxHdrLen
		if n == 0 || start+n > length {
			return fmt.Errorf("%w: header says %d bytes at offset %d, transfer %d", usbnet.ErrTxShort, n, start, length)
		}
		emit(p[start:min(start+n, len(p))], n)
		off = start + n
	}
	return nil
}

// TxHeaderLen implements usbnet.TxFraming.
func (*Driver) TxHeaderLen() int { return TxHdrLen }

// ErrIntShort: an interrupt packet shorter than the 8 bytes the chip
// sends (Status), or too short to hold the link bit (DescribeStatus).
var ErrIntShort = errors.New("interrupt packet too short")

// DescribeStatus implements usbnet.StatusDescriber: the link bit
// (IntLinkUp), in a packet of at least 8 bytes, as Status and
// ax88179_status require.
func (*Driver) DescribeStatus(p []byte) (usbnet.LinkEvent, error) {
	if len(p) < 8 {
		return usbnet.LinkEvent{}, fmt.Errorf("%w: %d bytes, need 8", ErrIntShort, len(p))
	}
	return usbnet.LinkEvent{HasLink: true, Up: IntLinkUp(p)}, nil
}

var accessNames = map[uint8]string{
	AccessMAC: "ACCESS_MAC", AccessPHY: "ACCESS_PHY", AccessEEPROM: "ACCESS_EEPROM",
	AccessEFuse: "ACCESS_EFUSE", Reload: "RELOAD_EEPROM_EFUSE",
}

var regNames = func() map[uint16]string {
	m := map[uint16]string{}
	for _, r := range MACRegs {
		m[r.Reg] = r.Name
	}
	m[RegSROMAddr] = "SROM_ADDR"
	m[RegSROMDataLow] = "SROM_DATA_LOW"
	m[RegSROMDataHigh] = "SROM_DATA_HIGH"
	m[RegSROMCmd] = "SROM_CMD"
	return m
}()

// RequestName implements usbnet.RequestNamer for the AX88179 access
// requests: "ax88179 ACCESS_MAC read RX_CTL".
func (*Driver) RequestName(s hw.Setup) (string, bool) {
	if s.RequestType&0x60 != hw.TypeVendor {
		return "", false
	}
	n, ok := accessNames[s.Request]
	if !ok {
		return "", false
	}
	op := "write"
	if s.In() {
		op = "read"
	}
	switch s.Request {
	case AccessMAC:
		reg, ok := regNames[s.Value]
		if !ok {
			reg = fmt.Sprintf("%#02x", s.Value)
		}
		return fmt.Sprintf("ax88179 %s %s %s", n, op, reg), true
	case AccessPHY:
		return fmt.Sprintf("ax88179 %s %s reg %#02x", n, op, s.Index), true
	case AccessEEPROM, AccessEFuse:
		return fmt.Sprintf("ax88179 %s %s %#02x", n, op, s.Value), true
	}
	return "ax88179 " + n, true
}

// TraceMAC implements usbnet.MACLocator: the last successful NODE_ID
// access (Bind reads the chip's address there).
func (*Driver) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	for _, r := range c.Controls {
		s := r.Setup
		if s.RequestType&0x60 == hw.TypeVendor && s.Request == AccessMAC && s.Value == RegNodeID && r.OK && len(r.Data) == 6 {
			mac = net.HardwareAddr(append([]byte(nil), r.Data...))
		}
	}
	return mac, nil
}
