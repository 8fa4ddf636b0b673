package ax88179

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/hw"
	"dongle/hw/sim"
)

func vendor(t *testing.T, d hw.Device, in bool, req uint8, value, index uint16, data []byte) error {
	t.Helper()
	rt := hw.TypeVendor | hw.RecipDevice
	if in {
		rt |= hw.DirIn
	}
	_, err := d.Control(context.Background(), hw.Setup{RequestType: rt, Request: req, Value: value, Index: index}, data)
	return err
}

func TestDescriptorsPerSpeed(t *testing.T) {
	for _, tc := range []struct {
		s   hw.Speed
		mps uint16
	}{{hw.SpeedFull, 64}, {hw.SpeedHigh, 512}, {hw.SpeedSuper, 1024}} {
		_, cfg := descriptors(0x0b95, 0x1790, tc.s)
		c, err := hw.ParseConfig(cfg)
		if err != nil {
			t.Fatalf("%v: %v", tc.s, err)
		}
		a := c.Interfaces[0].Alts[0]
		if a.Class != 0xff || a.SubClass != 0xff || len(a.Endpoints) != 3 {
			t.Fatalf("%v: interface %+v", tc.s, a)
		}
		if a.Endpoints[1].Address != 0x82 || a.Endpoints[1].MaxPacketSize != tc.mps || a.Endpoints[2].Address != 0x03 {
			t.Fatalf("%v: endpoints %+v", tc.s, a.Endpoints)
		}
	}
}

func TestLinkNegotiationAndUnknownRequests(t *testing.T) {
	m, d := New(Config{LinkMbps: 100})
	defer d.Close()
	if err := vendor(t, d, false, reqMAC, regPhyPwr, 2, []byte{pwrIPRL, 0}); err != nil {
		t.Fatal(err)
	}
	var b [2]byte
	if err := vendor(t, d, true, reqPHY, phyAddr, miiPHYSR, b[:]); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint16(b[:]); v != physr100|physrFull|physrLink {
		t.Fatalf("PHYSR %#04x, want 100 full link", v)
	}
	if err := vendor(t, d, true, 0x77, 0, 0, b[:]); !errors.Is(err, hw.ErrStall) {
		t.Fatalf("unknown request: %v, want a stall", err)
	}
	if err := vendor(t, d, true, reqMAC, regRxCtl, 4, b[:]); !errors.Is(err, hw.ErrStall) {
		t.Fatalf("wIndex/length mismatch: %v, want a stall", err)
	}
	if st := m.Stats(); st.Unknown != 2 || st.Interrupts != 1 {
		t.Fatalf("stats %+v", st)
	}
	log := m.Requests()
	if len(log) != 4 || log[2].Err == nil {
		t.Fatalf("log %v", log)
	}
}

func TestEEPROMImage(t *testing.T) {
	m, d := New(Config{})
	defer d.Close()
	e := m.EEPROM()
	s := uint16(e[6]) + uint16(e[7]) + uint16(e[8]) + uint16(e[9])
	s = s>>8 + s&0xff
	if e[0] == 0xff || s+uint16(e[10]) != 0xff {
		t.Fatalf("EEPROM header % x fails Linux's check", e[:11])
	}
	if binary.LittleEndian.Uint32(e[6:]) != 0x17900b95 {
		t.Fatalf("IDs %#08x", binary.LittleEndian.Uint32(e[6:]))
	}
}

func TestCorruptionsBreakTheLayout(t *testing.T) {
	var a aggregator
	a.add(make([]byte, 100), 2, 0)
	a.add(make([]byte, 60), 2, 0)
	for _, c := range Corruptions {
		good := append([]byte(nil), a.build()...)
		bad := c.apply(good, len(a.pkts), len(a.hdrs))
		if len(bad) >= 4 && string(bad) == string(a.build()) {
			t.Errorf("%v left the transfer unchanged", c)
		}
	}
}

// TestInterruptsCountedByTheEngine: with nobody reading the interrupt
// endpoint the engine holds sim.InQueueDepth reports; the model counts
// those as Interrupts and the ones the engine refused as IntDropped, so a
// report that never reached the host is not logged as sent.
func TestInterruptsCountedByTheEngine(t *testing.T) {
	m, d := New(Config{LinkMbps: 1000})
	defer d.Close()
	if err := vendor(t, d, false, reqMAC, regPhyPwr, 2, []byte{pwrIPRL, 0}); err != nil {
		t.Fatal(err)
	}
	const changes = sim.InQueueDepth + 9
	for i := 1; i < changes; i++ { // the power-up was the first change
		if i%2 == 1 {
			m.UnplugCable()
		} else {
			m.PlugCable(1000, true)
		}
	}
	st := m.Stats()
	if st.Interrupts != sim.InQueueDepth || st.IntDropped != changes-sim.InQueueDepth {
		t.Fatalf("%d link changes, queue of %d: Interrupts %d IntDropped %d", changes, sim.InQueueDepth, st.Interrupts, st.IntDropped)
	}
	if q := d.Host().Queued(intEndpoint); q != sim.InQueueDepth {
		t.Fatalf("engine holds %d reports, want %d", q, sim.InQueueDepth)
	}
}
