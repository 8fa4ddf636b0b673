package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
)

// rndis decodes a configuration whose function is RNDIS (QEMU's usb-net
// configuration 2, Linux's f_rndis, Windows-first devices) offline: no
// rndis_host minidriver exists in dongle, so this is decode's own and is
// never bound to a device (Bind fails with errOfflineOnly). When an
// rndis_host minidriver lands, its Unframer replaces this.
//
// Framing (MS-RNDIS 2.2.14, Linux's rndis_host.c): each frame travels in a
// REMOTE_NDIS_PACKET_MSG, a 44-byte header (MessageType 1, MessageLength
// of the whole message, DataOffset counted from byte 8, DataLength, and
// out-of-band and per-packet fields dongle ignores) followed by the frame;
// a transfer may hold several messages back to back, in both directions.
type rndis struct{}

var (
	_ usbnet.Minidriver      = rndis{}
	_ usbnet.Unframer        = rndis{}
	_ usbnet.RequestNamer    = rndis{}
	_ usbnet.MACLocator      = rndis{}
	_ usbnet.StatusDescriber = rndis{}
)

// RNDIS constants (MS-RNDIS).
const (
	rndisPacketMsg     = 0x00000001
	rndisQueryMsg      = 0x00000004
	rndisQueryCmplt    = 0x80000004
	rndisHeaderLen     = 44
	oidPermanentAddr   = 0x01010101 // OID_802_3_PERMANENT_ADDRESS
	oidCurrentAddr     = 0x01010102 // OID_802_3_CURRENT_ADDRESS
	rndisMinMessageLen = 8 + 36
)

// ErrRNDIS is a malformed REMOTE_NDIS_PACKET_MSG.
var ErrRNDIS = errors.New("bad REMOTE_NDIS_PACKET_MSG")

var errOfflineOnly = errors.New("decode's RNDIS unframer is offline only: no rndis_host minidriver")

func (rndis) Name() string                                           { return "rndis_host (decode's offline unframer)" }
func (rndis) IDs() []usbnet.ID                                       { return nil }
func (rndis) Flags() usbnet.Flags                                    { return 0 }
func (rndis) Bind(*usbnet.Dev) error                                 { return errOfflineOnly }
func (rndis) Unbind(*usbnet.Dev)                                     {}
func (rndis) Reset(*usbnet.Dev) error                                { return errOfflineOnly }
func (rndis) LinkReset(*usbnet.Dev) error                            { return errOfflineOnly }
func (rndis) SetRxMode(*usbnet.Dev) error                            { return errOfflineOnly }
func (rndis) Status(*usbnet.Dev, []byte) error                       { return errOfflineOnly }
func (rndis) RxFixup(*usbnet.Dev, *skbuff.Buff, *skbuff.Queue) error { return errOfflineOnly }
func (rndis) TxFixup(*usbnet.Dev, *skbuff.Buff) error                { return errOfflineOnly }
func (rndis) RxUnframer(*usbnet.Capture) usbnet.RxUnframer           { return rndisRx{} }
func (rndis) DescribeStatus([]byte) (usbnet.LinkEvent, error)        { return usbnet.LinkEvent{}, nil }
func (rndis) UnframeTx(_ *usbnet.Capture, p []byte, n int, emit usbnet.EmitFunc) error {
	_, err := unframeRNDIS(p, n, emit)
	return err
}

type rndisRx struct{}

func (rndisRx) Rx(p []byte, n int, emit usbnet.EmitFunc) (bool, error) {
	return unframeRNDIS(p, n, emit)
}
func (rndisRx) Close() {}

// unframeRNDIS walks the messages of one transfer (p captured of n bytes).
// lost: the capture cut the transfer before a message header, so the
// frames from there on cannot be found.
func unframeRNDIS(p []byte, n int, emit usbnet.EmitFunc) (lost bool, err error) {
	off := 0
	for off < n {
		if n-off < rndisHeaderLen {
			return false, fmt.Errorf("%w: %d bytes left at offset %d, a header is %d: %w", ErrRNDIS, n-off, off, rndisHeaderLen, ErrTxShort)
		}
		if len(p)-off < 16 {
			return true, nil
		}
		h := p[off:]
		typ, mlen := binary.LittleEndian.Uint32(h), int(binary.LittleEndian.Uint32(h[4:]))
		doff, dlen := int(binary.LittleEndian.Uint32(h[8:])), int(binary.LittleEndian.Uint32(h[12:]))
		switch {
		case typ != rndisPacketMsg:
			return false, fmt.Errorf("%w: message type %#x at offset %d", ErrRNDIS, typ, off)
		case mlen < rndisHeaderLen || mlen > n-off:
			return false, fmt.Errorf("%w: MessageLength %d at offset %d (%d bytes left)", ErrRNDIS, mlen, off, n-off)
		case doff < 36 || dlen < 0 || 8+doff+dlen > mlen:
			return false, fmt.Errorf("%w: DataOffset %d DataLength %d in a %d-byte message at offset %d", ErrRNDIS, doff, dlen, mlen, off)
		}
		start := min(off+8+doff, len(p))
		have := min(len(p)-start, dlen)
		if dlen > 0 {
			emit(p[start:start+have], dlen)
		}
		off += mlen
	}
	return false, nil
}

// RequestName names RNDIS's two class requests (CDC's encapsulated
// commands, which carry the RNDIS control messages).
func (rndis) RequestName(s hw.Setup) (string, bool) {
	if s.RequestType&0x60 != hw.TypeClass {
		return "", false
	}
	switch s.Request {
	case 0x00:
		return "SEND_ENCAPSULATED_COMMAND (RNDIS)", true
	case 0x01:
		return "GET_ENCAPSULATED_RESPONSE (RNDIS)", true
	}
	return "", false
}

// TraceMAC finds the answer to the host's query of OID_802_3_PERMANENT_ADDRESS
// (or CURRENT_ADDRESS): a REMOTE_NDIS_QUERY_MSG sent with
// SEND_ENCAPSULATED_COMMAND and the REMOTE_NDIS_QUERY_CMPLT with the same
// RequestId read back with GET_ENCAPSULATED_RESPONSE.
func (rndis) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	asked := map[uint32]bool{}
	for _, cc := range c.Controls {
		d := cc.Data
		if !cc.OK || len(d) < 16 || cc.Setup.RequestType&0x60 != hw.TypeClass {
			continue
		}
		le := binary.LittleEndian
		switch {
		case cc.Setup.Request == 0x00 && le.Uint32(d) == rndisQueryMsg:
			if oid := le.Uint32(d[12:]); oid == oidPermanentAddr || oid == oidCurrentAddr {
				asked[le.Uint32(d[8:])] = true
			}
		case cc.Setup.Request == 0x01 && le.Uint32(d) == rndisQueryCmplt && len(d) >= 24 && asked[le.Uint32(d[8:])]:
			if le.Uint32(d[12:]) != 0 {
				continue // the device failed the query
			}
			n, off := int(le.Uint32(d[16:])), 8+int(le.Uint32(d[20:]))
			if n != 6 || off+6 > len(d) || off < 24 {
				return nil, fmt.Errorf("RNDIS QUERY_CMPLT for the MAC address: %d bytes at offset %d in a %d-byte message", n, off, len(d))
			}
			return net.HardwareAddr(append([]byte(nil), d[off:off+6]...)), nil
		}
	}
	return nil, nil
}
