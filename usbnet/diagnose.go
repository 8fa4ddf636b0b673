package usbnet

// Diagnoser is a minidriver's ethtool_ops for `dongle diag`: registers
// (ethtool -d), the PHY (mii-tool), the EEPROM (ethtool -e), the chip's own
// statistics (ethtool -S) and the link it resolved (ethtool), read from a
// bound device and returned as chip-neutral data that diag prints without
// knowing the chip. The self-test (ethtool -t) is the framework's: frames
// through the bound interface.
//
// Diagnose runs on the control path (it may perform control transfers
// through d); whatever it could not read is a Problem, never an error that
// hides the rest.
type Diagnoser interface {
	Diagnose(d *Dev) *Diagnosis
}

// Diagnosis is what a Diagnoser found.
type Diagnosis struct {
	// PHY is the PHY decoded, one line per item ("BMSR: link true, ...").
	PHY []string
	// PHYRegs are the raw PHY registers, named ("BMCR", "04").
	PHYRegs []Reg
	// MACRegs are the MAC registers, in the chip's order.
	MACRegs []Reg
	// EEPROM is the EEPROM read, nil when the chip has none or it failed.
	EEPROM *EEPROMDump
	// Link is the link as the chip resolved it, nil when unknown (the
	// framework then reports its carrier).
	Link *LinkState
	// Counters are the chip's or driver's own statistics (ethtool -S).
	Counters []Counter
	// Problems are what diag reports as anomalies: reads that failed,
	// values that contradict each other.
	Problems []string
}

// Reg is one register: its name, address (as the chip documents it, ""
// for none), value and a decoding.
type Reg struct {
	Name, Addr, Value, Note string
}

// EEPROMDump is an EEPROM read.
type EEPROMDump struct {
	Bytes   []byte
	MagicOK bool   // the chip's magic/ID word is right
	Valid   bool   // the driver would use its contents
	MAC     string // the station address it holds ("" if none)
	Problem string // why not valid or not magic
}

// LinkState is the resolved link.
type LinkState struct {
	Up               bool
	Mbps             int
	FullDuplex       bool
	RxPause, TxPause bool
	Detail           string // where it comes from, chip-specific detail
}

// Counter is one named statistic.
type Counter struct {
	Name  string
	Value uint64
}
