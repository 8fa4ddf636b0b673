package specs

import (
	"crypto/rand"
	"encoding/binary"
)

// The specs' frames are tagged so that a real wire's other traffic cannot be
// taken for them: EtherType TestEtherType, then this run's 4-byte tag, then
// a 4-byte sequence number (Frame). The tag is random per process, so two
// runs on one wire (or a late frame of an earlier run) do not mix either.
//
//	0      6      12     14       18     22
//	| dst  | src  |88b5 | runTag | seq  | pattern ...
const (
	tagOffset = 14
	seqOffset = 18
	// MinFrame is the smallest frame Frame builds: header, tag and sequence.
	MinFrame = 22
)

// runTag is this run's tag, never 0 (a zeroed buffer is not a test frame).
var runTag = newRunTag()

func newRunTag() uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		if t := binary.BigEndian.Uint32(b[:]); t != 0 {
			return t
		}
	}
}

// RunTag is this run's tag, as Frame writes it after the EtherType.
func RunTag() uint32 { return runTag }

// IsTestFrame reports whether frame is one of this run's test frames:
// TestEtherType and this run's tag. Peers keep only these.
func IsTestFrame(frame []byte) bool {
	return len(frame) >= MinFrame &&
		binary.BigEndian.Uint16(frame[12:]) == TestEtherType &&
		binary.BigEndian.Uint32(frame[tagOffset:]) == runTag
}

// FrameSeq is the sequence number Frame wrote into a test frame.
func FrameSeq(frame []byte) int {
	if len(frame) < MinFrame {
		return -1
	}
	return int(binary.BigEndian.Uint32(frame[seqOffset:]))
}
