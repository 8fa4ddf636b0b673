package asix

// Vendor requests (bRequest). Reads use bmRequestType 0xC0, writes 0x40
// (asix.h AX_CMD_*). Two codes mean different things by direction:
// 0x13 reads NODE_ID but writes IPG1, 0x14 writes NODE_ID (or IPG2 on
// chips without a combined IPG write).
const (
	CmdSetSWMII        uint8 = 0x06 // AX_CMD_SET_SW_MII: host takes the MDIO bus
	CmdReadMII         uint8 = 0x07 // wValue = PHY address, wIndex = register, 2 bytes
	CmdWriteMII        uint8 = 0x08
	CmdStatMngSts      uint8 = 0x09 // AX_CMD_STATMNGSTS_REG: 1 byte, HostEn and chip code
	CmdSetHWMII        uint8 = 0x0a // give the MDIO bus back to the MAC
	CmdReadEEPROM      uint8 = 0x0b // wValue = word offset, 2 bytes
	CmdWriteEEPROM     uint8 = 0x0c
	CmdWriteEnable     uint8 = 0x0d
	CmdWriteDisable    uint8 = 0x0e
	CmdReadRxCtl       uint8 = 0x0f // 2 bytes
	CmdWriteRxCtl      uint8 = 0x10 // wValue = RX_CTL
	CmdReadIPG012      uint8 = 0x11 // 3 bytes
	CmdWriteIPG0       uint8 = 0x12 // wValue = IPG0 | IPG1<<8, wIndex = IPG2
	CmdReadNodeID      uint8 = 0x13 // 6 bytes
	CmdWriteNodeID     uint8 = 0x14 // 6 bytes of data
	CmdWriteMultiFilt  uint8 = 0x16 // 8 bytes of data
	CmdReadPHYID       uint8 = 0x19 // 2 bytes: [0] secondary, [1] primary PHY address
	CmdReadMediumStat  uint8 = 0x1a // 2 bytes
	CmdWriteMediumMode uint8 = 0x1b // wValue = medium mode
	CmdReadMonitor     uint8 = 0x1c // 1 byte
	CmdWriteMonitor    uint8 = 0x1d
	CmdReadGPIOs       uint8 = 0x1e // 1 byte
	CmdWriteGPIOs      uint8 = 0x1f
	CmdSWReset         uint8 = 0x20 // wValue = SWReset bits
	CmdSWPHYStatus     uint8 = 0x21
	CmdSWPHYSelect     uint8 = 0x22 // wValue = PHYSel bits
	CmdQCTCtrl         uint8 = 0x2a // AX88772B bulk-in queue control
)

// STATMNGSTS bits. Linux polls this register (0x09) for HostEn after
// SET_SW_MII; protocols.md calls it "SW_PHY_STATUS", but the request that
// carries HostEn is 0x09, not 0x21.
const (
	HostEn        uint8  = 0x01
	ChipCodeMask  uint8  = 0x70
	ChipCode772   uint8  = 0x00
	ChipCode772A  uint8  = 0x10
	ChipCode772B  uint8  = 0x20
	EmbeddedPHY   uint8  = 0x10 // the internal PHY's MDIO address
	PHYSelPSel    uint16 = 0x01
	PHYSelSSEn    uint16 = 0x10
	MaxPHYAddr    uint8  = 32 // PHY_MAX_ADDR: an address at or above it is rejected (CVE-2025-71094)
	MulticastSize        = 8  // AX_MCAST_FILTER_SIZE
	MaxMulticast         = 64 // AX_MAX_MCAST: more subscriptions than this → AMALL
)

// RX_CTL bits (AX_RX_CTL_*).
const (
	RxCtlPRO   uint16 = 0x0001 // promiscuous
	RxCtlAMALL uint16 = 0x0002 // all multicast
	RxCtlSEP   uint16 = 0x0004 // save error packets
	RxCtlAB    uint16 = 0x0008 // accept broadcast
	RxCtlAM    uint16 = 0x0010 // accept multicast through the hash table
	RxCtlAP    uint16 = 0x0020 // accept physical address from the multicast array
	RxCtlSO    uint16 = 0x0080 // start operation
	RxCtlMFB   uint16 = 0x0300 // maximum frame burst field: 2k/4k/8k/16k
	// DefaultRxCtl is AX_DEFAULT_RX_CTL: started, broadcast accepted.
	DefaultRxCtl = RxCtlSO | RxCtlAB
)

// MFB returns the RX_CTL MFB field for an RX transfer size, and the
// buffer size it selects (2048 ≤ size ≤ 16384).
func MFB(rxURBSize int) (field uint16, size int) {
	switch {
	case rxURBSize <= 2048:
		return 0x000, 2048
	case rxURBSize <= 4096:
		return 0x100, 4096
	case rxURBSize <= 8192:
		return 0x200, 8192
	}
	return 0x300, 16384
}

