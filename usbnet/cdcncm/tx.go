package cdcncm

import (
	"errors"
	"fmt"
	"sync/atomic"

	"dongle/skbuff"
	"dongle/usbnet"
)

// ErrTxFrame is a frame the NTB cannot carry (shorter than an Ethernet
// header or longer than the maximum datagram size).
var ErrTxFrame = errors.New("frame size outside the NCM datagram limits")

// TxCounters are cdc_ncm's TX statistics (ethtool -S), atomic for diag.
type TxCounters struct {
	NTBs      atomic.Uint64 // tx_ntbs
	Datagrams atomic.Uint64
	Overhead  atomic.Uint64 // tx_overhead: NTB bytes that are not frames
	Padded    atomic.Uint64 // NTBs padded to the NTB size
	ShortEnd  atomic.Uint64 // NTBs given one byte to end short
	Refused   atomic.Uint64 // frames outside the datagram limits
}

// Named lists the counters with their names.
func (c *TxCounters) Named() []NamedCounter {
	return []NamedCounter{{"tx_ntbs", &c.NTBs}, {"tx_datagrams", &c.Datagrams}, {"tx_overhead", &c.Overhead},
		{"tx_padded", &c.Padded}, {"tx_short_end", &c.ShortEnd}, {"tx_refused", &c.Refused}}
}

// txState is the NTB being built.
type txState struct {
	seq     uint16
	n       int // datagrams in the NTB
	ndp     int // its NDP's offset
	payload int // frame bytes in it
}

// Writer builds NTBs with the negotiated sizes: the driver's TX path and,
// through AppendNTB, tests and fuzz targets. Its layout:
//
//	NTH | pad to wNdpOutAlignment | NDP (room for TxMaxDgrams + null) | pad | datagram | pad | datagram ...
//
// The NDP sits right after the NTH, as Linux puts it by default, sized
// for the datagram cap; each datagram starts at an offset ≡ TxRemainder
// (mod TxDivisor). TxAggEnd closes the NTB: wLength for the entries used
// and the null entry, the pad rule, wBlockLength.
type Writer struct {
	Sizes   Sizes
	SendZLP bool
	// MaxPacket is the bulk OUT wMaxPacketSize, for the pad rule.
	MaxPacket int
}

// begin starts an NTB in the empty b.
func (w *Writer) begin(b *skbuff.Buff, t *txState) {
	l := layoutOf(w.Sizes.Format)
	t.ndp = alignUp(l.nthLen, w.Sizes.TxNDPAlign)
	room := t.ndp + ndpSize(l, w.Sizes.TxMaxDgrams)
	h := b.Put(room)
	clear(h)
	put(h, 0, 4, int(l.nthSig))
	put(h, 4, 2, l.nthLen)
	put(h, 6, 2, int(t.seq))
	put(h, l.ndpOff, l.word, t.ndp)
	put(h, t.ndp, 4, int(l.ndpSig))
	t.seq++
	t.n, t.payload = 0, 0
}

// add appends frame f; usbnet.ErrTxAggFull when it does not fit.
func (w *Writer) add(b *skbuff.Buff, t *txState, f []byte) (full bool, err error) {
	z := &w.Sizes
	if len(f) < ethHeaderLen || len(f) > z.MaxDatagram {
		return false, ErrTxFrame
	}
	if t.n >= z.TxMaxDgrams {
		return false, usbnet.ErrTxAggFull
	}
	off := alignTo(b.Len(), z.TxDivisor, z.TxRemainder)
	if off+len(f) > z.TxMax {
		return false, usbnet.ErrTxAggFull
	}
	clear(b.Put(off - b.Len()))
	b.PutData(f)
	l := layoutOf(z.Format)
	e := t.ndp + l.ndpHdr + t.n*l.entryLen
	h := b.Data()
	put(h, e, l.word, off)
	put(h, e+l.word, l.word, len(f))
	t.n++
	t.payload += len(f)
	return t.n == z.TxMaxDgrams, nil
}

