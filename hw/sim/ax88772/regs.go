package ax88772

// The chip's vendor requests (bRequest), as the AX88772B answers them.
// Reads are bmRequestType 0xC0, writes 0x40; 0x13 and 0x14 mean different
// registers by direction.
const (
	reqSetSWMII      = 0x06
	reqReadMII       = 0x07
	reqWriteMII      = 0x08
	reqStatMngSts    = 0x09
	reqSetHWMII      = 0x0a
	reqReadEEPROM    = 0x0b
	reqWriteEEPROM   = 0x0c
	reqWriteEnable   = 0x0d
	reqWriteDisable  = 0x0e
	reqReadRxCtl     = 0x0f
	reqWriteRxCtl    = 0x10
	reqReadIPG       = 0x11
	reqWriteIPG      = 0x12
	reqReadNodeID    = 0x13
	reqWriteNodeID   = 0x14
	reqWriteMcast    = 0x16
	reqReadPHYID     = 0x19
	reqReadMedium    = 0x1a
	reqWriteMedium   = 0x1b
	reqReadMonitor   = 0x1c
	reqWriteMonitor  = 0x1d
	reqReadGPIO      = 0x1e
	reqWriteGPIO     = 0x1f
	reqSWReset       = 0x20
	reqSWPHYStatus   = 0x21
	reqSWPHYSelect   = 0x22
	reqQCTCtrl       = 0x2a
	vendorIn         = 0xc0
	vendorOut        = 0x40
	hostEn           = 0x01
	chipCode772B     = 0x20
	embeddedPHYAddr  = 0x10
	secondaryPHYType = 0xe0 // READ_PHY_ID byte 0: no secondary PHY
)

// Register bits the model acts on.
const (
	// RX_CTL
	RxCtlPRO   = 0x0001
	RxCtlAMALL = 0x0002
	RxCtlSEP   = 0x0004
	RxCtlAB    = 0x0008
	RxCtlAM    = 0x0010
	RxCtlAP    = 0x0020
	RxCtlSO    = 0x0080
	RxCtlMFB   = 0x0300

	// Medium mode
	MediumFD  = 0x0002
	MediumRFC = 0x0010
	MediumTFC = 0x0020
	MediumJFE = 0x0040 // jumbo frame enable (AX88178)
	MediumRE  = 0x0100
	MediumPS  = 0x0200

	// SW_RESET
	swResetIPRL = 0x20
	swResetIPPD = 0x40

	// Reset values.
	resetRxCtl  = 0x0000
	resetMedium = 0x0000
)

// PHY registers and bits (IEEE 802.3 clause 22).
const (
	phyBMCR   = 0
	phyBMSR   = 1
	phyID1    = 2
	phyID2    = 3
	phyANAR   = 4
	phyANLPAR = 5
	phyANER   = 6

	bmcrReset     = 0x8000
	bmcrLoopback  = 0x4000
	bmcrSpeed100  = 0x2000
	bmcrANEnable  = 0x1000
	bmcrPowerDown = 0x0800
	bmcrANRestart = 0x0200
	bmcrFullDplx  = 0x0100

	bmsrBase     = 0x7809 // 100FD|100HD|10FD|10HD, preamble suppression, extended
	bmsrLink     = 0x0004
	bmsrANegCap  = 0x0008
	bmsrANegDone = 0x0020

	adv10Half  = 0x0020
	adv10Full  = 0x0040
	adv100Half = 0x0080
	adv100Full = 0x0100
	advPause   = 0x0400
	advAsym    = 0x0800
	advCSMA    = 0x0001
	lpaAck     = 0x4000

	// The AX88772B embedded PHY's identifier (OUI of ASIX).
	phyIDHigh = 0x003b
	phyIDLow  = 0x1881
)

// Gigabit PHY registers and bits (AX88178's external PHY).
const (
	phyCtrl1000 = 9
	phyStat1000 = 10
	phyEStatus  = 15
	phyPageSel  = 31 // Realtek page select

	bmcrSpeed1000 = 0x0040
	bmsrEStatEn   = 0x0100

	adv1000Half        = 0x0100 // CTRL1000
	adv1000Full        = 0x0200
	lpa1000Half        = 0x0400 // STAT1000
	lpa1000Full        = 0x0800
	stat1000RemoteRxOK = 0x1000
	stat1000LocalRxOK  = 0x2000
	estatus1000Half    = 0x1000
	estatus1000Full    = 0x2000

	// Marvell 88E1111 vendor registers and their power-on values.
	marvellCtrl           = 0x14 // extended PHY specific control: RGMII RX/TX delay bits
	marvellLEDCtrl        = 0x18
	marvellStatus         = 0x1b // extended PHY specific status (HWCFG mode)
	marvellCtrlDefault    = 0x0c60
	marvellLEDCtrlDefault = 0x4100
	marvellStatusDefault  = 0x848b

	marvell88E1111ID = 0x01410cc2
	rtl8211clID      = 0x001cc913
	asixEmbeddedID   = uint32(phyIDHigh)<<16 | phyIDLow

	externalPHYAddr = 0x18 // the board's strap for the AX88178's PHY
	eepromBoardWord = 0x17 // AX88178 EEPROM: PHY mode, power pin, LED mode
	boardModeMask   = 0x7f
	boardModeRTL    = 0x0c // RTL8211CL

	// GPIO register bits (AX_GPIO_*).
	gpio0En = 0x01
	gpio1En = 0x04

	// Medium mode bits only the AX88178 has.
	MediumGM    = 0x0001 // gigabit MII
	MediumENCK  = 0x0008 // 125 MHz clock
	chipCode178 = 0x00
)
