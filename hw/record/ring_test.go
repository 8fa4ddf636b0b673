package record_test

import (
	"bytes"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/record"
	"dongle/hw/usbmon"
)

// ringRecords writes n bulk records of size bytes each (record i carries i
// in its first data byte and its id) through a usbmon.Writer into w.
func ringRecords(w *usbmon.Writer, from, n, size int) {
	GinkgoHelper()
	data := make([]byte, size)
	for i := from; i < from+n; i++ {
		data[0] = byte(i)
		r := usbmon.Record{ID: uint64(i), Type: usbmon.Complete, XferType: usbmon.XferBulk, Endpoint: 0x81, Length: uint32(size), Data: data}
		r.SetTime(time.Unix(1700000000, 0))
		Expect(w.Write(&r)).To(Succeed())
	}
}

var _ = Describe("Ring", func() {
	It("refuses a capacity below one largest record", func() {
		_, err := record.NewRing(record.MinRingBytes - 1)
		Expect(errors.Is(err, record.ErrRingTooSmall)).To(BeTrue(), "%v", err)
	})

	It("keeps the newest whole records and writes them as a pcap file", func() {
		ring, err := record.NewRing(record.MinRingBytes)
		Expect(err).NotTo(HaveOccurred())
		w, err := usbmon.NewWriter(ring.Stream())
		Expect(err).NotTo(HaveOccurred())
		// 64 KiB records: 16 fit in the ring's 1 MiB and a bit, 100 are written.
		const size = 64 << 10
		ringRecords(w, 0, 100, size)
		var out bytes.Buffer
		_, err = ring.WriteTo(&out)
		Expect(err).NotTo(HaveOccurred())
		recs, _, err := usbmon.ReadAll(&out)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(recs)).To(Equal(ring.Records()))
		Expect(ring.Evicted()).To(BeEquivalentTo(100 - len(recs)))
		Expect(len(recs)).To(BeNumerically(">=", 15))
		for i, r := range recs {
			want := 100 - len(recs) + i
			Expect(r.ID).To(BeEquivalentTo(want), "record %d", i)
			Expect(r.Data).To(HaveLen(size))
			Expect(r.Data[0]).To(Equal(byte(want)))
		}
	})

	It("joins a second recorder's stream without its file header", func() {
		ring, err := record.NewRing(record.MinRingBytes)
		Expect(err).NotTo(HaveOccurred())
		for s := 0; s < 2; s++ {
			w, err := usbmon.NewWriter(ring.Stream())
			Expect(err).NotTo(HaveOccurred())
			ringRecords(w, 3*s, 3, 100)
		}
		var out bytes.Buffer
		_, err = ring.WriteTo(&out)
		Expect(err).NotTo(HaveOccurred())
		recs, _, err := usbmon.ReadAll(&out)
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(6))
		Expect(recs[5].ID).To(BeEquivalentTo(5))
	})

	It("leaves out a record still being written, and takes one split across writes", func() {
		ring, err := record.NewRing(record.MinRingBytes)
		Expect(err).NotTo(HaveOccurred())
		var whole bytes.Buffer
		w, err := usbmon.NewWriter(&whole)
		Expect(err).NotTo(HaveOccurred())
		ringRecords(w, 0, 2, 300)
		b := whole.Bytes()
		cut := len(b) - 10            // inside the second record
		for i := 0; i < cut; i += 7 { // 7-byte writes split headers too
			_, err := ring.Write(b[i:min(i+7, cut)])
			Expect(err).NotTo(HaveOccurred())
		}
		var out bytes.Buffer
		_, err = ring.WriteTo(&out)
		Expect(err).NotTo(HaveOccurred())
		recs, _, err := usbmon.ReadAll(&out)
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(1))
		_, err = ring.Write(b[cut:])
		Expect(err).NotTo(HaveOccurred())
		out.Reset()
		_, err = ring.WriteTo(&out)
		Expect(err).NotTo(HaveOccurred())
		recs, _, err = usbmon.ReadAll(&out)
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(2))
	})

	It("refuses a stream that is not pcap", func() {
		ring, err := record.NewRing(record.MinRingBytes)
		Expect(err).NotTo(HaveOccurred())
		_, err = ring.Write(make([]byte, 40))
		Expect(errors.Is(err, record.ErrRingFormat)).To(BeTrue(), "%v", err)
	})
})
