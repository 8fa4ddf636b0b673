package ncm

import (
	"testing"
)

// TestCorruptionsAreTheirViolations: each RX fault preset, read back by the
// model's own TX reader, is exactly the violation it claims to be, and the
// NTB it damaged was good before.
func TestCorruptionsAreTheirViolations(t *testing.T) {
	want := map[Corruption]Violation{
		CorruptSignature: VNTHSignature, CorruptNDPBeyondBlock: VNDPIndex, CorruptDatagramInHeader: VDatagramInHeader,
		CorruptZeroLength: VZeroEntry, CorruptOverlap: VDatagramOverlap, CorruptMisalignedNDP: VNDPAlignment,
		CorruptNDPLoop: VNDPLoop,
	}
	for _, format := range []int{FormatNTB16, FormatNTB32} {
		l := &layouts[format]
		for _, frames := range []int{1, 3} {
			for _, c := range Corruptions {
				var w writer
				w.reset(l)
				for i := 0; i < frames; i++ {
					f := make([]byte, 60+i)
					f[0] = 2
					w.add(f, 4, startRemainder(4, 0))
				}
				ntb := w.finish(l, 4, false)
				lim := limits{format: format, outMax: 16384, div: 4, ndpAlign: 4, maxDatagram: 1514}
				var rd reader
				var seen [numViolations]bool
				if !rd.check(ntb, &lim, &seen) || len(rd.frames) != frames {
					t.Fatalf("format %d: the good NTB fails: %v", format, seen)
				}
				bad := c.apply(append([]byte(nil), ntb...), l, &w)
				seen = [numViolations]bool{}
				if rd.check(bad, &lim, &seen) {
					t.Errorf("format %d, %d frames, %v: passes", format, frames, c)
				}
				for v, s := range seen {
					if s != (Violation(v) == want[c]) {
						t.Errorf("format %d, %d frames, %v: violation %v seen %v", format, frames, c, Violation(v), s)
					}
				}
			}
		}
	}
}

// TestChainedNTBReadsBack: the writer's chained NTB is legal for the reader.
func TestChainedNTBReadsBack(t *testing.T) {
	for _, format := range []int{FormatNTB16, FormatNTB32} {
		l := &layouts[format]
		var w writer
		w.reset(l)
		for i := 0; i < 5; i++ {
			w.add(make([]byte, 100+i), 4, startRemainder(4, 2))
		}
		ntb := w.finish(l, 8, true)
		var rd reader
		var seen [numViolations]bool
		lim := limits{format: format, outMax: 16384, div: 4, rem: 2, ndpAlign: 8, maxDatagram: 1514}
		if !rd.check(ntb, &lim, &seen) || len(rd.ndps) != 2 || len(rd.frames) != 5 {
			t.Errorf("format %d: %v, %d NDPs, %d frames", format, seen, len(rd.ndps), len(rd.frames))
		}
		for i, f := range rd.frames {
			if (f.lo+14)%4 != 2 || f.hi-f.lo != 100+i {
				t.Errorf("format %d: datagram %d at %d..%d", format, i, f.lo, f.hi)
			}
		}
	}
}

// FuzzReader: no NTB, however damaged, makes the reader panic or accept a
// datagram outside the block.
func FuzzReader(f *testing.F) {
	for _, format := range []int{FormatNTB16, FormatNTB32} {
		l := &layouts[format]
		var w writer
		w.reset(l)
		w.add(make([]byte, 60), 4, 0)
		w.add(make([]byte, 70), 4, 0)
		f.Add(append([]byte(nil), w.finish(l, 4, true)...), format == FormatNTB32)
	}
	f.Fuzz(func(t *testing.T, ntb []byte, ntb32 bool) {
		format := FormatNTB16
		if ntb32 {
			format = FormatNTB32
		}
		var rd reader
		var seen [numViolations]bool
		lim := limits{format: format, outMax: 16384, div: 4, ndpAlign: 4, maxDatagram: 1514}
		if rd.check(ntb, &lim, &seen) {
			for _, s := range rd.frames {
				if s.lo < layouts[format].nthLen || s.hi > len(ntb) || s.hi-s.lo < 14 {
					t.Fatalf("accepted datagram %d..%d of %d bytes", s.lo, s.hi, len(ntb))
				}
			}
		}
	})
}

// TestOversizeNextIsBounded: a fault command's excess is capped, so the
// model never pads an NTB without end.
func TestOversizeNextIsBounded(t *testing.T) {
	m := &Model{}
	m.OversizeNext(1 << 30)
	if m.oversize != MaxOversize {
		t.Errorf("oversize %d, want the cap %d", m.oversize, MaxOversize)
	}
	m.OversizeNext(-1)
	if m.oversize != 0 {
		t.Errorf("a negative excess left %d pending", m.oversize)
	}
}
