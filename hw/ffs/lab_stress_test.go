package ffs_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"dongle/hw"
	usbhw "dongle/hw/gousb"
)

// TestLabINDelivery counts every IN packet of the AX88179 model served by
// cmd/ffsmodel (FunctionFS on dummy_hcd), read from the host side of the lab
// guest through libusb: each link change the model raises must reach the
// interrupt endpoint, in order, and each frame the model's peer echoes must
// come back on bulk IN. The traffic is shaped for the FunctionFS/dummy_hcd
// corners: link reports raised in pairs and read late (one waits in
// dummy_hcd's one-request IN FIFO, the next in a FunctionFS write, more in
// the engine's queue); echo transfers of 40 to 88 bytes (those of 64 bytes
// or less take the FIFO too); and both at once, so that the two endpoints
// contend for the FIFO. It runs in the lab only:
//
//	DONGLE_LAB_SETUP='ffsmodel -daemon -model ax88179 [-super] -ctl /run/ffsmodel.ctl' \
//	go test -exec "$PWD/.lab/labexec" ./hw/ffs -run TestLabINDelivery -v
//
// (at SuperSpeed, reload dummy_hcd with is_super_speed=1 first, as
// fixtures/finding-ffs-interrupt-in-stuck.md shows). DONGLE_FFS_CYCLES sets the number of link cycles per
// phase (default 400).
func TestLabINDelivery(t *testing.T) {
	if os.Getenv("DONGLE_LAB") == "" {
		t.Skip("lab only: needs cmd/ffsmodel's AX88179 gadget inside the lab VM; run it with DONGLE_LAB_SETUP='ffsmodel -daemon -model ax88179 -ctl /run/ffsmodel.ctl' go test -exec $PWD/.lab/labexec ./hw/ffs -run TestLabINDelivery")
	}
	ctl, err := os.OpenFile("/run/ffsmodel.ctl", os.O_WRONLY, 0)
	if err != nil {
		// Inside the lab the model was asked for: its absence is a broken
		// set-up, not something to skip.
		t.Fatalf("no ffsmodel link control in the lab (DONGLE_LAB_SETUP must start ffsmodel with -ctl /run/ffsmodel.ctl): %v", err)
	}
	defer ctl.Close()
	cycles := 400
	if s := os.Getenv("DONGLE_FFS_CYCLES"); s != "" {
		if cycles, err = strconv.Atoi(s); err != nil || cycles < 1 {
			t.Fatalf("DONGLE_FFS_CYCLES=%q: want a positive count", s)
		}
	}
	uctx, err := usbhw.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer uctx.Close()
	sel, err := usbhw.ParseSelector("0b95:1790")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := uctx.OpenDevice(sel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	l := openLab(t, dev)
	defer l.close()
	link := func(up bool) {
		cmd := "down\n"
		if up {
			cmd = "up\n"
		}
		if _, err := ctl.WriteString(cmd); err != nil {
			t.Fatalf("link control: %v", err)
		}
	}
	l.drainLink()
	if l.state != 1 {
		link(true)
		if v, ok := l.readLink(2 * time.Second); !ok || v != 1 {
			t.Fatalf("no link-up report after plugging the cable (got %v, %v)", v, ok)
		}
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))

	t.Run("link reports", func(t *testing.T) {
		l.t = t
		for i := 0; i < cycles && !t.Failed(); i++ {
			link(false)
			if rng.Intn(3) == 0 {
				time.Sleep(time.Duration(rng.Intn(3000)) * time.Microsecond)
			}
			link(true)
			if rng.Intn(3) == 0 {
				time.Sleep(time.Duration(rng.Intn(5000)) * time.Microsecond)
			}
			l.expectCycle(i)
		}
	})

	t.Run("echo transfers", func(t *testing.T) {
		l.t = t
		l.startRx()
		sent, recv := 0, 0
		for deadline := time.Now().Add(60 * time.Second); sent < 5*cycles && time.Now().Before(deadline); {
			if err := l.send(sent, 18+rng.Intn(50)); err != nil {
				t.Fatalf("bulk OUT: %v", err)
			}
			sent++
			recv += l.takeRx(time.Duration(rng.Intn(2000)) * time.Microsecond)
		}
		for end := time.Now().Add(3 * time.Second); recv < sent && time.Now().Before(end); {
			recv += l.takeRx(100 * time.Millisecond)
		}
		recv += l.stopRx()
		t.Logf("%d frames sent, %d echo transfers received", sent, recv)
		if recv != sent {
			t.Errorf("%d frames sent, %d echoes came back", sent, recv)
		}
	})

	t.Run("link reports with echo traffic", func(t *testing.T) {
		l.t = t
		l.startRx()
		stop, done := make(chan struct{}), make(chan int)
		go func() { // frames meet a down link at times: only reports count
			k := 0
			for {
				select {
				case <-stop:
					done <- k
					return
				default:
				}
				if err := l.send(k, 18+k%50); err != nil {
					t.Errorf("bulk OUT: %v", err)
				}
				k++
				l.takeRx(200 * time.Microsecond)
			}
		}()
		for i := 0; i < cycles && !t.Failed(); i++ {
			link(false)
			if rng.Intn(2) == 0 {
				time.Sleep(time.Duration(rng.Intn(3000)) * time.Microsecond)
			}
			link(true)
			l.expectCycle(i)
		}
		close(stop)
		t.Logf("%d link cycles with %d frames going", cycles, <-done)
		l.stopRx()
	})
}

