package replay_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// A foreign trace built by hand, QEMU style: control ids 0, len_cap
// conventions do not matter once decoded.
func synthetic() []usbmon.Record {
	vendor := hw.Setup{RequestType: 0xc0, Request: 0x01, Length: 4}.Bytes()
	ctl := func(answer []byte) []usbmon.Record {
		return []usbmon.Record{
			{Type: 'S', XferType: usbmon.XferControl, Endpoint: 0x80, Setup: vendor},
			{Type: 'C', XferType: usbmon.XferControl, Endpoint: 0x80, FlagSetup: '-', Length: uint32(len(answer)), Data: answer},
		}
	}
	in := func(id uint64, ep uint8, xt usbmon.XferType, length int, data []byte) []usbmon.Record {
		return []usbmon.Record{
			{ID: id, Type: 'S', XferType: xt, Endpoint: ep, FlagSetup: '-', FlagData: '<', Length: 512},
			{ID: id, Type: 'C', XferType: xt, Endpoint: ep, FlagSetup: '-', Length: uint32(length), Data: data},
		}
	}
	var recs []usbmon.Record
	recs = append(recs, ctl([]byte{1, 2, 3, 4})...)
	recs = append(recs, ctl([]byte{5, 6, 7, 8})...)
	recs = append(recs, in(1, 0x82, usbmon.XferBulk, 300, bytes.Repeat([]byte{0xaa}, 256))...) // cut at 256
	recs = append(recs, in(2, 0x82, usbmon.XferBulk, 10, bytes.Repeat([]byte{0xbb}, 10))...)
	recs = append(recs, in(3, 0x81, usbmon.XferInterrupt, 8, []byte{0xa1, 0, 1, 0, 0, 0, 0, 0})...)
	return recs
}

var _ = DescribeTable("Model replay of a hand-made trace",
	func(repeat bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		DeferCleanup(cancel)
		d, err := replay.NewModel(synthetic(), replay.ModelOptions{Name: "synthetic", Logf: GinkgoLogr.Info, RepeatInterrupt: repeat})
		Expect(err).NotTo(HaveOccurred())

		By("cycling through the answers to identical requests")
		var got [][]byte
		for i := 0; i < 3; i++ {
			b := make([]byte, 4)
			n, err := d.Control(ctx, hw.Setup{RequestType: 0xc0, Request: 0x01}, b)
			Expect(err).NotTo(HaveOccurred())
			got = append(got, b[:n])
		}
		Expect(got).To(Equal([][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}, {1, 2, 3, 4}}))

		By("skipping the IN transfer the capture cut")
		Expect(d.Claim(0)).To(Succeed())
		DeferCleanup(d.Release, 0)
		in, err := d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 512)})).To(Succeed())
		t, err := in.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Data()).To(Equal(bytes.Repeat([]byte{0xbb}, 10)))
		Expect(d.Stats().InSkippedTruncated).To(Equal(1))
		Expect(d.Stats().InTransfers).To(Equal(3))
		Expect(in.Close()).To(Succeed())

		By("repeating the last interrupt only when asked")
		intr, err := d.OpenEndpoint(0x81)
		Expect(err).NotTo(HaveOccurred())
		for i := 0; i < 3; i++ {
			Expect(intr.Submit(&hw.Transfer{Buf: make([]byte, 16)})).To(Succeed())
		}
		first, err := intr.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(first.Data()).To(Equal([]byte{0xa1, 0, 1, 0, 0, 0, 0, 0}))
		short, cancelShort := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancelShort()
		second, err := intr.Wait(short)
		if repeat {
			Expect(err).NotTo(HaveOccurred())
			Expect(second.Data()).To(Equal(first.Data()))
		} else {
			Expect(err).To(MatchError(context.DeadlineExceeded))
		}
		intr.Cancel()
		for intr.InFlight() > 0 {
			_, err := intr.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(intr.Close()).To(Succeed())
	},
	Entry("quiet when the recording runs out", false),
	Entry("RepeatInterrupt", true),
)

// TestDevicesAndOnly: a capture of a busy bus lists its devices (address
// 0, enumeration's, left out), a replay of it needs one picked, and Only
// keeps that device's records (address 0's too when it is the only one).
func TestDevicesAndOnly(t *testing.T) {
	mk := func(dev uint8, id uint64) usbmon.Record {
		return usbmon.Record{ID: id, Type: usbmon.Submit, XferType: usbmon.XferBulk, Endpoint: 0x81, Bus: 1, Device: dev, FlagData: '<'}
	}
	recs := []usbmon.Record{mk(0, 1), mk(1, 2), mk(2, 3), mk(1, 4), mk(2, 5)}
	if got := replay.Devices(recs); len(got) != 2 || got[0] != (replay.DeviceAddr{Bus: 1, Address: 1}) || got[1].String() != "1.2" {
		t.Fatalf("devices %v", got)
	}
	only := replay.Only(recs, replay.DeviceAddr{Bus: 1, Address: 2})
	if len(only) != 2 || only[0].ID != 3 || only[1].ID != 5 {
		t.Fatalf("only 1.2: %v", only)
	}
	if one := replay.Only(recs[:2], replay.DeviceAddr{Bus: 1, Address: 1}); len(one) != 2 {
		t.Fatalf("one device: address 0's records dropped: %d", len(one))
	}
	if _, err := replay.New(recs, replay.ModelOptions{Name: "busy"}); !errors.Is(err, replay.ErrSeveralDevices) {
		t.Errorf("two devices, none picked: %v", err)
	}
	if _, err := replay.New(recs, replay.ModelOptions{Name: "busy", Device: &replay.DeviceAddr{Bus: 1, Address: 7}}); !errors.Is(err, replay.ErrNoSuchDevice) {
		t.Errorf("device 1.7: %v", err)
	}
}
