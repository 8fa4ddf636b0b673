package soak

import (
	"encoding/binary"
	"net"
)

// Test frames: dst, src, EtherType 0x88b5 (IEEE 802 local experimental
// 1), the magic "soak", the direction, the sequence number, then a
// pattern of the sequence number and offset.
const (
	etherType = 0x88b5
	offMagic  = 14
	offDir    = 18
	offSeq    = 19
	offData   = 23
	minFrame  = 60
	magic     = 0x736f616b // "soak"
)

// Directions, as the frame carries them.
const (
	dirTX byte = 'T' // host → wire
	dirRX byte = 'R' // wire → host
)

// peerMAC is the wire-side station's address.
var peerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x50, 0x4b, 0x01}

// frameLen is the length of frame seq: lengths cycle through [min, max].
func frameLen(seq uint32, min, max int) int { return min + int(seq%uint32(max-min+1)) }

// fill writes frame seq of direction dir into f (len(f) >= minFrame).
func fill(f []byte, dst, src net.HardwareAddr, dir byte, seq uint32) {
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], etherType)
	binary.BigEndian.PutUint32(f[offMagic:], magic)
	f[offDir] = dir
	binary.BigEndian.PutUint32(f[offSeq:], seq)
	for i := offData; i < len(f); i++ {
		f[i] = byte(int(seq) + i)
	}
}

// frameCheck is what check found.
type frameCheck int

const (
	notOurs frameCheck = iota // another EtherType, magic or direction
	good
	corrupt // ours, but its length or pattern is wrong
)

// check reads a frame of direction dir, its 14-byte Ethernet header hdr
// and the rest body apart (as a received sk_buff holds them), and returns
// its sequence number. Frames may arrive padded (a device pads short
// frames): bytes past the frame's own length are not checked.
func check(hdr, body []byte, dir byte, min, max int) (uint32, frameCheck) {
	const b = 14 // body[i-b] is frame byte i
	if len(hdr) != b || len(body) < offData-b || binary.BigEndian.Uint16(hdr[12:]) != etherType ||
		binary.BigEndian.Uint32(body[offMagic-b:]) != magic || body[offDir-b] != dir {
		return 0, notOurs
	}
	seq := binary.BigEndian.Uint32(body[offSeq-b:])
	n := frameLen(seq, min, max)
	if b+len(body) < n {
		return seq, corrupt
	}
	for i := offData; i < n; i++ {
		if body[i-b] != byte(int(seq)+i) {
			return seq, corrupt
		}
	}
	return seq, good
}
