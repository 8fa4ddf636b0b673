package cdcncm

import (
	"bytes"
	"errors"
	"testing"

	"dongle/usbnet"
)

func testFrame(n, seq int) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = byte(i*7 + seq)
	}
	return f
}

func writerFor(t *testing.T, p NTBParams, opts Options, mps int) *Writer {
	t.Helper()
	z, err := Negotiate(p, 1514, mps, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &Writer{Sizes: z, SendZLP: opts.SendZLP, MaxPacket: mps}
}

// TestWriterLayout: the NTB the driver sends, read back field by field:
// NTH (signature, length, sequence, wBlockLength = the transfer), the NDP
// right after it at the NDP alignment with wLength for the entries used
// and the null entry, each datagram's payload (after its Ethernet
// header) at wNdpOutPayloadRemainder mod wNdpOutDivisor, in order.
func TestWriterLayout(t *testing.T) {
	for _, c := range []struct {
		name string
		p    func(*NTBParams)
		opts Options
	}{
		{"NTB16, 4/0/4", nil, Options{}},
		{"NTB32, 4/0/4", nil, Options{PreferNTB32: true}},
		{"NTB16, divisor 8 remainder 2, NDP alignment 16", func(p *NTBParams) { p.OutDivisor, p.OutPayloadRemainder, p.OutAlignment = 8, 2, 16 }, Options{}},
		{"NTB32, divisor 16 remainder 6, NDP alignment 8", func(p *NTBParams) { p.OutDivisor, p.OutPayloadRemainder, p.OutAlignment = 16, 6, 8 }, Options{PreferNTB32: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := linuxParams()
			if c.p != nil {
				c.p(&p)
			}
			w := writerFor(t, p, c.opts, 512)
			frames := [][]byte{testFrame(60, 1), testFrame(61, 2), testFrame(1514, 3), testFrame(333, 4)}
			ntb, n, err := w.AppendNTB(7, frames)
			if err != nil || n != 4 {
				t.Fatalf("%d frames, %v", n, err)
			}
			l := layoutOf(w.Sizes.Format)
			if get(ntb, 0, 4) != int(l.nthSig) || get(ntb, 4, 2) != l.nthLen || get(ntb, 6, 2) != 7 {
				t.Errorf("NTH % x", ntb[:l.nthLen])
			}
			if get(ntb, l.blockOff, l.word) != len(ntb) {
				t.Errorf("wBlockLength %d, NTB %d bytes", get(ntb, l.blockOff, l.word), len(ntb))
			}
			ndp := get(ntb, l.ndpOff, l.word)
			if ndp != alignUp(l.nthLen, int(p.OutAlignment)) || get(ntb, ndp, 4) != int(l.ndpSig) {
				t.Errorf("NDP at %d (alignment %d), signature %#x", ndp, p.OutAlignment, get(ntb, ndp, 4))
			}
			if got := get(ntb, ndp+4, 2); got != l.ndpHdr+5*l.entryLen {
				t.Errorf("NDP wLength %d, want %d", got, l.ndpHdr+5*l.entryLen)
			}
			prevEnd := ndp + ndpSize(l, w.Sizes.TxMaxDgrams)
			for i, f := range frames {
				e := ndp + l.ndpHdr + i*l.entryLen
				idx, dl := get(ntb, e, l.word), get(ntb, e+l.word, l.word)
				if (idx+ethHeaderLen)%int(p.OutDivisor) != int(p.OutPayloadRemainder) {
					t.Errorf("datagram %d at %d: payload at %d, not ≡ %d mod %d", i, idx, idx+14, p.OutPayloadRemainder, p.OutDivisor)
				}
				if idx < prevEnd || idx-prevEnd >= int(p.OutDivisor) {
					t.Errorf("datagram %d at %d after %d: not the first aligned offset", i, idx, prevEnd)
				}
				if dl != len(f) || !bytes.Equal(ntb[idx:idx+dl], f) {
					t.Errorf("datagram %d: %d bytes at %d differ", i, dl, idx)
				}
				prevEnd = idx + dl
			}
			if e := ndp + l.ndpHdr + 4*l.entryLen; get(ntb, e, l.word) != 0 || get(ntb, e+l.word, l.word) != 0 {
				t.Errorf("no null entry after the last datagram")
			}
		})
	}
}

// TestWriterPadRule is cdc_ncm_info's end of an NTB: padded to tx_max
// above min_tx_pkt, one 0x00 byte when a shorter NTB is a packet
// multiple, nothing otherwise; with SendZLP never anything (the framework
// sends the ZLP). wBlockLength always covers the padding.
func TestWriterPadRule(t *testing.T) {
	p := linuxParams()
	for _, c := range []struct {
		name    string
		opts    Options
		frames  func(w *Writer) [][]byte
		wantLen func(w *Writer, raw int) int
	}{
		{"short, not a packet multiple: as it is", Options{}, func(*Writer) [][]byte { return [][]byte{testFrame(100, 1)} },
			func(_ *Writer, raw int) int { return raw }},
		{"short, a packet multiple: one byte more", Options{}, func(*Writer) [][]byte { return [][]byte{testFrame(1024-186, 1)} },
			func(_ *Writer, raw int) int { return raw + 1 }},
		{"above min_tx_pkt: padded to tx_max", Options{}, func(*Writer) [][]byte {
			var fs [][]byte
			for i := range 10 {
				fs = append(fs, testFrame(1514, i))
			}
			return fs
		}, func(w *Writer, _ int) int { return w.Sizes.TxMax }},
		{"SendZLP: never padded", Options{SendZLP: true}, func(*Writer) [][]byte { return [][]byte{testFrame(1024-186, 1)} },
			func(_ *Writer, raw int) int { return raw }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := writerFor(t, p, c.opts, 512)
			fs := c.frames(w)
			ntb, n, err := w.AppendNTB(0, fs)
			if err != nil || n != len(fs) {
				t.Fatalf("%d of %d frames: %v", n, len(fs), err)
			}
			l := layoutOf(w.Sizes.Format)
			ndp := get(ntb, l.ndpOff, l.word)
			last := ndp + l.ndpHdr + (n-1)*l.entryLen
			raw := get(ntb, last, l.word) + get(ntb, last+l.word, l.word)
			if want := c.wantLen(w, raw); len(ntb) != want {
				t.Errorf("NTB %d bytes (data ends at %d), want %d", len(ntb), raw, want)
			}
			if get(ntb, l.blockOff, l.word) != len(ntb) {
				t.Errorf("wBlockLength %d, NTB %d", get(ntb, l.blockOff, l.word), len(ntb))
			}
			if !bytes.Equal(ntb[raw:], make([]byte, len(ntb)-raw)) {
				t.Errorf("padding is not zeros")
			}
		})
	}
}

