package rtl8153

// Register map of the RTL8153B as Linux's r8152.c names it. Only the
// registers the model gives meaning to are listed; every other address of
// the two 64 KiB blocks is plain storage (see Model.Unmodelled).

// Vendor request.
const (
	reqRegs   = 0x05 // RTL8152_REQ_GET_REGS and RTL8152_REQ_SET_REGS
	typeRead  = 0xc0 // RTL8152_REQT_READ
	typeWrite = 0x40 // RTL8152_REQT_WRITE

	mcuPLA = 0x0100 // MCU_TYPE_PLA in wIndex's high byte
	mcuUSB = 0x0000 // MCU_TYPE_USB

	maxRead  = 64  // generic_ocp_read's limit per request
	maxWrite = 512 // generic_ocp_write's limit per request
)

// Block is one of the chip's two register blocks.
type Block int

const (
	// USB is the USB block (MCU_TYPE_USB, wIndex 0x0000).
	USB Block = iota
	// PLA is the packet/link block (MCU_TYPE_PLA, wIndex 0x0100).
	PLA
	// OCP is the PHY's own register space, reached through the PLA
	// window at 0xb000 with the page in PLA_OCP_GPHY_BASE.
	OCP
)

func (b Block) String() string {
	switch b {
	case PLA:
		return "PLA"
	case OCP:
		return "OCP"
	}
	return "USB"
}

// PLA block.
const (
	plaIDR       = 0xc000 // PLA_IDR: station address, 6 bytes
	plaRCR       = 0xc010 // PLA_RCR: receive configuration
	plaRMS       = 0xc016 // PLA_RMS: largest frame received, FCS and VLAN tag included
	plaMAR       = 0xcd00 // PLA_MAR: multicast hash, 8 bytes
	plaBackup    = 0xd000 // PLA_BACKUP: the station address the chip loaded at power-on
	plaEfuseData = 0xdd00 // PLA_EFUSE_DATA
	plaEfuseCmd  = 0xdd02 // PLA_EFUSE_CMD
	plaALDPSStat = 0xe000 // polled by r8153_aldps_en(false): bit 8 once the PHY left ALDPS
	plaBootCtrl  = 0xe004 // PLA_BOOT_CTRL
	plaTCR0      = 0xe610 // PLA_TCR0
	plaTCR1      = 0xe612 // PLA_TCR1: chip version in VERSION_MASK
	plaRstTally  = 0xe800 // PLA_RSTTALLY
	plaCR        = 0xe813 // PLA_CR
	plaCRWECR    = 0xe81c // PLA_CRWECR: configuration register write enable
	plaOOBCtrl   = 0xe84f // PLA_OOB_CTRL
	plaCPCR      = 0xe854 // PLA_CPCR
	plaMisc1     = 0xe85a // PLA_MISC_1
	plaGPHYBase  = 0xe86c // PLA_OCP_GPHY_BASE: page of the OCP PHY window
	plaTallyCnt  = 0xe890 // PLA_TALLYCNT: 64 bytes of tally counters
	plaSFFSts7   = 0xe8de // PLA_SFF_STS_7
	plaPHYStatus = 0xe908 // PLA_PHYSTATUS
	plaPolGPIO   = 0xdc6a // PLA_POL_GPIO_CTRL

	plaOCPWindow    = 0xb000 // 0xb000..0xbfff: OCP PHY registers of the page in PLA_OCP_GPHY_BASE
	plaOCPWindowEnd = 0xc000
)

