package usbmon

import "encoding/binary"

// Encode returns r as a link type 220 record: the 64-byte header, the iso
// descriptors, then r.Data. len_cap is written in the kernel's convention
// (the bytes after the header), whatever r.LenCap says.
func Encode(r *Record) []byte {
	return AppendEncode(make([]byte, 0, HeaderLenMmapped+len(r.IsoDesc)+len(r.Data)), r)
}

// AppendEncode is Encode appending to dst; it allocates nothing when dst
// has room.
func AppendEncode(dst []byte, r *Record) []byte {
	var h [HeaderLenMmapped]byte
	le := binary.LittleEndian
	le.PutUint64(h[0:], r.ID)
	h[8], h[9], h[10], h[11] = byte(r.Type), byte(r.XferType), r.Endpoint, r.Device
	le.PutUint16(h[12:], r.Bus)
	h[14], h[15] = r.FlagSetup, r.FlagData
	le.PutUint64(h[16:], uint64(r.TsSec))
	le.PutUint32(h[24:], uint32(r.TsUsec))
	le.PutUint32(h[28:], uint32(r.Status))
	le.PutUint32(h[32:], r.Length)
	le.PutUint32(h[36:], uint32(len(r.IsoDesc)+len(r.Data)))
	copy(h[40:48], r.Setup[:])
	le.PutUint32(h[48:], uint32(r.Interval))
	le.PutUint32(h[52:], uint32(r.StartFrame))
	le.PutUint32(h[56:], r.XferFlags)
	le.PutUint32(h[60:], r.NDesc)
	dst = append(dst, h[:]...)
	dst = append(dst, r.IsoDesc...)
	return append(dst, r.Data...)
}