// TestWriterLimits: the datagram cap, a frame that does not fit, frames
// outside the datagram limits.
func TestWriterLimits(t *testing.T) {
	p := linuxParams()
	p.OutMaxDatagrams = 3
	w := writerFor(t, p, Options{}, 512)
	fs := [][]byte{testFrame(60, 1), testFrame(60, 2), testFrame(60, 3), testFrame(60, 4)}
	if _, n, err := w.AppendNTB(0, fs); err != nil || n != 3 {
		t.Errorf("cap 3: took %d, %v", n, err)
	}
	w = writerFor(t, linuxParams(), Options{}, 512)
	var many [][]byte
	for i := range 20 {
		many = append(many, testFrame(1514, i))
	}
	_, n, err := w.AppendNTB(0, many)
	if err != nil || n != (w.Sizes.TxMax-186)/1516 {
		t.Errorf("16 KiB of 1514-byte frames: took %d (%v)", n, err)
	}
	if _, _, err := w.AppendNTB(0, [][]byte{testFrame(1515, 1)}); !errors.Is(err, ErrTxFrame) {
		t.Errorf("1515 bytes: %v", err)
	}
	if _, _, err := w.AppendNTB(0, [][]byte{testFrame(13, 1)}); !errors.Is(err, ErrTxFrame) {
		t.Errorf("13 bytes: %v", err)
	}
	small := *w
	small.Sizes.TxMax = 300
	if _, _, err := small.AppendNTB(0, [][]byte{testFrame(200, 1)}); !errors.Is(err, usbnet.ErrTxAggFull) {
		t.Errorf("a frame no NTB holds: %v", err)
	}
}

