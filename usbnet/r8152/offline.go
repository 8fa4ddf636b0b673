package r8152

import (
	"fmt"
	"math/bits"
	"net"

	"dongle/hw"
	"dongle/usbnet"
)

// What r8152 knows about its traffic without a bound device (see
// usbnet/offline.go).
var (
	_ usbnet.Unframer        = (*Driver)(nil)
	_ usbnet.TxFraming       = (*Driver)(nil)
	_ usbnet.StatusDescriber = (*Driver)(nil)
	_ usbnet.RequestNamer    = (*Driver)(nil)
	_ usbnet.MACLocator      = (*Driver)(nil)
)

// rxUnframer walks each transfer in place (Walk: zero-copy). Frames never
// span transfers on this chip.
type rxUnframer struct{}

// Rx de-aggregates one transfer. A transfer the capture cut loses the
// frames whose descriptors or data lie in the cut part: the ones found
// whole in what was captured are emitted, and the transfer is reported
// lost rather than malformed.
func (rxUnframer) Rx(p []byte, length int, emit usbnet.EmitFunc) (bool, error) {
	cut := len(p) < length
	_, err := Walk(p, func(f Frame) { emit(p[f.Off:f.Off+f.Len], f.Len) })
	if cut {
		return true, nil
	}
	return false, err
}

// Close implements usbnet.RxUnframer: nothing is held between transfers.
func (rxUnframer) Close() {}

// RxUnframer implements usbnet.Unframer.
func (*Driver) RxUnframer(*usbnet.Capture) usbnet.RxUnframer { return rxUnframer{} }

// UnframeTx implements usbnet.Unframer: descriptors (TX_FS|TX_LS|len)
// each followed by its frame, the next at the 4-byte boundary. A
// descriptor that is not one whole frame, or a frame past the end of the
// transfer, is an error wrapping usbnet.ErrTxHeader or usbnet.ErrTxShort.
func (*Driver) UnframeTx(_ *usbnet.Capture, p []byte, length int, emit usbnet.EmitFunc) error {
	off := 0
	for length-off >= TxDescLen {
		if len(p)-off < TxDescLen {
			return nil // the descriptor is in the part the capture cut
		}
		t := ParseTxDesc(p[off:])
		if err := t.Check(); err != nil {
			return fmt.Errorf("%w: descriptor at offset %d: %w", usbnet.ErrTxHeader, off, err)
		}
		start, n := off+TxDescLen, t.Len()
		if start+n > length {
			return fmt.Errorf("%w: descriptor at offset %d says %d bytes, transfer %d", usbnet.ErrTxShort, off, n, length)
		}
		emit(p[start:min(start+n, len(p))], n)
		off = align4(start + n)
	}
	if off < length {
		return fmt.Errorf("%w: %d bytes after the last frame at offset %d", usbnet.ErrTxShort, length-off, off)
	}
	return nil
}

// TxHeaderLen implements usbnet.TxFraming.
func (*Driver) TxHeaderLen() int { return TxDescLen }

// DescribeStatus implements usbnet.StatusDescriber: INTR_LINK of the
// 2-byte interrupt packet. The speed is not in it (LinkReset reads
// PLA_PHYSTATUS).
func (*Driver) DescribeStatus(p []byte) (usbnet.LinkEvent, error) {
	if len(p) < IntrLen {
		return usbnet.LinkEvent{}, fmt.Errorf("%w: %d bytes", ErrIntShort, len(p))
	}
	return usbnet.LinkEvent{HasLink: true, Up: IntLinkUp(p)}, nil
}

// RequestName implements usbnet.RequestNamer for the register requests:
// "r8152 GET_REGS PLA 0xe86c PLA_OCP_GPHY_BASE", with the byte enables of
// a write and the PHY register a window access reaches when the page is
// the MII one.
func (*Driver) RequestName(s hw.Setup) (string, bool) {
	if s.RequestType&0x60 != hw.TypeVendor || s.Request != ReqRegs {
		return "", false
	}
	op := "SET_REGS"
	if s.In() {
		op = "GET_REGS"
	}
	b := Block(s.Index & 0xff00)
	if b != PLA && b != USB {
		return fmt.Sprintf("r8152 %s block %#04x %#04x", op, s.Index&0xff00, s.Value), true
	}
	// The register a byte or word access reaches is the first byte its
	// byte enables select (PLA_CR is written at wValue 0xe810, enable 0x88).
	addr := s.Value
	if en := s.Index & byteEnStart; en != 0 && en != byteEnStart {
		addr += uint16(bits.TrailingZeros16(en))
	}
	name := fmt.Sprintf("r8152 %s %s %#04x", op, b, addr)
	if n := RegisterName(b, addr); n != "" {
		name += " " + n
	} else if n := RegisterName(b, s.Value); n != "" {
		name += " " + n
	} else if b == PLA && s.Value&ocpPageMask == OCPWindow {
		name += fmt.Sprintf(" OCP window +%#03x", addr&ocpWindowMask)
	}
	if en := s.Index & 0xff; en != 0 {
		name += fmt.Sprintf(" (byte enable %#02x)", en)
	}
	return name, true
}

// TraceMAC implements usbnet.MACLocator: the address written to PLA_IDR
// (the first dword of the last successful write, with the next one's two
// bytes), or else the one read from PLA_BACKUP or PLA_IDR.
func (*Driver) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	var read, written net.HardwareAddr
	var lo []byte
	for _, r := range c.Controls {
		s := r.Setup
		if s.RequestType&0x60 != hw.TypeVendor || s.Request != ReqRegs || Block(s.Index&0xff00) != PLA || !r.OK {
			continue
		}
		switch {
		case s.In() && (s.Value == PLABackup || s.Value == PLAIDR) && len(r.Data) >= 6:
			read = net.HardwareAddr(append([]byte(nil), r.Data[:6]...))
		case !s.In() && s.Value == PLAIDR && len(r.Data) == 4:
			lo = r.Data
		case !s.In() && s.Value == PLAIDR+4 && len(r.Data) == 4 && lo != nil:
			written = net.HardwareAddr(append(append([]byte(nil), lo...), r.Data[:2]...))
			lo = nil
		}
	}
	if written != nil {
		return written, nil
	}
	return read, nil
}
