package decode

import (
	"fmt"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Snaplen is the snapshot length written in the Ethernet pcap header: larger
// than any frame the drivers accept (AX88179 jumbo frames included).
const Snaplen = 65535

// WritePcap writes the frames as a standard Ethernet pcap (link type 1) with
// their original timestamps, in trace order. A frame the capture cut is
// written like a snaplen-cut record: CaptureLength < Length.
func (t *Trace) WritePcap(w io.Writer) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("ethernet pcap header: %w", err)
	}
	for i := range t.Frames {
		f := &t.Frames[i]
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: f.Length}
		if err := pw.WritePacket(ci, f.Data); err != nil {
			return fmt.Errorf("ethernet pcap: frame %d: %w", i+1, err)
		}
	}
	return nil
}
