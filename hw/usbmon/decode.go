package usbmon

import (
	"encoding/binary"
	"fmt"
)

// maxIsoDesc bounds ndesc: the kernel caps an URB at 128 iso packets per
// record it copies (mon_bin.c ISODESC_MAX) and nothing legitimate has more.
const maxIsoDesc = 128

// Decode decodes one record from b, the bytes of one pcap packet, into r.
// r.Data and r.IsoDesc alias b: they are valid as long as b is (copy them,
// or use Record.Clone, to keep them longer).
//
// Every length is checked against b. len_cap may follow either convention:
//
//	kernel: len_cap == bytes after the header (and iso descriptors)
//	QEMU:   len_cap == header + bytes after it (64 for a record without data)
//
// Anything else is an error, except that a container cut (the pcap record's
// original length above its captured length) may leave fewer bytes than
// len_cap: see DecodeCut.
func Decode(b []byte, lt LinkType, r *Record) error {
	return decode(b, lt, false, r)
}

// DecodeCut is Decode for a record the container says was cut short by its
// snaplen: len_cap may exceed the bytes present, and what is there is kept.
func DecodeCut(b []byte, lt LinkType, r *Record) error {
	return decode(b, lt, true, r)
}

func decode(b []byte, lt LinkType, cut bool, r *Record) error {
	hl := lt.HeaderLen()
	if hl == 0 {
		return &FieldError{"link type", 0, fmt.Sprintf("%d is not a usbmon link type (want 189 or 220)", uint32(lt))}
	}
	if len(b) < hl {
		return &TruncatedError{"header", 0, hl, len(b)}
	}
	le := binary.LittleEndian
	*r = Record{
		ID:        le.Uint64(b[0:]),
		Type:      Event(b[8]),
		XferType:  XferType(b[9]),
		Endpoint:  b[10],
		Device:    b[11],
		Bus:       le.Uint16(b[12:]),
		FlagSetup: b[14],
		FlagData:  b[15],
		TsSec:     int64(le.Uint64(b[16:])),
		TsUsec:    int32(le.Uint32(b[24:])),
		Status:    int32(le.Uint32(b[28:])),
		Length:    le.Uint32(b[32:]),
		LenCap:    le.Uint32(b[36:]),
	}
	copy(r.Setup[:], b[40:48])
	switch r.Type {
	case Submit, Complete, Error:
	default:
		return &FieldError{"type", 8, fmt.Sprintf("%#02x is not 'S', 'C' or 'E'", b[8])}
	}
	if r.XferType > XferBulk {
		return &FieldError{"xfer_type", 9, fmt.Sprintf("%d is not 0..3", b[9])}
	}
	if r.TsUsec < 0 {
		// Values of a million and over are tolerated (they only shift
		// Time()); a negative one is damage.
		return &FieldError{"ts_usec", 24, fmt.Sprintf("%d is negative", r.TsUsec)}
	}
	rest := b[hl:]
	off := hl
	if hl == HeaderLenMmapped {
		r.Interval = int32(le.Uint32(b[48:]))
		r.StartFrame = int32(le.Uint32(b[52:]))
		r.XferFlags = le.Uint32(b[56:])
		r.NDesc = le.Uint32(b[60:])
		if r.XferType == XferIso && r.NDesc > 0 {
			if r.NDesc > maxIsoDesc {
				return &FieldError{"ndesc", 60, fmt.Sprintf("%d iso descriptors, at most %d", r.NDesc, maxIsoDesc)}
			}
			n := int(r.NDesc) * IsoDescLen
			if len(rest) < n {
				return &TruncatedError{"iso descriptors", off, n, len(rest)}
			}
			r.IsoDesc = rest[:n:n]
			rest, off = rest[n:], off+n
		}
	}
	lc := int64(r.LenCap)
	avail := int64(len(rest))
	descLen := int64(len(r.IsoDesc))
	switch {
	case lc == avail || lc == avail+descLen:
		// kernel convention (len_cap counting the iso descriptors or not)
	case lc == avail+int64(hl)+descLen:
		// QEMU convention: len_cap counts the header
	case cut && lc > avail:
		// the container cut the record: keep what is there
	case lc > avail:
		return &TruncatedError{"data", off, int(min(lc, 1<<31)), len(rest)}
	default:
		return &FieldError{"len_cap", 36, fmt.Sprintf("%d but %d bytes follow the header", lc, avail)}
	}
	if avail > int64(r.Length) && r.XferType != XferIso {
		return &FieldError{"length", 32, fmt.Sprintf("%d, but %d data bytes were captured", r.Length, avail)}
	}
	r.Data = rest[:len(rest):len(rest)]
	return nil
}

// Clone returns a copy of r whose Data and IsoDesc do not alias anything.
func (r *Record) Clone() *Record {
	c := *r
	c.Data = append([]byte(nil), r.Data...)
	if r.IsoDesc != nil {
		c.IsoDesc = append([]byte(nil), r.IsoDesc...)
	}
	if c.Data == nil {
		c.Data = []byte{}
	}
	return &c
}
