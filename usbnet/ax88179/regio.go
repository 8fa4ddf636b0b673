package ax88179

import (
	"encoding/binary"
	"fmt"
)

// Ctrl is the control-request seam the register helpers need: vendor IN and
// OUT requests to the device (bmRequestType 0xC0/0x40). *usbnet.Dev
// implements it; VendorIn must fail when fewer than len(buf) bytes come
// back (a short read is never garbage, CVE-2021-47101's lesson).
type Ctrl interface {
	VendorIn(req uint8, value, index uint16, buf []byte) error
	VendorOut(req uint8, value, index uint16, data []byte) error
}

// ReadMAC reads len(buf) bytes of MAC register reg.
func ReadMAC(c Ctrl, reg uint16, buf []byte) error {
	if err := c.VendorIn(AccessMAC, reg, uint16(len(buf)), buf); err != nil {
		return fmt.Errorf("ax88179: read MAC register %#02x (%d bytes): %w", reg, len(buf), err)
	}
	return nil
}

// WriteMAC writes data to MAC register reg.
func WriteMAC(c Ctrl, reg uint16, data []byte) error {
	if err := c.VendorOut(AccessMAC, reg, uint16(len(data)), data); err != nil {
		return fmt.Errorf("ax88179: write MAC register %#02x (%d bytes): %w", reg, len(data), err)
	}
	return nil
}

// ReadMAC8 reads a one-byte MAC register.
func ReadMAC8(c Ctrl, reg uint16) (uint8, error) {
	var b [1]byte
	err := ReadMAC(c, reg, b[:])
	return b[0], err
}

// ReadMAC16 reads a two-byte (little-endian) MAC register.
func ReadMAC16(c Ctrl, reg uint16) (uint16, error) {
	var b [2]byte
	err := ReadMAC(c, reg, b[:])
	return binary.LittleEndian.Uint16(b[:]), err
}

// WriteMAC8 writes a one-byte MAC register.
func WriteMAC8(c Ctrl, reg uint16, v uint8) error { return WriteMAC(c, reg, []byte{v}) }

// WriteMAC16 writes a two-byte MAC register.
func WriteMAC16(c Ctrl, reg uint16, v uint16) error {
	return WriteMAC(c, reg, binary.LittleEndian.AppendUint16(nil, v))
}

// ReadPHY reads PHY register reg of the internal PHY (id 3).
func ReadPHY(c Ctrl, reg uint16) (uint16, error) {
	var b [2]byte
	if err := c.VendorIn(AccessPHY, PhyID, reg, b[:]); err != nil {
		return 0, fmt.Errorf("ax88179: read PHY register %#02x: %w", reg, err)
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

// WritePHY writes PHY register reg of the internal PHY.
func WritePHY(c Ctrl, reg, v uint16) error {
	if err := c.VendorOut(AccessPHY, PhyID, reg, binary.LittleEndian.AppendUint16(nil, v)); err != nil {
		return fmt.Errorf("ax88179: write PHY register %#02x: %w", reg, err)
	}
	return nil
}

// ReadEEPROMWord reads one 16-bit EEPROM word (wValue word offset, wIndex 1).
func ReadEEPROMWord(c Ctrl, word uint16) (uint16, error) {
	var b [2]byte
	if err := c.VendorIn(AccessEEPROM, word, 1, b[:]); err != nil {
		return 0, fmt.Errorf("ax88179: read EEPROM word %#02x: %w", word, err)
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

// WriteEEPROMWord writes one EEPROM word.
func WriteEEPROMWord(c Ctrl, word, v uint16) error {
	if err := c.VendorOut(AccessEEPROM, word, 1, binary.LittleEndian.AppendUint16(nil, v)); err != nil {
		return fmt.Errorf("ax88179: write EEPROM word %#02x: %w", word, err)
	}
	return nil
}

// ReadEFuse reads len(buf) bytes of the eFuse from offset 0.
func ReadEFuse(c Ctrl, buf []byte) error {
	if err := c.VendorIn(AccessEFuse, 0, uint16(len(buf)), buf); err != nil {
		return fmt.Errorf("ax88179: read eFuse (%d bytes): %w", len(buf), err)
	}
	return nil
}

// mmdSelect points the clause-22 MMD window at register reg of device
// devad (ax88179_phy_mmd_indirect).
func mmdSelect(c Ctrl, reg, devad uint16) error {
	if err := WritePHY(c, MIIMMDCtrl, devad); err != nil {
		return err
	}
	if err := WritePHY(c, MIIMMDData, reg); err != nil {
		return err
	}
	return WritePHY(c, MIIMMDCtrl, devad|mmdCtrlNoIncr)
}

// ReadMMD reads a clause-45 register through the MMD window.
func ReadMMD(c Ctrl, devad, reg uint16) (uint16, error) {
	if err := mmdSelect(c, reg, devad); err != nil {
		return 0, err
	}
	return ReadPHY(c, MIIMMDData)
}

// WriteMMD writes a clause-45 register through the MMD window.
func WriteMMD(c Ctrl, devad, reg, v uint16) error {
	if err := mmdSelect(c, reg, devad); err != nil {
		return err
	}
	return WritePHY(c, MIIMMDData, v)
}
