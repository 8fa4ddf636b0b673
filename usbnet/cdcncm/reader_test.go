package cdcncm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// ntbBuilder writes NTBs byte by byte, lies included: the regression
// table's NTBs are built here, independently of the driver's Writer.
type ntbBuilder struct {
	f Format
	b []byte
}

func newNTB(f Format, size int) *ntbBuilder { return &ntbBuilder{f: f, b: make([]byte, size)} }

func (n *ntbBuilder) w(off, width, v int) *ntbBuilder {
	if width == 2 {
		binary.LittleEndian.PutUint16(n.b[off:], uint16(v))
	} else {
		binary.LittleEndian.PutUint32(n.b[off:], uint32(v))
	}
	return n
}

// nth writes the header: signature, its true length, sequence, block
// length and first NDP index.
func (n *ntbBuilder) nth(seq, block, ndp int) *ntbBuilder {
	if n.f == NTB16 {
		return n.w(0, 4, int(SigNTH16)).w(4, 2, 12).w(6, 2, seq).w(8, 2, block).w(10, 2, ndp)
	}
	return n.w(0, 4, int(SigNTH32)).w(4, 2, 16).w(6, 2, seq).w(8, 4, block).w(12, 4, ndp)
}

// ndp writes an NDP at off with wLength size (0: exactly the entries
// and the null entry), next, and entries {index, length} (the null entry
// is whatever the buffer holds after them: zeros).
func (n *ntbBuilder) ndp(off, size, next int, entries ...[2]int) *ntbBuilder {
	if n.f == NTB16 {
		if size == 0 {
			size = 8 + 4*(len(entries)+1)
		}
		n.w(off, 4, int(SigNDP16)).w(off+4, 2, size).w(off+6, 2, next)
		for i, e := range entries {
			n.w(off+8+4*i, 2, e[0]).w(off+10+4*i, 2, e[1])
		}
		return n
	}
	if size == 0 {
		size = 16 + 8*(len(entries)+1)
	}
	n.w(off, 4, int(SigNDP32)).w(off+4, 2, size).w(off+8, 4, next)
	for i, e := range entries {
		n.w(off+16+8*i, 4, e[0]).w(off+20+8*i, 4, e[1])
	}
	return n
}

// fill puts recognisable bytes (the offset's low byte) in [off, off+len).
func (n *ntbBuilder) fill(off, length int) *ntbBuilder {
	for i := off; i < off+length; i++ {
		n.b[i] = byte(i)
	}
	return n
}

type got struct{ off, n int }

func readAll(r *Reader, p []byte) ([]got, error) {
	var out []got
	_, err := r.Read(p, func(off, n int) { out = append(out, got{off, n}) })
	return out, err
}

