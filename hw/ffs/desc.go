package ffs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"dongle/hw"
)

// FunctionFS constants (include/uapi/linux/usb/functionfs.h).
const (
	descriptorsMagicV2 = 3
	stringsMagic       = 2

	flagHasFS        = 1
	flagHasHS        = 2
	flagHasSS        = 4
	flagAllCtrlRecip = 64
)

// Endpoint is one endpoint of the function, in descriptor order: the K-th
// (from 1) is FunctionFS's file "epK".
type Endpoint struct {
	Addr      uint8 // bEndpointAddress as the model declares it (bit 7: IN)
	Attr      uint8 // bmAttributes (transfer type in bits 1:0)
	MaxPacket int   // wMaxPacketSize at high speed
}

// In reports whether the endpoint is IN.
func (e Endpoint) In() bool { return e.Addr&0x80 != 0 }

// Type is the transfer type: hw.XferBulk, hw.XferInterrupt, ...
func (e Endpoint) Type() uint8 { return e.Attr & 3 }

// ErrDescriptor is wrapped by every complaint about a configuration
// descriptor the bridge cannot turn into FunctionFS descriptors.
var ErrDescriptor = errors.New("ffs: unusable configuration descriptor")

// Descriptors turns a model's configuration descriptor set into a
// FunctionFS descriptors blob (FUNCTIONFS_DESCRIPTORS_MAGIC_V2 with
// FUNCTIONFS_ALL_CTRL_RECIP) holding a full-speed and a high-speed set, and
// a SuperSpeed set when super is true; it also returns the endpoints in file
// order.
//
//	le32 magic=3 | le32 length | le32 flags | le32 fs_count | le32 hs_count [| le32 ss_count]
//	FS descriptors | HS descriptors [| SS descriptors]
//
// The model's set may be at any speed (its largest bulk wMaxPacketSize says
// which); each set gets bulk packets of 64/512/1024 bytes and interrupt
// bInterval in the speed's encoding (frames at full speed, 2^(b-1)
// microframes above). iInterface is cleared: FunctionFS would demand a
// string table, and the strings a host reads come from configfs.
func Descriptors(cfg []byte, super bool) ([]byte, []Endpoint, error) {
	if len(cfg) < 9 || cfg[1] != hw.DescConfig {
		return nil, nil, fmt.Errorf("%w: %d bytes, not a configuration descriptor", ErrDescriptor, len(cfg))
	}
	total := int(binary.LittleEndian.Uint16(cfg[2:]))
	if total > len(cfg) || total < 9 {
		return nil, nil, fmt.Errorf("%w: wTotalLength %d with %d bytes present", ErrDescriptor, total, len(cfg))
	}
	var descs [][]byte
	var eps []Endpoint
	from := hw.SpeedFull
	for off := int(cfg[0]); off < total; {
		l := int(cfg[off])
		if l < 2 || off+l > total {
			return nil, nil, fmt.Errorf("%w: descriptor at offset %d has bLength %d (set is %d bytes)", ErrDescriptor, off, l, total)
		}
		d := append([]byte(nil), cfg[off:off+l]...)
		off += l
		switch d[1] {
		case hw.DescSSEndpointComp:
			continue // regenerated for the SuperSpeed set
		case hw.DescInterface:
			if l < 9 {
				return nil, nil, fmt.Errorf("%w: interface descriptor of %d bytes", ErrDescriptor, l)
			}
			d[8] = 0
		case hw.DescEndpoint:
			if l < 7 {
				return nil, nil, fmt.Errorf("%w: endpoint descriptor of %d bytes", ErrDescriptor, l)
			}
			mps := int(binary.LittleEndian.Uint16(d[4:]) & 0x7ff)
			if d[3]&3 == hw.XferBulk {
				switch {
				case mps >= 1024:
					from = max(from, hw.SpeedSuper)
				case mps >= 512:
					from = max(from, hw.SpeedHigh)
				}
			}
			eps = append(eps, Endpoint{Addr: d[2], Attr: d[3], MaxPacket: mps})
		}
		descs = append(descs, d)
	}
	if len(eps) == 0 {
		return nil, nil, fmt.Errorf("%w: no endpoints", ErrDescriptor)
	}
	speeds := []hw.Speed{hw.SpeedFull, hw.SpeedHigh}
	flags := uint32(flagHasFS | flagHasHS | flagAllCtrlRecip)
	if super {
		speeds = append(speeds, hw.SpeedSuper)
		flags |= flagHasSS
	}
	var sets [][]byte
	var counts []uint32
	for _, sp := range speeds {
		set, n := speedSet(descs, from, sp)
		sets = append(sets, set)
		counts = append(counts, uint32(n))
	}
	out := binary.LittleEndian.AppendUint32(nil, descriptorsMagicV2)
	out = binary.LittleEndian.AppendUint32(out, 0) // length, below
	out = binary.LittleEndian.AppendUint32(out, flags)
	for _, c := range counts {
		out = binary.LittleEndian.AppendUint32(out, c)
	}
	for _, s := range sets {
		out = append(out, s...)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	for i := range eps {
		eps[i].MaxPacket = epMaxPacket(eps[i], hw.SpeedHigh)
	}
	return out, eps, nil
}

// speedSet rewrites descs (declared at speed from) for speed to.
func speedSet(descs [][]byte, from, to hw.Speed) ([]byte, int) {
	var out []byte
	n := 0
	for _, d := range descs {
		d = append([]byte(nil), d...)
		if d[1] == hw.DescEndpoint {
			e := Endpoint{Addr: d[2], Attr: d[3], MaxPacket: int(binary.LittleEndian.Uint16(d[4:]) & 0x7ff)}
			binary.LittleEndian.PutUint16(d[4:], uint16(epMaxPacket(e, to)))
			if e.Type() == hw.XferInterrupt {
				d[6] = interval(d[6], from, to)
			}
			if e.Type() == hw.XferBulk {
				d[6] = 0
			}
			out = append(out, d...)
			n++
			if to >= hw.SpeedSuper {
				comp := []byte{6, hw.DescSSEndpointComp, 0, 0, 0, 0}
				if e.Type() == hw.XferInterrupt || e.Type() == hw.XferIsochronous {
					binary.LittleEndian.PutUint16(comp[4:], uint16(epMaxPacket(e, to)))
				}
				out = append(out, comp...)
				n++
			}
			continue
		}
		out = append(out, d...)
		n++
	}
	return out, n
}

// epMaxPacket is e's wMaxPacketSize at speed sp: bulk is fixed by the speed,
// interrupt keeps the model's size (at most 64 at full speed).
func epMaxPacket(e Endpoint, sp hw.Speed) int {
	if e.Type() == hw.XferBulk {
		switch {
		case sp >= hw.SpeedSuper:
			return 1024
		case sp == hw.SpeedHigh:
			return 512
		}
		return 64
	}
	if sp <= hw.SpeedFull {
		return min(e.MaxPacket, 64)
	}
	return e.MaxPacket
}

// interval converts an interrupt bInterval: full speed counts 1 ms frames,
// high and super speed use 2^(b-1) × 125 µs.
func interval(b byte, from, to hw.Speed) byte {
	var us int // period in microseconds
	if from <= hw.SpeedFull {
		us = max(int(b), 1) * 1000
	} else {
		e := min(max(int(b), 1), 16)
		us = 125 << (e - 1)
	}
	if to <= hw.SpeedFull {
		return byte(min(max(us/1000, 1), 255))
	}
	// largest exponent whose period does not exceed us
	k := bits.Len(uint(max(us/125, 1))) // 2^(k-1) ≤ us/125
	return byte(min(k, 16))
}

// Strings is the FunctionFS strings blob with no strings and no languages:
// the bridge clears every string index in its descriptors.
func Strings() []byte {
	b := binary.LittleEndian.AppendUint32(nil, stringsMagic)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint32(b, 0) // str_count
	return binary.LittleEndian.AppendUint32(b, 0)
}

// ClassDescriptorHint names, for an error, the class-specific interface
// descriptors (type 0x24: CDC header, union, Ethernet, NCM) in cfg, which
// Linux's f_fs refuses with EINVAL: its ffs_do_single_desc takes class
// descriptors only for HID and CCID interfaces. "" when cfg has none.
func ClassDescriptorHint(cfg []byte) string {
	n := 0
	for off := 0; off+2 <= len(cfg); {
		l := int(cfg[off])
		if l < 2 {
			break
		}
		if cfg[off+1] == hw.DescCSInterface {
			n++
		}
		off += l
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (the set has %d class-specific interface descriptors, type 0x24, which Linux FunctionFS refuses: it takes class descriptors only for HID and CCID interfaces)", n)
}
