package asix

import "dongle/usbnet"

// MTU changes (ax88178_change_mtu, ax88178_set_mfb).
//
// The AX88178 takes jumbo frames when the medium mode's JFE bit is set, and
// writes its RX stream in bursts of the RX_CTL MFB buffer size, so the
// buffer must hold the largest record (4-byte header + frame):
//
//	hard MTU (mtu+14)   < 2048    < 4096    < 8192    < 16384
//	RX_CTL MFB          0x0000    0x0100    0x0200    0x0300
//	RX buffer           2048      4096      8192      16384
//	medium JFE          mtu > 1500
//
// The largest MTU is 16384 - (ETH_HLEN + 4) = 16366 (ax88178_bind's
// max_mtu): its frame of 16380 bytes plus the header fills a 16 KiB
// burst. The AX88772 family stays at 1500 (its bursts are 2 KiB).
//
// usbnet calls ChangeMTU only while the interface is down (see
// usbnet.Dev.ChangeMTU for why); the new RX buffer size takes effect at
// the next Open.
//
// JFE and link resets: Linux's ax88178_reset and ax88178_link_reset write
// medium modes built from AX88178_MEDIUM_DEFAULT, which has JFE set, so the
// first link reset after ax88178_set_mfb cleared JFE for MTU 1500 turns
// jumbo reception back on (the driver's length check, mtu + 18, then drops
// what the chip lets through). dongle keeps set_mfb's decision: until the
// first MTU change the medium mode is Linux's (JFE set); after it, Reset
// and LinkReset set JFE exactly when the MTU chosen is above 1500 (jumbo),
// so a device set back to 1500 drops long frames in the chip.
//
//	                      bind/open/link reset   after ChangeMTU(mtu)
//	medium JFE (Linux)    set                    set_mfb's, until the next link reset
//	medium JFE (dongle)   set                    mtu > 1500, kept

// MaxMTU178 is the AX88178's largest MTU (ax88178_bind: max_mtu).
const MaxMTU178 = 16384 - (EthHLen + 4)

var _ usbnet.MTUChanger = (*Driver)(nil)

// ChangeMTU implements usbnet.MTUChanger. On the AX88178 it is
// ax88178_set_mfb as state: the MFB field of p.rxCtl for the new hard MTU,
// JFE for an MTU above 1500, and RxURBSize set to the buffer size. It
// writes no register: usbnet asks only while the interface is down, and
// the next Open's Reset writes RX_CTL from p.rxCtl and the medium mode
// through p.jumbo. On every variant the RX deframer's and TX framer's
// length limits follow the MTU (mtu + ETH_HLEN + VLAN_HLEN, as
// asix_rx_fixup_internal checks). usbnet has already checked mtu against
// HardMTU.
func (*Driver) ChangeMTU(d *usbnet.Dev, mtu int) error {
	p, err := privOf(d)
	if err != nil {
		return err
	}
	if p.variant == AX88178 {
		// ax88178_set_mfb picks the buffer strictly larger than the hard MTU.
		mfb, size := MFB(mtu + EthHLen + 1)
		p.rxCtl = p.rxCtl&^RxCtlMFB | mfb
		p.jfe = mtu > 1500
		d.RxURBSize = size
	}
	p.setLimits(mtu)
	return nil
}

// setLimits sets the longest frame accepted from the chip and handed to
// it: mtu + ETH_HLEN + VLAN_HLEN (asix_rx_fixup_internal drops longer
// records). TX keeps the 11-bit field's limit below that.
func (p *priv) setLimits(mtu int) {
	p.rx.MaxLen = mtu + EthHLen + 4
	p.txMax = max(MaxTxLen, p.rx.MaxLen)
}

// jumbo applies p.jfe, the last MTU change's JFE decision, to an AX88178
// medium mode; other variants' modes are returned as they are. bind178
// sets p.jfe, so before any change JFE stays set as in Linux's
// AX88178_MEDIUM_DEFAULT.
func (p *priv) jumbo(medium uint16) uint16 {
	if p.variant != AX88178 {
		return medium
	}
	return withJFE(medium, p.jfe)
}

func withJFE(medium uint16, on bool) uint16 {
	if on {
		return medium | MediumJFE
	}
	return medium &^ MediumJFE
}
