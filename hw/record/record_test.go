package record_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/record/recordtest"
	"dongle/hw/usbmon"
)

// The URBs recordtest.Session makes, as tshark prints
// "urb_type transfer_type endpoint_address": 11 control (5 descriptor
// reads, SET_CONFIGURATION, SET_INTERFACE, 3 vendor, CLEAR_FEATURE), 3
// bulk IN, 4 bulk OUT (one a ZLP), 1 interrupt IN.
var sessionKinds = map[string]int{
	"'S' 0x02 0x80": 7, "'C' 0x02 0x80": 7, // IN control: 5 GET_DESCRIPTOR, vendor read, vendor stall
	"'S' 0x02 0x00": 4, "'C' 0x02 0x00": 4, // OUT control: SET_CONFIGURATION, SET_INTERFACE, vendor write, CLEAR_FEATURE
	"'S' 0x03 0x82": 3, "'C' 0x03 0x82": 3,
	"'S' 0x03 0x02": 4, "'C' 0x03 0x02": 4,
	"'S' 0x01 0x81": 1, "'C' 0x01 0x81": 1,
}

func recordSession(path string) *recordtest.Result {
	GinkgoHelper()
	dev := recordtest.NewEcho()
	clock := time.Unix(1700000000, 0)
	rec, err := record.Create(dev, path, record.Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	DeferCleanup(cancel)
	res, err := recordtest.Session(ctx, rec)
	Expect(err).NotTo(HaveOccurred())
	Expect(rec.Close()).To(Succeed())
	return res
}

func kinds(recs []usbmon.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[fmt.Sprintf("'%c' 0x%02x 0x%02x", rune(r.Type), uint8(r.XferType), r.Endpoint)]++
	}
	return m
}

var _ = Describe("Device", func() {
	var path string
	BeforeEach(func() { path = filepath.Join(GinkgoT().TempDir(), "session.pcap") })

	It("is transparent to the driver", func() {
		res := recordSession(path)
		Expect(res.VID).To(Equal(uint16(0x1d6b)))
		Expect(res.Product).To(Equal("echo"))
		Expect(res.Vendor).To(Equal([]byte{0xde, 0xad, 0xbe, 0xef}))
		Expect(res.Stalled).To(BeTrue())
		Expect(res.Echoed).To(Equal(recordtest.Frames))
		Expect(errors.Is(res.Cancel, hw.ErrCancelled)).To(BeTrue())
	})

	It("writes every submission and completion as usbmon records", func() {
		recordSession(path)
		recs, lt, err := usbmon.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(lt).To(Equal(usbmon.LinkTypeMmapped))
		Expect(kinds(recs)).To(Equal(sessionKinds))
		Expect(record.Recorded(recs)).To(BeTrue())

		ids := map[uint64]bool{}
		for _, r := range recs {
			Expect(r.Bus).To(Equal(uint16(3)))
			Expect(r.Device).To(Equal(uint8(7)))
			if r.Type == usbmon.Submit {
				Expect(ids).NotTo(HaveKey(r.ID), "URB ids are unique")
				ids[r.ID] = true
			}
		}
		urbs := usbmon.Pair(recs)
		Expect(urbs).To(HaveLen(len(recs) / 2))
		var statuses []int32
		for _, u := range urbs {
			Expect(u.Submit).NotTo(BeNil())
			Expect(u.Complete).NotTo(BeNil())
			if u.Status() != 0 {
				statuses = append(statuses, u.Status())
			}
		}
		// The stalled vendor request (-EPIPE) and the cancelled interrupt (-ENOENT).
		Expect(statuses).To(ConsistOf(int32(-usbmon.EPIPE), int32(-usbmon.ENOENT)))

		// Setup packets of the standard requests SetConfiguration/SetAlt/ClearHalt stand for.
		var setups []string
		for _, u := range urbs {
			if s, ok := u.Setup(); ok && s.RequestType&hw.TypeVendor == 0 && !s.In() {
				setups = append(setups, s.String())
			}
		}
		Expect(setups).To(Equal([]string{"00 09 0001 0000 0000", "01 0b 0000 0000 0000", "02 01 0000 0082 0000"}))

		// OUT data and IN data are in the records.
		var outs, ins [][]byte
		for _, u := range urbs {
			switch u.Endpoint() {
			case 0x02:
				outs = append(outs, u.Data())
			case 0x82:
				ins = append(ins, u.Data())
			}
		}
		Expect(outs).To(Equal([][]byte{recordtest.Frames[0], recordtest.Frames[1], {}, recordtest.Frames[2]}))
		Expect(ins).To(Equal(recordtest.Frames))
	})

	It("writes a file tshark reads with the same URBs", func() {
		if _, err := exec.LookPath("tshark"); err != nil {
			Skip("tshark not in PATH: install it to cross-check the recorder's output")
		}
		recordSession(path)
		out, err := exec.Command("tshark", "-r", path, "-Y", "usb", "-T", "fields",
			"-e", "usb.urb_type", "-e", "usb.transfer_type", "-e", "usb.endpoint_address", "-e", "usb.urb_status").Output()
		Expect(err).NotTo(HaveOccurred())
		got := map[string]int{}
		var statuses []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(l, "\t")
			Expect(f).To(HaveLen(4))
			got[strings.Join(f[:3], " ")]++
			if f[3] != "0" && f[0] == "'C'" {
				statuses = append(statuses, f[3])
			}
		}
		Expect(got).To(Equal(sessionKinds))
		sort.Strings(statuses)
		Expect(statuses).To(Equal([]string{"-2", "-32"}))
	})

	DescribeTable("maps statuses to Linux errnos",
		func(err error, want int32) {
			Expect(usbmon.StatusOf(err)).To(Equal(want))
		},
		Entry("success", nil, int32(0)),
		Entry("stall", hw.Errorf("ep", hw.ErrStall), int32(-32)),
		Entry("gone", hw.ErrNoDevice, int32(-19)),
		Entry("timeout", hw.ErrTimeout, int32(-110)),
		Entry("babble", hw.ErrOverflow, int32(-75)),
		Entry("cancel", hw.ErrCancelled, int32(-2)),
		Entry("unknown", errors.New("x"), int32(-71)),
	)

	It("keeps the trace going when the wrapped Close fails", func() {
		dev := recordtest.NewEcho()
		rec, err := record.Create(dev, path, record.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Claim(0)).To(Succeed())
		Expect(errors.Is(rec.Close(), hw.ErrBusy)).To(BeTrue())
		Expect(rec.SetAlt(0, 0)).To(Succeed())
		Expect(rec.Release(0)).To(Succeed())
		Expect(rec.Close()).To(Succeed())
		recs, _, err := usbmon.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(2))
	})
})