// PLA bits.
const (
	rcrAAP = 0x01 // RCR_AAP: accept all physical addresses
	rcrAPM = 0x02 // RCR_APM: accept our physical address
	rcrAM  = 0x04 // RCR_AM: accept multicast (hash)
	rcrAB  = 0x08 // RCR_AB: accept broadcast

	crRST = 0x10 // CR_RST
	crRE  = 0x08 // CR_RE
	crTE  = 0x04 // CR_TE

	crwecrConfig = 0xc0 // CRWECR_CONFIG

	oobNowIsOOB    = 0x80 // NOW_IS_OOB
	oobTxFIFOEmpty = 0x20 // TXFIFO_EMPTY
	oobRxFIFOEmpty = 0x10 // RXFIFO_EMPTY
	oobLinkList    = 0x02 // LINK_LIST_READY

	tcr0TxEmpty = 0x0800 // TCR0_TX_EMPTY
	versionMask = 0x7cf0 // VERSION_MASK of PLA_TCR1
	// Version8153B is PLA_TCR1's version field of an RTL8153B (RTL_VER_09).
	Version8153B = 0x6010

	autoloadDone = 0x0002 // AUTOLOAD_DONE

	rxdyGatedEn = 0x0008 // RXDY_GATED_EN in PLA_MISC_1
	reInitLL    = 0x8000 // RE_INIT_LL in PLA_SFF_STS_7
	cpcrRxVLAN  = 0x0040 // CPCR_RX_VLAN
	tallyReset  = 0x0001 // TALLY_RESET

	efuseReadCmd  = 0x8000 // EFUSE_READ_CMD
	efuseDataBit  = 0x0080 // EFUSE_DATA_BIT16
	polGPHYPatch  = 0x0010 // POL_GPHY_PATCH
	aldpsLeftBit  = 0x0100 // bit 8 of PLA 0xe000
	physFullDup   = 0x01   // FULL_DUP
	physLink      = 0x02   // LINK_STATUS
	phys10        = 0x04   // _10bps
	phys100       = 0x08   // _100bps
	phys1000      = 0x10   // _1000bps
	physRxFlow    = 0x20   // _rx_flow
	physTxFlow    = 0x40   // _tx_flow
	intrLink      = 0x0004 // INTR_LINK in the interrupt packet
	defaultRMS    = 1522   // RTL8152_RMS: VLAN_ETH_FRAME_LEN + ETH_FCS_LEN
	ethHeaderLen  = 14
	ethFCSLen     = 4
	ethMinLen     = 60 // ETH_ZLEN
	rxDescLen     = 24 // sizeof(struct rx_desc)
	txDescLen     = 8  // sizeof(struct tx_desc)
	rxAlign       = 8  // RX_ALIGN
	txAlign       = 4  // TX_ALIGN
	maxJumboFrame = 9 * 1024
)

// USB block.
const (
	usbUSBCtrl      = 0xd406 // USB_USB_CTRL
	usbRxEarlySize  = 0xd42e // USB_RX_EARLY_SIZE: in 8-byte units
	usbRxExtraTimer = 0xd432 // USB_RX_EXTRA_AGGR_TMR (RTL8153B): in 8 ns units
	usbMisc0        = 0xd81a // USB_MISC_0: PCUT_STATUS, the -AD variant bits
	usbMisc1        = 0xd81f // USB_MISC_1: the -BND/-BD variant bits
	usbWDT1Ctrl     = 0xe404 // USB_WDT1_CTRL

	rxAggDisable = 0x0010 // RX_AGG_DISABLE
	rxZeroEn     = 0x0080 // RX_ZERO_EN
)

// OCP PHY registers (the PHY's own 16-bit address space, reached through
// the PLA window).
const (
	ocpBaseMII    = 0xa400 // OCP_BASE_MII: MII register r at 0xa400 + 2r
	ocpPHYStatus  = 0xa420 // OCP_PHY_STATUS
	ocpPowerCfg   = 0xa430 // OCP_POWER_CFG
	ocpSRAMAddr   = 0xa436 // OCP_SRAM_ADDR
	ocpSRAMData   = 0xa438 // OCP_SRAM_DATA
	ocpPatchStat  = 0xb800 // OCP_PHY_PATCH_STAT
	ocpPatchCmd   = 0xb820 // OCP_PHY_PATCH_CMD
	phyStatLANOn  = 3      // PHY_STAT_LAN_ON
	phyStatPwrDn  = 5      // PHY_STAT_PWRDN
	patchReady    = 0x0040 // PATCH_READY
	patchRequest  = 0x0010 // PATCH_REQUEST
	powerCfgALDPS = 0x0004 // EN_ALDPS
)

