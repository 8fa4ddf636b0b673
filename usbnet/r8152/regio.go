package r8152

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Ctrl is the control-request seam the register helpers need: vendor IN
// and OUT requests (bmRequestType 0xC0 and 0x40). *usbnet.Dev implements
// it; VendorIn must fail when fewer than len(buf) bytes come back.
type Ctrl interface {
	VendorIn(req uint8, value, index uint16, buf []byte) error
	VendorOut(req uint8, value, index uint16, data []byte) error
}

// ErrAlign: a register access that is not 4-byte aligned in address and
// size, which the chip cannot do (generic_ocp_read/write refuse it with
// -EPERM).
var ErrAlign = errors.New("register access not 4-byte aligned")

// readLimit and writeLimit are the largest single requests
// generic_ocp_read and generic_ocp_write make.
const (
	readLimit  = 64
	writeLimit = 512
)

// ReadRegs is generic_ocp_read: len(buf) bytes from addr of block b, both
// multiples of 4, in requests of at most 64 bytes; wIndex is b | en (en is
// the byte-enable a word read passes, 0 otherwise).
func ReadRegs(c Ctrl, b Block, addr uint16, en uint16, buf []byte) error {
	if len(buf) == 0 || len(buf)&3 != 0 || addr&3 != 0 || int(addr)+len(buf) > 0xffff {
		return fmt.Errorf("r8152: read %s %#04x (%d bytes): %w", b, addr, len(buf), ErrAlign)
	}
	for off := 0; off < len(buf); off += readLimit {
		n := min(readLimit, len(buf)-off)
		a := addr + uint16(off)
		if err := c.VendorIn(ReqRegs, a, uint16(b)|en, buf[off:off+n]); err != nil {
			return fmt.Errorf("r8152: read %s %#04x (%d bytes): %w", b, a, n, err)
		}
	}
	return nil
}

// WriteRegs is generic_ocp_write: data (a multiple of 4 bytes) to addr of
// block b. The first dword carries the start nibble of en (doubled into
// both nibbles), the last the end nibble, the middle ones every byte.
func WriteRegs(c Ctrl, b Block, addr uint16, en uint16, data []byte) error {
	if len(data) == 0 || len(data)&3 != 0 || addr&3 != 0 || int(addr)+len(data) > 0xffff {
		return fmt.Errorf("r8152: write %s %#04x (%d bytes): %w", b, addr, len(data), ErrAlign)
	}
	put := func(a uint16, be uint16, p []byte) error {
		if err := c.VendorOut(ReqRegs, a, uint16(b)|be, p); err != nil {
			return fmt.Errorf("r8152: write %s %#04x (%d bytes, byte enable %#02x): %w", b, a, len(p), be, err)
		}
		return nil
	}
	start, end := en&byteEnStart, en&byteEnEnd
	if err := put(addr, start|start<<4, data[:4]); err != nil {
		return err
	}
	if len(data) == 4 {
		return nil
	}
	mid := data[4 : len(data)-4]
	a := addr + 4
	for len(mid) > 0 {
		n := min(writeLimit, len(mid))
		if err := put(a, ByteEnDword, mid[:n]); err != nil {
			return err
		}
		a += uint16(n)
		mid = mid[n:]
	}
	return put(a, end|end>>4, data[len(data)-4:])
}

// Read32 is ocp_read_dword.
func Read32(c Ctrl, b Block, addr uint16) (uint32, error) {
	var buf [4]byte
	err := ReadRegs(c, b, addr&^3, 0, buf[:])
	return binary.LittleEndian.Uint32(buf[:]), err
}

// Read16 is ocp_read_word: the dword holding addr, with the word's byte
// enables in wIndex.
func Read16(c Ctrl, b Block, addr uint16) (uint16, error) {
	var buf [4]byte
	shift := addr & 2
	err := ReadRegs(c, b, addr&^3, ByteEnWord<<shift, buf[:])
	return uint16(binary.LittleEndian.Uint32(buf[:]) >> (8 * shift)), err
}

