package r8152

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the chip revision (Linux's enum rtl_version), read from the
// version bits of PLA_TCR1.
type Version int

// The revisions Linux knows. RTL_TEST_01 (0x7010) is an engineering
// sample Linux refuses to drive; it is not listed.
const (
	VerUnknown Version = iota
	Ver01              // RTL8152
	Ver02              // RTL8152
	Ver03              // RTL8153
	Ver04              // RTL8153
	Ver05              // RTL8153
	Ver06              // RTL8153
	Ver07              // RTL8152B
	Ver08              // RTL8153B
	Ver09              // RTL8153B
	Ver10              // RTL8156
	Ver11              // RTL8156
	Ver12              // RTL8156B
	Ver13              // RTL8156B
	Ver14              // RTL8153C
	Ver15              // RTL8156B
)

// versions is rtl_get_version's table: PLA_TCR1 & VersionMask → revision.
var versions = map[uint16]Version{
	0x4c00: Ver01, 0x4c10: Ver02, 0x5c00: Ver03, 0x5c10: Ver04, 0x5c20: Ver05, 0x5c30: Ver06,
	0x4800: Ver07, 0x6000: Ver08, 0x6010: Ver09, 0x7020: Ver10, 0x7030: Ver11, 0x7400: Ver12,
	0x7410: Ver13, 0x6400: Ver14, 0x7420: Ver15,
}

// Chip is the chip family a revision belongs to.
type Chip int

const (
	ChipUnknown Chip = iota
	RTL8152
	RTL8153
	RTL8153B
	RTL8153C
	RTL8156
	RTL8156B
)

var chipNames = [...]string{"unknown", "RTL8152", "RTL8153", "RTL8153B", "RTL8153C", "RTL8156", "RTL8156B"}

func (c Chip) String() string {
	if uint(c) >= uint(len(chipNames)) {
		return "unknown"
	}
	return chipNames[c]
}

// Chip is the family of revision v (Linux's rtl_ops_init grouping).
func (v Version) Chip() Chip {
	switch v {
	case Ver01, Ver02, Ver07:
		return RTL8152
	case Ver03, Ver04, Ver05, Ver06:
		return RTL8153
	case Ver08, Ver09:
		return RTL8153B
	case Ver14:
		return RTL8153C
	case Ver10, Ver11:
		return RTL8156
	case Ver12, Ver13, Ver15:
		return RTL8156B
	}
	return ChipUnknown
}

func (v Version) String() string {
	if v == VerUnknown {
		return "RTL_VER_UNKNOWN"
	}
	return fmt.Sprintf("RTL_VER_%02d (%s)", int(v), v.Chip())
}

// Supported reports whether this driver brings revision v up: the RTL8152
// and RTL8153 families (RTL8153B included). The RTL8153C and the RTL8156
// family need init sequences (2.5G PHY, different descriptor setup on the
// 8156B) this driver does not have.
func (v Version) Supported() bool {
	switch v.Chip() {
	case RTL8152, RTL8153, RTL8153B:
		return true
	}
	return false
}

// ErrUnknownVersion: PLA_TCR1's version bits name no revision Linux knows.
var ErrUnknownVersion = errors.New("unknown chip version")

// ErrUnsupportedVersion: a revision Linux knows that this driver does not
// bring up.
var ErrUnsupportedVersion = errors.New("chip version not supported by this driver")

// VersionOf decodes the dword read at PLA_TCR0 (PLA_TCR1 is its high
// half), as rtl_get_version does; raw is the masked bits.
func VersionOf(tcr0 uint32) (v Version, raw uint16) {
	raw = uint16(tcr0>>16) & VersionMask
	return versions[raw], raw
}

// ReadVersion is rtl_get_version: one 4-byte read at PLA_TCR0. An unknown
// version is an error wrapping ErrUnknownVersion that names the bits.
func ReadVersion(c Ctrl) (Version, error) {
	var b [4]byte
	if err := ReadRegs(c, PLA, PLATCR0, 0, b[:]); err != nil {
		return VerUnknown, err
	}
	v, raw := VersionOf(binary.LittleEndian.Uint32(b[:]))
	if v == VerUnknown {
		return v, fmt.Errorf("r8152: PLA_TCR1 version bits %#04x: %w", raw, ErrUnknownVersion)
	}
	return v, nil
}
