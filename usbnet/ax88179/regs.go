package ax88179

// Register map and bits of the AX88179/AX88178A, with Linux's names in the
// comments (drivers/net/usb/ax88179_178a.c). Every control request the
// driver makes goes through one of the access types below; wValue and
// wIndex mean different things for each:
//
//	bRequest      wValue          wIndex        data
//	0x01 MAC      register        length        register bytes (LE)
//	0x02 PHY      PHY id (0x03)   PHY register  le16
//	0x04 EEPROM   word offset     word count(1) le16
//	0x05 eFuse    offset          length        bytes
//	0x06 RELOAD   0               0             none
const (
	AccessMAC    uint8 = 0x01 // AX_ACCESS_MAC
	AccessPHY    uint8 = 0x02 // AX_ACCESS_PHY
	AccessEEPROM uint8 = 0x04 // AX_ACCESS_EEPROM
	AccessEFuse  uint8 = 0x05 // AX_ACCESS_EFUS
	Reload       uint8 = 0x06 // AX_RELOAD_EEPROM_EFUSE

	// accessUSBCtl reads a 4-byte USB-controller status word; LinkReset polls
	// wValue 0x8c until bit 30 (TX FIFO busy) clears, as Linux does.
	accessUSBCtl  uint8  = 0x81
	usbCtlTxFIFO  uint16 = 0x8c
	usbCtlTxBusy  uint32 = 0x40000000
	PhyID         uint16 = 0x03 // AX88179_PHY_ID
	EEPROMLen            = 0x100
	EEPROMMagic   uint32 = 0x17900b95 // AX88179_EEPROM_MAGIC: ethtool's cookie, PID<<16|VID
	mcastFiltSize        = 8          // AX_MCAST_FLTSIZE
	maxMcast             = 64         // AX_MAX_MCAST
)

// MAC registers (wValue of an AccessMAC request).
const (
	RegPhysLinkStatus uint16 = 0x02 // PHYSICAL_LINK_STATUS
	RegGeneralStatus  uint16 = 0x03 // GENERAL_STATUS
	RegSROMAddr       uint16 = 0x07 // AX_SROM_ADDR
	RegSROMDataLow    uint16 = 0x08 // AX_SROM_DATA_LOW
	RegSROMDataHigh   uint16 = 0x09 // AX_SROM_DATA_HIGH
	RegSROMCmd        uint16 = 0x0a // AX_SROM_CMD
	RegRxCtl          uint16 = 0x0b // AX_RX_CTL (2 bytes)
	RegNodeID         uint16 = 0x10 // AX_NODE_ID (6 bytes)
	RegMulticast      uint16 = 0x16 // AX_MULFLTARY (8 bytes)
	RegMedium         uint16 = 0x22 // AX_MEDIUM_STATUS_MODE (2 bytes)
	RegMonitor        uint16 = 0x24 // AX_MONITOR_MOD
	RegGPIO           uint16 = 0x25 // AX_GPIO_CTRL
	RegPhyPwr         uint16 = 0x26 // AX_PHYPWR_RSTCTL (2 bytes)
	RegBulkInQCtl     uint16 = 0x2e // AX_RX_BULKIN_QCTRL (5 bytes)
	RegClkSelect      uint16 = 0x33 // AX_CLK_SELECT
	RegRxCOE          uint16 = 0x34 // AX_RXCOE_CTL
	RegTxCOE          uint16 = 0x35 // AX_TXCOE_CTL
	RegPauseHigh      uint16 = 0x54 // AX_PAUSE_WATERLVL_HIGH
	RegPauseLow       uint16 = 0x55 // AX_PAUSE_WATERLVL_LOW
	RegLEDCtl         uint16 = 0x73 // AX_LEDCTRL
)

// PHYSICAL_LINK_STATUS bits: the USB speed the chip enumerated at.
const (
	USBSuper uint8 = 0x04 // AX_USB_SS
	USBHigh  uint8 = 0x02 // AX_USB_HS
)

// GENERAL_STATUS bits.
const generalSecLD uint8 = 0x04 // AX_SECLD: set on UA2 silicon

// SROM command bits.
const (
	sromRead uint8 = 0x04 // EEP_RD
	sromBusy uint8 = 0x10 // EEP_BUSY
)

// RX_CTL bits.
const (
	RxCtlStop       uint16 = 0x0000
	RxCtlPromisc    uint16 = 0x0001 // PRO
	RxCtlAllMulti   uint16 = 0x0002 // AMALL
	RxCtlBroadcast  uint16 = 0x0008 // AB
	RxCtlMulticast  uint16 = 0x0010 // AM: multicast through the hash table
	RxCtlAP         uint16 = 0x0020 // AP
	RxCtlStart      uint16 = 0x0080 // START
	RxCtlDropCRCErr uint16 = 0x0100 // DROPCRCERR
	RxCtlIPE        uint16 = 0x0200 // IPE: 2-byte pad before each frame
)

// Medium mode bits.
const (
	MediumGiga       uint16 = 0x0001
	MediumFullDuplex uint16 = 0x0002
	Medium125MHz     uint16 = 0x0008
	MediumRxFlow     uint16 = 0x0010
	MediumTxFlow     uint16 = 0x0020
	MediumRxEnable   uint16 = 0x0100
	MediumPS         uint16 = 0x0200 // 100 Mbit/s
	MediumJumbo      uint16 = 0x8040
)

// Monitor mode bits.
const (
	monitorRWLC    uint8 = 0x02
	monitorRWMP    uint8 = 0x04
	monitorPMEPol  uint8 = 0x20
	monitorPMEType uint8 = 0x40
)

// GPIO_CTRL bits (UA1 silicon only).
const gpioAllEn uint8 = 0x80 | 0x40 | 0x20

