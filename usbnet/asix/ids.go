package asix

import "dongle/usbnet"

// Variant is the chip an ID entry is for (usbnet.ID.Info).
type Variant int

const (
	// AX88772 and AX88772A: MAC from NODE_ID.
	AX88772 Variant = iota
	// AX88772B: MAC from the EEPROM (Linux FLAG_EEPROM_MAC).
	AX88772B
	// AX88178: gigabit, external PHY.
	AX88178
)

func (v Variant) String() string {
	switch v {
	case AX88772:
		return "AX88772"
	case AX88772B:
		return "AX88772B"
	case AX88178:
		return "AX88178"
	}
	return "unknown ASIX variant"
}

func id(vendor, product uint16, name string, v Variant) usbnet.ID {
	return usbnet.ID{Vendor: vendor, Product: product, Class: -1, SubClass: -1, Protocol: -1, Name: name, Info: v}
}

// ids is the match table (asix_devices.c products[]).
var ids = []usbnet.ID{
	id(0x0b95, 0x7720, "ASIX AX88772", AX88772),
	id(0x0b95, 0x772a, "ASIX AX88772A", AX88772),
	id(0x13b1, 0x0018, "Linksys USB200M rev 2", AX88772),
	id(0x2001, 0x3c05, "D-Link DUB-E100 H/W Ver B1", AX88772),
	id(0x07d1, 0x3c05, "D-Link DUB-E100 H/W Ver B1 (alt)", AX88772),
	id(0x2001, 0x1a02, "D-Link DUB-E100 H/W Ver C1", AX88772),
	id(0x05ac, 0x1402, "Apple USB Ethernet Adapter", AX88772),
	id(0x1557, 0x7720, "OQO 01+ Ethernet", AX88772),
	id(0x0db0, 0xa877, "MSI AX88772A", AX88772),

	id(0x0b95, 0x772b, "ASIX AX88772B", AX88772B),
	id(0x0b95, 0x7e2b, "ASIX AX88772B", AX88772B),
	id(0x17ef, 0x7203, "Lenovo U2L100P 10/100", AX88772B),

	id(0x0b95, 0x1780, "ASIX AX88178", AX88178),
	id(0x0411, 0x006e, "Buffalo LUA-U2-GT", AX88178),
	id(0x0df6, 0x0056, "Sitecom LN-031", AX88178),
	id(0x0df6, 0x061c, "Sitecom LN-028", AX88178),
	id(0x1737, 0x0039, "Linksys USB1000", AX88178),
	id(0x04bb, 0x0930, "IO-DATA ETG-US2", AX88178),
	id(0x050d, 0x5055, "Belkin F5D5055", AX88178),
	id(0x0789, 0x0160, "Logitec LAN-GTJ/U2A", AX88178),
	id(0x08dd, 0x0114, "Billionton GUSB2AM-1G-B", AX88178),
	id(0x14ea, 0xab11, "Planex GU-1000T", AX88178),
}

// IDs returns a copy of the match table.
func IDs() []usbnet.ID { return append([]usbnet.ID(nil), ids...) }
