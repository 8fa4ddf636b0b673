package usbip

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw"
	"dongle/hw/sim"
)

// FuzzServe feeds a byte stream to the server as vhci_hcd's end of the
// socket would: whatever it holds, Serve must not panic, must answer or
// refuse it, and must end (with nil or an error) once the peer closes.
func FuzzServe(f *testing.F) {
	getDesc := append(submitHeader(1, 1, 0, 18, 0), make([]byte, 0)...)
	copy(getDesc[40:], []byte{0x80, 6, 0, 1, 0, 0, 18, 0})
	setCfg := submitHeader(2, 0, 0, 0, 0)
	copy(setCfg[40:], []byte{0, 9, 1, 0, 0, 0, 0, 0})
	bulkIn := submitHeader(3, 1, 1, 512, 0)
	bulkOut := append(submitHeader(4, 0, 2, 512, 0), make([]byte, 512)...)
	unlink := make([]byte, headerLen)
	unlink[3], unlink[7], unlink[23] = cmdUnlink, 5, 3
	f.Add(getDesc)
	f.Add(append(append(append(append([]byte(nil), setCfg...), bulkIn...), unlink...), bulkOut...))
	f.Add(append(append([]byte(nil), bulkIn...), getDesc...))
	f.Add(submitHeader(9, 0, 2, maxURB, 0))
	f.Add(submitHeader(9, 0, 0, 64, 0xffffffff))
	f.Fuzz(func(t *testing.T, in []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := static()
		dev := sim.New(m, hw.Info{})
		defer dev.Close()
		conn := os.NewFile(uintptr(fds[0]), "server")
		peer := os.NewFile(uintptr(fds[1]), "host")
		defer peer.Close()
		s := NewServer(dev, conn, Options{})
		s.maxPending = 1 << 20
		done := make(chan error, 1)
		go func() { done <- s.Serve(context.Background()) }()
		go io.Copy(io.Discard, peer)
		go func() {
			peer.Write(in)
			unix.Shutdown(fds[1], unix.SHUT_WR)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Serve did not end after the peer closed")
		}
	})
}
