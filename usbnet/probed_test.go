package usbnet_test

import (
	"io"
	"testing"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// probed probes dev with drv and registers the teardown: before (if not
// nil), then Disconnect, then under's Close (the backend the test made,
// which Disconnect leaves open).
func probed(tb testing.TB, dev hw.Device, drv usbnet.Minidriver, under io.Closer, before func()) *usbnet.Dev {
	tb.Helper()
	d, err := usbnet.Probe(dev, drv)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if before != nil {
			before()
		}
		if err := d.Disconnect(); err != nil {
			tb.Error(err)
		}
		if err := under.Close(); err != nil {
			tb.Error(err)
		}
	})
	return d
}

// waitCarrier fails tb unless d's carrier comes on within the time given.
func waitCarrier(tb testing.TB, d *usbnet.Dev, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !d.Net.Carrier() {
		if time.Now().After(deadline) {
			tb.Fatalf("no carrier in %v", within)
		}
		time.Sleep(time.Millisecond)
	}
}
