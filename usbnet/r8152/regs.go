package r8152

// Control requests (Linux's RTL8152_REQ_*, RTL8152_REQT_*): one vendor
// request number reads and writes every register.
const (
	ReqRegs      uint8 = 0x05 // RTL8152_REQ_GET_REGS and RTL8152_REQ_SET_REGS
	ReqTypeRead  uint8 = 0xc0 // RTL8152_REQT_READ: vendor, device, IN
	ReqTypeWrite uint8 = 0x40 // RTL8152_REQT_WRITE: vendor, device, OUT
)

// Block is the register block a request reaches (Linux's MCU_TYPE_*), the
// high byte of wIndex.
type Block uint16

const (
	PLA Block = 0x0100 // MCU_TYPE_PLA: the MAC (packet layer)
	USB Block = 0x0000 // MCU_TYPE_USB: the USB side
)

func (b Block) String() string {
	if b == PLA {
		return "PLA"
	}
	return "USB"
}

// Byte enables, the low byte of wIndex on a write (BYTE_EN_*): one bit per
// byte of the 4-byte-aligned dword, doubled into both nibbles.
const (
	ByteEnDword    uint16 = 0xff
	ByteEnWord     uint16 = 0x33
	ByteEnByte     uint16 = 0x11
	ByteEnSixBytes uint16 = 0x3f
	byteEnStart    uint16 = 0x0f
	byteEnEnd      uint16 = 0xf0
)

// PLA registers (the ones this driver touches or diag shows).
const (
	PLAIDR        uint16 = 0xc000 // station address, 6 bytes (8 read)
	PLARCR        uint16 = 0xc010 // receive configuration
	PLARMS        uint16 = 0xc016 // RX max size
	PLARxFIFOCtl0 uint16 = 0xc0a0
	PLARxFIFOCtl1 uint16 = 0xc0a4
	PLARxFIFOCtl2 uint16 = 0xc0a8
	PLAFMC        uint16 = 0xc0b4
	PLATeredoCfg  uint16 = 0xc0bc
	PLATeredoTmr  uint16 = 0xd2cc // PLA_TEREDO_TIMER
	PLARealWoWTmr uint16 = 0xd2e8 // PLA_REALWOW_TIMER
	PLAWDT6Ctrl   uint16 = 0xe428 // PLA_WDT6_CTRL
	PLAMAR        uint16 = 0xcd00 // multicast hash, 8 bytes
	PLABackup     uint16 = 0xd000 // the MAC the chip loaded from its efuse
	PLABootCtrl   uint16 = 0xe004
	PLAMACPwr2    uint16 = 0xe0ca
	PLAMACPwr3    uint16 = 0xe0cc
	PLATCR0       uint16 = 0xe610
	PLATCR1       uint16 = 0xe612
	PLAMTPS       uint16 = 0xe615
	PLATxFIFOCtl  uint16 = 0xe618
	PLARstTally   uint16 = 0xe800
	PLACR         uint16 = 0xe813
	PLACRWECR     uint16 = 0xe81c
	PLAConfig5    uint16 = 0xe822
	PLAPhyPwr     uint16 = 0xe84c
	PLAOOBCtrl    uint16 = 0xe84f
	PLACPCR       uint16 = 0xe854
	PLAMisc1      uint16 = 0xe85a
	PLAOCPBase    uint16 = 0xe86c // PLA_OCP_GPHY_BASE: the PHY page
	PLATallyCnt   uint16 = 0xe890
	PLASFFSts7    uint16 = 0xe8de
	PLAPhyStatus  uint16 = 0xe908
)