// labDev is the AX88179 gadget claimed through libusb, its PHY powered and
// RX running (promiscuous, no aggregation: one transfer per frame).
type labDev struct {
	t        testing.TB
	dev      *usbhw.Device
	intr, in hw.Endpoint
	out      hw.Endpoint
	it, ot   hw.Transfer
	rx       []hw.Transfer
	state    byte // last link state read (2: none yet)
}

func openLab(t *testing.T, dev *usbhw.Device) *labDev {
	t.Helper()
	ctx := context.Background()
	cfg, err := hw.ReadConfig(ctx, dev, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Claim(0); err != nil {
		t.Fatal(err)
	}
	l := &labDev{t: t, dev: dev, state: 2}
	t.Cleanup(func() { dev.Release(0) })
	writeMAC := func(reg, v uint16) {
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], v)
		s := hw.Setup{RequestType: hw.TypeVendor | hw.RecipDevice, Request: 0x01, Value: reg, Index: 2, Length: 2}
		if _, err := dev.Control(ctx, s, b[:]); err != nil {
			t.Fatalf("write MAC register %#02x: %v", reg, err)
		}
	}
	writeMAC(0x26, 0)          // PHYPWR: PHY off
	writeMAC(0x26, 0x0020)     // PHYPWR.IPRL: PHY on, autonegotiation, link up
	writeMAC(0x22, 0x0100)     // MEDIUM_MODE.RE
	writeMAC(0x0b, 0x0080|0x9) // RX_CTL: START, promiscuous, broadcast
	for _, e := range cfg.Interfaces[0].Alts[0].Endpoints {
		ep, err := dev.OpenEndpoint(e.Address)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Type() == hw.XferInterrupt:
			l.intr, l.it.Buf = ep, make([]byte, e.MaxPacketSize)
		case e.Address&0x80 != 0:
			l.in = ep
		default:
			l.out = ep
		}
	}
	if l.intr == nil || l.in == nil || l.out == nil {
		t.Fatalf("endpoints of %v: want interrupt IN, bulk IN, bulk OUT", cfg.Interfaces[0].Alts[0].Endpoints)
	}
	l.rx = make([]hw.Transfer, 8)
	return l
}

func (l *labDev) close() {
	for _, ep := range []hw.Endpoint{l.intr, l.in, l.out} {
		if ep != nil {
			ep.Close()
		}
	}
}

// readLink reads one interrupt report within d: the link bit (bit 16 of
// the first le32). A report in a transfer cancelled at the deadline fails
// the test: it left the device and the host dropped it.
func (l *labDev) readLink(d time.Duration) (byte, bool) {
	l.t.Helper()
	if err := l.intr.Submit(&l.it); err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	got, err := l.intr.Wait(ctx)
	if err != nil {
		l.intr.Cancel()
		got, _ = l.intr.Wait(context.Background())
		if got != nil && got.N > 0 {
			l.t.Errorf("an interrupt transfer cancelled at its deadline carried % x", got.Data())
		}
		return 0, false
	}
	if got.Err != nil {
		l.t.Fatalf("interrupt transfer: %v", got.Err)
	}
	if got.N != 8 {
		l.t.Fatalf("interrupt report of %d bytes, want 8", got.N)
	}
	l.state = got.Buf[2] & 1
	return l.state, true
}

// drainLink reads the reports already queued (the PHY power cycle's).
func (l *labDev) drainLink() {
	for {
		if _, ok := l.readLink(300 * time.Millisecond); !ok {
			return
		}
	}
}

// expectCycle reads the two reports of a down-up cycle.
func (l *labDev) expectCycle(i int) {
	l.t.Helper()
	var got []byte
	for len(got) < 2 {
		v, ok := l.readLink(3 * time.Second)
		if !ok {
			break
		}
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		l.t.Errorf("cycle %d: link reports %v, want [0 1] (down, up)", i, got)
		l.drainLink()
	}
}

// send sends one frame of size bytes with EtherType 0x88b5 (the peer
// echoes those) and waits for the OUT transfer.
func (l *labDev) send(i, size int) error {
	b := make([]byte, 8+size)
	binary.LittleEndian.PutUint32(b, uint32(size)) // TX header: length, no padding
	f := b[8:]
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x0e, 0xc6, 0x81, 0x79, 0x01, 0x88, 0xb5})
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	l.ot.Buf = b
	if err := l.out.Submit(&l.ot); err != nil {
		return err
	}
	got, err := l.out.Wait(context.Background())
	if err != nil {
		return err
	}
	return got.Err
}

func (l *labDev) startRx() {
	l.t.Helper()
	for i := range l.rx {
		l.rx[i].Buf = make([]byte, 16384)
		if err := l.in.Submit(&l.rx[i]); err != nil {
			l.t.Fatal(err)
		}
	}
}

// takeRx reaps the bulk IN transfers that complete within d, resubmits
// them, and returns how many carried data.
func (l *labDev) takeRx(d time.Duration) int {
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		got, err := l.in.Wait(ctx)
		cancel()
		if err != nil {
			return n
		}
		if got.Err != nil {
			l.t.Errorf("bulk IN: %v", got.Err)
		} else if got.N > 0 {
			n++
		}
		if err := l.in.Submit(got); err != nil {
			l.t.Errorf("bulk IN resubmit: %v", err)
			return n
		}
	}
}

// stopRx cancels the bulk IN transfers and returns how many of them had
// completed with data first.
func (l *labDev) stopRx() int {
	l.in.Cancel()
	n := 0
	for l.in.InFlight() > 0 {
		got, err := l.in.Wait(context.Background())
		if err == nil && got.N > 0 && !errors.Is(got.Err, hw.ErrCancelled) {
			n++
		}
	}
	return n
}
