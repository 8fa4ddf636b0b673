package referee

import (
	"encoding/binary"
	"fmt"

	"dongle/usbnet/ax88179"
)

// BulkIn is one RX_BULKIN_QCTRL register image: the five bytes an AX88179
// driver writes to MAC register 0x2e to set the chip's bulk-in aggregation
// (ax88179.BulkIn.Bytes).
//
//	[0] control  [1] timer low  [2] timer high  [3] queue size (KiB)  [4] inter-frame gap
//
// Linux (AX88179_BULKIN_SIZE) keeps four rows and picks one in
// ax88179_link_reset from the USB speed the chip reports and the Ethernet
// speed its PHY resolved; ax88179_reset writes row 0 unconditionally before
// the link is known, so only the write that follows a link-status read says
// what the driver made of the USB speed.
//
// The table and the choice are not repeated here: they are dongle's own
// driver's (ax88179.BulkInSuperGiga ... ax88179.BulkInFull,
// ax88179.ChooseBulkIn), so comparing a kernel log with ExpectedBulkIn
// checks dongle's table against the kernel's choice.
type BulkIn [5]byte

// String is the bytes in hex, as the request log writes them.
func (b BulkIn) String() string { return fmt.Sprintf("%x", b[:]) }

// ExpectedBulkIn is the RX_BULKIN_QCTRL image dongle's AX88179 driver
// chooses (ax88179.DecodePHYSR, then ax88179.ChooseBulkIn) for the chip's
// PHYSICAL_LINK_STATUS (usb) and the PHY's GMII_PHY_PHYSR (phy); ok is false
// when phy has no link (the driver then writes nothing).
func ExpectedBulkIn(usb byte, phy uint16) (row BulkIn, ok bool) {
	up, mbps, _ := ax88179.DecodePHYSR(phy)
	if !up {
		return BulkIn{}, false
	}
	return BulkIn(ax88179.ChooseBulkIn(mbps, usb).Bytes()), true
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
		case s.In() && s.Request == ax88179.AccessMAC && s.Value == ax88179.RegPhysLinkStatus:
			if len(r.Data) < 1 {
				return nil, fmt.Errorf("request %d (%v): PHYSICAL_LINK_STATUS read with no answer", i, r)
			}
			cur = &LinkReset{USBStatus: r.Data[0]}
		case s.In() && s.Request == ax88179.AccessPHY && s.Value == ax88179.PhyID && s.Index == ax88179.PHYSR && cur != nil:
			if len(r.Data) != 2 {
				return nil, fmt.Errorf("request %d (%v): PHY status read answered %d bytes, want 2", i, r, len(r.Data))
			}
			cur.PHYStatus = binary.LittleEndian.Uint16(r.Data)
		case !s.In() && s.Request == ax88179.AccessMAC && s.Value == ax88179.RegBulkInQCtl:
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