// end closes the NTB: NDP length, padding, block length. It returns what
// the pad rule did (0 nothing, 1 padded to TxMax, 2 one byte added).
func (w *Writer) end(b *skbuff.Buff, t *txState) int {
	z := &w.Sizes
	l := layoutOf(z.Format)
	h := b.Data()
	put(h, t.ndp+4, 2, l.ndpHdr+(t.n+1)*l.entryLen)
	how := 0
	switch n := b.Len(); {
	case w.SendZLP:
		// The framework ends a packet multiple with a ZLP.
	case n > z.MinTxPkt && n < z.TxMax:
		clear(b.Put(z.TxMax - n))
		how = 1
	case w.MaxPacket > 0 && n < z.TxMax && n%w.MaxPacket == 0:
		b.Put(1)[0] = 0
		how = 2
	}
	put(b.Data(), l.blockOff, l.word, b.Len())
	return how
}

// AppendNTB builds one NTB of frames with w's sizes, for tests and fuzz
// targets: the driver's own writer, without a device. It returns the
// NTB, how many frames it took (it stops at the first that does not fit)
// and an error for a frame outside the datagram limits.
func (w *Writer) AppendNTB(seq uint16, frames [][]byte) ([]byte, int, error) {
	b := skbuff.Alloc(w.Sizes.TxMax + 1)
	defer b.Free(skbuff.FreeWrite)
	t := txState{seq: seq}
	w.begin(b, &t)
	for i, f := range frames {
		full, err := w.add(b, &t, f)
		if err == usbnet.ErrTxAggFull {
			if t.n == 0 {
				return nil, 0, fmt.Errorf("frame %d (%d bytes): %w", i, len(f), err)
			}
			break
		}
		if err != nil {
			return nil, t.n, fmt.Errorf("frame %d (%d bytes): %w", i, len(f), err)
		}
		if full {
			break
		}
	}
	if t.n == 0 {
		return nil, 0, fmt.Errorf("no frame: %w", ErrTxFrame)
	}
	w.end(b, &t)
	return append([]byte(nil), b.Data()...), t.n, nil
}

func (dr *Driver) writer(d *usbnet.Dev, st *state) Writer {
	return Writer{Sizes: st.sizes, SendZLP: dr.SendZLP, MaxPacket: d.MaxPacket()}
}

// TxAggLimits implements usbnet.TxAggregator: blocks of the negotiated
// NTB size, Linux's 400 µs timer.
func (dr *Driver) TxAggLimits(d *usbnet.Dev) usbnet.TxAggLimits {
	return usbnet.TxAggLimits{Size: priv(d).sizes.TxMax, Timeout: usbnet.DefaultTxAggTimeout}
}

// TxAggBegin implements usbnet.TxAggregator: NTH and an empty NDP.
func (dr *Driver) TxAggBegin(d *usbnet.Dev, agg *skbuff.Buff) {
	st := priv(d)
	w := dr.writer(d, st)
	w.begin(agg, &st.tx)
}

// TxAggAdd implements usbnet.TxAggregator (cdc_ncm_fill_tx_frame's
// loop): the frame at the next aligned offset and its NDP entry; the NTB
// is full at the datagram cap.
func (dr *Driver) TxAggAdd(d *usbnet.Dev, agg, frame *skbuff.Buff) (bool, error) {
	st := priv(d)
	w := dr.writer(d, st)
	full, err := w.add(agg, &st.tx, frame.Data())
	if err == ErrTxFrame {
		st.txc.Refused.Add(1)
	}
	return full, err
}

// TxAggEnd implements usbnet.TxAggregator: NDP length, cdc_ncm's pad
// rule, wBlockLength.
func (dr *Driver) TxAggEnd(d *usbnet.Dev, agg *skbuff.Buff) error {
	st := priv(d)
	w := dr.writer(d, st)
	switch w.end(agg, &st.tx) {
	case 1:
		st.txc.Padded.Add(1)
	case 2:
		st.txc.ShortEnd.Add(1)
	}
	st.txc.NTBs.Add(1)
	st.txc.Datagrams.Add(uint64(st.tx.n))
	st.txc.Overhead.Add(uint64(agg.Len() - st.tx.payload))
	return nil
}
