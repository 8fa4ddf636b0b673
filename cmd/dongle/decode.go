package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"dongle/cmd/dongle/internal/progress"
	"dongle/usbnet/catalog"
	"dongle/usbnet/decode"
)

func init() {
	register("decode", "Ethernet frames out of a usbmon or USBPcap trace (-o FRAMES.pcap)", runDecode)
}

func runDecode(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("decode", stderr)
	out := fs.String("o", "", "write the Ethernet frames to this pcap (link type 1), as they are found")
	drv := fs.String("driver", "", "protocol: "+catalog.Names()+" (default: from the trace's descriptors, as Probe matches)")
	device := fs.String("device", "", "the device at BUS.ADDR (default: the one network adapter in the trace; the summary lists them all)")
	progressFlag := fs.String("progress", "auto", "a progress line on stdout: auto (when stdout is a terminal), always, never")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "dongle decode: usage: dongle decode [--driver=DRIVER] [--device=BUS.ADDR] TRACE -o FRAMES.pcap")
		return 2
	}
	opts := decode.Options{Driver: *drv, Device: *device}
	var line *progress.Line
	switch *progressFlag {
	case "always":
		line = progress.Forced(stdout, true)
	case "auto":
		line = progress.New(stdout)
	case "never":
	default:
		fmt.Fprintf(stderr, "dongle decode: --progress %q: want auto, always or never\n", *progressFlag)
		return 2
	}
	if line.On() {
		opts.Progress = progressLine(line, pos[0])
	}
	var f *os.File
	var w *bufio.Writer
	if *out != "" {
		// Frames stream to the file as they are found: memory stays
		// bounded whatever the trace's size.
		if f, err = os.Create(*out); err != nil {
			return fail(stderr, "decode", err)
		}
		w = bufio.NewWriterSize(f, 1<<16)
		pw := pcapgo.NewWriter(w)
		if err := pw.WriteFileHeader(decode.Snaplen, layers.LinkTypeEthernet); err != nil {
			f.Close()
			return fail(stderr, "decode", fmt.Errorf("%s: %w", *out, err))
		}
		opts.Emit = func(fr *decode.Frame) error {
			ci := gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(fr.Data), Length: fr.Length}
			return pw.WritePacket(ci, fr.Data)
		}
	} else {
		opts.Emit = func(*decode.Frame) error { return nil } // counted, not kept
	}
	tr, err := decode.ReadFile(pos[0], opts)
	line.Clear()
	if f != nil {
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s: %w", *out, cerr)
		}
	}
	if err != nil {
		return fail(stderr, "decode", err)
	}
	printDecode(stdout, pos[0], *out, tr)
	return 0
}

// progressLine shows how far the two passes over the file are.
func progressLine(line *progress.Line, path string) func(int, int64) {
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	return func(pass int, n int64) {
		if !line.Due() {
			return
		}
		what := "finding the devices and configurations"
		if pass == 2 {
			what = "decoding frames"
		}
		if size > 0 && n <= size {
			line.Printf("decode: pass %d/2, %s: %d%% (%d of %d MB)", pass, what, n*100/size, n>>20, size>>20)
		} else {
			line.Printf("decode: pass %d/2, %s: %d MB", pass, what, n>>20)
		}
	}
}

// shownSelections bounds the configuration changes the summary prints.
const shownSelections = 20

func printDecode(w io.Writer, in, out string, tr *decode.Trace) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	dev := "no device descriptor in the trace"
	if tr.Device != nil {
		dev = fmt.Sprintf("%04x:%04x", tr.Device.Vendor, tr.Device.Product)
	}
	p("%s: %d records, %d URBs of device %d.%d, %s; driver %s (from %s)", in, tr.Stats.Records, tr.Stats.URBs, tr.Bus, tr.Address, dev, tr.Driver, tr.DriverFrom)
	if len(tr.Devices) > 1 {
		p("devices in the trace (%d records of the others ignored; pick another with --device BUS.ADDR):", tr.Stats.Ignored)
		for _, d := range tr.Devices {
			mark := " "
			if d.Selected {
				mark = "*"
			}
			p(" %s %s", mark, d)
		}
	}
	if len(tr.Selections) > 1 {
		p("configurations the host selected:")
		for _, s := range tr.Selections {
			p("  %s", s.String())
		}
	}
	if tr.MAC != nil {
		p("MAC %s; data %v / %v, wMaxPacketSize %d", tr.MAC, tr.In, tr.Out, tr.Out.MaxPacketSize)
	}
	s := tr.Stats
	p("frames: RX %d (%d bytes, %d transfers)  TX %d (%d bytes, %d transfers)", s.RxFrames, s.RxBytes, s.RxTransfers, s.TxFrames, s.TxBytes, s.TxTransfers)
	p("framing errors: RX %d TX %d; truncated by the capture: RX %d TX %d; ZLPs %d; pad bytes removed %d; URBs pending at the end %d",
		s.RxErrors, s.TxErrors, s.RxTruncated, s.TxTruncated, s.ZLPs, s.TxPads, s.Pending)
	if s.RxDropped > 0 {
		p("bulk IN URBs dropped, completed with an error status: %d (-EOVERFLOW %d)", s.RxDropped, s.RxOverErrors)
	}
	for _, e := range tr.Errors {
		p("  %v", e)
	}
	if len(tr.Damage) > 0 {
		p("damaged records skipped (%d):", s.Damaged)
		for _, d := range tr.Damage {
			p("  %s", d)
		}
	}
	p("control requests (%d, %d stalled):", s.Controls, s.Stalls)
	for _, c := range tr.Controls {
		st := ""
		switch {
		case c.Pending:
			st = " (no completion)"
		case c.Stalled():
			st = " STALLED"
		case c.Status != 0:
			st = fmt.Sprintf(" status %d", c.Status)
		}
		p("  %4d %s%s", c.Record+1, c.Name, st)
	}
	p("link events (%d interrupt transfers):", s.Notifications)
	for _, l := range tr.Links {
		st := "down"
		if l.Up {
			st = "up"
		}
		if l.Mbps > 0 {
			st += fmt.Sprintf(" %d Mbit/s", l.Mbps)
		}
		p("  %4d link %s", l.Record+1, st)
	}
	for _, a := range tr.Anomalies {
		p("note: %s", a)
	}
	if s.MoreAnomalies > 0 {
		p("note: %d more notes not listed", s.MoreAnomalies)
	}
	if out != "" {
		p("wrote %d frames to %s", s.RxFrames+s.TxFrames, out)
	}
}