// PHYPWR_RSTCTL bits.
const (
	PhyPwrBZ   uint16 = 0x0010 // force bulk-in zero length
	PhyPwrIPRL uint16 = 0x0020 // internal PHY out of reset
	PhyPwrAT   uint16 = 0x1000 // auto detach
)

// CLK_SELECT bits.
const (
	ClkBCS uint8 = 0x01
	ClkACS uint8 = 0x02
	ClkULR uint8 = 0x08
)

// RXCOE / TXCOE bits (the same layout for both).
const (
	COEIP    uint8 = 0x01
	COETCP   uint8 = 0x02
	COEUDP   uint8 = 0x04
	COETCPv6 uint8 = 0x20
	COEUDPv6 uint8 = 0x40
	coeAll         = COEIP | COETCP | COEUDP | COETCPv6 | COEUDPv6
)

// Pause water levels Linux programs.
const (
	pauseLow  uint8 = 0x34
	pauseHigh uint8 = 0x52
)

// PHY registers (IEEE 802.3 clause 22 plus the vendor ones).
const (
	MIIBMCR     uint16 = 0x00
	MIIBMSR     uint16 = 0x01
	MIIPhyID1   uint16 = 0x02
	MIIPhyID2   uint16 = 0x03
	MIIAdv      uint16 = 0x04
	MIILPA      uint16 = 0x05
	MIICtrl1000 uint16 = 0x09
	MIIStat1000 uint16 = 0x0a
	MIIMMDCtrl  uint16 = 0x0d
	MIIMMDData  uint16 = 0x0e
	PHYSR       uint16 = 0x11 // GMII_PHY_PHYSR: the vendor status register
	phyLEDAct   uint16 = 0x1a
	phyLEDLink  uint16 = 0x1c
	phyPage     uint16 = 0x1e
	phyPageSel  uint16 = 0x1f
)

// PHYSR bits (Linux GMII_PHY_PHYSR_*).
const (
	PHYSRSpeedMask uint16 = 0xc000
	PHYSRGiga      uint16 = 0x8000
	PHYSR100       uint16 = 0x4000
	PHYSRFull      uint16 = 0x2000
	PHYSRLink      uint16 = 0x0400
)

// BMCR / BMSR / advertisement bits used here.
const (
	bmcrANEnable  uint16 = 0x1000
	bmcrANRestart uint16 = 0x0200
	bmsrLink      uint16 = 0x0004
	bmsrANDone    uint16 = 0x0020
	advPause      uint16 = 0x0400
	advAsymPause  uint16 = 0x0800
)

// Clause-45 registers reached through MMD indirection (EEE).
const (
	mmdPCS         uint16 = 3
	mmdAN          uint16 = 7
	mmdPCSEEEAble  uint16 = 20
	mmdANEEEAdv    uint16 = 60
	mmdANEEELPAble uint16 = 61
	mmdCtrlNoIncr  uint16 = 0x4000
	phyPageExt     uint16 = 0x0007
	phyPage0       uint16 = 0x0000
	phyPage3       uint16 = 0x0003
	phyEEEDisable  uint16 = 0x3246 // written to MII register 0x19 (MII_PHYADDR) on page 3
	miiPhyAddr     uint16 = 0x19   // MII_PHYADDR (include/uapi/linux/mii.h), where Linux writes phyEEEDisable
	ledExtPage     uint16 = 0x2c
	ledActiveMask  uint16 = 0xff8f
	ledLinkMask    uint16 = 0xf888
)

// BulkIn is the 5-byte BULKIN_QCTRL value: RX aggregation control.
//
// The chip collects received frames into one bulk IN transfer until about
// Size KiB are gathered or the timer (TimerH<<8 | TimerL) expires; the
// host's buffer must be 2 KiB larger than the threshold, because the frame
// that crosses it still goes in: RxURBSize = 1024*(Size+2).
type BulkIn struct {
	Ctrl, TimerL, TimerH, Size, IFG uint8
}

// Bytes is the register image written with AccessMAC/RegBulkInQCtl.
func (b BulkIn) Bytes() [5]byte { return [5]byte{b.Ctrl, b.TimerL, b.TimerH, b.Size, b.IFG} }

// URBSize is the RX buffer this setting needs (Linux's rx_urb_size).
func (b BulkIn) URBSize() int { return 1024 * (int(b.Size) + 2) }

// The aggregation table (Linux AX88179_BULKIN_SIZE).
var (
	BulkInSuperGiga = BulkIn{7, 0x4f, 0x00, 0x12, 0xff} // SuperSpeed, 1000 Mbit/s
	BulkInHighGiga  = BulkIn{7, 0x20, 0x03, 0x16, 0xff} // high speed, 1000 Mbit/s
	BulkIn100       = BulkIn{7, 0xae, 0x07, 0x18, 0xff} // SS/HS, 100 Mbit/s
	BulkInFull      = BulkIn{7, 0xcc, 0x4c, 0x18, 0x08} // full speed, or 10 Mbit/s
)

// ChooseBulkIn picks the aggregation setting for a link speed (Mbit/s) and
// the USB speed bits of PHYSICAL_LINK_STATUS, as ax88179_link_reset does:
// gigabit uses the SS/HS/FS rows, 100 Mbit/s the 100M row at SS/HS, and
// everything else (10 Mbit/s, full-speed USB) the last row.
func ChooseBulkIn(mbps int, usb uint8) BulkIn {
	switch {
	case mbps == 1000 && usb&USBSuper != 0:
		return BulkInSuperGiga
	case mbps == 1000 && usb&USBHigh != 0:
		return BulkInHighGiga
	case mbps == 100 && usb&(USBSuper|USBHigh) != 0:
		return BulkIn100
	}
	return BulkInFull
}