// TestRoundTrip: what the Writer builds, the Reader reads back, frame for
// frame, in both formats.
func TestRoundTrip(t *testing.T) {
	for _, f := range []Format{NTB16, NTB32} {
		w := writerFor(t, linuxParams(), Options{PreferNTB32: f == NTB32}, 512)
		var fs [][]byte
		for i, n := range []int{60, 61, 1514, 14, 700, 1023, 1024, 1025} {
			fs = append(fs, testFrame(n, i))
		}
		ntb, n, err := w.AppendNTB(1, fs)
		if err != nil || n != len(fs) {
			t.Fatalf("%v: %d %v", f, n, err)
		}
		r := &Reader{Format: f, MaxBlock: w.Sizes.TxMax, MaxDatagram: 1514}
		var back [][]byte
		if _, err := r.Read(ntb, func(off, n int) { back = append(back, ntb[off:off+n]) }); err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if len(back) != len(fs) {
			t.Fatalf("%v: %d frames back", f, len(back))
		}
		for i := range fs {
			if !bytes.Equal(back[i], fs[i]) {
				t.Errorf("%v frame %d differs", f, i)
			}
		}
	}
}

// chainFrames are n frames of size bytes, numbered from 0.
func chainFrames(n, size int) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = testFrame(size, i)
	}
	return fs
}

// readBlock splits a transfer into NTBs as a device does and reads each:
// the NTBs' lengths and sequence numbers, and every frame in order.
func readBlock(t *testing.T, w *Writer, block []byte) (lens, seqs []int, frames [][]byte) {
	t.Helper()
	l := layoutOf(w.Sizes.Format)
	r := &Reader{Format: w.Sizes.Format, MaxBlock: w.Sizes.TxMax, MaxDatagram: 1514}
	for off, ntb := range NTBs(block) {
		if off != sum(lens) {
			t.Fatalf("NTB at %d, the ones before end at %d", off, sum(lens))
		}
		if _, err := r.Read(ntb, func(o, n int) { frames = append(frames, ntb[o:o+n]) }); err != nil {
			t.Fatalf("NTB at %d: %v", off, err)
		}
		lens = append(lens, len(ntb))
		seqs = append(seqs, get(ntb, 6, 2))
		if get(ntb, l.blockOff, l.word) != len(ntb) {
			t.Errorf("NTB at %d: wBlockLength %d, %d bytes", off, get(ntb, l.blockOff, l.word), len(ntb))
		}
	}
	if sum(lens) != len(block) {
		t.Errorf("NTBs cover %d of the transfer's %d bytes", sum(lens), len(block))
	}
	return lens, seqs, frames
}

func sum(v []int) (s int) {
	for _, x := range v {
		s += x
	}
	return s
}

// fullSizeParams: a device whose dwNtbOutMaxSize is Linux's 16 KiB, so
// that TxMax is that size exactly, a packet multiple (Negotiate makes it
// 16385 for a device that takes more, as cdc_ncm does, so that a padded
// NTB still ends with a short packet).
func fullSizeParams() NTBParams {
	p := linuxParams()
	p.OutMaxSize = 16384
	return p
}

// TestWriterChainsFullNTBs: with PerTransfer 3, NTBs that the pad rule
// pads to TxMax go back to back in one transfer, byte for byte the NTBs
// one NTB per transfer would have sent (sequence numbers running on); the
// last follows the pad rule; frames come back in order.
func TestWriterChainsFullNTBs(t *testing.T) {
	w := writerFor(t, fullSizeParams(), Options{}, 512)
	w.PerTransfer = 3
	if w.Sizes.TxMax != 16384 || w.BlockSize() != 3*16384 {
		t.Fatalf("TxMax %d, BlockSize %d; want 16384 and three NTBs", w.Sizes.TxMax, w.BlockSize())
	}
	const per = 10 // 1514-byte frames an NTB of 16384 bytes holds
	for _, c := range []struct {
		name   string
		frames int
		split  []int // frames per NTB
	}{
		{"three full NTBs, the rest left", 40, []int{per, per, per}},
		{"two full and a short one", 2*per + 5, []int{per, per, 5}},
		{"one NTB, not chained", per, []int{per}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := chainFrames(c.frames, 1514)
			block, took, err := w.AppendBlock(7, fs)
			if err != nil || took != sum(c.split) {
				t.Fatalf("took %d of %d: %v; want %d", took, len(fs), err, sum(c.split))
			}
			var want []byte
			from := 0
			for i, n := range c.split {
				ntb, took, err := w.AppendNTB(uint16(7+i), fs[from:from+n])
				if err != nil || took != n {
					t.Fatalf("AppendNTB of NTB %d: took %d of %d: %v", i, took, n, err)
				}
				if i < len(c.split)-1 && len(ntb) != 16384 {
					t.Fatalf("NTB %d alone: %d bytes; the pad rule should make it 16384", i, len(ntb))
				}
				want = append(want, ntb...)
				from += n
			}
			if !bytes.Equal(block, want) {
				t.Errorf("the transfer (%d bytes) is not the NTBs sent one by one (%d bytes)", len(block), len(want))
			}
			lens, _, back := readBlock(t, w, block)
			if len(lens) != len(c.split) {
				t.Errorf("a device reads %d NTBs %v, want %d", len(lens), lens, len(c.split))
			}
			if len(back) != took {
				t.Fatalf("%d frames back, %d taken", len(back), took)
			}
			for i := range back {
				if !bytes.Equal(back[i], fs[i]) {
					t.Fatalf("frame %d differs", i)
				}
			}
		})
	}
}

