package ax88179

// The chip's side of the register map (written independently of the
// driver's constants).

// Vendor requests (bRequest).
const (
	reqMAC    = 0x01
	reqPHY    = 0x02
	reqEEPROM = 0x04
	reqEFuse  = 0x05
	reqReload = 0x06
	reqUSBCtl = 0x81
)

// MAC registers.
const (
	regPhysLink   = 0x02
	regGenStatus  = 0x03
	regSROMAddr   = 0x07
	regSROMLow    = 0x08
	regSROMHigh   = 0x09
	regSROMCmd    = 0x0a
	regRxCtl      = 0x0b
	regNodeID     = 0x10
	regMcast      = 0x16
	regMedium     = 0x22
	regMonitor    = 0x24
	regGPIO       = 0x25
	regPhyPwr     = 0x26
	regBulkIn     = 0x2e
	regClk        = 0x33
	regRxCOE      = 0x34
	regTxCOE      = 0x35
	regPauseHigh  = 0x54
	regPauseLow   = 0x55
	regLEDCtl     = 0x73
	macFileSize   = 0x100
	eepromWords   = 0x80
	efuseSize     = 64
	phyAddr       = 0x03
	usbCtlTxFIFO  = 0x8c
	intEndpoint   = 0x81
	bulkInEP      = 0x82
	bulkOutEP     = 0x03
	ethHeaderLen  = 14
	maxFrame      = 1518 // 1514 + VLAN tag
	maxJumboFrame = 4088 + 14 + 4
)

// RX_CTL bits.
const (
	rxPRO     = 0x0001
	rxAMALL   = 0x0002
	rxAB      = 0x0008
	rxAM      = 0x0010
	rxSTART   = 0x0080
	rxDropCRC = 0x0100
	rxIPE     = 0x0200
)

// Medium bits.
const (
	medRE    = 0x0100
	medJumbo = 0x8040
)

// PHYPWR_RSTCTL bits.
const (
	pwrIPRL = 0x0020
)

// SROM command bits.
const (
	sromRD   = 0x04
	sromBusy = 0x10
)

// RXCOE bits.
const (
	coeIP    = 0x01
	coeTCP   = 0x02
	coeUDP   = 0x04
	coeTCPv6 = 0x20
	coeUDPv6 = 0x40
)

// RX header bits.
const (
	hdrL4Err  = 1 << 0
	hdrL3Err  = 1 << 1
	hdrUDP    = 0x04
	hdrTCP    = 0x10
	hdrCRCErr = 1 << 29
	hdrDrop   = 1 << 31
)

// TX header.
const (
	txLenMask = 0x0001ffff
	txPadding = 0x80008000
)

// PHY registers and bits.
const (
	miiBMCR     = 0x00
	miiBMSR     = 0x01
	miiID1      = 0x02
	miiID2      = 0x03
	miiAdv      = 0x04
	miiLPA      = 0x05
	miiCtrl1000 = 0x09
	miiStat1000 = 0x0a
	miiMMDCtrl  = 0x0d
	miiMMDData  = 0x0e
	miiPHYSR    = 0x11
	miiExtPage  = 0x1e
	miiPageSel  = 0x1f

	bmcrReset     = 0x8000
	bmcrANEnable  = 0x1000
	bmcrPowerDown = 0x0800
	bmcrANRestart = 0x0200
	bmsrBase      = 0x7949 // 10/100 HD/FD, extended status, AN able, ext caps
	bmsrLink      = 0x0004
	bmsrANDone    = 0x0020

	adv10H   = 0x0020
	adv10F   = 0x0040
	adv100H  = 0x0080
	adv100F  = 0x0100
	advPause = 0x0400
	advCSMA  = 0x0001
	lpaAck   = 0x4000
	ctl1000F = 0x0200
	ctl1000H = 0x0100
	st1000F  = 0x0800
	st1000H  = 0x0400

	physrGiga = 0x8000
	physr100  = 0x4000
	physrFull = 0x2000
	physrLink = 0x0400
)

// EPBulkIn is the model's bulk IN endpoint (for a host outside the sim
// engine, such as hw/ffs, that must watch its queue).
const EPBulkIn = bulkInEP
