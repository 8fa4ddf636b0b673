package rules_test

import (
	"errors"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// relive appends the bring-up records again at address addr, from the
// clock on (a re-enumeration), with edit applied to each copy.
func relive(s *synth, bringUp []usbmon.Record, addr uint8, edit func(r *usbmon.Record)) int {
	shift := s.now.Sub(bringUp[0].Time())
	first := 0
	old := s.dev
	s.dev = addr
	for _, r := range bringUp {
		r.Data = append([]byte(nil), r.Data...)
		if edit != nil {
			edit(&r)
		}
		s.now = r.Time().Add(shift)
		if n := s.add(r); first == 0 {
			first = n
		}
	}
	s.dev = old
	return first
}

// TestLivesOfOneAdapter: an adapter re-enumerated at a new address is
// followed across both lives (same VID:PID and serial, one after the
// other); two at once, or two serials, are two adapters.
func TestLivesOfOneAdapter(t *testing.T) {
	s := newSynth(t, ecmFixture)
	bringUp := append([]usbmon.Record(nil), s.recs...)
	traffic(s)
	s.wait(3 * time.Second)
	second := relive(s, bringUp, s.dev+1, nil)
	s.dev++
	_, lastIn := s.bulkIn(time.Millisecond, 0, ecmFrame(98))
	tr := s.decode(t)
	if len(tr.Lives) != 2 || tr.Lives[0].Address != 3 || tr.Lives[1].Address != 4 || tr.Lives[1].First != second || tr.Lives[1].Last != lastIn ||
		tr.Lives[1].Gap < 3*time.Second || tr.Lives[0].Gap != 0 {
		t.Fatalf("lives %+v", tr.Lives)
	}
	if tr.Stats.RxFrames != 2 || tr.Stats.TxFrames != 1 {
		t.Errorf("frames of both lives: RX %d TX %d", tr.Stats.RxFrames, tr.Stats.TxFrames)
	}
	sel := 0
	for _, d := range tr.Devices {
		if d.Selected {
			sel++
		}
	}
	if sel != 2 {
		t.Errorf("%d devices selected, want both lives: %v", sel, tr.Devices)
	}
	if f := finding(tr, "device-vanished"); f == nil || !f.Cites(second) {
		t.Errorf("device-vanished: %+v", tr.Findings)
	}

	// The same two lives at once: two adapters.
	s = newSynth(t, ecmFixture)
	bringUp = append([]usbmon.Record(nil), s.recs...)
	s.now = bringUp[0].Time()
	relive(s, bringUp, s.dev+1, nil)
	if _, err := decode.Decode(s.recs, s.lt, decode.Options{}); !errors.Is(err, decode.ErrSeveralDevices) {
		t.Errorf("two adapters at once: %v", err)
	}

	// One after the other with another serial number: two adapters.
	s = newSynth(t, ecmFixture)
	bringUp = append([]usbmon.Record(nil), s.recs...)
	tr0, err := decode.Decode(bringUp, s.lt, decode.Options{})
	if err != nil || tr0.Device.Serial == 0 || tr0.Strings[tr0.Device.Serial] == "" {
		t.Fatalf("the bring-up reads no serial number: %v", err)
	}
	s.wait(time.Second)
	serialURB, changed := uint64(0), 0
	relive(s, bringUp, s.dev+1, func(r *usbmon.Record) {
		if st, ok := r.SetupPacket(); ok && r.Type == usbmon.Submit && st.Request == hw.ReqGetDescriptor && st.Value == uint16(hw.DescString)<<8|uint16(tr0.Device.Serial) {
			serialURB = r.ID
		}
		if r.Type == usbmon.Complete && r.ID == serialURB && len(r.Data) > 2 {
			r.Data[2] ^= 1
			changed++
		}
	})
	if _, err := decode.Decode(s.recs, s.lt, decode.Options{}); changed == 0 || !errors.Is(err, decode.ErrSeveralDevices) {
		t.Errorf("two serials (%d answers changed): %v", changed, err)
	}
}
