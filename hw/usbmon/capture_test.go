package usbmon_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw/usbmon"
	"dongle/hw/usbmon/usbmontest"
)

// captureUntilQuiet runs Capture on src and cancels it once the source has
// handed out everything (the "Ctrl-C" of the command line).
func captureUntilQuiet(t *testing.T, src *usbmontest.Source, opts usbmon.CaptureOptions) (usbmon.CaptureStats, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-src.Waiting:
			cancel()
		case <-ctx.Done():
		}
	}()
	var out bytes.Buffer
	w, err := usbmon.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := usbmon.Capture(ctx, src, w, opts)
	return st, out.Bytes(), err
}

// A real trace fed through the capture path comes out record for record
// (in the kernel's len_cap convention), and tshark reads the same count.
func TestCaptureFixtureRoundTrip(t *testing.T) {
	g := gomega.NewWithT(t)
	before := gleak.Goroutines()
	recs := readFixture(t, "qemu-usbnet-cdc_ether.pcap")
	st, pcap, err := captureUntilQuiet(t, usbmontest.New(recs, 5), usbmon.CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != len(recs) || st.Dropped != 5 || st.Filtered != 0 {
		t.Fatalf("stats %+v for %d records", st, len(recs))
	}
	if !strings.Contains(st.String(), "5 dropped") {
		t.Fatalf("stats line %q does not give the dropped count", st)
	}
	back, lt, err := usbmon.ReadAll(bytes.NewReader(pcap))
	if err != nil || lt != usbmon.LinkTypeMmapped || len(back) != len(recs) {
		t.Fatalf("re-read: %d records, %v, %v", len(back), lt, err)
	}
	same(t, recs, back, true)
	g.Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(before))
	if _, err := exec.LookPath("tshark"); err == nil {
		path := filepath.Join(t.TempDir(), "capture.pcap")
		if err := os.WriteFile(path, pcap, 0o644); err != nil {
			t.Fatal(err)
		}
		if n, _ := tsharkKinds(t, path); n != len(recs) {
			t.Fatalf("tshark reads %d records, want %d", n, len(recs))
		}
	}
}

func ev(dev uint8, ep uint8, data []byte) usbmon.Record {
	return usbmon.Record{ID: 1, Type: usbmon.Submit, XferType: usbmon.XferBulk, Endpoint: ep, Device: dev, Bus: 1,
		FlagSetup: usbmon.FlagNoSetup, Length: uint32(len(data)), Data: data}
}

func TestCaptureDeviceFilter(t *testing.T) {
	recs := []usbmon.Record{ev(2, 1, []byte{1}), ev(3, 1, []byte{2}), ev(2, 2, []byte{3}), ev(3, 2, []byte{4}), ev(3, 1, []byte{5})}
	st, pcap, err := captureUntilQuiet(t, usbmontest.New(recs, 0), usbmon.CaptureOptions{Device: 3})
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := usbmon.ReadAll(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, r := range back {
		if r.Device != 3 {
			t.Fatalf("record of device %d kept", r.Device)
		}
		got = append(got, r.Data...)
	}
	if !bytes.Equal(got, []byte{2, 4, 5}) || st.Filtered != 2 || st.Written != 3 {
		t.Fatalf("kept %v, stats %+v", got, st)
	}
	// The other device, and every device (Device 0), from fresh sources.
	for _, c := range []struct {
		dev               uint8
		written, filtered int
	}{{2, 2, 3}, {0, 5, 0}} {
		st, pcap, err := captureUntilQuiet(t, usbmontest.New(recs, 0), usbmon.CaptureOptions{Device: c.dev})
		if err != nil || st.Written != c.written || st.Filtered != c.filtered {
			t.Fatalf("Device %d: %+v, %v; want %d written, %d filtered", c.dev, st, err, c.written, c.filtered)
		}
		back, _, err := usbmon.ReadAll(bytes.NewReader(pcap))
		if err != nil || len(back) != c.written {
			t.Fatalf("Device %d: re-read %d records, %v", c.dev, len(back), err)
		}
		for _, r := range back {
			if c.dev != 0 && r.Device != c.dev {
				t.Fatalf("Device %d: record of device %d kept", c.dev, r.Device)
			}
		}
	}
}

func mustWriter(t *testing.T) *usbmon.Writer {
	w, err := usbmon.NewWriter(&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCaptureBadEvents(t *testing.T) {
	good := usbmon.Encode(&[]usbmon.Record{ev(2, 1, []byte{1, 2, 3})}[0])
	lying := append([]byte(nil), good...)
	lying[36] = 1 // len_cap 1 but 3 data bytes follow
	short := append([]byte(nil), good[:len(good)-2]...)
	for _, c := range []struct {
		name   string
		events [][]byte
		target any
		words  []string
	}{
		{"truncated header", [][]byte{good, good[:40]}, new(*usbmon.TruncatedError), []string{"kernel event 1", "header", "needs 64 bytes, have 40"}},
		{"len_cap below the data", [][]byte{lying}, new(*usbmon.FieldError), []string{"kernel event 0", "len_cap"}},
		{"data shorter than len_cap", [][]byte{good, short}, new(*usbmon.TruncatedError), []string{"kernel event 1", "data", "needs 3 bytes, have 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := usbmon.Capture(ctx, usbmontest.NewRaw(c.events, 0), mustWriter(t), usbmon.CaptureOptions{})
			if err == nil || !errors.As(err, c.target) {
				t.Fatalf("error %v, want %T", err, c.target)
			}
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("source fails", func(t *testing.T) {
		gone := errors.New("bus went away")
		st, err := usbmon.Capture(context.Background(), usbmontest.NewRaw([][]byte{good}, 0).FailAfter(gone), mustWriter(t), usbmon.CaptureOptions{})
		if !errors.Is(err, gone) || st.Written != 1 || !strings.Contains(err.Error(), "after 1 events") {
			t.Fatalf("%+v, %v", st, err)
		}
	})
}
