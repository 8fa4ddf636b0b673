package labdemo

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/gousb"

	"dongle/hw/vmlab/guest"
)

type ecm struct {
	dev  *gousb.Device
	out  *gousb.OutEndpoint
	in   *gousb.InEndpoint
	intr *gousb.InEndpoint
}

// openECM opens a CDC-ECM function through usbfs (detaching cdc_ether),
// sets the packet filter and selects the data interface's alt setting 1.
func openECM(t *testing.T, vid, pid gousb.ID) *ecm {
	t.Helper()
	if !guest.InLab() {
		t.Skip("not in the virtual USB lab (run with go test -exec .lab/labexec)")
	}
	ctx := gousb.NewContext()
	t.Cleanup(func() { ctx.Close() })
	dev, err := ctx.OpenDeviceWithVIDPID(vid, pid)
	if err != nil || dev == nil {
		t.Fatalf("open %s:%s: dev=%v err=%v", vid, pid, dev, err)
	}
	t.Cleanup(func() { dev.Close() })
	if err := dev.SetAutoDetach(true); err != nil {
		t.Fatal(err)
	}
	cfg, err := dev.Config(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cfg.Close() })
	comm, err := cfg.Interface(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(comm.Close)
	e := &ecm{dev: dev}
	for _, ep := range comm.Setting.Endpoints {
		if ep.TransferType == gousb.TransferTypeInterrupt {
			if e.intr, err = comm.InEndpoint(ep.Number); err != nil {
				t.Fatal(err)
			}
		}
	}
	// SET_ETHERNET_PACKET_FILTER: directed | broadcast | multicast | promiscuous
	if _, err := dev.Control(0x21, 0x43, 0x000f, 0, nil); err != nil {
		t.Fatalf("SET_ETHERNET_PACKET_FILTER: %v", err)
	}
	data, err := cfg.Interface(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(data.Close)
	for _, ep := range data.Setting.Endpoints {
		if ep.Direction == gousb.EndpointDirectionIn {
			e.in, err = data.InEndpoint(ep.Number)
		} else {
			e.out, err = data.OutEndpoint(ep.Number)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func frame(seq, size int, et uint16) []byte {
	f := make([]byte, size)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0xaa, 0xbb, 0xcc})
	binary.BigEndian.PutUint16(f[12:], et)
	binary.BigEndian.PutUint32(f[14:], uint32(seq))
	for k := 18; k < size; k++ {
		f[k] = byte(k * (seq + 1))
	}
	return f
}

// echo sends frames and expects each back unchanged. ECM needs a
// zero-length packet after a frame whose length is a multiple of
// wMaxPacketSize; libusb does not add it by itself.
func (e *ecm) echo(t *testing.T, sizes []int) {
	t.Helper()
	buf := make([]byte, 4096)
	for i, size := range sizes {
		f := frame(i, size, guest.EchoEtherType)
		if _, err := e.out.Write(f); err != nil {
			t.Fatalf("size %d: write: %v", size, err)
		}
		if size%e.out.Desc.MaxPacketSize == 0 {
			if _, err := e.out.Write(nil); err != nil {
				t.Fatalf("size %d: ZLP: %v", size, err)
			}
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			n, err := e.in.ReadContext(ctx, buf)
			cancel()
			if err != nil {
				t.Fatalf("size %d: read: %v", size, err)
			}
			if n == 0 {
				continue // a ZLP ending a previous frame
			}
			if n < size || !bytes.Equal(buf[:size], f) {
				t.Fatalf("size %d: got %d bytes back that differ", size, n)
			}
			break
		}
	}
}

func TestECMGadgetEcho(t *testing.T) {
	e := openECM(t, guest.GadgetVendor, guest.ECMProduct)
	if e.out.Desc.MaxPacketSize != 512 {
		t.Errorf("ECM gadget bulk OUT wMaxPacketSize %d, want 512 (high speed)", e.out.Desc.MaxPacketSize)
	}
	e.echo(t, []int{60, 511, 512, 513, 1024, 1514})
}

func TestUSBNetPeerEcho(t *testing.T) {
	e := openECM(t, guest.USBNetVendor, guest.USBNetProduct)
	if e.out.Desc.MaxPacketSize != 64 {
		t.Errorf("usb-net bulk OUT wMaxPacketSize %d, want 64 (full speed)", e.out.Desc.MaxPacketSize)
	}
	p, err := guest.DialPeer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetMode(guest.PeerEcho); err != nil {
		t.Fatal(err)
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	sizes := []int{60, 63, 64, 65, 128, 1514}
	e.echo(t, sizes)
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// usbnet-style padding may lengthen frames; the count must be exact.
	if st.Frames != uint64(len(sizes)) || st.Echoed != uint64(len(sizes)) {
		t.Fatalf("host peer saw %s, want %d frames echoed", st, len(sizes))
	}

	// Count mode: frames are counted, nothing comes back.
	if err := p.SetMode(guest.PeerCount); err != nil {
		t.Fatal(err)
	}
	if _, err := e.out.Write(frame(99, 100, guest.EchoEtherType)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if st, err = p.Stats(); err != nil {
			t.Fatal(err)
		}
		if st.Frames == uint64(len(sizes))+1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Frames != uint64(len(sizes))+1 || st.Echoed != uint64(len(sizes)) {
		t.Fatalf("count mode: host peer saw %s, want %d frames, %d echoed", st, len(sizes)+1, len(sizes))
	}
}

// notifications reads CDC notifications for up to d and returns the
// NETWORK_CONNECTION values seen (other notifications are skipped).
func (e *ecm) notifications(t *testing.T, d time.Duration) []uint16 {
	t.Helper()
	var conn []uint16
	// One notification per read: with a larger buffer, a 16-byte
	// SPEED_CHANGE (exactly wMaxPacketSize, so no short packet) would run
	// together with the next notification in one transfer.
	buf := make([]byte, e.intr.Desc.MaxPacketSize)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		n, err := e.intr.ReadContext(ctx, buf)
		cancel()
		if err != nil {
			break // deadline: nothing more pending
		}
		t.Logf("notification % x", buf[:n])
		if n >= 8 && buf[0] == 0xa1 && buf[1] == 0x00 {
			conn = append(conn, binary.LittleEndian.Uint16(buf[2:]))
		}
	}
	return conn
}

func TestECMGadgetLinkChange(t *testing.T) {
	e := openECM(t, guest.GadgetVendor, guest.ECMProduct)
	t.Logf("pending after open: %v", e.notifications(t, 500*time.Millisecond))
	if err := guest.SetLink(guest.ECMGadgetNetdev, false); err != nil {
		t.Fatal(err)
	}
	down := e.notifications(t, time.Second)
	if err := guest.SetLink(guest.ECMGadgetNetdev, true); err != nil {
		t.Fatal(err)
	}
	up := e.notifications(t, time.Second)
	if len(down) == 0 || down[len(down)-1] != 0 {
		t.Errorf("after link down: NETWORK_CONNECTION values %v, want the last to be 0", down)
	}
	if len(up) == 0 || up[len(up)-1] != 1 {
		t.Errorf("after link up: NETWORK_CONNECTION values %v, want the last to be 1", up)
	}
	e.echo(t, []int{100}) // the echo on gecm0 still works after the bounce
}

func TestUSBNetLinkChange(t *testing.T) {
	if !guest.InLab() {
		t.Skip("not in the virtual USB lab")
	}
	t.Skip(guest.ErrNoLinkChange.Error())
}