// TestReaderRegressionTable is Linux cdc_ncm's receive-path history as a
// table: each NTB is hand-built; the datagrams that must come out, the
// error (nil: nothing lost) and the counter that must move are given.
func TestReaderRegressionTable(t *testing.T) {
	type tc struct {
		name    string
		f       Format
		ntb     []byte
		want    []got
		err     error
		counter string
	}
	n16 := func() *ntbBuilder { return newNTB(NTB16, 512) }
	n32 := func() *ntbBuilder { return newNTB(NTB32, 512) }
	cases := []tc{
		{"one datagram", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 60}).fill(100, 60).b,
			[]got{{100, 60}}, nil, ""},
		{"two datagrams, NDP at the end", NTB16, n16().nth(1, 512, 400).ndp(400, 0, 0, [2]int{16, 100}, [2]int{200, 64}).b,
			[]got{{16, 100}, {200, 64}}, nil, ""},
		{"chained NDPs: every datagram delivered", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 300, [2]int{100, 60}).ndp(300, 0, 0, [2]int{200, 60}).b,
			[]got{{100, 60}, {200, 60}}, nil, ""},
		{"NTB32", NTB32, n32().nth(1, 512, 16).ndp(16, 0, 0, [2]int{100, 60}, [2]int{300, 80}).b,
			[]got{{100, 60}, {300, 80}}, nil, ""},
		{"NTB32 chained", NTB32, n32().nth(1, 512, 16).ndp(16, 0, 400, [2]int{100, 60}).ndp(400, 0, 0, [2]int{200, 60}).b,
			[]got{{100, 60}, {200, 60}}, nil, ""},
		{"wBlockLength 0: up to the transfer's end", NTB16, n16().nth(1, 0, 12).ndp(12, 0, 0, [2]int{400, 112}).b,
			[]got{{400, 112}}, nil, ""},
		{"misaligned wNdpIndex: counted, still read (as Linux)", NTB16, n16().nth(1, 512, 14).ndp(14, 0, 0, [2]int{100, 60}).b,
			[]got{{100, 60}}, nil, "rx_ndp_misaligned"},
		{"block longer than the transfer: counted, read to the end", NTB16, n16().nth(1, 600, 12).ndp(12, 0, 0, [2]int{100, 60}).b,
			[]got{{100, 60}}, nil, "rx_block_past_transfer"},

		{"transfer too short", NTB16, n16().nth(1, 512, 12).b[:15], nil, ErrShortNTB, "rx_short_ntb"},
		{"NTB32 signature on an NTB16 link", NTB16, n32().nth(1, 512, 16).ndp(16, 0, 0, [2]int{100, 60}).b, nil, ErrNTHSignature, "rx_nth_signature"},
		{"NTB16 signature on an NTB32 link", NTB32, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 60}).b, nil, ErrNTHSignature, "rx_nth_signature"},
		{"wHeaderLength lies", NTB16, n16().nth(1, 512, 12).w(4, 2, 16).ndp(12, 0, 0, [2]int{100, 60}).b, nil, ErrHeaderLength, "rx_header_length"},
		{"block above the negotiated input size", NTB16, newNTB(NTB16, 3000).nth(1, 3000, 12).ndp(12, 0, 0, [2]int{100, 60}).b, nil, ErrBlockTooLong, "rx_block_too_long"},
		{"block shorter than its headers", NTB16, n16().nth(1, 20, 12).ndp(12, 0, 0, [2]int{100, 60}).b, nil, ErrBlockLength, "rx_block_length"},
		{"no NDP (wNdpIndex 0)", NTB16, n16().nth(1, 512, 0).b, nil, ErrNDPInHeader, "rx_ndp_in_header"},
		{"NDP inside the NTH", NTB16, n16().nth(1, 512, 4).b, nil, ErrNDPInHeader, "rx_ndp_in_header"},
		{"NDP beyond the block", NTB16, n16().nth(1, 256, 300).ndp(300, 0, 0, [2]int{100, 60}).b, nil, ErrNDPBeyondBlock, "rx_ndp_beyond_block"},
		{"NDP header runs past the block", NTB16, n16().nth(1, 512, 508).b, nil, ErrNDPBeyondBlock, "rx_ndp_beyond_block"},
		{"NDP wLength below the minimum", NTB16, n16().nth(1, 512, 12).ndp(12, 12, 0, [2]int{100, 60}).b, nil, ErrNDPLength, "rx_ndp_length"},
		{"NDP wLength past the block", NTB16, n16().nth(1, 512, 480).ndp(480, 64, 0, [2]int{100, 60}).b, nil, ErrNDPLength, "rx_ndp_length"},
		{"NDP wLength not whole entries: counted, entries read", NTB16, n16().nth(1, 512, 12).ndp(12, 18, 0, [2]int{100, 60}).b,
			[]got{{100, 60}}, ErrNDPLength, "rx_ndp_length"},
		{"CRC NDP skipped, next NDP read", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 300, [2]int{100, 60}).w(12, 4, int(SigNDP16CRC)).ndp(300, 0, 0, [2]int{200, 60}).b,
			[]got{{200, 60}}, ErrNDPSignature, "rx_ndp_signature"},
		{"NDP chained to itself", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 12, [2]int{100, 60}).b, []got{{100, 60}}, ErrNDPLoop, "rx_ndp_loop"},
		{"NDP chain loops through two", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 300, [2]int{100, 60}).ndp(300, 0, 12, [2]int{200, 60}).b,
			[]got{{100, 60}, {200, 60}}, ErrNDPLoop, "rx_ndp_loop"},
		{"next NDP overlaps the first", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 16, [2]int{100, 60}).b, []got{{100, 60}}, ErrNDPOverlap, "rx_ndp_overlap"},
		{"empty NDP", NTB16, n16().nth(1, 512, 12).ndp(12, 16, 0).b, nil, ErrEmptyNDP, "rx_empty_ndp"},
		{"zero-length first entry (index kept)", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 0}, [2]int{200, 60}).b, nil, ErrZeroEntry, "rx_zero_entry"},
		{"zero index, later entry: the rest of the NDP ignored", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 60}, [2]int{0, 60}, [2]int{300, 60}).b,
			[]got{{100, 60}}, ErrZeroEntry, "rx_zero_entry"},
		{"datagram index inside the NTH", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{4, 60}).b, nil, ErrDatagramInHeader, "rx_datagram_in_header"},
		{"datagram past the block", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 60}, [2]int{480, 60}).b,
			[]got{{100, 60}}, ErrDatagramPastEnd, "rx_datagram_past_end"},
		{"datagram index past the block (NTB32, no wrap)", NTB32, n32().nth(1, 512, 16).ndp(16, 0, 0, [2]int{0xfffffff0, 0x20}).b, nil, ErrDatagramPastEnd, "rx_datagram_past_end"},
		{"datagram length wraps (NTB32)", NTB32, n32().nth(1, 512, 16).ndp(16, 0, 0, [2]int{100, 0xffffffff}).b, nil, ErrDatagramPastEnd, "rx_datagram_past_end"},
		{"runt datagram", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 13}).b, nil, ErrRunt, "rx_runt"},
		{"datagram above the maximum datagram size", NTB16, newNTB(NTB16, 2048).nth(1, 2048, 12).ndp(12, 0, 0, [2]int{100, 1515}).b, nil, ErrOversize, "rx_oversize"},
		{"overlapping datagrams: the second skipped", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 60}, [2]int{130, 60}, [2]int{300, 60}).b,
			[]got{{100, 60}, {300, 60}}, ErrDatagramOverlap, "rx_datagram_overlap"},
		{"datagram overlapping its NDP", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 0, [2]int{20, 60}).b, nil, ErrDatagramOverlap, "rx_datagram_overlap"},
		{"datagram overlapping a later NDP", NTB16, n16().nth(1, 512, 12).ndp(12, 0, 300, [2]int{280, 60}).ndp(300, 0, 0, [2]int{400, 60}).b,
			[]got{{400, 60}}, ErrDatagramOverlap, "rx_datagram_overlap"},
		{"no null entry: the last slot is not read", NTB16, n16().nth(1, 512, 12).ndp(12, 16, 0, [2]int{100, 60}, [2]int{200, 60}).b,
			[]got{{100, 60}}, ErrNoTerminator, "rx_no_terminator"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rc RxCounters
			r := &Reader{Format: c.f, MaxBlock: 2048, MaxDatagram: 1514, C: &rc}
			out, err := readAll(r, c.ntb)
			if !reflect.DeepEqual(out, c.want) {
				t.Errorf("datagrams %v, want %v", out, c.want)
			}
			if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("error %v, want %v", err, c.err)
			}
			if err != nil && (strings.Contains(err.Error(), "%!") || !strings.Contains(err.Error(), fmt.Sprintf("%d-byte NTB", len(c.ntb)))) {
				t.Errorf("error text %q", err)
			}
			counts := map[string]uint64{}
			for _, nc := range rc.Named() {
				counts[nc.Name] = nc.C.Load()
			}
			for name, v := range counts {
				want := uint64(0)
				switch name {
				case "rx_ntbs":
					want = 1
				case "rx_datagrams":
					want = uint64(len(c.want))
				case c.counter:
					want = 1
				}
				if v != want {
					t.Errorf("%s = %d, want %d", name, v, want)
				}
			}
		})
	}
}