// Medium mode bits (AX_MEDIUM_*).
const (
	MediumGM   uint16 = 0x0001 // gigabit (AX88178)
	MediumFD   uint16 = 0x0002 // full duplex
	MediumAC   uint16 = 0x0004
	MediumENCK uint16 = 0x0008 // 125 MHz clock (AX88178)
	MediumRFC  uint16 = 0x0010 // RX flow control
	MediumTFC  uint16 = 0x0020 // TX flow control
	MediumJFE  uint16 = 0x0040 // jumbo frames
	MediumPF   uint16 = 0x0080
	MediumRE   uint16 = 0x0100 // receive enable
	MediumPS   uint16 = 0x0200 // port speed: 100 Mbit/s
	MediumSBP  uint16 = 0x0800
	MediumSM   uint16 = 0x1000

	Medium772Default = MediumFD | MediumRFC | MediumTFC | MediumPS | MediumAC | MediumRE
	Medium178Default = MediumPS | MediumFD | MediumAC | MediumRFC | MediumTFC | MediumJFE | MediumRE
)

// SW_RESET bits (AX_SWRESET_*).
const (
	SWResetClear uint16 = 0x00
	SWResetRR    uint16 = 0x01
	SWResetRT    uint16 = 0x02
	SWResetPRTE  uint16 = 0x04
	SWResetPRL   uint16 = 0x08
	SWResetBZ    uint16 = 0x10
	SWResetIPRL  uint16 = 0x20 // internal PHY reset released
	SWResetIPPD  uint16 = 0x40 // internal PHY powered down
)

// GPIO bits (AX_GPIO_*).
const (
	GPIOGPO0EN uint16 = 0x01
	GPIOGPO0   uint16 = 0x02
	GPIOGPO1EN uint16 = 0x04
	GPIOGPO1   uint16 = 0x08
	GPIOGPO2EN uint16 = 0x10
	GPIOGPO2   uint16 = 0x20
	GPIORSE    uint16 = 0x80 // reload serial EEPROM
)

// Inter-packet gap defaults.
const (
	IPG0Default = 0x15
	IPG1Default = 0x0c
	IPG2Default = 0x12
)

// EEPROM facts.
const (
	// EEPROMMagic is ethtool's identifier for an ASIX EEPROM dump
	// (AX_EEPROM_MAGIC). It is not stored in the chip: it marks a dump
	// (EEPROM.Magic) so that a saved dump can be recognised.
	EEPROMMagic   uint32 = 0xdeadbeef
	EEPROMLen            = 0x200 // bytes (AX_EEPROM_LEN)
	EEPROMMACWord        = 0x04  // the MAC is in words 4..6 (FLAG_EEPROM_MAC)
)

// MII registers and bits (include/uapi/linux/mii.h).
const (
	MIIBMCR      = 0x00
	MIIBMSR      = 0x01
	MIIPHYSID1   = 0x02
	MIIPHYSID2   = 0x03
	MIIAdvertise = 0x04
	MIILPA       = 0x05
	MIIExpansion = 0x06
	MIICtrl1000  = 0x09
	MIIStat1000  = 0x0a
	MIIEStatus   = 0x0f // extended status (gigabit abilities), when BMSR.ESTATEN

	BMCRSpeed1000 uint16 = 0x0040
	BMCRFullDplx  uint16 = 0x0100
	BMCRANRestart uint16 = 0x0200
	BMCRIsolate   uint16 = 0x0400
	BMCRPowerDown uint16 = 0x0800
	BMCRANEnable  uint16 = 0x1000
	BMCRSpeed100  uint16 = 0x2000
	BMCRLoopback  uint16 = 0x4000
	BMCRReset     uint16 = 0x8000

	BMSRLStatus  uint16 = 0x0004
	BMSRANegCap  uint16 = 0x0008
	BMSRRFault   uint16 = 0x0010
	BMSRANegDone uint16 = 0x0020
	BMSR10Half   uint16 = 0x0800
	BMSR10Full   uint16 = 0x1000
	BMSR100Half  uint16 = 0x2000
	BMSR100Full  uint16 = 0x4000
	BMSRESTATEN  uint16 = 0x0100

	ADVCSMA       uint16 = 0x0001
	ADV10Half     uint16 = 0x0020
	ADV10Full     uint16 = 0x0040
	ADV100Half    uint16 = 0x0080
	ADV100Full    uint16 = 0x0100
	ADVPauseCap   uint16 = 0x0400
	ADVPauseAsym  uint16 = 0x0800
	ADVAll               = ADV10Half | ADV10Full | ADV100Half | ADV100Full
	LPAAck        uint16 = 0x4000
	Adv1000Full   uint16 = 0x0200 // CTRL1000
	LPA1000Full   uint16 = 0x0800 // STAT1000
	LPA1000Half   uint16 = 0x0400
	Adv1000Half   uint16 = 0x0100
	ESTAT1000Full uint16 = 0x2000 // extended status: 1000BASE-T full duplex able
	ESTAT1000Half uint16 = 0x1000
)
