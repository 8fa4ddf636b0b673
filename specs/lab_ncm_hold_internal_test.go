package specs

import (
	"encoding/binary"
	"testing"
	"time"

	"dongle/usbnet/decode"
)

// heldNTB is one received transfer (NTB) of a fixture: its test frames.
type heldNTB struct {
	at     time.Time
	seqs   []int
	length []int
}

// fixtureNTBs decodes an f_ncm fixture (cdc_ncm framing) and groups the
// test frames it received by the transfer (NTB) that carried them.
func fixtureNTBs(t *testing.T, name string) []heldNTB {
	t.Helper()
	tr, err := decode.ReadFile("../fixtures/"+name, decode.Options{Driver: "cdc_ncm"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxErrors+tr.Stats.TxErrors != 0 {
		t.Errorf("%s: %d RX, %d TX framing errors", name, tr.Stats.RxErrors, tr.Stats.TxErrors)
	}
	var ntbs []heldNTB
	last := -1
	for _, f := range tr.Frames {
		if f.Dir != decode.RX || len(f.Data) < MinFrame || binary.BigEndian.Uint16(f.Data[12:]) != TestEtherType {
			continue
		}
		if f.Record != last {
			ntbs = append(ntbs, heldNTB{at: f.Time})
			last = f.Record
		}
		n := &ntbs[len(ntbs)-1]
		n.seqs = append(n.seqs, FrameSeq(f.Data))
		n.length = append(n.length, f.Length)
	}
	return ntbs
}

// TestHeldNTBTriggerFixture: the hold spec's kept trace shows the finding
// frame for frame: every frame arrives once and in order; the longest wait
// between two NTBs is the hold (the spec waits 2 s, then sends the frames
// that fill the NTB), and the NTB after it is full (31 datagrams) and
// starts with the held tail, whose release count the spec asserted; the
// frame that did not fit follows on its own NTB.
func TestHeldNTBTriggerFixture(t *testing.T) {
	ntbs := fixtureNTBs(t, "finding-f_ncm-held-ntb-trigger.pcap")
	if len(ntbs) < 3 {
		t.Fatalf("%d NTBs with test frames", len(ntbs))
	}
	next, gap, after := -1, time.Duration(0), 0
	for i, n := range ntbs {
		for _, s := range n.seqs {
			if next >= 0 && s != next {
				t.Fatalf("NTB %d: frame %d where %d was next", i, s, next)
			}
			next = s + 1
		}
		if i > 0 {
			if d := n.at.Sub(ntbs[i-1].at); d > gap {
				gap, after = d, i
			}
		}
	}
	held := ntbs[after]
	if gap < 2*time.Second {
		t.Errorf("longest wait between NTBs %v: no hold", gap)
	}
	if len(held.seqs) != fNCMMaxDatagrams {
		t.Errorf("the NTB after the hold carries %d datagrams, want a full one (%d)", len(held.seqs), fNCMMaxDatagrams)
	}
	if after+1 >= len(ntbs) || len(ntbs[after+1].seqs) != 1 {
		t.Errorf("the frame that released the NTB does not follow on an NTB of its own")
	}
	t.Logf("held %v; the NTB after it: frames %d..%d", gap, held.seqs[0], held.seqs[len(held.seqs)-1])
}

// TestHeldNTBCIFixture: the CI capture that showed the finding (the trace
// of one spec, the 64-byte lab frame spec): its one NTB with more than one
// test frame carries the last six 1514-byte frames of the unplug spec (seq
// 194..199 of its 200), then the frame of each of the eleven lab frame
// specs that ran after it and timed out (Frame(me, me, size, size): seq ==
// length): 16 KB, which the spec's own 64-byte frame did not fit, so it
// sent the NTB and follows on one of its own.
func TestHeldNTBCIFixture(t *testing.T) {
	ntbs := fixtureNTBs(t, "finding-f_ncm-held-ntb.pcap")
	at := 0
	for i, n := range ntbs {
		if len(n.seqs) > len(ntbs[at].seqs) {
			at = i
		}
	}
	held := ntbs[at]
	if len(held.seqs) != 17 {
		t.Fatalf("the held NTB carries %d test frames, want 17", len(held.seqs))
	}
	data := 12 // the NTH16; each datagram at wNdpInDivisor 4
	for i := range held.seqs {
		data = (data+3)&^3 + held.length[i]
		switch {
		case i < 6 && (held.seqs[i] != 194+i || held.length[i] != 1514):
			t.Errorf("held frame %d: seq %d, %d bytes; want the unplug spec's seq %d, 1514 bytes", i, held.seqs[i], held.length[i], 194+i)
		case i >= 6 && held.seqs[i] != held.length[i]:
			t.Errorf("held frame %d: seq %d, %d bytes; want a lab frame spec's (seq = size)", i, held.seqs[i], held.length[i])
		}
	}
	if at+1 >= len(ntbs) || len(ntbs[at+1].seqs) != 1 || ntbs[at+1].length[0] != 64 {
		t.Fatalf("the spec's own 64-byte frame does not follow on an NTB of its own")
	}
	// ncm_wrap_ntb's test for a frame that does not fit: the data so far,
	// the divisor, the frame, the NDP16 (8 bytes and 4 per entry), the
	// NDP alignment and two more entries, against dwNtbInMaxSize.
	if need := data + 4 + 64 + 8 + 4*len(held.seqs) + 4 + 8; need <= 16384 {
		t.Errorf("the held NTB (%d bytes of NTH and datagrams) had room for the 64-byte frame (%d <= 16384): a full NTB did not release it", data, need)
	}
}
