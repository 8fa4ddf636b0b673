package replay_test

import (
	"path/filepath"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/hwtest"
	"dongle/hw/record"
	"dongle/hw/record/recordtest"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// TestConformanceModel runs the conformance set against model replays of
// the echo capture. A replay cannot echo (its IN data is the recording's),
// and its IN transfers complete by themselves while recorded data lasts.
func TestConformanceModel(t *testing.T) {
	recs, _, err := usbmon.ReadFile(fixture("qemu-usbnet-gousb-echo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	hwtest.Run(t, func(t *testing.T) hw.Device {
		d, err := replay.NewModel(recs, replay.ModelOptions{Name: "echo", Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, hwtest.Options{
		NoLoopback:  "a model replay answers with the recorded IN data, not what was sent",
		NoPendingIn: "a model replay completes IN transfers from the recording while it lasts",
	})
}

// TestConformanceStrict records every conformance subtest against the echo
// device, then runs the conformance set again against strict replays of
// those recordings: the same driver (hwtest) must get the same answers.
func TestConformanceStrict(t *testing.T) {
	dir := t.TempDir()
	// The fault subtests inject faults through hwtest.Faulter, which the echo
	// device behind the recorder does not offer: there is no fault to record,
	// so none to replay. Replaying recorded faults is tested from
	// recordings that have them ("Model replay of recorded faults").
	opts := hwtest.Options{NoFaults: "the echo device behind the recorder injects no faults (no hwtest.Faulter): nothing to record here, so nothing to replay; recorded faults are replayed in \"Model replay of recorded faults\""}
	t.Run("record", func(t *testing.T) {
		hwtest.Run(t, func(t *testing.T) hw.Device {
			path := filepath.Join(dir, t.Name()[strings.LastIndex(t.Name(), "/")+1:]+".pcap")
			d, err := record.Create(recordtest.NewEcho(), path, record.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, opts)
	})
	t.Run("replay", func(t *testing.T) {
		hwtest.Run(t, func(t *testing.T) hw.Device {
			path := filepath.Join(dir, t.Name()[strings.LastIndex(t.Name(), "/")+1:]+".pcap")
			d, err := replay.Open(path, replay.ModelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s, ok := d.(*replay.Strict)
			if !ok {
				t.Fatalf("%s: Open did not pick strict replay", path)
			}
			t.Cleanup(func() {
				if err := s.Err(); err != nil {
					t.Errorf("strict replay diverged: %v", err)
				}
			})
			return s
		}, opts)
	})
}