// USB registers.
const (
	USBU2P3Ctrl   uint16 = 0xb460
	USBDevStat    uint16 = 0xb808
	USBMSCTimer   uint16 = 0xcbfc
	USBUSBCtrl    uint16 = 0xd406
	USBRxBufTh    uint16 = 0xd40c
	USBRxEarlyTO  uint16 = 0xd42c
	USBRxEarlySz  uint16 = 0xd42e
	USBRxDMAOwn   uint16 = 0xd437 // USB_UPT_RXDMA_OWN
	USBBMUReset   uint16 = 0xd4b0
	USBUPSCtrl    uint16 = 0xd800
	USBPowerCut   uint16 = 0xd80a
	USBLPMConfig  uint16 = 0xcfd8
	USBU1U2Timer  uint16 = 0xd4da
	USBFWTask     uint16 = 0xd4e8
	USBTxAgg      uint16 = 0xd40a
	USBTxDMA      uint16 = 0xd434
	USBMisc0      uint16 = 0xd81a
	USBAFECtrl2   uint16 = 0xd824
	USBWDT11Ctrl  uint16 = 0xe43c
	USBBurstSize  uint16 = 0xcfc0
	USBSpeedOpt   uint16 = 0xd32a
	USBECMOption  uint16 = 0xcfee
	USBRxExtraAgg uint16 = 0xd432 // USB_RX_EXTRA_AGGR_TMR (RTL8153B)
)

// OCP (PHY) registers, reached through the OCP window.
const (
	OCPBaseMII    uint16 = 0xa400 // MII register r is OCPBaseMII + 2r
	OCPPhyStatus  uint16 = 0xa420
	OCPWindow     uint16 = 0xb000 // window into the page PLA_OCP_GPHY_BASE selects
	ocpWindowMask uint16 = 0x0fff
	ocpPageMask   uint16 = 0xf000
)

// Bits.
const (
	RCRAAP     uint32 = 0x01 // accept all (promiscuous)
	RCRAPM     uint32 = 0x02 // accept physical match
	RCRAM      uint32 = 0x04 // accept multicast (hash)
	RCRAB      uint32 = 0x08 // accept broadcast
	RCRAcptAll        = RCRAAP | RCRAPM | RCRAM | RCRAB

	CRRst uint8 = 0x10
	CRRE  uint8 = 0x08
	CRTE  uint8 = 0x04

	CRWECRNormal uint8 = 0x00
	CRWECRConfig uint8 = 0xc0

	OOBNowIsOOB     uint8  = 0x80
	OOBLinkListRdy  uint8  = 0x02
	SFFReInitLL     uint16 = 0x8000
	SFFMCUBorwEn    uint16 = 0x4000
	Misc1RxdyGated  uint16 = 0x0008
	FMCMCUEn        uint16 = 0x0001
	TCR0AutoFIFO    uint16 = 0x0080
	TCR0TxEmpty     uint16 = 0x0800
	CPCRRxVLAN      uint16 = 0x0040
	BootAutoloadOK  uint16 = 0x0002
	TallyReset      uint16 = 0x0001
	USBCtrlRxAggDis uint16 = 0x0010
	USBCtrlRxZeroEn uint16 = 0x0080
	BMUResetEPIn    uint8  = 0x01
	BMUResetEPOut   uint8  = 0x02
	RxDMAOwnUpdate  uint8  = 0x01 // OWN_UPDATE
	RxDMAOwnClear   uint8  = 0x02 // OWN_CLEAR
	U2P3Enable      uint16 = 0x0001
	LPMU1U2Enable   uint16 = 0x0001                   // USB_LPM_CONFIG
	PwrCutPwrEn     uint16 = 0x0001                   // USB_POWER_CUT PWR_EN
	Misc0PCutStatus uint16 = 0x0001                   // USB_MISC_0 PCUT_STATUS
	MACPwr3MCUSpdwn uint16 = 0x4000                   // PLA_MCU_SPDWN_EN
	TeredoOff       uint16 = 0x8000 | 0x00fe | 0x0001 // TEREDO_SEL | TEREDO_RS_EVENT_MASK | OOB_TEREDO_EN
	WDT6SetMode     uint16 = 0x0010

	// VersionMask is applied to PLA_TCR1 (the high half of the dword at
	// PLA_TCR0).
	VersionMask uint16 = 0x7cf0

	// MTPSJumbo and MTPSDefault are PLA_MTPS values (12 KiB / 6 KiB in
	// 64-byte units).
	MTPSJumbo   uint8 = 12 * 1024 / 64
	MTPSDefault uint8 = 6 * 1024 / 64

	// RxFIFO and TxFIFO thresholds r8153_first_init writes.
	RxFIFOThr1Normal uint32 = 0x00080002
	RxFIFOThr2Normal uint16 = 0x00a0
	RxFIFOThr3Normal uint16 = 0x0110
	TxFIFOThrNormal2 uint32 = 0x01000008
	RxThrB           uint32 = 0x00010001 // RX_THR_B, USB_RX_BUF_TH for the RTL8153B
)

