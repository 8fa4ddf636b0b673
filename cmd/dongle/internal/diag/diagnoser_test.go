package diag

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dongle/cmd/dongle/internal/target"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// reporting is cdc_ether with a Diagnoser that returns fixed, chip-neutral
// data: what diag shows must be exactly that, whatever the chip.
type reporting struct{ cdcecm.Driver }

func (reporting) Name() string { return "reporting" }
func (reporting) Diagnose(*usbnet.Dev) *usbnet.Diagnosis {
	return &usbnet.Diagnosis{
		PHY:      []string{"PHY line one"},
		PHYRegs:  []usbnet.Reg{{Name: "BMSR", Value: "0x796d"}},
		MACRegs:  []usbnet.Reg{{Name: "CTL", Addr: "0x01", Value: "0x0042", Note: "ON"}},
		EEPROM:   &usbnet.EEPROMDump{Bytes: []byte{0xde, 0xad}, MagicOK: true, MAC: "02:00:00:00:00:01", Problem: "odd"},
		Link:     &usbnet.LinkState{Up: true, Mbps: 2500, FullDuplex: true, RxPause: true, Detail: "from the chip"},
		Counters: []usbnet.Counter{{Name: "widgets", Value: 7}},
		Problems: []string{"chip says hello"},
	}
}

// silent is cdc_ether without a Diagnoser: only the Minidriver methods,
// delegated.
type silent struct{ d cdcecm.Driver }

func (s silent) Name() string                         { return "silent" }
func (s silent) IDs() []usbnet.ID                     { return s.d.IDs() }
func (s silent) Flags() usbnet.Flags                  { return s.d.Flags() }
func (s silent) Bind(d *usbnet.Dev) error             { return s.d.Bind(d) }
func (s silent) Unbind(d *usbnet.Dev)                 { s.d.Unbind(d) }
func (s silent) Reset(d *usbnet.Dev) error            { return s.d.Reset(d) }
func (s silent) LinkReset(d *usbnet.Dev) error        { return s.d.LinkReset(d) }
func (s silent) SetRxMode(d *usbnet.Dev) error        { return s.d.SetRxMode(d) }
func (s silent) Status(d *usbnet.Dev, p []byte) error { return s.d.Status(d, p) }
func (s silent) RxFixup(d *usbnet.Dev, b *skbuff.Buff, q *skbuff.Queue) error {
	return s.d.RxFixup(d, b, q)
}
func (s silent) TxFixup(d *usbnet.Dev, b *skbuff.Buff) error { return s.d.TxFixup(d, b) }

func liveWith(t *testing.T, drv usbnet.Minidriver) *Report {
	t.Helper()
	tg, err := target.Open("sim:ecm-gadget")
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	tg.Drivers = []usbnet.Minidriver{drv}
	r, err := Live(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Bound || r.Driver != drv.Name() {
		t.Fatalf("bound %v driver %q", r.Bound, r.Driver)
	}
	return r
}

func TestDiagnoserDataIsShownAsGiven(t *testing.T) {
	r := liveWith(t, reporting{})
	if len(r.PHY) != 1 || r.PHY[0] != "PHY line one" || r.PHYRegs["BMSR"] != "0x796d" {
		t.Errorf("PHY %q regs %v", r.PHY, r.PHYRegs)
	}
	if len(r.MACRegs) != 1 || r.MACRegs[0] != (RegInfo{Name: "CTL", Addr: "0x01", Value: "0x0042", Note: "ON"}) {
		t.Errorf("MAC registers %+v", r.MACRegs)
	}
	if e := r.EEPROM; e == nil || e.Bytes != 2 || e.Hex != "dead" || !e.MagicOK || e.Valid || e.MAC != "02:00:00:00:00:01" || e.Problem != "odd" {
		t.Errorf("EEPROM %+v", r.EEPROM)
	}
	if l := r.Link; l == nil || !l.Up || l.Mbps != 2500 || l.Duplex != "full" || l.FlowControl != "rx pause" || l.Detail != "from the chip" {
		t.Errorf("link %+v", r.Link)
	}
	if len(r.ChipCounters) != 1 || r.ChipCounters[0] != (CounterInfo{Name: "widgets", Value: 7}) {
		t.Errorf("counters %+v", r.ChipCounters)
	}
	found := false
	for _, a := range r.Anomalies {
		found = found || a == "chip says hello"
	}
	if !found {
		t.Errorf("the driver's problem is not an anomaly: %q", r.Anomalies)
	}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{"PHY line one", "BMSR=0x796d", "CTL", "Driver counters: widgets 7", "2500 Mbit/s", "chip says hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed report lacks %q", want)
		}
	}
}

func TestNoDiagnoserIsSaid(t *testing.T) {
	r := liveWith(t, silent{})
	if len(r.PHY) != 0 || len(r.MACRegs) != 0 || r.EEPROM != nil {
		t.Errorf("chip data from a driver that offers none: %+v", r)
	}
	found := false
	for _, a := range r.Anomalies {
		found = found || strings.HasPrefix(a, "driver silent offers no diagnosis")
	}
	if !found {
		t.Errorf("no anomaly saying the driver offers no diagnosis: %q", r.Anomalies)
	}
	if r.SelfTest == nil || !r.SelfTest.Passed {
		t.Errorf("the framework's self-test still runs: %+v", r.SelfTest)
	}
}
