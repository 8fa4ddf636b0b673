package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// bigTrace repeats the echo fixture past two decode.ProgressEvery records,
// so that decode reports progress in both passes.
func bigTrace(t *testing.T) string {
	t.Helper()
	recs, _, err := usbmon.ReadFile(echoTrace)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	w, err := usbmon.NewWriter(bw)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= 2*decode.ProgressEvery; {
		for i := range recs {
			if err := w.Write(&recs[i]); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// decode's progress line: on stdout when asked for (always), never off a
// terminal by default (auto), and blanked before the summary.
func TestDecodeProgress(t *testing.T) {
	big := bigTrace(t)
	code, out, e := run(t, "decode", "--progress=always", big)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	first, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(first, "\rdecode: pass 1/2, finding the devices") || !strings.Contains(first, "\r"+strings.Repeat(" ", len("decode: pass 1/2"))) {
		t.Errorf("--progress=always: no line drawn and blanked on stdout before the summary: %q", first)
	}
	code, out, e = run(t, "decode", big)
	if code != 0 || strings.Contains(out+e, "\r") {
		t.Errorf("auto off a terminal: exit %d, a progress line in %q %q", code, out[:min(len(out), 200)], e)
	}
}
