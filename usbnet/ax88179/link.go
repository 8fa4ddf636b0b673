package ax88179

import "fmt"

// Link is the link state as the chip reports it: PHYSICAL_LINK_STATUS for
// the USB side, the PHY's vendor status register (PHYSR, 0x11) for the
// Ethernet side.
type Link struct {
	Up         bool
	Mbps       int // 1000, 100 or 10 (0 when down)
	FullDuplex bool
	USB        uint8 // PHYSICAL_LINK_STATUS (USBSuper, USBHigh)
	PHYSR      uint16
}

// USBSpeed names the USB speed bits: "super", "high" or "full".
func (l Link) USBSpeed() string {
	switch {
	case l.USB&USBSuper != 0:
		return "super"
	case l.USB&USBHigh != 0:
		return "high"
	}
	return "full"
}

func (l Link) String() string {
	if !l.Up {
		return fmt.Sprintf("link down (USB %s)", l.USBSpeed())
	}
	dup := "half"
	if l.FullDuplex {
		dup = "full"
	}
	return fmt.Sprintf("link up %d Mbit/s %s duplex (USB %s)", l.Mbps, dup, l.USBSpeed())
}

// DecodePHYSR decodes the PHY status register: speed in bits 15:14
// (0x8000 gigabit, 0x4000 100, 0 10), duplex 0x2000, link 0x400.
func DecodePHYSR(v uint16) (up bool, mbps int, full bool) {
	if v&PHYSRLink == 0 {
		return false, 0, false
	}
	switch v & PHYSRSpeedMask {
	case PHYSRGiga:
		mbps = 1000
	case PHYSR100:
		mbps = 100
	default:
		mbps = 10
	}
	return true, mbps, v&PHYSRFull != 0
}

// ReadLink reads PHYSICAL_LINK_STATUS and then PHYSR, in ax88179_link_reset's
// order.
func ReadLink(c Ctrl) (Link, error) {
	usb, err := ReadMAC8(c, RegPhysLinkStatus)
	if err != nil {
		return Link{}, err
	}
	st, err := ReadPHY(c, PHYSR)
	if err != nil {
		return Link{}, err
	}
	l := Link{USB: usb, PHYSR: st}
	l.Up, l.Mbps, l.FullDuplex = DecodePHYSR(st)
	return l, nil
}
