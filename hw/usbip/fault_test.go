package usbip

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestFailNextBulk: the next n completions of an endpoint carry the
// commanded status and no data; the one after is the device's own.
func TestFailNextBulk(t *testing.T) {
	m, outs := static()
	h, _, s := newServer(t, m, Options{})
	eproto := -int32(syscall.EPROTO)
	if err := s.FailNext(0x81, eproto, 2); err != nil {
		t.Fatal(err)
	}
	for seq := uint32(1); seq <= 3; seq++ {
		h.submit(seq, 1, true, 0, 512, nil, nil)
	}
	time.Sleep(50 * time.Millisecond)
	for _, d := range []string{"a", "b", "c"} {
		if err := m.Host().SendIn(0x81, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	for seq := uint32(1); seq <= 2; seq++ {
		if cmd, got, st, d := h.reply(true); cmd != retSubmit || got != seq || st != eproto || len(d) != 0 {
			t.Fatalf("URB %d: cmd %d seq %d status %d %d bytes; want -EPROTO and no data", seq, cmd, got, st, len(d))
		}
	}
	if _, seq, st, d := h.reply(true); seq != 3 || st != 0 || string(d) != "c" {
		t.Fatalf("URB 3: seq %d status %d %q; want the device's own completion", seq, st, d)
	}
	if n := s.Stats.Faults.Load(); n != 2 {
		t.Fatalf("Faults = %d, want 2", n)
	}
	// OUT: the device gets the data, the host is told it failed.
	eilseq := -int32(syscall.EILSEQ)
	if err := s.FailNext(0x02, eilseq, 1); err != nil {
		t.Fatal(err)
	}
	h.submit(4, 2, false, 0, 3, nil, []byte{7, 8, 9})
	if _, seq, st, _ := h.reply(false); seq != 4 || st != eilseq {
		t.Fatalf("OUT: seq %d status %d, want -EILSEQ", seq, st)
	}
	h.submit(5, 2, false, 0, 1, nil, []byte{1})
	if _, seq, st, _ := h.reply(false); seq != 5 || st != 0 {
		t.Fatalf("OUT after the fault: seq %d status %d", seq, st)
	}
	time.Sleep(20 * time.Millisecond)
	if len(*outs) != 2 || string((*outs)[0]) != "\x07\x08\x09" {
		t.Fatalf("device got %q", *outs)
	}
}

// TestFailNextControl: ep 0 fails vendor requests only, without the
// device seeing them; standard requests go through.
func TestFailNextControl(t *testing.T) {
	m, _ := static()
	h, _, s := newServer(t, m, Options{})
	etime := -int32(syscall.ETIMEDOUT)
	if err := s.FailNext(0, etime, 1); err != nil {
		t.Fatal(err)
	}
	h.submit(1, 0, true, 0, 18, []byte{0x80, 6, 0, 1, 0, 0, 18, 0}, nil)
	if _, _, st, d := h.reply(true); st != 0 || len(d) != 18 {
		t.Fatalf("GET_DESCRIPTOR during the fault: status %d, %d bytes", st, len(d))
	}
	h.submit(2, 0, true, 0, 4, []byte{0xc0, 5, 0x10, 0xe6, 0, 1, 4, 0}, nil)
	if _, _, st, d := h.reply(true); st != etime || len(d) != 0 {
		t.Fatalf("vendor read: status %d, %d bytes; want -ETIMEDOUT", st, len(d))
	}
	h.submit(3, 0, true, 0, 4, []byte{0xc0, 5, 0x10, 0xe6, 0, 1, 4, 0}, nil)
	if _, _, st, d := h.reply(true); st != 0 || string(d) != "\x01\x02\x03\x04" {
		t.Fatalf("vendor read after the fault: status %d % x", st, d)
	}
	if got := s.Stats.Controls.Load(); got != 3 {
		t.Fatalf("Controls = %d, want 3", got)
	}
}

func TestFailNextRefusesBadFaults(t *testing.T) {
	m, _ := static()
	_, _, s := newServer(t, m, Options{})
	for _, c := range []struct {
		status int32
		n      int
	}{{0, 1}, {71, 1}, {-71, 0}, {-5000, 1}} {
		if err := s.FailNext(0x81, c.status, c.n); !errors.Is(err, ErrBadFault) {
			t.Errorf("FailNext(0x81, %d, %d) = %v, want ErrBadFault", c.status, c.n, err)
		}
	}
	// The edges: -4095 is the last errno, and one URB is a count.
	if err := s.FailNext(0x81, -4095, 1); err != nil {
		t.Errorf("FailNext(0x81, -4095, 1) = %v, want nil", err)
	}
}
