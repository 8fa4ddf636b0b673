package decode_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// benchRecords is the size of the benchmark's capture: the issue's
// "2 million records".
const benchRecords = 2_000_000

// bigCapture writes (once, into the OS temp directory, where the CLI can
// be measured on it too: dongle decode, tshark) a capture of about
// benchRecords records made by repeating the QEMU usb-net echo fixture.
func bigCapture(b *testing.B) (string, int) {
	b.Helper()
	recs, _, err := usbmon.ReadFile(echoTrace)
	if err != nil {
		b.Fatal(err)
	}
	reps := benchRecords / len(recs)
	n := reps * len(recs)
	path := filepath.Join(os.TempDir(), "dongle-bench-"+strconv.Itoa(n)+".pcap")
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path, n
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := usbmon.NewWriter(bw)
	if err != nil {
		b.Fatal(err)
	}
	for r := 0; r < reps; r++ {
		for i := range recs {
			if err := w.Write(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path, n
}

// peakRSS is the process's peak resident set (VmHWM), in bytes; reset
// clears it first (Linux: /proc/self/clear_refs).
func peakRSS(reset bool) int64 {
	if reset {
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		return 0
	}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// BenchmarkDecodeBigFile decodes a ~2-million-record capture the way
// `dongle decode -o` does (frames streamed to a sink) and reports
// records/s and the process's peak RSS during the decode. Compare with
// tshark on the same file:
//
//	go test -run XXX -bench DecodeBigFile -benchtime 1x ./usbnet/decode
//	time tshark -r $TMPDIR/dongle-bench-*.pcap -T fields -e frame.number > /dev/null
func BenchmarkDecodeBigFile(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: writes and decodes a 238 MB capture; tools/test.sh runs it once on its own (-benchtime 1x)")
	}
	path, n := bigCapture(b)
	frames := 0
	opts := decode.Options{Emit: func(*decode.Frame) error { frames++; return nil }}
	peakRSS(true)
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		frames = 0
		tr, err := decode.ReadFile(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		if tr.Stats.Records+tr.Stats.Ignored != n || frames != tr.Stats.RxFrames+tr.Stats.TxFrames || frames == 0 {
			b.Fatalf("decoded %d+%d of %d records, %d frames", tr.Stats.Records, tr.Stats.Ignored, n, frames)
		}
	}
	b.StopTimer()
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(n)*float64(b.N)/el, "records/s")
	b.ReportMetric(float64(peakRSS(false))/(1<<20), "peak-RSS-MB")
}
