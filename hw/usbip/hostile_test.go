package usbip

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw"
	"dongle/hw/sim"
)

// serveRaw runs a server on the static model with ctx never cancelled and
// returns the host's end and Serve's result; the host end is closed at
// cleanup.
func serveRaw(t *testing.T, maxPend int) (*host, <-chan error) {
	h, done, _ := serveConn(t, maxPend)
	return h, done
}

// serveConn is serveRaw that also returns the server's end of the socket.
func serveConn(t *testing.T, maxPend int) (*host, <-chan error, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := static()
	dev := sim.New(m, hw.Info{})
	conn := os.NewFile(uintptr(fds[0]), "server")
	s := NewServer(dev, conn, Options{})
	if maxPend > 0 {
		s.maxPending = maxPend
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	h := &host{t: t, f: os.NewFile(uintptr(fds[1]), "host")}
	t.Cleanup(func() {
		h.f.Close()
		conn.Close()
		dev.Close()
	})
	return h, done, conn
}

func serveResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// TestServeEndsWithoutGoroutines: a detach (the host closing its end)
// while the caller's ctx is live leaves no goroutine of Serve behind, and
// the server's end of the socket closed (ffsmodel attaches a new server
// at every replug, with one ctx for the whole run).
func TestServeEndsWithoutGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	h, done, conn := serveConn(t, 0)
	h.submit(1, 1, true, 0, 512, nil, nil) // a bulk IN waiter, pending
	time.Sleep(20 * time.Millisecond)
	h.f.Close()
	if err := serveResult(t, done); err != nil {
		t.Fatalf("Serve after a detach: %v", err)
	}
	if err := conn.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("the server's socket after Serve returned: Close gave %v, want os.ErrClosed", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Serve returned, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestDetachWithRepliesUnreadEndsCleanly: vhci_hcd detached with replies
// it has not read yet (a detach under traffic) closes its end with data
// in it, which a Unix socket reports to the server's read as
// ECONNRESET, not EOF. That is the same detach, and Serve returns nil.
func TestDetachWithRepliesUnreadEndsCleanly(t *testing.T) {
	h, done := serveRaw(t, 0)
	h.submit(1, 0, true, 0, 4, []byte{0x80, 0x05, 0, 0, 0, 0, 4, 0}, nil) // answered with 4 bytes
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		n, err := unix.IoctlGetInt(int(h.f.Fd()), unix.SIOCINQ)
		if err != nil {
			t.Fatalf("SIOCINQ: %v", err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reply waiting for the host in 5 s")
		}
	}
	h.f.Close()
	if err := serveResult(t, done); err != nil {
		t.Fatalf("Serve after a detach with replies unread: %v", err)
	}
}

// submitHeader is a CMD_SUBMIT header with the given direction and
// number_of_packets.
func submitHeader(seq, dir, ep uint32, length int, npackets uint32) []byte {
	var b [headerLen]byte
	be := binary.BigEndian
	be.PutUint32(b[0:], cmdSubmit)
	be.PutUint32(b[4:], seq)
	be.PutUint32(b[12:], dir)
	be.PutUint32(b[16:], ep)
	be.PutUint32(b[24:], uint32(length))
	be.PutUint32(b[32:], npackets)
	return b[:]
}

func TestMalformedSubmitsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"direction 2", submitHeader(1, 2, 2, 4, 0)},
		{"ISO packets", append(submitHeader(1, 0, 2, 4, 1), make([]byte, 4+16)...)},
		{"negative length", submitHeader(1, 1, 1, -1, 0)},
		{"endpoint 16", submitHeader(1, 1, 16, 4, 0)},
		{"length over 1 MiB", submitHeader(1, 1, 1, maxURB+1, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, done := serveRaw(t, 0)
			if _, err := h.f.Write(c.msg); err != nil {
				t.Fatal(err)
			}
			if err := serveResult(t, done); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Serve: %v, want ErrProtocol", err)
			}
		})
	}
}

