package ax88179

import (
	"fmt"
	"time"
)

// LED mode word bits (from EEPROM word 0x42 or eFuse bytes 51..52).
const (
	led0Active   uint16 = 1 << 0
	led0Link10   uint16 = 1 << 1
	led0Link100  uint16 = 1 << 2
	led0Link1000 uint16 = 1 << 3
	led0FD       uint16 = 1 << 4
	led0USB3Mask uint16 = 0x001f
	led1Active   uint16 = 1 << 5
	led1Link10   uint16 = 1 << 6
	led1Link100  uint16 = 1 << 7
	led1Link1000 uint16 = 1 << 8
	led1FD       uint16 = 1 << 9
	led1USB3Mask uint16 = 0x03e0
	led2Active   uint16 = 1 << 10
	led2Link10   uint16 = 1 << 11
	led2Link100  uint16 = 1 << 12
	led2Link1000 uint16 = 1 << 13
	led2FD       uint16 = 1 << 14
	ledValid     uint16 = 1 << 15
	led2USB3Mask uint16 = 0x7c00
)

// sromReadWord reads EEPROM word addr through the SROM registers (the path
// ax88179_check_eeprom uses), polling EEP_BUSY for up to 100 ms.
func sromReadWord(c Ctrl, addr uint8, lowHigh bool) (uint16, error) {
	if err := WriteMAC8(c, RegSROMAddr, addr); err != nil {
		return 0, err
	}
	if err := WriteMAC8(c, RegSROMCmd, sromRead); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		v, err := ReadMAC8(c, RegSROMCmd)
		if err != nil {
			return 0, err
		}
		if v&sromBusy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("ax88179: SROM read of word %#02x: still busy after 100 ms", addr)
		}
	}
	if lowHigh {
		// ax88179_led_setting reads DATA_HIGH then DATA_LOW, a byte each.
		hi, err := ReadMAC8(c, RegSROMDataHigh)
		if err != nil {
			return 0, err
		}
		lo, err := ReadMAC8(c, RegSROMDataLow)
		return uint16(hi)<<8 | uint16(lo), err
	}
	return ReadMAC16(c, RegSROMDataLow)
}

// checkEEPROM is ax88179_check_eeprom: the first six words through the SROM
// registers; byte 0 must not be 0xff and bytes 6..10 carry a checksum.
func checkEEPROM(c Ctrl) (bool, error) {
	var e [12]byte
	for i := 0; i < 6; i++ {
		w, err := sromReadWord(c, uint8(i), false)
		if err != nil {
			return false, err
		}
		e[2*i], e[2*i+1] = byte(w), byte(w>>8)
		if i == 0 && e[0] == 0xff {
			return false, nil
		}
	}
	return EEPROMHeaderOK(e[:]), nil
}

// EEPROMHeaderOK applies Linux's EEPROM validity rule to the first 11
// bytes: byte 0 is not 0xff, and bytes 6..9 summed, folded to 8 bits, plus
// byte 10 give 0xff.
func EEPROMHeaderOK(e []byte) bool {
	if len(e) < 11 || e[0] == 0xff {
		return false
	}
	s := uint16(e[6]) + uint16(e[7]) + uint16(e[8]) + uint16(e[9])
	s = s>>8 + s&0xff
	return s+uint16(e[10]) == 0xff
}

// EFuseOK applies Linux's eFuse rule: byte 0 is not 0xff and the 64 bytes
// summed with carries folded back give 0xff.
func EFuseOK(f []byte) bool {
	if len(f) < 64 || f[0] == 0xff {
		return false
	}
	s := 0
	for _, b := range f[:64] {
		s += int(b)
	}
	for s > 0xff {
		s = s&0xff + s>>8
	}
	return s == 0xff
}

// oldLED is ax88179_convert_old_led: the LED mode from the high byte of
// EEPROM word 0x3c.
func oldLED(c Ctrl) (uint16, error) {
	w, err := ReadEEPROMWord(c, 0x3c)
	if err != nil {
		return 0, err
	}
	switch w >> 8 {
	case 0xfe:
		return led0Active | led1Link1000 | led2Link100 | ledValid, nil
	case 0xfd:
		return led0Active | led1Link1000 | led2Link100 | led2Link10 | ledValid, nil
	case 0xfc:
		return led0Active | led1Active | led1Link1000 | led2Active | led2Link100 | led2Link10 | ledValid, nil
	}
	return led0Active | led1Link10 | led1Link100 | led1Link1000 | led2Active | led2Link10 | led2Link100 | led2Link1000 | ledValid, nil
}

// ledSetting is ax88179_led_setting: find the LED mode (EEPROM, eFuse or
// the old EEPROM byte), program the PHY's LED registers on extension page
// 0x2c, and the full-duplex LED control.
func ledSetting(c Ctrl) error {
	gs, err := ReadMAC8(c, RegGeneralStatus)
	if err != nil {
		return err
	}
	if gs&generalSecLD == 0 { // UA1 silicon: enable the GPIOs
		if err := WriteMAC8(c, RegGPIO, gpioAllEn); err != nil {
			return err
		}
	}
	var led uint16
	ok, err := checkEEPROM(c)
	if err != nil {
		return err
	}
	if ok {
		if led, err = sromReadWord(c, 0x42, true); err != nil {
			return err
		}
		if led == 0xffff || led&ledValid == 0 {
			if led, err = oldLED(c); err != nil {
				return err
			}
		}
	} else {
		var f [64]byte
		if ReadEFuse(c, f[:]) == nil && EFuseOK(f[:]) {
			led = uint16(f[51])<<8 | uint16(f[52])
		}
		if !EFuseOK(f[:]) || led == 0xffff || led&ledValid == 0 {
			if led, err = oldLED(c); err != nil {
				return err
			}
		}
	}
	if err := WritePHY(c, phyPageSel, phyPageExt); err != nil {
		return err
	}
	if err := WritePHY(c, phyPage, ledExtPage); err != nil {
		return err
	}
	act, err := ReadPHY(c, phyLEDAct)
	if err != nil {
		return err
	}
	link, err := ReadPHY(c, phyLEDLink)
	if err != nil {
		return err
	}
	act &= ledActiveMask
	link &= ledLinkMask
	for i, bit := range [...]uint16{led0Active, led1Active, led2Active} {
		if led&bit != 0 {
			act |= 1 << (4 + i)
		}
	}
	for i, bits := range [...][3]uint16{{led0Link10, led0Link100, led0Link1000}, {led1Link10, led1Link100, led1Link1000}, {led2Link10, led2Link100, led2Link1000}} {
		for j, bit := range bits {
			if led&bit != 0 {
				link |= 1 << (4*i + j)
			}
		}
	}
	if err := WritePHY(c, phyLEDAct, act); err != nil {
		return err
	}
	if err := WritePHY(c, phyLEDLink, link); err != nil {
		return err
	}
	if err := WritePHY(c, phyPageSel, phyPage0); err != nil {
		return err
	}
	var fd uint8
	for i, m := range [...][2]uint16{{led0FD, led0USB3Mask}, {led1FD, led1USB3Mask}, {led2FD, led2USB3Mask}} {
		if led&m[0] != 0 {
			fd |= 1 << (2 * i)
		} else if led&m[1] == 0 {
			fd |= 2 << (2 * i)
		}
	}
	return WriteMAC8(c, RegLEDCtl, fd)
}
