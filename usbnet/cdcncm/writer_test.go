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