// TestReaderLongChain: more than 50 NDPs is a loop (Linux's loopcount);
// the first 50 are read.
func TestReaderLongChain(t *testing.T) {
	n := newNTB(NTB16, 2048).nth(1, 2048, 12)
	for i := range 51 {
		off, next := 12+16*i, 12+16*(i+1)
		if i == 50 {
			next = 0
		}
		n.ndp(off, 0, next, [2]int{1000 + 16*i, 14})
	}
	var rc RxCounters
	r := &Reader{Format: NTB16, MaxBlock: 2048, C: &rc}
	out, err := readAll(r, n.b)
	if len(out) != 50 || !errors.Is(err, ErrNDPLoop) || rc.NDPLoop.Load() != 1 {
		t.Errorf("%d datagrams, %v, loops %d", len(out), err, rc.NDPLoop.Load())
	}
}

// TestReaderSequence: a sequence number that does not follow the last is
// counted (Linux's glitch rule: 0 after 0, and 0 after 0xffff, are fine),
// never dropped; ResetSequence forgets the last.
func TestReaderSequence(t *testing.T) {
	var rc RxCounters
	r := &Reader{Format: NTB16, C: &rc}
	want := uint64(0)
	for _, s := range []struct {
		seq    int
		glitch bool
	}{{5, false}, {6, false}, {8, true}, {9, false}, {0xffff, true}, {0, false}, {0, false}, {1, false}, {3, true}} {
		p := newNTB(NTB16, 128).nth(s.seq, 128, 12).ndp(12, 0, 0, [2]int{40, 60}).b
		if out, err := readAll(r, p); err != nil || len(out) != 1 {
			t.Fatalf("seq %d: %v %v", s.seq, out, err)
		}
		if s.glitch {
			want++
		}
		if rc.Sequence.Load() != want {
			t.Errorf("after seq %#x: %d glitches, want %d", s.seq, rc.Sequence.Load(), want)
		}
	}
	r.ResetSequence()
	readAll(r, newNTB(NTB16, 128).nth(77, 128, 12).ndp(12, 0, 0, [2]int{40, 60}).b)
	if rc.Sequence.Load() != want {
		t.Errorf("the first NTB after ResetSequence is no glitch")
	}
}

// TestReaderAuto: offline, the NTH's signature picks the format, whatever
// Format says.
func TestReaderAuto(t *testing.T) {
	r := &Reader{Auto: true, Format: NTB32}
	for _, p := range [][]byte{
		newNTB(NTB16, 256).nth(1, 256, 12).ndp(12, 0, 0, [2]int{100, 60}).b,
		newNTB(NTB32, 256).nth(2, 256, 16).ndp(16, 0, 0, [2]int{100, 60}).b,
	} {
		if out, err := readAll(r, p); err != nil || !reflect.DeepEqual(out, []got{{100, 60}}) {
			t.Errorf("%v %v", out, err)
		}
	}
}
