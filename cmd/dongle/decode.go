package main

import (
	"bufio"
	"dongle/usbnet/catalog"
	"fmt"
	"io"
	"os"

	"dongle/usbnet/decode"
)

func init() {
	register("decode", "Ethernet frames out of a usbmon trace (-o FRAMES.pcap)", runDecode)
}

func runDecode(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("decode", stderr)
	out := fs.String("o", "", "write the Ethernet frames to this pcap (link type 1)")
	drv := fs.String("driver", "", "protocol: "+catalog.Names()+" (default: from the trace's descriptors, as Probe matches)")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "dongle decode: usage: dongle decode [--driver=DRIVER] TRACE -o FRAMES.pcap")
		return 2
	}
	tr, err := decode.ReadFile(pos[0], decode.Options{Driver: *drv})
	if err != nil {
		return fail(stderr, "decode", err)
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fail(stderr, "decode", err)
		}
		w := bufio.NewWriter(f)
		err = tr.WritePcap(w)
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(stderr, "decode", fmt.Errorf("%s: %w", *out, err))
		}
	}
	printDecode(stdout, pos[0], *out, tr)
	return 0
}

func printDecode(w io.Writer, in, out string, tr *decode.Trace) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	dev := "no device descriptor in the trace"
	if tr.Device != nil {
		dev = fmt.Sprintf("%04x:%04x", tr.Device.Vendor, tr.Device.Product)
	}
	p("%s: %d records, %d URBs, %s; driver %s (from %s)", in, tr.Stats.Records, tr.Stats.URBs, dev, tr.Driver, tr.DriverFrom)
	if tr.MAC != nil {
		p("MAC %s; data %v / %v, wMaxPacketSize %d", tr.MAC, tr.In, tr.Out, tr.Out.MaxPacketSize)
	}
	s := tr.Stats
	p("frames: RX %d (%d bytes, %d transfers)  TX %d (%d bytes, %d transfers)", s.RxFrames, s.RxBytes, s.RxTransfers, s.TxFrames, s.TxBytes, s.TxTransfers)
	p("framing errors: RX %d TX %d; truncated by the capture: RX %d TX %d; ZLPs %d; URBs pending at the end %d",
		s.RxErrors, s.TxErrors, s.RxTruncated, s.TxTruncated, s.ZLPs, s.Pending)
	for _, e := range tr.Errors {
		p("  %v", e)
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
	if out != "" {
		p("wrote %d frames to %s", len(tr.Frames), out)
	}
}