// PLA_PHYSTATUS bits (enum rtl_register_content).
const (
	PhyFullDup   uint16 = 0x01
	PhyLink      uint16 = 0x02
	Phy10        uint16 = 0x04
	Phy100       uint16 = 0x08
	Phy1000      uint16 = 0x10
	PhyTxFlow    uint16 = 0x20
	PhyRxFlow    uint16 = 0x40
	Phy2500      uint16 = 0x0400 // RTL8156: a word register
	phyStatMask  uint16 = 0x0007 // OCP_PHY_STATUS
	PhyStatLANOn uint16 = 3
)

// INTR_LINK: the link bit of the 2-byte interrupt packet.
const IntrLink uint16 = 0x0004

// IntrLen is the interrupt packet's length (INTBUFSIZE).
const IntrLen = 2

// MII registers.
const (
	MIIBMCR     = 0x00
	MIIBMSR     = 0x01
	MIIPhyID1   = 0x02
	MIIPhyID2   = 0x03
	MIIAdv      = 0x04
	MIILPA      = 0x05
	MIICtrl1000 = 0x09
	MIIStat1000 = 0x0a

	bmcrPowerDown = 0x0800
	bmcrANEnable  = 0x1000
	bmcrANRestart = 0x0200
	bmsrLink      = 0x0004
	bmsrANDone    = 0x0020
)

// RegName is one named register of the table below.
type RegName struct {
	Block Block
	Addr  uint16
	Name  string
	Len   int // bytes diag reads (4-aligned reads of 4 or 8)
}

// Registers names the registers RequestName and Diagnose know, in address
// order within each block (Linux's names).
var Registers = []RegName{
	{PLA, PLAIDR, "PLA_IDR", 8},
	{PLA, PLARCR, "PLA_RCR", 4},
	{PLA, PLARMS & ^uint16(3), "PLA_RMS", 4},
	{PLA, PLARxFIFOCtl0, "PLA_RXFIFO_CTRL0", 4},
	{PLA, PLARxFIFOCtl1, "PLA_RXFIFO_CTRL1", 4},
	{PLA, PLARxFIFOCtl2, "PLA_RXFIFO_CTRL2", 4},
	{PLA, PLAFMC, "PLA_FMC", 4},
	{PLA, PLAMAR, "PLA_MAR", 8},
	{PLA, PLABackup, "PLA_BACKUP", 8},
	{PLA, PLABootCtrl, "PLA_BOOT_CTRL", 4},
	{PLA, PLAMACPwr2 & ^uint16(3), "PLA_MAC_PWR_CTRL2", 4},
	{PLA, PLAMACPwr3, "PLA_MAC_PWR_CTRL3", 4},
	{PLA, PLATCR0, "PLA_TCR0", 4},
	{PLA, PLAMTPS & ^uint16(3), "PLA_MTPS", 4},
	{PLA, PLATxFIFOCtl, "PLA_TXFIFO_CTRL", 4},
	{PLA, PLARstTally, "PLA_RSTTALLY", 4},
	{PLA, PLACR & ^uint16(3), "PLA_CR", 4},
	{PLA, PLACRWECR, "PLA_CRWECR", 4},
	{PLA, PLAConfig5 & ^uint16(3), "PLA_CONFIG5", 4},
	{PLA, PLAPhyPwr, "PLA_PHY_PWR", 4},
	{PLA, PLACPCR, "PLA_CPCR", 4},
	{PLA, PLAMisc1 & ^uint16(3), "PLA_MISC_1", 4},
	{PLA, PLAOCPBase, "PLA_OCP_GPHY_BASE", 4},
	{PLA, PLATallyCnt, "PLA_TALLYCNT", 64},
	{PLA, PLASFFSts7 & ^uint16(3), "PLA_SFF_STS_7", 4},
	{PLA, PLAPhyStatus, "PLA_PHYSTATUS", 4},
	{USB, USBU2P3Ctrl, "USB_U2P3_CTRL", 4},
	{USB, USBDevStat, "USB_DEV_STAT", 4},
	{USB, USBMSCTimer, "USB_MSC_TIMER", 4},
	{USB, USBUSBCtrl & ^uint16(3), "USB_USB_CTRL", 4},
	{USB, USBRxBufTh, "USB_RX_BUF_TH", 4},
	{USB, USBRxEarlyTO, "USB_RX_EARLY_TIMEOUT", 4},
	{USB, USBTxDMA, "USB_TX_DMA", 4}, // USB_UPT_RXDMA_OWN is its byte 3
	{USB, USBBMUReset, "USB_BMU_RESET", 4},
	{USB, USBUPSCtrl, "USB_UPS_CTRL", 4},
	{USB, USBPowerCut & ^uint16(3), "USB_POWER_CUT", 4},
}

