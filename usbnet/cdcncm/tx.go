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
	Transfers atomic.Uint64 // bulk OUT transfers (one or more NTBs each: Writer)
	Datagrams atomic.Uint64
	Overhead  atomic.Uint64 // tx_overhead: NTB bytes that are not frames
	Padded    atomic.Uint64 // NTBs padded to the NTB size
	ShortEnd  atomic.Uint64 // NTBs given one byte to end short
	Refused   atomic.Uint64 // frames outside the datagram limits
}

// Named lists the counters with their names.
func (c *TxCounters) Named() []NamedCounter {
	return []NamedCounter{{"tx_ntbs", &c.NTBs}, {"tx_transfers", &c.Transfers}, {"tx_datagrams", &c.Datagrams}, {"tx_overhead", &c.Overhead},
		{"tx_padded", &c.Padded}, {"tx_short_end", &c.ShortEnd}, {"tx_refused", &c.Refused}}
}

// txState is the NTB being built, and the block (transfer) it is in.
type txState struct {
	seq     uint16
	n       int // datagrams in the NTB
	start   int // the NTB's offset in the block
	ndp     int // its NDP's offset in the NTB
	ntbs    int // NTBs in the block before this one
	payload int // frame bytes in the block
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
//
// One bulk OUT transfer may carry up to PerTransfer NTBs back to back,
// each but the last exactly TxMax bytes:
//
//	|<------------- TxMax ------------->|<------------- TxMax ------------->|<--- ≤ TxMax --->|
//	| NTH NDP datagrams ...     pad (0) | NTH NDP datagrams ...     pad (0) | NTH NDP ...     |
//
// On the bus this is what Linux sends as separate transfers. A device sees
// packets, not the host's transfers, and the NCM spec ends an NTB of
// exactly dwNtbOutMaxSize bytes that is a packet multiple without a short
// packet or ZLP; cdc_ncm pads an NTB longer than min_tx_pkt to tx_max so
// that full NTBs go back to back that way. TxMax is a packet multiple only
// when it is the device's dwNtbOutMaxSize (Negotiate adds a byte
// otherwise, as cdc_ncm_check_tx_max does, so that a padded NTB still ends
// short). So an NTB is chained only when the pad rule pads it to TxMax
// anyway (it is longer than MinTxPkt), TxMax is a packet multiple, and no
// ZLP ends NTBs (SendZLP): the bytes on the bus are the same, and what
// changes is one submission and one completion per PerTransfer NTBs,
// which is what a userspace driver pays for in system calls. The timing
// changes too: a full NTB waits for the rest of its block, but never
// longer than the timer lets the block's first frame wait (TxTimer), so
// it matters only at rates that fill an NTB within that time.
type Writer struct {
	Sizes   Sizes
	SendZLP bool
	// MaxPacket is the bulk OUT wMaxPacketSize, for the pad rule.
	MaxPacket int
	// PerTransfer is the most NTBs one transfer carries (0 or 1: one).
	PerTransfer int
}

// MaxBlock bounds a transfer of chained NTBs: with skbuff's headroom and
// the framework's pad byte it fits skbuff's largest size class (and the
// 64 KiB a device model assembles).
const MaxBlock = 65536 - skbuff.Pad - 1

// perTransfer is how many NTBs one transfer may carry: PerTransfer,
// within MaxBlock, and 1 unless chaining leaves the bus unchanged.
func (w *Writer) perTransfer() int {
	if w.PerTransfer < 2 || w.SendZLP || w.MaxPacket <= 0 || w.Sizes.TxMax <= 0 || w.Sizes.TxMax%w.MaxPacket != 0 {
		return 1
	}
	return max(min(w.PerTransfer, MaxBlock/w.Sizes.TxMax), 1)
}

// BlockSize is the largest transfer w builds.
func (w *Writer) BlockSize() int { return w.perTransfer() * w.Sizes.TxMax }

// begin starts an NTB at b's end (an empty b: a new block).
func (w *Writer) begin(b *skbuff.Buff, t *txState) {
	if b.Len() == 0 {
		t.ntbs, t.payload = 0, 0
	}
	l := layoutOf(w.Sizes.Format)
	t.start = b.Len()
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
	t.n = 0
}

// add appends frame f to the NTB; usbnet.ErrTxAggFull when it does not
// fit.
func (w *Writer) add(b *skbuff.Buff, t *txState, f []byte) (full bool, err error) {
	z := &w.Sizes
	if len(f) < ethHeaderLen || len(f) > z.MaxDatagram {
		return false, ErrTxFrame
	}
	if t.n >= z.TxMaxDgrams {
		return false, usbnet.ErrTxAggFull
	}
	at := b.Len() - t.start
	off := alignTo(at, z.TxDivisor, z.TxRemainder)
	if off+len(f) > z.TxMax {
		return false, usbnet.ErrTxAggFull
	}
	clear(b.Put(off - at))
	b.PutData(f)
	l := layoutOf(z.Format)
	e := t.ndp + l.ndpHdr + t.n*l.entryLen
	h := b.Data()[t.start:]
	put(h, e, l.word, off)
	put(h, e+l.word, l.word, len(f))
	t.n++
	t.payload += len(f)
	return t.n == z.TxMaxDgrams, nil
}

// next closes the NTB, padded to exactly TxMax, and begins another in the
// same block, when the NTB may be chained (see Writer) and an empty NTB
// takes a frame of size bytes; otherwise it does nothing and says so. It
// returns what end did and the closed NTB's datagrams.
func (w *Writer) next(b *skbuff.Buff, t *txState, size int) (how, dgrams int, ok bool) {
	z := &w.Sizes
	empty := z.firstDatagram()
	if t.ntbs+1 >= w.perTransfer() || t.n == 0 || b.Len()-t.start <= z.MinTxPkt || empty+size > z.TxMax {
		return 0, 0, false
	}
	how, dgrams = w.end(b, t), t.n
	t.ntbs++
	w.begin(b, t)
	return how, dgrams, true
}

// end closes the NTB: NDP length, padding, block length. It returns what
// the pad rule did (0 nothing, 1 padded to TxMax, 2 one byte added).
func (w *Writer) end(b *skbuff.Buff, t *txState) int {
	z := &w.Sizes
	l := layoutOf(z.Format)
	put(b.Data()[t.start:], t.ndp+4, 2, l.ndpHdr+(t.n+1)*l.entryLen)
	how := 0
	switch n := b.Len() - t.start; {
	case w.SendZLP:
		// The framework ends a packet multiple with a ZLP.
	case n > z.MinTxPkt && n < z.TxMax:
		clear(b.Put(z.TxMax - n))
		how = 1
	case w.MaxPacket > 0 && n < z.TxMax && n%w.MaxPacket == 0:
		b.Put(1)[0] = 0
		how = 2
	}
	put(b.Data()[t.start:], l.blockOff, l.word, b.Len()-t.start)
	return how
}

// appendFrame adds frame f to block b as the driver's TX path does: to the
// NTB being filled or, when f does not fit there and that NTB may be
// chained (next), to a new NTB after it; c, if not nil, counts
// the NTB closed. full: the block must go now (an NTB at its datagram
// cap is not chained: the next NTB would begin empty, and an NTB with no
// datagram is not one the spec allows). usbnet.ErrTxAggFull: f did not
// fit and the block must go first (f is not in it).
func (w *Writer) appendFrame(b *skbuff.Buff, t *txState, f []byte, c *TxCounters) (full bool, err error) {
	full, err = w.add(b, t, f)
	if !errors.Is(err, usbnet.ErrTxAggFull) {
		return full, err
	}
	how, n, ok := w.next(b, t, len(f))
	if !ok {
		return false, err
	}
	if c != nil {
		c.ended(how, n)
	}
	return w.add(b, t, f)
}

// AppendBlock builds one bulk OUT transfer of frames with w's sizes, as
// the driver's TX path does (several NTBs when w chains them), for tests
// and fuzz targets: the driver's own writer, without a device. It returns
// the transfer, how many frames it took (it stops at the first that does
// not fit) and an error for a frame outside the datagram limits.
func (w *Writer) AppendBlock(seq uint16, frames [][]byte) ([]byte, int, error) {
	b := skbuff.AllocUninit(w.BlockSize() + 1)
	defer b.Free(skbuff.FreeWrite)
	t := txState{seq: seq}
	w.begin(b, &t)
	took := 0
	for i, f := range frames {
		full, err := w.appendFrame(b, &t, f, nil)
		if err == usbnet.ErrTxAggFull {
			if took == 0 {
				return nil, 0, fmt.Errorf("frame %d (%d bytes): %w", i, len(f), err)
			}
			break
		}
		if err != nil {
			return nil, took, fmt.Errorf("frame %d (%d bytes): %w", i, len(f), err)
		}
		took++
		if full {
			break
		}
	}
	if took == 0 {
		return nil, 0, fmt.Errorf("no frame: %w", ErrTxFrame)
	}
	w.end(b, &t)
	return append([]byte(nil), b.Data()...), took, nil
}

// AppendNTB is AppendBlock with one NTB per transfer.
func (w *Writer) AppendNTB(seq uint16, frames [][]byte) ([]byte, int, error) {
	one := *w
	one.PerTransfer = 1
	return one.AppendBlock(seq, frames)
}

func (dr *Driver) writer(d *usbnet.Dev, st *state) Writer {
	per := dr.NTBsPerTransfer
	if per == 0 {
		per = DefaultNTBsPerTransfer
	}
	return Writer{Sizes: st.sizes, SendZLP: dr.SendZLP, MaxPacket: d.MaxPacket(), PerTransfer: per}
}

// DefaultNTBsPerTransfer is how many full NTBs one bulk OUT transfer
// carries at most (Writer): three of Linux's 16 KiB fit MaxBlock.
const DefaultNTBsPerTransfer = 3

// TxAggLimits implements usbnet.TxAggregator: blocks of the negotiated
// NTB size (times the NTBs a transfer may carry), Linux's 400 µs timer
// unless Options.TxTimer says otherwise.
func (dr *Driver) TxAggLimits(d *usbnet.Dev) usbnet.TxAggLimits {
	st := priv(d)
	w := dr.writer(d, st)
	return usbnet.TxAggLimits{Size: w.BlockSize(), Timeout: dr.TxTimer}
}

// TxAggBegin implements usbnet.TxAggregator: NTH and an empty NDP.
func (dr *Driver) TxAggBegin(d *usbnet.Dev, agg *skbuff.Buff) {
	st := priv(d)
	w := dr.writer(d, st)
	w.begin(agg, &st.tx)
}

// TxAggAdd implements usbnet.TxAggregator (cdc_ncm_fill_tx_frame's
// loop): the frame at the next aligned offset and its NDP entry; the NTB
// is full at the datagram cap. A full NTB that may be chained (Writer)
// is closed and the next begun in the same block; otherwise the block is
// full.
func (dr *Driver) TxAggAdd(d *usbnet.Dev, agg, frame *skbuff.Buff) (bool, error) {
	st := priv(d)
	w := dr.writer(d, st)
	full, err := w.appendFrame(agg, &st.tx, frame.Data(), &st.txc)
	if err == ErrTxFrame {
		st.txc.Refused.Add(1)
	}
	return full, err
}

// TxAggEnd implements usbnet.TxAggregator: the last NTB's NDP length,
// cdc_ncm's pad rule, wBlockLength.
func (dr *Driver) TxAggEnd(d *usbnet.Dev, agg *skbuff.Buff) error {
	st := priv(d)
	w := dr.writer(d, st)
	st.txc.ended(w.end(agg, &st.tx), st.tx.n)
	st.txc.Transfers.Add(1)
	st.txc.Overhead.Add(uint64(agg.Len() - st.tx.payload))
	return nil
}

// ended counts an NTB of n datagrams that the pad rule treated with how.
func (c *TxCounters) ended(how, n int) {
	switch how {
	case 1:
		c.Padded.Add(1)
	case 2:
		c.ShortEnd.Add(1)
	}
	c.NTBs.Add(1)
	c.Datagrams.Add(uint64(n))
}

// firstDatagram is where an empty NTB built with z takes its first
// datagram: after the NTH and an NDP sized for the datagram cap, at the
// payload alignment.
func (z *Sizes) firstDatagram() int {
	l := layoutOf(z.Format)
	return alignTo(alignUp(l.nthLen, z.TxNDPAlign)+ndpSize(l, z.TxMaxDgrams), z.TxDivisor, z.TxRemainder)
}
