package guest

import (
	"bytes"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRecvSurvivesSignals: a signal to the thread blocked in Recv (the Go
// runtime's own SIGURG preemption does this at random) must not end a
// Recv that has a timeout; the frame sent later still arrives. Needs root
// for the AF_PACKET sockets (on lo).
func TestRecvSurvivesSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: AF_PACKET sockets (CAP_NET_RAW)")
	}
	const et = 0x88b6
	rx, err := ListenPacket("lo", et)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := ListenPacket("lo", et)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	var tid atomic.Int32
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	buf := make([]byte, 2048)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid.Store(int32(unix.Gettid()))
		n, err := rx.Recv(buf, 3*time.Second)
		done <- result{n, err}
	}()
	for tid.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Interrupt the receiving thread many times while it waits.
	for i := 0; i < 50; i++ {
		if err := unix.Tgkill(os.Getpid(), int(tid.Load()), unix.SIGURG); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, et >> 8, et & 0xff, 'h', 'i'})
	if err := tx.Send(f); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !bytes.Equal(buf[:r.n], f) {
		t.Fatalf("Recv after signals: %d bytes, %v; want the frame sent after them", r.n, r.err)
	}
}
