package decode_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/skbuff"
	"dongle/usbnet/decode"
)

// sidecar is the part of a fixture's .json that people wrote from the
// capture's provenance (see the README's "Adding a dongle's trace").
type sidecar struct {
	Driver    string `json:"driver"`
	Vendor    string `json:"vendor"`
	Product   string `json:"product"`
	MAC       string `json:"mac"`
	Speed     string `json:"speed"`
	MaxPacket int    `json:"max_packet"`
	RxFrames  int    `json:"rx_frames"`
}

// TestEveryFixture decodes every trace in fixtures/ and checks it against
// its sidecar (driver, VID:PID, MAC, speed, packet size, frames delivered)
// and the decode's own bookkeeping against its lists.
func TestEveryFixture(t *testing.T) {
	paths, err := filepath.Glob("../../fixtures/*.pcap")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	checked := 0
	for _, p := range paths {
		raw, err := os.ReadFile(strings.TrimSuffix(p, ".pcap") + ".json")
		if err != nil {
			continue // a trace without a sidecar (ground truth for another test)
		}
		checked++
		t.Run(filepath.Base(p), func(t *testing.T) {
			var sc sidecar
			if err := json.Unmarshal(raw, &sc); err != nil {
				t.Fatal(err)
			}
			recs, _, err := usbmon.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			live := skbuff.Live()
			tr, err := decode.ReadFile(p, decode.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if n := skbuff.Live(); n != live {
				t.Errorf("%d sk_buffs left live by the decode", n-live)
			}
			if tr.Driver != sc.Driver || tr.DriverFrom != "descriptors" {
				t.Errorf("driver %s from %s, want %s", tr.Driver, tr.DriverFrom, sc.Driver)
			}
			if got := fmt.Sprintf("%04x:%04x", tr.Device.Vendor, tr.Device.Product); got != sc.Vendor+":"+sc.Product {
				t.Errorf("device %s, want %s:%s", got, sc.Vendor, sc.Product)
			}
			if tr.MAC.String() != sc.MAC {
				t.Errorf("MAC %v, want %s", tr.MAC, sc.MAC)
			}
			if tr.Speed.String() != sc.Speed || int(tr.Out.MaxPacketSize) != sc.MaxPacket || int(tr.In.MaxPacketSize) != sc.MaxPacket {
				t.Errorf("speed %v, bulk IN/OUT %d/%d; want %s, %d", tr.Speed, tr.In.MaxPacketSize, tr.Out.MaxPacketSize, sc.Speed, sc.MaxPacket)
			}
			if tr.In.Type() != hw.XferBulk || !tr.In.In() || tr.Out.Type() != hw.XferBulk || tr.Out.In() {
				t.Errorf("data endpoints %v %v", tr.In, tr.Out)
			}
			if tr.Status.Address != 0 && (tr.Status.Type() != hw.XferInterrupt || !tr.Status.In()) {
				t.Errorf("status endpoint %v", tr.Status)
			}
			// rx_frames counts the frames a replay delivers: those the
			// capture kept whole.
			if whole := tr.Stats.RxFrames - tr.Stats.RxTruncated; sc.RxFrames >= 0 && whole != sc.RxFrames {
				t.Errorf("%d whole RX frames (%d cut), the sidecar says %d", whole, tr.Stats.RxTruncated, sc.RxFrames)
			}
			checkBookkeeping(t, tr, recs)
		})
	}
	if checked < 5 {
		t.Errorf("only %d fixtures with a sidecar", checked)
	}
}

// checkBookkeeping: every count in Stats is the count of what the lists
// hold, and the lists are in record order.
func checkBookkeeping(t *testing.T, tr *decode.Trace, recs []usbmon.Record) {
	t.Helper()
	s := tr.Stats
	mine := 0
	for i := range recs {
		if recs[i].Bus == tr.Bus && recs[i].Device == tr.Address {
			mine++
		}
	}
	if s.Records != mine || s.Records+s.Ignored != len(recs) {
		t.Errorf("Records %d Ignored %d, the file has %d of which %d are device %d.%d's", s.Records, s.Ignored, len(recs), mine, tr.Bus, tr.Address)
	}
	var rx, tx, rxb, txb, rxt, txt, stalls int
	last := -1
	for _, f := range tr.Frames {
		if f.Record < last {
			t.Errorf("frames out of record order: %d after %d", f.Record, last)
		}
		last = f.Record
		if f.Length < len(f.Data) || f.Length < 14 && !f.Truncated() {
			t.Errorf("frame at record %d: %d of %d bytes", f.Record, len(f.Data), f.Length)
		}
		if f.Dir == decode.RX {
			rx, rxb = rx+1, rxb+f.Length
			if f.Truncated() {
				rxt++
			}
		} else {
			tx, txb = tx+1, txb+f.Length
			if f.Truncated() {
				txt++
			}
		}
	}
	if s.RxFrames != rx || s.TxFrames != tx || s.RxBytes != rxb || s.TxBytes != txb {
		t.Errorf("stats RX %d/%dB TX %d/%dB, frames RX %d/%dB TX %d/%dB", s.RxFrames, s.RxBytes, s.TxFrames, s.TxBytes, rx, rxb, tx, txb)
	}
	if s.RxTruncated != rxt || s.TxTruncated < txt {
		t.Errorf("truncated RX %d TX %d, frames cut RX %d TX %d", s.RxTruncated, s.TxTruncated, rxt, txt)
	}
	for _, c := range tr.Controls {
		if c.Stalled() {
			stalls++
		}
		if c.Name == "" {
			t.Errorf("control request at record %d has no name", c.Record)
		}
	}
	if s.Controls != len(tr.Controls) || s.Stalls != stalls {
		t.Errorf("Controls %d Stalls %d, list %d stalled %d", s.Controls, s.Stalls, len(tr.Controls), stalls)
	}
	var rxe, txe int
	for _, e := range tr.Errors {
		if e.Dir == decode.RX {
			rxe++
		} else {
			txe++
		}
	}
	if s.RxErrors != rxe || s.TxErrors != txe {
		t.Errorf("errors RX %d TX %d, list RX %d TX %d", s.RxErrors, s.TxErrors, rxe, txe)
	}
	if s.RxTransfers < 1 || s.URBs < s.Controls {
		t.Errorf("transfers %d URBs %d controls %d", s.RxTransfers, s.URBs, s.Controls)
	}
}

// TestFailedRxURBsAreDropped: bulk IN URBs that completed with an error
// deliver nothing, as Linux's usbnet rx_complete drops them
// (fixtures/failure-rx-overflow.pcap: four 100-byte URBs completing
// -EOVERFLOW with 100 bytes each), and are counted.
func TestFailedRxURBsAreDropped(t *testing.T) {
	tr, err := decode.ReadFile("../../fixtures/failure-rx-overflow.pcap", decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Stats
	if s.RxFrames != 0 || s.RxBytes != 0 || s.RxTransfers != 0 || s.RxDropped != 4 || s.RxOverErrors != 4 || s.Failed != 4 {
		t.Errorf("stats %+v: want no RX frame, 4 URBs dropped, 4 overflows, 4 failed", s)
	}
	// A failure with no data (an error storm's -EPROTO) is no drop.
	tr, err = decode.ReadFile("../../fixtures/failure-error-storm.pcap", decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxDropped != 0 || tr.Stats.RxOverErrors != 0 || tr.Stats.Failed != 23 || tr.Stats.RxFrames == 0 {
		t.Errorf("error storm stats %+v: want 23 failed, none dropped, frames decoded", tr.Stats)
	}
}
