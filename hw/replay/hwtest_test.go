package replay_test

import (
	"os"
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
	t.Run("record", func(t *testing.T) {
		hwtest.Run(t, func(t *testing.T) hw.Device {
			path := filepath.Join(dir, t.Name()[strings.LastIndex(t.Name(), "/")+1:]+".pcap")
			d, err := record.Create(recordtest.NewEcho(), path, record.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, hwtest.Options{})
	})
	t.Run("replay", func(t *testing.T) {
		hwtest.Run(t, func(t *testing.T) hw.Device {
			path := filepath.Join(dir, t.Name()[strings.LastIndex(t.Name(), "/")+1:]+".pcap")
			if _, err := os.Stat(path); err != nil {
				t.Skipf("strict replay needs the trace the record run of this subtest writes, and there is none (that run skipped or failed): %v", err)
			}
			if recs, _, err := usbmon.ReadFile(path); err == nil && len(recs) == 0 {
				t.Skip("the record run of this subtest skipped before touching the bus: an empty trace has nothing to replay")
			}
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
		}, hwtest.Options{})
	})
}
