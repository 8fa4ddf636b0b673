package usbmon

import (
	"encoding/binary"
	"fmt"
)

// LinkTypeUSBPcap is LINKTYPE_USBPCAP (249): Windows captures made with
// USBPcap. See usbpcapPacket for how its records become usbmon Records.
const LinkTypeUSBPcap LinkType = 249

// USBPcap header sizes (USBPcap's "capture format specification"): the
// USBPCAP_BUFFER_PACKET_HEADER, and the control header that adds the stage.
const (
	USBPcapHeaderLen        = 27
	USBPcapControlHeaderLen = 28
)

// USBPcap's transfer stages of a control transfer (USBPCAP_CONTROL_STAGE_*).
const (
	usbpcapStageSetup  = 0
	usbpcapStageData   = 1
	usbpcapStageStatus = 2
)

// usbpcapHeader is one USBPCAP_BUFFER_PACKET_HEADER (little-endian).
type usbpcapHeader struct {
	hdrLen   int
	irp      uint64
	status   uint32 // USBD_STATUS
	function uint16 // URB_FUNCTION_*
	info     uint8  // bit 0: PDO→FDO, i.e. on the way back: a completion
	bus      uint16
	device   uint16
	endpoint uint8
	transfer uint8 // 0 iso, 1 interrupt, 2 control, 3 bulk (usbmon's numbering), 0xfe IRP info, 0xff unknown
	dataLen  uint32
	stage    uint8 // control only
}

func parseUSBPcapHeader(b []byte) (usbpcapHeader, error) {
	var h usbpcapHeader
	if len(b) < USBPcapHeaderLen {
		return h, &TruncatedError{"USBPcap header", 0, USBPcapHeaderLen, len(b)}
	}
	le := binary.LittleEndian
	h = usbpcapHeader{hdrLen: int(le.Uint16(b)), irp: le.Uint64(b[2:]), status: le.Uint32(b[10:]),
		function: le.Uint16(b[14:]), info: b[16], bus: le.Uint16(b[17:]), device: le.Uint16(b[19:]),
		endpoint: b[21], transfer: b[22], dataLen: le.Uint32(b[23:])}
	if h.hdrLen < USBPcapHeaderLen || h.hdrLen > len(b) {
		return h, &FieldError{"USBPcap headerLen", 0, fmt.Sprintf("%d with %d bytes in the record (at least %d)", h.hdrLen, len(b), USBPcapHeaderLen)}
	}
	if h.info&^1 != 0 {
		return h, &FieldError{"USBPcap info", 16, fmt.Sprintf("%#02x has reserved bits set", h.info)}
	}
	switch h.transfer {
	case uint8(XferControl):
		if h.hdrLen < USBPcapControlHeaderLen {
			return h, &FieldError{"USBPcap headerLen", 0, fmt.Sprintf("%d for a control transfer (need %d)", h.hdrLen, USBPcapControlHeaderLen)}
		}
		h.stage = b[27]
		if h.stage > usbpcapStageStatus && h.stage != 3 {
			return h, &FieldError{"USBPcap stage", 27, fmt.Sprintf("%d is not setup, data, status or complete", h.stage)}
		}
	case uint8(XferIso), uint8(XferInterrupt), uint8(XferBulk), 0xfe, 0xff:
	default:
		return h, &FieldError{"USBPcap transfer", 22, fmt.Sprintf("%d is not a USBPcap transfer type", h.transfer)}
	}
	return h, nil
}

