package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"dongle/cmd/dongle/internal/progress"
	"dongle/cmd/dongle/internal/target"
	"dongle/hw/record"
	"dongle/hw/sim"
	"dongle/skbuff"
	"dongle/usbnet"
)

func init() {
	register("record", "drive an adapter through a scenario, recording usbmon (-o FILE); --usbmon BUS records the kernel's own USB traffic", runRecord)
}

// testEtherType marks dongle's own frames (IEEE 802 local experimental 1).
const testEtherType = 0x88b5

// peerMAC is the source address of frames the model's wire sends.
var peerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc}

func runRecord(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("record", stderr)
	out := fs.String("o", "", "usbmon pcap to write (required)")
	scenario := fs.String("scenario", "bringup", "bringup, traffic or soak")
	frames := fs.Int("frames", 100, "frames each way (traffic)")
	duration := fs.Duration("duration", 10*time.Second, "how long to run traffic (soak scenario, default 10s); with --usbmon, how long to capture (unset: until Ctrl-C)")
	bus := fs.Int("usbmon", -1, "capture the kernel's own USB traffic from /dev/usbmonBUS (0: every bus) instead of driving an adapter")
	dev := fs.Int("dev", 0, "with --usbmon: keep only this device address (0: every device)")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if set := setFlags(fs); set["usbmon"] || set["dev"] {
		return runRecordUsbmon(usbmonArgs{out: *out, bus: *bus, dev: *dev, duration: *duration, pos: pos, set: set}, stdout, stderr)
	}
	if *out == "" || len(pos) != 1 {
		fmt.Fprintln(stderr, "dongle record: usage: dongle record -o FILE [--scenario=bringup|traffic|soak] [--frames N] DEVICE, or dongle record --usbmon BUS [--dev ADDR] [--duration D] -o FILE")
		return 2
	}
	switch *scenario {
	case "bringup", "traffic", "soak":
	default:
		fmt.Fprintf(stderr, "dongle record: unknown scenario %q (bringup, traffic or soak)\n", *scenario)
		return 2
	}
	if !target.IsSelector(pos[0]) {
		fmt.Fprintf(stderr, "dongle record: %q is not a device (usb, usb:VID:PID, usb:BUS.ADDR, %s)\n", pos[0], strings.Join(target.SimModels(), ", "))
		return 2
	}
	t, err := openTarget(pos[0])
	if err != nil {
		return fail(stderr, "record", err)
	}
	defer t.Close()
	rec, err := record.Create(t.HW, *out, record.Options{})
	if err != nil {
		return fail(stderr, "record", err)
	}
	res, err := runScenario(t, rec, *scenario, *frames, *duration, progress.New(stdout))
	if cerr := rec.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the trace %s: %w", *out, cerr)
	}
	if err != nil {
		return fail(stderr, "record", err)
	}
	fmt.Fprintf(stdout, "recorded %s (%s) to %s: %s\n", t.Name, *scenario, *out, res)
	return 0
}

// runScenario probes the driver on the recording device and runs the
// scenario; the driver is disconnected before it returns.
func runScenario(t *target.Target, dev *record.Device, scenario string, n int, dur time.Duration, line *progress.Line) (string, error) {
	d, err := usbnet.Probe(dev, t.Drivers...)
	if err != nil {
		return "", err
	}
	defer d.Disconnect()
	var rx atomic.Int64
	remove := d.Net.AddHandler(testEtherType, func(b *skbuff.Buff) {
		b.Free(skbuff.FreeRead)
		rx.Add(1)
	})
	defer remove()
	var capt *sim.Capture
	if t.Peer != nil {
		capt = sim.NewCapture()
		t.Peer.Attach(capt)
	}
	if err := d.Net.Open(); err != nil {
		return "", err
	}
	defer d.Net.Close()
	deadline := time.Now().Add(3 * time.Second)
	for !d.Net.Carrier() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	link := "link down"
	if d.Net.Carrier() {
		link = "link up"
	}
	if scenario == "bringup" {
		return fmt.Sprintf("%s bound, MAC %s, %s", d.Driver.Name(), d.Net.HardwareAddr(), link), nil
	}
	if !d.Net.Carrier() {
		return "", errors.New("no carrier after 3 s: cannot run traffic")
	}
	total, end := n, time.Time{}
	if scenario == "soak" {
		total, end = 0, time.Now().Add(dur)
	}
	sent, injected := 0, 0
	for i := 0; total == 0 && time.Now().Before(end) || i < total; i++ {
		size := 60 + i%64
		b := skbuff.Alloc(size)
		f := b.Put(size)
		testFrame(f, broadcast, d.Net.HardwareAddr(), i)
		b.Protocol = testEtherType
		if err := d.Net.Xmit(b); err == nil {
			sent++
		}
		if t.Peer != nil {
			g := make([]byte, 60+i%64)
			testFrame(g, broadcast, peerMAC, i)
			if t.Peer.Send(g) {
				injected++
			}
		}
		if line.Due() {
			if total > 0 {
				line.Printf("record %s: frame %d of %d", scenario, i+1, total)
			} else {
				line.Printf("record %s: %v of %v, %d frames", scenario, time.Since(end.Add(-dur)).Round(time.Second), dur, i+1)
			}
		}
		if i%16 == 15 {
			time.Sleep(time.Millisecond) // let the bottom halves run
		}
	}
	wait := time.Now().Add(2 * time.Second)
	for time.Now().Before(wait) {
		if t.Peer != nil && int(rx.Load()) >= injected && capt.Len() >= sent {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	line.Done("")
	if t.Peer != nil {
		return fmt.Sprintf("%s, TX %d sent / %d on the wire, RX %d injected / %d received", link, sent, capt.Len(), injected, rx.Load()), nil
	}
	return fmt.Sprintf("%s, TX %d broadcast test frames (EtherType %#04x), %d came back", link, sent, testEtherType, rx.Load()), nil
}

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// testFrame fills f with a test frame: dst, src, EtherType 0x88b5, the
// sequence number, then a pattern.
func testFrame(f []byte, dst, src net.HardwareAddr, seq int) {
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], testEtherType)
	binary.BigEndian.PutUint32(f[14:], uint32(seq))
	for i := 18; i < len(f); i++ {
		f[i] = byte(i + seq)
	}
}
