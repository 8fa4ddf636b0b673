package usbmon

import (
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Writer writes records as a pcap file of link type 220, the format
// "tshark -r" and dongle's Reader both open. It does no buffering of its
// own: give it a bufio.Writer and flush that.
type Writer struct {
	w   *pcapgo.Writer
	buf []byte
}

// NewWriter writes the pcap file header (link type 220, microsecond
// timestamps, snaplen MaxRecordLen) to w.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(MaxRecordLen, layers.LinkType(LinkTypeMmapped)); err != nil {
		return nil, err
	}
	return &Writer{w: pw}, nil
}

// Write appends one record. The pcap timestamp is the record's. It does not
// allocate once its buffer has grown to the largest record.
func (w *Writer) Write(r *Record) error {
	w.buf = AppendEncode(w.buf[:0], r)
	n := len(w.buf)
	if n > MaxRecordLen {
		n = MaxRecordLen
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(r.TsSec, int64(r.TsUsec)*1000), CaptureLength: n, Length: len(w.buf)}
	return w.w.WritePacket(ci, w.buf[:n])
}