// ErrnoOfUSBD maps a USBD_STATUS (Windows' usb.h) onto the usbmon status a
// Linux host would log for the same outcome: 0, or a negative errno. A
// code without a closer match is -EPROTO.
func ErrnoOfUSBD(s uint32) int32 {
	switch s {
	case 0x00000000: // SUCCESS
		return 0
	case 0xC0000004, 0xC0000030: // STALL_PID, ENDPOINT_HALTED
		return -EPIPE
	case 0xC0000001: // CRC
		return -EILSEQ
	case 0xC0000008, 0xC0000012: // DATA_OVERRUN, BABBLE_DETECTED
		return -EOVERFLOW
	case 0xC0000009: // DATA_UNDERRUN: a short packet without USBD_SHORT_TRANSFER_OK
		return -EREMOTEIO
	case 0xC0000005: // DEV_NOT_RESPONDING
		return -ETIME
	case 0xC0006000: // TIMEOUT
		return -ETIMEDOUT
	case 0xC0007000: // DEVICE_GONE
		return -ENODEV
	case 0xC0010000: // CANCELED
		return -ENOENT
	}
	if s&0xC0000000 == 0 {
		return 0 // a success or informational code
	}
	return -EPROTO
}

// usbpcapState joins a control transfer's stages (per IRP) into one
// submission and one completion record.
type usbpcapState struct {
	setup map[uint64]*usbpcapHeld // OUT setup waiting for its data stage
	data  map[uint64]*usbpcapHeld // IN data stage waiting for its status stage
}

type usbpcapHeld struct {
	rec Record
	idx int
	off int64
}

