package cdcncm

import (
	"errors"
	"testing"
)

// linuxParams is a device that sets every field sensibly (the values of
// many NCM chips): NTB16 and NTB32, 32 KiB both ways, 4/0/4, no datagram
// limit.
func linuxParams() NTBParams {
	return NTBParams{Length: 28, FormatsSupported: 3, InMaxSize: 32768, InDivisor: 4, InAlignment: 4,
		OutMaxSize: 32768, OutDivisor: 4, OutAlignment: 4}
}

// TestNegotiate: every field of GET_NTB_PARAMETERS is checked and clamped
// as Linux's cdc_ncm_init/setup/check_*_max/fix_modulus do.
func TestNegotiate(t *testing.T) {
	type exp struct {
		format                 Format
		rx, tx, dgram          int
		div, rem, align, maxDg int
		minTx, notes           int
	}
	def := exp{NTB16, 16384, 16385, 1514, 4, 2, 4, 40, 16385 - 3*512, 0}
	for _, c := range []struct {
		name   string
		p      func(*NTBParams)
		seg    uint16
		mps    int
		opts   Options
		want   func(*exp)
		hasErr error
	}{
		{name: "Linux's defaults: NTB16, 16 KiB, one byte past a packet multiple", want: func(*exp) {}},
		{name: "NTB32 when asked and offered", opts: Options{PreferNTB32: true}, want: func(e *exp) { e.format = NTB32 }},
		{name: "NTB32 asked, NTB16 only offered", p: func(p *NTBParams) { p.FormatsSupported = 1 }, opts: Options{PreferNTB32: true}, want: func(*exp) {}},
		{name: "NTB32 only: used, noted", p: func(p *NTBParams) { p.FormatsSupported = 2 }, want: func(e *exp) { e.format, e.notes = NTB32, 1 }},
		{name: "no format", p: func(p *NTBParams) { p.FormatsSupported = 0 }, hasErr: ErrNTBFormats},
		{name: "wLength lies: noted", p: func(p *NTBParams) { p.Length = 20 }, want: func(e *exp) { e.notes = 1 }},
		{name: "dwNtbInMaxSize below 2048: 2048", p: func(p *NTBParams) { p.InMaxSize = 1000 }, want: func(e *exp) { e.rx, e.notes = 2048, 1 }},
		{name: "dwNtbInMaxSize 8192: taken", p: func(p *NTBParams) { p.InMaxSize = 8192 }, want: func(e *exp) { e.rx = 8192 }},
		{name: "rx_max asked above the device's: the device's", p: func(p *NTBParams) { p.InMaxSize = 20000 }, opts: Options{RxMax: 60000}, want: func(e *exp) { e.rx = 20000 }},
		{name: "dwNtbOutMaxSize exactly 16384: no pad byte", p: func(p *NTBParams) { p.OutMaxSize = 16384 }, want: func(e *exp) { e.tx, e.minTx = 16384, 16384-1536 }},
		{name: "dwNtbOutMaxSize 0: 16 KiB", p: func(p *NTBParams) { p.OutMaxSize = 0 }, want: func(*exp) {}},
		{name: "dwNtbOutMaxSize 1000: room for one full datagram (NTH, NDP, 1514, and the most the alignments pad: 3 + 3)", p: func(p *NTBParams) { p.OutMaxSize = 1000 }, want: func(e *exp) { e.tx, e.minTx, e.notes = 12+3+172+3+1514, 512, 1 }},
		{name: "NTB32, a 2048-byte NTB with 128-byte alignments: 30 datagrams at most, so that a full-size one fits beside the NDP (a fuzz finding)", opts: Options{PreferNTB32: true}, p: func(p *NTBParams) { p.OutMaxSize, p.OutAlignment, p.OutDivisor = 2048, 128, 128 }, want: func(e *exp) {
			e.format, e.tx, e.align, e.div, e.rem, e.maxDg, e.minTx, e.notes = NTB32, 2048, 128, 128, 114, 30, 512, 1
		}},
		{name: "NTB32, dwNtbOutMaxSize 1982, NDP aligned to 128: room for the NDP's padding too (a fuzz finding: 1982 dropped a 1513-byte frame)", opts: Options{PreferNTB32: true}, p: func(p *NTBParams) { p.OutMaxSize, p.OutAlignment = 1982, 128 }, want: func(e *exp) { e.format, e.tx, e.align, e.minTx, e.notes = NTB32, 16+127+344+3+1514, 128, 512, 1 }},
		{name: "dwNtbOutMaxSize huge: clamped, noted", p: func(p *NTBParams) { p.OutMaxSize = 100000 }, want: func(e *exp) { e.notes = 1 }},
		{name: "tx_max 65536 asked on NTB16: 65535 (wBlockLength is 16 bits)", p: func(p *NTBParams) { p.OutMaxSize = 0 }, opts: Options{TxMax: 65536},
			want: func(e *exp) { e.tx, e.minTx = 65535, 65535-1536 }},
		{name: "tx_max 65536 on NTB32: 65536 is the device's own size, no pad byte", p: func(p *NTBParams) { p.OutMaxSize = 65536 }, opts: Options{TxMax: 65536, PreferNTB32: true},
			want: func(e *exp) { e.format, e.tx, e.minTx = NTB32, 65536, 65536-1536 }},
		{name: "divisor 3 and alignment 2: 4", p: func(p *NTBParams) { p.OutDivisor, p.OutAlignment = 3, 2 }, want: func(e *exp) { e.notes = 2 }},
		{name: "divisor 0 and alignment 0: 4, silently", p: func(p *NTBParams) { p.OutDivisor, p.OutAlignment = 0, 0 }, want: func(*exp) {}},
		{name: "divisor as large as the NTB: 4", p: func(p *NTBParams) { p.OutDivisor = 32768 }, opts: Options{TxMax: 16384}, want: func(e *exp) { e.notes = 1 }},
		{name: "remainder not below the divisor: 0", p: func(p *NTBParams) { p.OutPayloadRemainder = 4 }, want: func(e *exp) { e.notes = 1 }},
		{name: "divisor 8, remainder 2: datagrams at 4 mod 8", p: func(p *NTBParams) { p.OutDivisor, p.OutPayloadRemainder = 8, 2 }, want: func(e *exp) { e.div, e.rem = 8, 4 }},
		{name: "alignment 16", p: func(p *NTBParams) { p.OutAlignment = 16 }, want: func(e *exp) { e.align = 16 }},
		{name: "wNtbOutMaxDatagrams 10", p: func(p *NTBParams) { p.OutMaxDatagrams = 10 }, want: func(e *exp) { e.maxDg = 10 }},
		{name: "wNtbOutMaxDatagrams 100: 40", p: func(p *NTBParams) { p.OutMaxDatagrams = 100 }, want: func(*exp) {}},
		{name: "wMaxSegmentSize 1000: 1514", seg: 1000, want: func(e *exp) { e.notes = 1 }},
		{name: "wMaxSegmentSize 9000: 8192", seg: 9000, want: func(e *exp) { e.dgram, e.notes = 8192, 1 }},
		{name: "full speed: pad only the last three 64-byte packets", mps: 64, want: func(e *exp) { e.minTx = 16385 - 192 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := linuxParams()
			if c.p != nil {
				c.p(&p)
			}
			seg, mps := c.seg, c.mps
			if seg == 0 {
				seg = 1514
			}
			if mps == 0 {
				mps = 512
			}
			z, err := Negotiate(p, seg, mps, c.opts)
			if c.hasErr != nil {
				if !errors.Is(err, c.hasErr) {
					t.Fatalf("error %v, want %v", err, c.hasErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := def
			c.want(&w)
			g := exp{z.Format, z.RxMax, z.TxMax, z.MaxDatagram, z.TxDivisor, z.TxRemainder, z.TxNDPAlign, z.TxMaxDgrams, z.MinTxPkt, len(z.Notes)}
			if g != w {
				t.Errorf("got  %+v\nwant %+v\nnotes %q", g, w, z.Notes)
			}
		})
	}
}

func TestNTBParamsRoundTrip(t *testing.T) {
	p := NTBParams{Length: 28, FormatsSupported: 3, InMaxSize: 0x11223344, InDivisor: 5, InPayloadRemainder: 6, InAlignment: 7,
		OutMaxSize: 0x55667788, OutDivisor: 9, OutPayloadRemainder: 10, OutAlignment: 11, OutMaxDatagrams: 12}
	q, err := ParseNTBParams(p.Bytes())
	if err != nil || q != p {
		t.Errorf("%+v %v", q, err)
	}
	if _, err := ParseNTBParams(p.Bytes()[:27]); !errors.Is(err, ErrNTBParams) {
		t.Errorf("27 bytes: %v", err)
	}
}