// TestWriterChainsOnlyWhatThePadRuleFills: an NTB goes alone when chaining
// would change the bytes on the bus or is not allowed: one NTB per
// transfer, SendZLP (each NTB ends with a ZLP), TxMax not a packet
// multiple, no packet size known, an NTB ended at the datagram cap (no
// frame is left to start the next) or one too short to be padded.
func TestWriterChainsOnlyWhatThePadRuleFills(t *testing.T) {
	capped := fullSizeParams()
	capped.OutMaxDatagrams = 4
	for _, c := range []struct {
		name   string
		p      NTBParams
		opts   Options
		mps    int
		per    int
		frames [][]byte
		took   int
	}{
		{"PerTransfer 1", fullSizeParams(), Options{}, 512, 1, chainFrames(30, 1514), 10},
		{"PerTransfer 0", fullSizeParams(), Options{}, 512, 0, chainFrames(30, 1514), 10},
		{"SendZLP", fullSizeParams(), Options{SendZLP: true}, 512, 3, chainFrames(30, 1514), 10},
		{"a device that takes more than 16 KiB: TxMax 16385", linuxParams(), Options{}, 512, 3, chainFrames(30, 1514), 10},
		{"TxMax not a packet multiple", fullSizeParams(), Options{}, 1000, 3, chainFrames(30, 1514), 10},
		{"no packet size", fullSizeParams(), Options{}, 0, 3, chainFrames(30, 1514), 10},
		{"datagram cap", capped, Options{}, 512, 3, chainFrames(30, 1514), 4},
		{"too short to pad: 100 frames of 60 bytes fill 40 entries", fullSizeParams(), Options{}, 512, 3, chainFrames(100, 60), 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := writerFor(t, c.p, c.opts, c.mps)
			w.PerTransfer = c.per
			block, took, err := w.AppendBlock(0, c.frames)
			if err != nil || took != c.took {
				t.Fatalf("took %d: %v; want %d", took, err, c.took)
			}
			if lens, _, _ := readBlock(t, w, block); len(lens) != 1 {
				t.Errorf("%d NTBs %v in one transfer, want 1", len(lens), lens)
			}
			if c.per <= 1 || c.opts.SendZLP || c.mps == 0 || c.mps == 1000 || c.p.OutMaxSize != 16384 {
				if w.BlockSize() != w.Sizes.TxMax {
					t.Errorf("BlockSize %d, want TxMax %d: the writer never chains", w.BlockSize(), w.Sizes.TxMax)
				}
			}
		})
	}
}

