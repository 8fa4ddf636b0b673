package usbmon

import (
	"encoding/binary"
	"fmt"
	"io"
)

// pcapng block types (pcapng draft §4).
const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 1
	ngOPB = 2 // obsolete packet block
	ngSPB = 3
	ngNRB = 4
	ngISB = 5
	ngEPB = 6
	ngDSB = 0xa
)

// ngFirst checks the section header the file starts with and reads the
// blocks up to the first packet, so that LinkType is known.
func (r *Reader) ngFirst() error {
	h, _ := r.br.Peek(28)
	if len(h) < 28 {
		return fmt.Errorf("usbmon: pcapng section header: %w", &TruncatedError{"pcapng section header", 0, 28, len(h)})
	}
	if bo := shbOrder(h); bo == nil {
		return fmt.Errorf("usbmon: pcapng section header: %w", &FieldError{"pcapng block", 8, "section header with a bad byte-order magic"})
	}
	// Damage after the section header is found again by the first Next.
	if _, err := r.ngMeta(); err == nil && len(r.ifaces) > 0 {
		r.lt = r.ifaces[0].lt
		if !r.lt.Supported() {
			return fmt.Errorf("usbmon: pcapng interface 0 link type %d is %w", uint32(r.lt), ErrLinkType)
		}
	} else if len(r.ifaces) == 0 {
		r.lt = LinkTypeMmapped
	}
	return nil
}

func shbOrder(h []byte) binary.ByteOrder {
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == 0x1a2b3c4d:
		return binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:]) == 0x1a2b3c4d:
		return binary.BigEndian
	}
	return nil
}

// ngBlock peeks at the block at the stream's position and checks its
// framing: a sound block, or an error saying what is wrong (nothing is
// consumed either way). io.EOF at a clean end.
func (r *Reader) ngBlock() (typ uint32, blk []byte, err error) {
	h, _ := r.br.Peek(12)
	if len(h) == 0 {
		return 0, nil, io.EOF
	}
	if len(h) < 12 {
		return 0, nil, &TruncatedError{"pcapng block header", 0, 12, len(h)}
	}
	typ = binary.LittleEndian.Uint32(h)
	if typ == ngSHB {
		bo := shbOrder(h)
		if bo == nil {
			return typ, nil, &FieldError{"pcapng block", 8, "section header with a bad byte-order magic"}
		}
		r.bo = bo
	} else if r.bo == nil {
		return typ, nil, &FieldError{"pcapng block", 0, "no section header before this block"}
	} else {
		typ = r.bo.Uint32(h)
	}
	bl := int(r.bo.Uint32(h[4:]))
	if bl < 12 || bl%4 != 0 || bl > maxBlock {
		return typ, nil, &FieldError{"pcapng block", 4, fmt.Sprintf("block type %#x length %d (need 12..%d, a multiple of 4)", typ, bl, maxBlock)}
	}
	blk, err = r.br.Peek(bl)
	if err != nil {
		return typ, nil, &TruncatedError{"pcapng block", 0, bl, len(blk)}
	}
	if t := r.bo.Uint32(blk[bl-4:]); int(t) != bl {
		return typ, nil, &FieldError{"pcapng block", bl - 4, fmt.Sprintf("block type %#x: trailing length %d differs from %d", typ, t, bl)}
	}
	return typ, blk, nil
}

// ngMeta consumes the blocks before the next packet block, recording the
// section's byte order and interfaces. It returns that packet block's type.
func (r *Reader) ngMeta() (uint32, error) {
	for {
		typ, blk, err := r.ngBlock()
		if err != nil {
			return typ, err
		}
		bl := len(blk)
		switch typ {
		case ngSHB:
			if bl < 28 {
				return typ, &FieldError{"pcapng block", 4, fmt.Sprintf("section header length %d, need 28", bl)}
			}
			r.ifaces = r.ifaces[:0]
		case ngIDB:
			if bl < 20 {
				return typ, &FieldError{"pcapng block", 4, fmt.Sprintf("interface description length %d, need 20", bl)}
			}
			ifc := ngIface{lt: LinkType(r.bo.Uint16(blk[8:])), snap: int(r.bo.Uint32(blk[12:])), tsDiv: 1000000}
			div, err := ngTsResol(blk[16:bl-4], r.bo)
			if err != nil {
				return typ, &FieldError{"pcapng block", 16, "interface description: " + err.Error()}
			}
			if div != 0 {
				ifc.tsDiv = div
			}
			r.ifaces = append(r.ifaces, ifc)
		case ngEPB, ngOPB, ngSPB:
			return typ, nil
		case ngISB:
			if bl < 24 {
				return typ, &FieldError{"pcapng block", 4, fmt.Sprintf("interface statistics length %d, need 24", bl)}
			}
		}
		r.consume(bl)
	}
}

