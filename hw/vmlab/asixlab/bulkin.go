package asixlab

import (
	"encoding/binary"
	"fmt"
)

// BulkIn is one RX_BULKIN_QCTRL setting: the five bytes an AX88179 driver
// writes to MAC register 0x2e to set the chip's bulk-in aggregation.
//
//	[0] control  [1] timer low  [2] timer high  [3] queue size (KiB)  [4] inter-frame gap
//
// Linux (AX88179_BULKIN_SIZE) keeps four rows and picks one in
// ax88179_link_reset from the USB speed the chip reports and the Ethernet
// speed its PHY resolved; ax88179_reset writes row 0 unconditionally before
// the link is known, so only the write that follows a link-status read says
// what the driver made of the USB speed.
type BulkIn [5]byte

// The rows of Linux's AX88179_BULKIN_SIZE, by what selects them.
var (
	BulkInSuperGiga = BulkIn{7, 0x4f, 0, 0x12, 0xff}   // row 0: SuperSpeed, 1000 Mb/s (and the reset default)
	BulkInHighGiga  = BulkIn{7, 0x20, 3, 0x16, 0xff}   // row 1: high speed, 1000 Mb/s
	BulkIn100       = BulkIn{7, 0xae, 7, 0x18, 0xff}   // row 2: SuperSpeed or high speed, 100 Mb/s
	BulkInSlow      = BulkIn{7, 0xcc, 0x4c, 0x18, 0x8} // row 3: full speed, or 10 Mb/s
)

// AX88179 register facts the link-reset decoding needs.
const (
	regPhysLinkStatus = 0x02 // MAC register PHYSICAL_LINK_STATUS
	regBulkInQCtrl    = 0x2e // MAC register RX_BULKIN_QCTRL
	accessMAC         = 0x01 // bRequest AX_ACCESS_MAC
	accessPHY         = 0x02 // bRequest AX_ACCESS_PHY
	phyID             = 0x03 // wValue of PHY accesses
	phyRegStatus      = 0x11 // GMII_PHY_PHYSR

	USBStatusSuper = 0x04 // PHYSICAL_LINK_STATUS: AX_USB_SS
	USBStatusHigh  = 0x02 // PHYSICAL_LINK_STATUS: AX_USB_HS

	phyLink      = 0x0400 // GMII_PHY_PHYSR_LINK
	phySpeedMask = 0xc000 // GMII_PHY_PHYSR_SMASK
	phyGiga      = 0x8000 // GMII_PHY_PHYSR_GIGA
	phy100       = 0x4000 // GMII_PHY_PHYSR_100
)

// String is the bytes in hex, as the request log writes them.
func (b BulkIn) String() string { return fmt.Sprintf("%x", b[:]) }

// ExpectedBulkIn is the row ax88179_link_reset picks for the chip's
// PHYSICAL_LINK_STATUS (usb) and the PHY's GMII_PHY_PHYSR (phy); ok is false
// when phy has no link (the driver then writes nothing).
func ExpectedBulkIn(usb byte, phy uint16) (row BulkIn, ok bool) {
	if phy&phyLink == 0 {
		return BulkIn{}, false
	}
	switch phy & phySpeedMask {
	case phyGiga:
		switch {
		case usb&USBStatusSuper != 0:
			return BulkInSuperGiga, true
		case usb&USBStatusHigh != 0:
			return BulkInHighGiga, true
		}
	case phy100:
		if usb&(USBStatusSuper|USBStatusHigh) != 0 {
			return BulkIn100, true
		}
	}
	return BulkInSlow, true
}

// LinkReset is one link-up configuration a driver made, as its request log
// shows it: it read PHYSICAL_LINK_STATUS and the PHY status, then wrote
// RX_BULKIN_QCTRL.
type LinkReset struct {
	USBStatus byte   // PHYSICAL_LINK_STATUS as the device answered
	PHYStatus uint16 // GMII_PHY_PHYSR as the device answered (0 if not read)
	QCtrl     BulkIn // what the driver wrote
	Index     int    // the write's index in the log
}

// LinkResets returns every RX_BULKIN_QCTRL write that follows a
// PHYSICAL_LINK_STATUS read (since the previous such write), with the link
// status and the last PHY status read before it. A write with no status
// read before it (ax88179_reset's default) is not one. A status read or
// QCTRL write of the wrong length is an error naming the log index.
func LinkResets(reqs []Request) ([]LinkReset, error) {
	var out []LinkReset
	var cur *LinkReset
	for i, r := range reqs {
		s := r.Setup
		if r.Stalled {
			continue
		}
		switch {
		case s.In() && s.Request == accessMAC && s.Value == regPhysLinkStatus:
			if len(r.Data) < 1 {
				return nil, fmt.Errorf("request %d (%v): PHYSICAL_LINK_STATUS read with no answer", i, r)
			}
			cur = &LinkReset{USBStatus: r.Data[0]}
		case s.In() && s.Request == accessPHY && s.Value == phyID && s.Index == phyRegStatus && cur != nil:
			if len(r.Data) != 2 {
				return nil, fmt.Errorf("request %d (%v): PHY status read answered %d bytes, want 2", i, r, len(r.Data))
			}
			cur.PHYStatus = binary.LittleEndian.Uint16(r.Data)
		case !s.In() && s.Request == accessMAC && s.Value == regBulkInQCtrl:
			if len(r.Data) != len(BulkIn{}) {
				return nil, fmt.Errorf("request %d (%v): RX_BULKIN_QCTRL write of %d bytes, want 5", i, r, len(r.Data))
			}
			if cur != nil {
				cur.Index = i
				copy(cur.QCtrl[:], r.Data)
				out = append(out, *cur)
				cur = nil
			}
		}
	}
	return out, nil
}
