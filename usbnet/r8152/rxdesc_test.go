package r8152_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/usbnet/r8152"
)

func TestWalk(t *testing.T) {
	f60 := ethFrame(60, fakeMAC, peer, 1)
	f61 := ethFrame(61, fakeMAC, peer, 2)
	f1514 := ethFrame(1514, fakeMAC, peer, 3)
	withDesc := func(p []byte, at int, n int) []byte {
		q := append([]byte(nil), p...)
		binary.LittleEndian.PutUint32(q[at:], uint32(n))
		return q
	}
	three := rxTransfer(f60, f61, f1514)
	tests := []struct {
		name     string
		p        []byte
		frames   [][]byte
		err      error
		index    int
		trailing int
		crc      int
	}{
		{"one frame", rxTransfer(f60), [][]byte{f60}, nil, 0, 0, 0},
		{"three frames, 8-aligned descriptors", three, [][]byte{f60, f61, f1514}, nil, 0, 0, 0},
		{"runt length stops the walk", withDesc(three, 88, 59), [][]byte{f60}, r8152.ErrRxRunt, 1, 0, 0},
		{"zero length stops the walk", withDesc(three, 0, 0), nil, r8152.ErrRxRunt, 0, 0, 0},
		{"frame past the end", three[:len(three)-1], [][]byte{f60, f61}, r8152.ErrRxPastEnd, 2, 0, 0},
		{"length field past the end", withDesc(rxTransfer(f60), 0, 0x7fff), nil, r8152.ErrRxPastEnd, 0, 0, 0},
		{"bit 15 is RD_CRC, not length", withDesc(rxTransfer(f60, f61), 0, 64|0x8000), [][]byte{f61}, nil, 0, 0, 1},
		{"zero bytes after the last frame (the chip's terminator)", append(rxTransfer(f60), make([]byte, 8)...), [][]byte{f60}, nil, 0, 8, 0},
		{"a zero descriptor's worth after the last frame", append(rxTransfer(f60), make([]byte, 24)...), [][]byte{f60}, nil, 0, 24, 0},
		{"non-zero bytes after the last frame", append(rxTransfer(f60), 0, 0, 0, 0, 0, 0, 0, 1), [][]byte{f60}, r8152.ErrRxTrailing, 0, 8, 0},
		{"a bare descriptor", append(make([]byte, 23), 1), nil, r8152.ErrRxTrailing, 0, 24, 0},
		{"a descriptor and one byte", append(make([]byte, 24), 1), nil, r8152.ErrRxRunt, 0, 0, 0},
		{"empty", nil, nil, nil, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got [][]byte
			c, err := r8152.Walk(tc.p, func(f r8152.Frame) {
				if f.Off%8 != 0 || f.Off < r8152.RxDescLen || f.Off+f.Len > len(tc.p) {
					t.Errorf("frame at %d+%d outside the transfer or misaligned", f.Off, f.Len)
				}
				got = append(got, tc.p[f.Off:f.Off+f.Len])
			})
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			var re *r8152.RxError
			if err != nil && errors.As(err, &re) && tc.err != r8152.ErrRxTrailing && re.Index != tc.index {
				t.Errorf("error at descriptor %d, want %d (%v)", re.Index, tc.index, err)
			}
			if len(got) != len(tc.frames) || c.Frames != len(tc.frames) {
				t.Fatalf("%d frames (counted %d), want %d", len(got), c.Frames, len(tc.frames))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.frames[i]) {
					t.Errorf("frame %d differs", i)
				}
			}
			if c.Trailing != tc.trailing || c.CRC != tc.crc {
				t.Errorf("trailing %d crc %d, want %d %d", c.Trailing, c.CRC, tc.trailing, tc.crc)
			}
		})
	}
}

func TestRxChecksumRule(t *testing.T) {
	tests := []struct {
		name         string
		opts2, opts3 uint32
		want         bool
	}{
		{"IPv4 TCP good", r8152.RxIPv4CS | r8152.RxTCPCS, 0, true},
		{"IPv4 UDP good", r8152.RxIPv4CS | r8152.RxUDPCS, 0, true},
		{"IPv4 header bad", r8152.RxIPv4CS | r8152.RxTCPCS, r8152.RxIPF, false},
		{"IPv4 TCP bad", r8152.RxIPv4CS | r8152.RxTCPCS, r8152.RxTCPF, false},
		{"IPv4 UDP bad", r8152.RxIPv4CS | r8152.RxUDPCS, r8152.RxUDPF, false},
		{"IPv4, no L4 checked", r8152.RxIPv4CS, 0, false},
		{"IPv6 UDP good", r8152.RxIPv6CS | r8152.RxUDPCS, 0, true},
		{"IPv6 TCP good, IPF ignored", r8152.RxIPv6CS | r8152.RxTCPCS, r8152.RxIPF, true},
		{"IPv6 TCP bad", r8152.RxIPv6CS | r8152.RxTCPCS, r8152.RxTCPF, false},
		{"TCP checked but no IP", r8152.RxTCPCS, 0, false},
		{"UDP bad, TCP good bit set too", r8152.RxIPv4CS | r8152.RxUDPCS | r8152.RxTCPCS, r8152.RxUDPF, true},
	}
	for _, tc := range tests {
		d := r8152.RxDesc{Opts2: tc.opts2, Opts3: tc.opts3}
		if d.CsumOK() != tc.want {
			t.Errorf("%s: CsumOK %v, want %v", tc.name, d.CsumOK(), tc.want)
		}
	}
}