// TestWriterChainsOnlyWhatTheNextNTBHolds: a frame that an empty NTB
// would not hold (room taken by a large NDP) does not close the NTB it did
// not fit: the block goes with what it has.
func TestWriterChainsOnlyWhatTheNextNTBHolds(t *testing.T) {
	w := writerFor(t, fullSizeParams(), Options{}, 512)
	w.PerTransfer = 3
	w.Sizes.TxMax, w.Sizes.MinTxPkt = 2048, 512
	fs := [][]byte{testFrame(1000, 1), testFrame(1514, 2), testFrame(1514, 3), testFrame(1514, 4)}
	block, took, err := w.AppendBlock(0, fs)
	if err != nil || took != 3 {
		t.Fatalf("took %d: %v; want 3 (one frame per NTB, three NTBs)", took, err)
	}
	if lens, _, back := readBlock(t, w, block); len(lens) != 3 || lens[0] != 2048 || lens[1] != 2048 || len(back) != 3 {
		t.Errorf("NTBs %v, %d frames; want two of 2048 bytes and a third, 3 frames", lens, len(back))
	}
	w.Sizes.TxMaxDgrams = 400 // an NDP of 1612 bytes: no 1514-byte frame fits an empty NTB
	w.Sizes.MinTxPkt = 1612
	if block, took, err := w.AppendBlock(0, [][]byte{testFrame(100, 1), testFrame(1514, 2)}); err != nil || took != 1 || ntbCount(block) != 1 {
		t.Errorf("took %d into %d NTBs, %v; want 1 into 1: the next NTB could not hold the frame", took, ntbCount(block), err)
	}
	w.Sizes.TxMaxDgrams = 40
	w.Sizes.MinTxPkt = 2048 // an NTB never padded: never chained
	if _, took, err := w.AppendBlock(0, fs); err != nil || took != 1 {
		t.Errorf("took %d, %v; want 1: an NTB the pad rule leaves short goes alone", took, err)
	}
}

func ntbCount(block []byte) (n int) {
	for range NTBs(block) {
		n++
	}
	return n
}

// TestWriterChainEdges: the bounds of chaining, one byte each side. Two
// NTBs per transfer chain (PerTransfer 2); an NTB of exactly MinTxPkt is
// not padded, so it is not chained, neither first nor second in a block;
// a frame that fills an empty NTB exactly starts the next one.
func TestWriterChainEdges(t *testing.T) {
	w := writerFor(t, fullSizeParams(), Options{}, 512)
	w.PerTransfer = 2
	if block, took, err := w.AppendBlock(0, chainFrames(30, 1514)); err != nil || took != 20 || ntbCount(block) != 2 || len(block) != 2*16384 {
		t.Errorf("PerTransfer 2: took %d into %d NTBs (%d bytes), %v; want 20 into 2", took, ntbCount(block), len(block), err)
	}
	// NTBs of 2048 bytes (a multiple of MaxPacket 512): an empty one
	// takes its first datagram at 186 (NTH 12, NDP for 40 datagrams 172,
	// and 2 to the remainder that 4-aligns what follows the Ethernet
	// header).
	w.PerTransfer = 3
	w.Sizes.TxMax, w.Sizes.MinTxPkt, w.Sizes.MaxDatagram = 2048, 512, 2000
	fs := [][]byte{testFrame(1600, 1), testFrame(326, 2), testFrame(1600, 3)}
	// 186+1600 = 1786: the 326 does not fit, the NTB is chained; the
	// second is 186+326 = 512 = MinTxPkt when the last does not fit: the
	// block goes with two NTBs.
	// (The last NTB, 512 bytes, a packet multiple, gets the pad rule's
	// byte.)
	if block, took, err := w.AppendBlock(0, fs); err != nil || took != 2 || ntbCount(block) != 2 || len(block) != 2048+513 {
		t.Errorf("an NTB of exactly MinTxPkt: took %d into %d NTBs (%d bytes), %v; want 2 frames, 2 NTBs, 2561 bytes", took, ntbCount(block), len(block), err)
	}
	if block, took, err := w.AppendBlock(0, fs[1:]); err != nil || took != 1 || ntbCount(block) != 1 {
		t.Errorf("a first NTB of exactly MinTxPkt: took %d into %d NTBs, %v; want 1 into 1", took, ntbCount(block), err)
	}
	exact := testFrame(2048-186, 4) // fills an empty NTB to the byte
	if block, took, err := w.AppendBlock(0, [][]byte{testFrame(1000, 5), exact}); err != nil || took != 2 || ntbCount(block) != 2 || len(block) != 2*2048 {
		t.Errorf("a frame that fills the next NTB exactly: took %d into %d NTBs (%d bytes), %v; want 2 into 2, 4096 bytes", took, ntbCount(block), len(block), err)
	}
}