// Read8 is ocp_read_byte.
func Read8(c Ctrl, b Block, addr uint16) (uint8, error) {
	var buf [4]byte
	err := ReadRegs(c, b, addr&^3, 0, buf[:])
	return uint8(binary.LittleEndian.Uint32(buf[:]) >> (8 * (addr & 3))), err
}

// Write32 is ocp_write_dword; addr must be 4-aligned.
func Write32(c Ctrl, b Block, addr uint16, v uint32) error {
	var buf [4]byte
	binary.LittleEndian.PutUint32(buf[:], v)
	return WriteRegs(c, b, addr, ByteEnDword, buf[:])
}

// Write16 is ocp_write_word: the word shifted into its place in the
// dword, with only its two bytes enabled.
func Write16(c Ctrl, b Block, addr uint16, v uint16) error {
	var buf [4]byte
	shift := addr & 2
	binary.LittleEndian.PutUint32(buf[:], uint32(v)<<(8*shift))
	return WriteRegs(c, b, addr&^3, ByteEnWord<<shift, buf[:])
}

// Write8 is ocp_write_byte.
func Write8(c Ctrl, b Block, addr uint16, v uint8) error {
	var buf [4]byte
	shift := addr & 3
	binary.LittleEndian.PutUint32(buf[:], uint32(v)<<(8*shift))
	return WriteRegs(c, b, addr&^3, ByteEnByte<<shift, buf[:])
}

// Modify16 is Linux's ocp_word_clr_bits/set_bits/w0w1_mask: read, clear
// clr, set set, write back.
func Modify16(c Ctrl, b Block, addr uint16, clr, set uint16) error {
	v, err := Read16(c, b, addr)
	if err != nil {
		return err
	}
	return Write16(c, b, addr, v&^clr|set)
}

// Modify8 is Modify16 for a byte register.
func Modify8(c Ctrl, b Block, addr uint16, clr, set uint8) error {
	v, err := Read8(c, b, addr)
	if err != nil {
		return err
	}
	return Write8(c, b, addr, v&^clr|set)
}

// Modify32 is Modify16 for a dword register.
func Modify32(c Ctrl, b Block, addr uint16, clr, set uint32) error {
	v, err := Read32(c, b, addr)
	if err != nil {
		return err
	}
	return Write32(c, b, addr, v&^clr|set)
}

// PHY reaches the PHY's OCP registers through PLA_OCP_GPHY_BASE (the page,
// addr & 0xf000) and the window at 0xb000 (ocp_reg_read/ocp_reg_write).
// It remembers the page it last wrote, as Linux's tp->ocp_base does, so a
// run of accesses on one page writes the page register once. The zero
// value knows no page and writes it on first use.
type PHY struct {
	C     Ctrl
	base  uint16
	known bool
}

func (p *PHY) page(addr uint16) error {
	base := addr & ocpPageMask
	if p.known && base == p.base {
		return nil
	}
	if err := Write16(p.C, PLA, PLAOCPBase, base); err != nil {
		p.known = false
		return err
	}
	p.base, p.known = base, true
	return nil
}

// Read is ocp_reg_read.
func (p *PHY) Read(addr uint16) (uint16, error) {
	if err := p.page(addr); err != nil {
		return 0, err
	}
	v, err := Read16(p.C, PLA, OCPWindow|addr&ocpWindowMask)
	if err != nil {
		return 0, fmt.Errorf("r8152: PHY OCP %#04x: %w", addr, err)
	}
	return v, nil
}

// Write is ocp_reg_write.
func (p *PHY) Write(addr, v uint16) error {
	if err := p.page(addr); err != nil {
		return err
	}
	if err := Write16(p.C, PLA, OCPWindow|addr&ocpWindowMask, v); err != nil {
		return fmt.Errorf("r8152: PHY OCP %#04x: %w", addr, err)
	}
	return nil
}

// MDIORead is r8152_mdio_read: MII register reg at OCP 0xa400 + 2*reg.
func (p *PHY) MDIORead(reg int) (uint16, error) { return p.Read(OCPBaseMII + uint16(reg)*2) }

// MDIOWrite is r8152_mdio_write.
func (p *PHY) MDIOWrite(reg int, v uint16) error { return p.Write(OCPBaseMII+uint16(reg)*2, v) }