// ngPacket returns the next packet block's contents (peeked, not consumed).
func (r *Reader) ngPacket() (p packet, err error) {
	typ, err := r.ngMeta()
	p.off = r.pos
	if err != nil {
		return p, err
	}
	blk, _ := r.br.Peek(int(r.bo.Uint32(mustPeek(r, 8)[4:])))
	bl := len(blk)
	var ifc, capLen, origLen int
	var body []byte
	switch typ {
	case ngEPB, ngOPB:
		if bl < 32 {
			return p, &FieldError{"pcapng block", 4, fmt.Sprintf("packet block length %d, need 32", bl)}
		}
		if typ == ngEPB {
			ifc = int(r.bo.Uint32(blk[8:]))
		} else {
			ifc = int(r.bo.Uint16(blk[8:]))
		}
		capLen, origLen = int(r.bo.Uint32(blk[20:])), int(r.bo.Uint32(blk[24:]))
		if capLen > bl-32 || capLen > MaxRecordLen {
			return p, &FieldError{"pcapng block", 20, fmt.Sprintf("packet captured length %d in a %d-byte block", capLen, bl)}
		}
		body = blk[28 : 28+capLen]
		if ifc < len(r.ifaces) {
			ts := uint64(r.bo.Uint32(blk[12:]))<<32 | uint64(r.bo.Uint32(blk[16:]))
			div := r.ifaces[ifc].tsDiv
			p.sec = int64(ts / div)
			p.usec = int32((ts % div) * 1000000 / div)
		}
	case ngSPB:
		if bl < 16 {
			return p, &FieldError{"pcapng block", 4, fmt.Sprintf("simple packet block length %d, need 16", bl)}
		}
		origLen = int(r.bo.Uint32(blk[8:]))
		capLen = origLen
		if len(r.ifaces) > 0 && r.ifaces[0].snap > 0 && capLen > r.ifaces[0].snap {
			capLen = r.ifaces[0].snap
		}
		if capLen > bl-16 || capLen > MaxRecordLen {
			return p, &FieldError{"pcapng block", 8, fmt.Sprintf("simple packet length %d in a %d-byte block", capLen, bl)}
		}
		body = blk[12 : 12+capLen]
	}
	if ifc < 0 || ifc >= len(r.ifaces) {
		return p, &FieldError{"pcapng block", 8, fmt.Sprintf("packet on interface %d, %d described", ifc, len(r.ifaces))}
	}
	p.lt = r.ifaces[ifc].lt
	if !p.lt.Supported() {
		return p, &FieldError{"pcapng block", 8, fmt.Sprintf("interface %d link type %d is not usbmon or USBPcap", ifc, uint32(p.lt))}
	}
	p.data = body[:len(body):len(body)]
	p.cut = origLen > capLen
	p.size = bl
	return p, nil
}

// mustPeek peeks n bytes ngBlock has already seen.
func mustPeek(r *Reader, n int) []byte {
	b, _ := r.br.Peek(n)
	return b
}

// ngCandidate: whether the stream's position holds a block of a known type
// whose two lengths agree (resynchronisation); end when fewer than a block
// header's bytes are left.
func (r *Reader) ngCandidate() (ok, end bool) {
	h, _ := r.br.Peek(12)
	if len(h) < 12 {
		r.skipRest()
		return false, true
	}
	typ, blk, err := r.ngBlock()
	if err != nil {
		return false, false
	}
	switch typ {
	case ngSHB, ngIDB, ngSPB, ngNRB, ngISB, ngDSB:
		return true, false
	case ngEPB, ngOPB:
		return len(blk) >= 32 && int(r.bo.Uint32(blk[8:])) < len(r.ifaces), false
	}
	return false, false
}

// ngTsResol walks an interface's options (so that none reads past the
// block) and returns the units per second if_tsresol gives (0: default).
func ngTsResol(b []byte, bo binary.ByteOrder) (uint64, error) {
	var div uint64
	for len(b) > 0 {
		if len(b) < 4 {
			return 0, fmt.Errorf("option header cut at %d bytes", len(b))
		}
		code, l := bo.Uint16(b), int(bo.Uint16(b[2:]))
		if code == 0 {
			return div, nil
		}
		padded := (l + 3) &^ 3
		if padded > len(b)-4 {
			return 0, fmt.Errorf("option %d length %d with %d bytes left", code, l, len(b)-4)
		}
		if code == 9 && l == 1 {
			v := b[4]
			div = 1
			for i := 0; i < int(v&0x7f) && div < 1e18; i++ {
				if v&0x80 != 0 {
					div *= 2
				} else {
					div *= 10
				}
			}
		}
		b = b[4+padded:]
	}
	return div, nil
}