// MII registers and bits (include/uapi/linux/mii.h).
const (
	miiBMCR      = 0x00
	miiBMSR      = 0x01
	miiPHYSID1   = 0x02
	miiPHYSID2   = 0x03
	miiADVERT    = 0x04
	miiLPA       = 0x05
	miiEXPANSION = 0x06
	miiCTRL1000  = 0x09
	miiSTAT1000  = 0x0a
	miiESTATUS   = 0x0f

	bmcrReset     = 0x8000
	bmcrSpeed100  = 0x2000
	bmcrANEnable  = 0x1000
	bmcrPDown     = 0x0800
	bmcrANRestart = 0x0200
	bmcrFullDplx  = 0x0100
	bmcrSpeed1000 = 0x0040

	bmsrLStatus  = 0x0004
	bmsrANEGCap  = 0x0008
	bmsrANEGDone = 0x0020
	bmsrESTATEN  = 0x0100
	bmsrBasic    = 0x7800 | 0x0040 | 0x0001 | bmsrANEGCap | bmsrESTATEN // 100/10 full/half, preamble suppression, extended caps

	adv10Half   = 0x0020
	adv10Full   = 0x0040
	adv100Half  = 0x0080
	adv100Full  = 0x0100
	advPause    = 0x0400
	advAsym     = 0x0800
	lpaLPACK    = 0x4000
	adv1000Full = 0x0200 // ADVERTISE_1000FULL in MII_CTRL1000
	lpa1000Full = 0x0800 // LPA_1000FULL in MII_STAT1000

	// phyID is Realtek's OUI with the RTL8153's internal PHY model
	// (PHYSID1 0x001c, PHYSID2 0xc800 | revision).
	phyID1 = 0x001c
	phyID2 = 0xc800
)

// rx_desc and tx_desc bits.
const (
	rxLenMask = 0x7fff  // RX_LEN_MASK in opts1
	rdUDPCS   = 1 << 23 // RD_UDP_CS in opts2
	rdTCPCS   = 1 << 22 // RD_TCP_CS
	rdIPv6CS  = 1 << 20 // RD_IPV6_CS
	rdIPv4CS  = 1 << 19 // RD_IPV4_CS
	rxVLANTag = 1 << 16 // RX_VLAN_TAG in opts2 (tag in bits 15:0, byte-swapped)
	rdIPF     = 1 << 23 // IPF in opts3
	rdUDPF    = 1 << 22 // UDPF
	rdTCPF    = 1 << 21 // TCPF

	txFS         = 1 << 31 // TX_FS
	txLS         = 1 << 30 // TX_LS
	txGTSendV4   = 1 << 28 // GTSENDV4 (TSO)
	txGTSendV6   = 1 << 27 // GTSENDV6
	txLenMax     = 0x3ffff // TX_LEN_MAX
	txUDPCS      = 1 << 31 // UDP_CS in opts2
	txTCPCS      = 1 << 30 // TCP_CS
	txIPv4CS     = 1 << 29 // IPV4_CS
	txIPv6CS     = 1 << 28 // IPV6_CS
	txTCPHOShift = 17      // TCPHO_SHIFT
	txTCPHOMax   = 0x7ff   // TCPHO_MAX
	txVLANTag    = 1 << 16 // TX_VLAN_TAG in opts2
)

// Endpoints (rtl_check_vendor_ok insists on these numbers).
const (
	EPBulkIn  = 0x81
	EPBulkOut = 0x02
	EPIntr    = 0x83
)
