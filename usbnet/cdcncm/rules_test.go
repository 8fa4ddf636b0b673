package cdcncm

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// oversizeRun feeds ntbOversize a GET_NTB_PARAMETERS answer of in/out
// and the bulk transfers given, returning the records it cites.
func oversizeRun(t *testing.T, in, out int, xfers ...usbnet.Event) []int {
	t.Helper()
	r := &ntbOversize{pendIn: -1}
	params := make([]byte, 28)
	binary.LittleEndian.PutUint32(params[4:], uint32(in))
	binary.LittleEndian.PutUint32(params[16:], uint32(out))
	r.Observe(&usbnet.Event{Kind: usbnet.EventComplete, Record: 1, Xfer: hw.XferControl, HasSetup: true,
		Setup: hw.Setup{RequestType: hw.DirIn | hw.TypeClass | hw.RecipInterface, Request: ReqGetNTBParameters, Length: 28}, Data: params, Length: 28})
	for i := range xfers {
		r.Observe(&xfers[i])
	}
	f := r.Verdict(time.Time{})
	if f == nil {
		return nil
	}
	var recs []int
	for _, e := range f.Evidence {
		recs = append(recs, e.Record)
	}
	return recs
}

// nth16 is an NTB16 transfer of n bytes whose NTH says wBlockLength bl.
func nth16(rec int, ep uint8, n, bl int) usbnet.Event {
	p := make([]byte, n)
	binary.LittleEndian.PutUint32(p, SigNTH16)
	binary.LittleEndian.PutUint16(p[4:], 12)
	binary.LittleEndian.PutUint16(p[8:], uint16(bl))
	return usbnet.Event{Kind: usbnet.EventTransfer, Record: rec, Xfer: hw.XferBulk, Endpoint: ep, Length: n, Data: p}
}

// TestNTBOversizeByBlockLength: a host's URB of the negotiated size
// completes full with an oversize NTB's first part; the NTH's block
// length shows it (as in fixtures/failure-ntb-oversize.pcap).
func TestNTBOversizeByBlockLength(t *testing.T) {
	nth32 := make([]byte, 2048)
	binary.LittleEndian.PutUint32(nth32, SigNTH32)
	binary.LittleEndian.PutUint32(nth32[8:], 4097)
	got := oversizeRun(t, 4096, 4096,
		nth16(2, 0x82, 4096, 4096), // exactly the size: fine
		nth16(3, 0x82, 4096, 4796), // the URB full, the NTB longer
		nth16(4, 0x82, 700, 0),     // the rest: no NTH
		nth16(5, 0x82, 2048, 0),    // wBlockLength 0: ended by a short packet
		nth16(6, 0x02, 2048, 5000), // OUT, declared longer than dwNtbOutMaxSize
		nth16(7, 0x82, 4097, 4096), // the transfer itself longer
		usbnet.Event{Kind: usbnet.EventTransfer, Record: 8, Xfer: hw.XferBulk, Endpoint: 0x82, Length: 2048, Data: nth32},
	)
	want := []int{3, 6, 7, 8}
	if len(got) != len(want) {
		t.Fatalf("cites %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("cites %v, want %v", got, want)
		}
	}
	if got := oversizeRun(t, 4096, 4096, nth16(2, 0x82, 11, 9000)); got != nil {
		t.Errorf("an 11-byte transfer (no whole NTH) cites %v", got)
	}
}

// TestNTBOversizeChained: full NTBs back to back in one bulk OUT transfer
// (Writer) are measured one by one, not by the transfer; a chained NTB
// whose NTH declares more than dwNtbOutMaxSize is cited.
func TestNTBOversizeChained(t *testing.T) {
	w := writerFor(t, fullSizeParams(), Options{}, 512)
	w.PerTransfer = 3
	block, took, err := w.AppendBlock(0, chainFrames(30, 1514))
	if err != nil || took != 30 || len(block) != 3*16384 {
		t.Fatalf("took %d, %d bytes: %v", took, len(block), err)
	}
	ev := func(rec int, p []byte) usbnet.Event {
		return usbnet.Event{Kind: usbnet.EventTransfer, Record: rec, Xfer: hw.XferBulk, Endpoint: 0x02, Length: len(p), Data: p}
	}
	bad := slices.Clone(block)
	binary.LittleEndian.PutUint16(bad[16384+8:], 16385) // the second NTH
	cut := ev(4, block[:100])                           // a capture that kept 100 bytes: the first NTH, full size, then unknown
	cut.Length = len(block)
	short := ev(5, nth16(5, 0x02, 100, 4000).Data) // a cut NTB of 4000 bytes in a transfer of 20000
	short.Length = 20000
	if got := oversizeRun(t, 16384, 16384, ev(2, block), ev(3, bad), cut, short); !slices.Equal(got, []int{3, 5}) {
		t.Errorf("cites %v, want [3 5]: the chained transfer is fine, cut or not; the NTB declaring 16385 bytes is not, nor a transfer longer than its one short NTB", got)
	}
}
