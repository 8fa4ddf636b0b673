package rtl8153

import "encoding/binary"

// tallySize is sizeof(struct tally_counter) in r8152.c: what one read of
// PLA_TALLYCNT returns.
const tallySize = 64

// tally is the MAC's tally counters (PLA_TALLYCNT), zeroed by
// PLA_RSTTALLY's TALLY_RESET.
type tally struct {
	txPackets, rxPackets, txErrors uint64
	rxErrors                       uint32
	rxMissed, alignErrors          uint16
	txOneCol, txMultiCol           uint32
	rxUnicast, rxBroadcast         uint64
	rxMulticast                    uint32
	txAborted, txUnderrun          uint16
}

// put lays the counters out as struct tally_counter (little endian).
func (t *tally) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], t.txPackets)
	le.PutUint64(b[8:], t.rxPackets)
	le.PutUint64(b[16:], t.txErrors)
	le.PutUint32(b[24:], t.rxErrors)
	le.PutUint16(b[28:], t.rxMissed)
	le.PutUint16(b[30:], t.alignErrors)
	le.PutUint32(b[32:], t.txOneCol)
	le.PutUint32(b[36:], t.txMultiCol)
	le.PutUint64(b[40:], t.rxUnicast)
	le.PutUint64(b[48:], t.rxBroadcast)
	le.PutUint32(b[56:], t.rxMulticast)
	le.PutUint16(b[60:], t.txAborted)
	le.PutUint16(b[62:], t.txUnderrun)
}
