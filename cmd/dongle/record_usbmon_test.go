package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dongle/hw/usbmon"
	"dongle/hw/usbmon/usbmontest"
)

// fakeUsbmon makes --usbmon read src (and records which bus was asked for).
func fakeUsbmon(t *testing.T, src usbmon.Source, err error) *int {
	t.Helper()
	bus := -1
	old := openUsbmon
	openUsbmon = func(b int) (usbmon.Source, error) {
		bus = b
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	t.Cleanup(func() { openUsbmon = old })
	return &bus
}

func TestRecordUsbmon(t *testing.T) {
	recs, _, err := usbmon.ReadFile(cdcTrace)
	if err != nil {
		t.Fatal(err)
	}
	// Mark every third record as another device's.
	want := 0
	for i := range recs {
		recs[i].Device = 5
		if i%3 == 0 {
			recs[i].Device = 9
		} else {
			want++
		}
	}
	src := usbmontest.New(recs, 3)
	bus := fakeUsbmon(t, src, nil)
	out := filepath.Join(t.TempDir(), "kernel.pcap")
	t0 := time.Now()
	code, stdout, stderr := run(t, "record", "--usbmon", "2", "--dev", "5", "--duration", "300ms", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if d := time.Since(t0); d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("a 300ms capture took %v", d)
	}
	if *bus != 2 || !src.Closed() {
		t.Errorf("opened bus %d, closed %v", *bus, src.Closed())
	}
	for _, w := range []string{fmt.Sprintf("%d events captured", want), fmt.Sprintf("(%d of other devices skipped)", len(recs)-want), "3 dropped by the kernel", "warning: the kernel dropped 3"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout %q lacks %q", stdout, w)
		}
	}
	got, _, err := usbmon.ReadFile(out)
	if err != nil || len(got) != want {
		t.Fatalf("the capture holds %d records (%v), want %d", len(got), err, want)
	}
}

func TestRecordUsbmonBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pcap")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--usbmon", "1"}, []string{"usage", "--usbmon BUS"}},
		{[]string{"--usbmon", "1", "-o", out, "usb"}, []string{"usage"}},
		{[]string{"--usbmon", "-3", "-o", out}, []string{"--usbmon -3", "bus number"}},
		{[]string{"--usbmon", "1", "--dev", "200", "-o", out}, []string{"--dev 200", "device address"}},
		{[]string{"--dev", "3", "-o", out}, []string{"--dev needs --usbmon"}},
		{[]string{"--usbmon", "1", "--scenario", "soak", "-o", out}, []string{"--scenario"}},
		{[]string{"--usbmon", "1", "--duration", "-1s", "-o", out}, []string{"--duration -1s"}},
	} {
		code, _, e := run(t, append([]string{"record"}, c.args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		oneLineError(t, code, e, c.want...)
	}
	// The node's own errors reach the user with the hint, in one line.
	nodeErr := &usbmon.LiveError{Path: "/dev/usbmon4", Op: "open", Err: fs.ErrNotExist, Hint: "the usbmon module is not loaded: run 'modprobe usbmon'"}
	fakeUsbmon(t, nil, nodeErr)
	code, _, e := run(t, "record", "--usbmon", "4", "-o", out)
	oneLineError(t, code, e, "/dev/usbmon4", "modprobe usbmon")
	// A source that fails mid-capture: exit 1, the partial file is kept.
	gone := errors.New("bus went away")
	fakeUsbmon(t, usbmontest.NewRaw(nil, 0).FailAfter(gone), nil)
	code, stdout, e := run(t, "record", "--usbmon", "4", "-o", out)
	oneLineError(t, code, e, "bus went away")
	if !strings.Contains(stdout, "partial capture in "+out) {
		t.Errorf("stdout %q", stdout)
	}
	if recs, _, err := usbmon.ReadFile(out); err != nil || len(recs) != 0 {
		t.Errorf("partial file: %d records, %v", len(recs), err)
	}
}