// TestNotISOMarkerAccepted: number_of_packets -1 is what some hosts send
// for a non-isochronous URB.
func TestNotISOMarkerAccepted(t *testing.T) {
	h, done := serveRaw(t, 0)
	msg := submitHeader(7, 0, 2, 4, 0xffffffff)
	if _, err := h.f.Write(append(msg, 1, 2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if _, seq, st, _ := h.reply(false); seq != 7 || st != 0 {
		t.Fatalf("OUT: seq %d status %d", seq, st)
	}
	h.f.Close()
	if err := serveResult(t, done); err != nil {
		t.Fatal(err)
	}
}

// TestPendingBytesBounded: IN URBs that the device never completes hold
// their buffers; a peer that keeps submitting them is refused at the
// bound instead of growing the heap without end. Completed and control
// URBs give their bytes back.
func TestPendingBytesBounded(t *testing.T) {
	h, done := serveRaw(t, 4096)
	// Control and completed OUT URBs do not accumulate.
	for i := range 20 {
		h.submit(uint32(100+i), 0, true, 0, 1024, []byte{0x80, 6, 0, 1, 0, 0, 0, 4}, nil)
		h.reply(true)
		h.submit(uint32(200+i), 2, false, 0, 1024, nil, make([]byte, 1024))
		h.reply(false)
	}
	// Four 1 KiB IN URBs the device does not complete fill the bound.
	for i := range 4 {
		h.submit(uint32(300+i), 1, true, 0, 1024, nil, nil)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve ended within the bound: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	h.submit(600, 1, true, 0, 1, nil, nil)
	if err := serveResult(t, done); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Serve: %v, want ErrProtocol past the bound", err)
	}
}

// TestStopMidMessageEndsCleanly: a server stopped (ctx cancelled) while it
// waits for the data of an OUT submit returns nil, as one stopped between
// two messages does: the socket closed under the read is the stop's.
func TestStopMidMessageEndsCleanly(t *testing.T) {
	h, _ := newPair(t, func() sim.Model { m, _ := static(); return m }())
	h.submit(1, 2, false, 0, 100, nil, nil) // 100 OUT bytes announced, none sent
	time.Sleep(20 * time.Millisecond)
	// newServer's cleanup cancels ctx and fails the test if Serve errs.
}

// TestHeaderCutShortIsAnError: a kernel end that closes within a header
// left a message cut short, not a detach between messages: Serve says so.
func TestHeaderCutShortIsAnError(t *testing.T) {
	h, done := serveRaw(t, 0)
	if _, err := h.f.Write(submitHeader(1, 1, 1, 512, 0)[:20]); err != nil {
		t.Fatal(err)
	}
	h.f.Close()
	if err := serveResult(t, done); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Serve after half a header: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestSubmitEdgesAccepted: the largest URB (maxURB bytes) and endpoint 15
// are within what a CMD_SUBMIT may carry: the server goes on and answers
// the control request that follows (an endpoint the device lacks is the
// URB's error, not the connection's).
func TestSubmitEdgesAccepted(t *testing.T) {
	for _, c := range []struct {
		name       string
		ep, length int
	}{{"1 MiB", 1, maxURB}, {"endpoint 15", 15, 4}} {
		t.Run(c.name, func(t *testing.T) {
			h, done := serveRaw(t, 0)
			if _, err := h.f.Write(submitHeader(1, 1, uint32(c.ep), c.length, 0)); err != nil {
				t.Fatal(err)
			}
			h.submit(2, 0, true, 0, 4, []byte{0x80, 0x05, 0, 0, 0, 0, 4, 0}, nil)
			for {
				select {
				case err := <-done:
					t.Fatalf("Serve ended: %v", err)
				default:
				}
				cmd, seq, st, _ := h.reply(true)
				if cmd == retSubmit && seq == 1 && st != -int32(syscall.EPIPE) {
					t.Errorf("the URB on endpoint %d: status %d, want -EPIPE (the device has no such endpoint)", c.ep, st)
				}
				if cmd == retSubmit && seq == 2 {
					if st != 0 {
						t.Fatalf("the control request after it: status %d", st)
					}
					return
				}
			}
		})
	}
}