// names are the register names by block and exact address, including the
// sub-dword addresses Linux names (PLA_TCR1, PLA_CR, ...), for RequestName.
var names = func() map[[2]uint16]string {
	m := map[[2]uint16]string{}
	for _, r := range Registers {
		m[[2]uint16{uint16(r.Block), r.Addr}] = r.Name
	}
	for _, r := range []RegName{
		{PLA, PLARMS, "PLA_RMS", 0}, {PLA, PLAMACPwr2, "PLA_MAC_PWR_CTRL2", 0}, {PLA, PLATCR1, "PLA_TCR1", 0},
		{PLA, PLAMTPS, "PLA_MTPS", 0}, {PLA, PLACR, "PLA_CR", 0}, {PLA, PLAConfig5, "PLA_CONFIG5", 0},
		{PLA, PLAOOBCtrl, "PLA_OOB_CTRL", 0}, {PLA, PLAMisc1, "PLA_MISC_1", 0}, {PLA, PLASFFSts7, "PLA_SFF_STS_7", 0},
		{PLA, PLAIDR + 4, "PLA_IDR+4", 0}, {PLA, PLAMAR + 4, "PLA_MAR+4", 0},
		{USB, USBUSBCtrl, "USB_USB_CTRL", 0}, {USB, USBRxEarlySz, "USB_RX_EARLY_SIZE", 0},
		{USB, USBRxDMAOwn, "USB_UPT_RXDMA_OWN", 0}, {USB, USBPowerCut, "USB_POWER_CUT", 0},
		{USB, USBLPMConfig, "USB_LPM_CONFIG", 0}, {USB, USBU1U2Timer, "USB_U1U2_TIMER", 0},
		{USB, USBFWTask, "USB_FW_TASK", 0}, {USB, USBTxAgg, "USB_TX_AGG", 0}, {USB, USBTxDMA, "USB_TX_DMA", 0},
		{USB, USBMisc0, "USB_MISC_0", 0}, {USB, USBAFECtrl2, "USB_AFE_CTRL2", 0}, {USB, USBWDT11Ctrl, "USB_WDT11_CTRL", 0},
		{USB, USBBurstSize, "USB_BURST_SIZE", 0}, {USB, USBSpeedOpt, "USB_SPEED_OPTION", 0},
		{USB, USBECMOption, "USB_ECM_OPTION", 0}, {USB, USBRxExtraAgg, "USB_RX_EXTRA_AGGR_TMR", 0},
		{PLA, PLATeredoCfg, "PLA_TEREDO_CFG", 0}, {PLA, PLATeredoTmr, "PLA_TEREDO_TIMER", 0},
		{PLA, PLARealWoWTmr, "PLA_REALWOW_TIMER", 0}, {PLA, PLAWDT6Ctrl, "PLA_WDT6_CTRL", 0},
	} {
		m[[2]uint16{uint16(r.Block), r.Addr}] = r.Name
	}
	return m
}()

// RegisterName is Linux's name for address addr of block b, "" if this
// driver does not know it.
func RegisterName(b Block, addr uint16) string { return names[[2]uint16{uint16(b), addr}] }