// usbpcapPacket turns one USBPcap packet into usbmon records (the first in
// rec, more in r.pend), as the kernel's usbmon would have logged the same
// transfer:
//
//   - bulk and interrupt: USBPcap logs an OUT transfer once on its way down
//     (with its data) and an IN transfer once on its way back (with its
//     data); each becomes a submission and a completion with the same id
//     (the IRP's), so that pairing works as for usbmon. USBPcap does not
//     log the OUT transfer's completion: its status is taken as success.
//   - control: the setup stage (with the 8-byte setup packet; on the way
//     down) and, for OUT, the data stage become the submission; the IN data
//     stage and the status stage (on the way back, carrying the
//     USBD_STATUS) become the completion.
//   - USBD_STATUS becomes a Linux errno (ErrnoOfUSBD).
//   - isochronous, IRP-information and unknown-function records are not
//     decoded (got is false): dongle's adapters use none.
//
// Timestamps are the container's; the bus is USBPcap's root hub number.
func (r *Reader) usbpcapPacket(p *packet, rec *Record) (got bool, err error) {
	h, err := parseUSBPcapHeader(p.data)
	if err != nil {
		return false, err
	}
	payload := p.data[h.hdrLen:]
	switch {
	case int64(h.dataLen) < int64(len(payload)):
		return false, &FieldError{"USBPcap dataLength", 23, fmt.Sprintf("%d but %d bytes follow the header", h.dataLen, len(payload))}
	case int64(h.dataLen) > int64(len(payload)) && !p.cut:
		return false, &TruncatedError{"USBPcap data", h.hdrLen, int(h.dataLen), len(payload)}
	}
	if h.transfer > uint8(XferBulk) || h.transfer == uint8(XferIso) {
		return false, nil
	}
	if h.device > 255 {
		return false, &FieldError{"USBPcap device", 19, fmt.Sprintf("%d is not a USB address (USBPcap writes 0xffff for a pipe it could not attribute)", h.device)}
	}
	base := Record{ID: h.irp, XferType: XferType(h.transfer), Endpoint: h.endpoint, Device: uint8(h.device), Bus: h.bus,
		FlagSetup: FlagNoSetup, TsSec: p.sec, TsUsec: p.usec}
	idx := r.index
	if h.transfer != uint8(XferControl) {
		sub, com := base, base
		sub.Type, com.Type = Submit, Complete
		com.Status = ErrnoOfUSBD(h.status)
		if h.endpoint&0x80 != 0 {
			sub.FlagData, sub.Length = FlagDataIn, h.dataLen
			com.Data, com.Length, com.LenCap = payload, h.dataLen, uint32(len(payload))
		} else {
			sub.Data, sub.Length, sub.LenCap = payload, h.dataLen, uint32(len(payload))
			com.FlagData, com.Length = FlagDataOut, h.dataLen
		}
		*rec = sub
		r.queue(com.Clone(), idx, p.off)
		return true, nil
	}
	st := &r.usbpcap
	if st.setup == nil {
		st.setup, st.data = map[uint64]*usbpcapHeld{}, map[uint64]*usbpcapHeld{}
	}
	completion := h.info&1 != 0
	switch {
	case !completion && h.stage == usbpcapStageSetup:
		if len(payload) < 8 {
			return false, &TruncatedError{"USBPcap setup packet", h.hdrLen, 8, len(payload)}
		}
		s := base
		s.Type, s.FlagSetup = Submit, FlagPresent
		copy(s.Setup[:], payload[:8])
		s.Length = uint32(binary.LittleEndian.Uint16(payload[6:]))
		s.Endpoint = h.endpoint&0x7f | s.Setup[0]&0x80
		if s.Setup[0]&0x80 != 0 {
			s.FlagData = FlagDataIn
		} else if s.Length > 0 {
			// Wait for the OUT data stage.
			r.flushSetup(h.irp)
			st.setup[h.irp] = &usbpcapHeld{rec: s, idx: idx, off: p.off}
			return false, nil
		} else {
			s.FlagData = FlagDataOut
		}
		*rec = s
		return true, nil
	case !completion && h.stage == usbpcapStageData:
		held := st.setup[h.irp]
		if held == nil {
			return false, &FieldError{"USBPcap stage", 27, fmt.Sprintf("OUT data stage of IRP %#x without its setup stage", h.irp)}
		}
		delete(st.setup, h.irp)
		held.rec.Data, held.rec.LenCap = payload, uint32(len(payload))
		*rec = held.rec
		rec.TsSec, rec.TsUsec = p.sec, p.usec
		return true, nil
	case completion && h.stage == usbpcapStageData:
		c := base
		c.Type = Complete
		c.Endpoint = h.endpoint | 0x80
		c.Data, c.Length, c.LenCap = payload, h.dataLen, uint32(len(payload))
		st.data[h.irp] = &usbpcapHeld{rec: *c.Clone(), idx: idx, off: p.off}
		return false, nil
	case completion && (h.stage == usbpcapStageStatus || h.stage == 3):
		got = r.flushSetup(h.irp)
		c := base
		c.Type, c.Status = Complete, ErrnoOfUSBD(h.status)
		c.FlagData = FlagDataOut
		if held := st.data[h.irp]; held != nil {
			delete(st.data, h.irp)
			c.Endpoint, c.Data, c.Length, c.LenCap, c.FlagData = held.rec.Endpoint, held.rec.Data, held.rec.Length, held.rec.LenCap, FlagPresent
		}
		if got {
			r.queue(c.Clone(), idx, p.off)
			*rec = r.pend[0].rec
			r.pend = r.pend[1:]
			return true, nil
		}
		*rec = c
		return true, nil
	}
	return false, &FieldError{"USBPcap stage", 27, fmt.Sprintf("stage %d on the way %s", h.stage, map[bool]string{true: "back (PDO→FDO)", false: "down (FDO→PDO)"}[completion])}
}

// flushSetup queues the held OUT setup of irp (its data stage never came).
func (r *Reader) flushSetup(irp uint64) bool {
	held := r.usbpcap.setup[irp]
	if held == nil {
		return false
	}
	delete(r.usbpcap.setup, irp)
	held.rec.FlagData = FlagDataOut
	r.queue(&held.rec, held.idx, held.off)
	return true
}

func (r *Reader) queue(rec *Record, idx int, off int64) {
	r.pend = append(r.pend, pendRec{*rec, idx, off})
}

// flushUSBPcap queues, at the end of the file, what is still held: setup
// stages whose data never came. It reports whether anything was queued.
func (r *Reader) flushUSBPcap() bool {
	for irp := range r.usbpcap.setup {
		r.flushSetup(irp)
	}
	r.usbpcap.data = nil
	return len(r.pend) > 0
}
