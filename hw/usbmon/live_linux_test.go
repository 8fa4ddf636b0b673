//go:build linux

package usbmon

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
	"golang.org/x/sys/unix"
)

// The ioctl numbers as <linux/ioctl.h> gives them on x86-64 and arm64
// (libpcap's pcap-usb-linux.c uses the same macros): _IOW/_IOR put the
// direction in bits 30-31 and sizeof the argument in bits 16-29.
func TestIoctlNumbers(t *testing.T) {
	ptr := unsafe.Sizeof(uintptr(0))
	if got := unsafe.Sizeof(monBinGet{}); got != 3*ptr {
		t.Fatalf("sizeof(struct mon_bin_get) = %d, want 3 words (%d)", got, 3*ptr)
	}
	if off := unsafe.Offsetof(monBinGet{}.alloc); off != 2*ptr {
		t.Fatalf("mon_bin_get.alloc at %d, want %d", off, 2*ptr)
	}
	if got := unsafe.Sizeof(monBinStats{}); got != 8 {
		t.Fatalf("sizeof(struct mon_bin_stats) = %d, want 8", got)
	}
	getx := uintptr(0x4018920a) // _IOW(0x92, 10, 24 bytes)
	if ptr == 4 {
		getx = 0x400c920a // 12 bytes on 32-bit
	}
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"MON_IOCX_GETX", monIOCXGetX, getx},
		{"MON_IOCG_STATS", monIOCGStats, 0x80089203},
		{"MON_IOCT_RING_SIZE", monIOCTRingSize, 0x9204},
		{"MON_IOCQ_RING_SIZE", monIOCQRingSize, 0x9205},
		{"_IOWR(0x92, 7, 16)", ioc(iocRead|iocWrite, monIOCMagic, 7, 16), 0xc0109207}, // MON_IOCX_MFETCH on 64-bit
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// fakeKernel is mon_bin.c's reader as the ioctls see it: a ring of events,
// a lost count that MON_IOCG_STATS reads and resets, O_NONBLOCK semantics.
type fakeKernel struct {
	mu       sync.Mutex
	ring     int
	q        [][]byte
	lost     uint32
	openErr  error
	getErr   error
	ringErr  error
	fetched  int
	closedFd []int
	opened   string // path of the last open
	timeouts []int  // timeout of each poll
	closeErr error
}

const fakeFd = 1000

func (k *fakeKernel) push(ev ...[]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.q = append(k.q, ev...)
}

func (k *fakeKernel) open(path string) (int, error) {
	k.opened = path
	if k.openErr != nil {
		return -1, k.openErr
	}
	return fakeFd, nil
}

func (k *fakeKernel) ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch req {
	case monIOCXGetX:
		if k.getErr != nil {
			return k.getErr
		}
		if len(k.q) == 0 {
			return unix.EAGAIN
		}
		g := (*monBinGet)(arg)
		ev := k.q[0]
		k.q = k.q[1:]
		copy(unsafe.Slice((*byte)(g.hdr), HeaderLenMmapped), ev[:HeaderLenMmapped])
		n := min(int(binary.LittleEndian.Uint32(ev[36:])), int(g.alloc), len(ev)-HeaderLenMmapped)
		copy(unsafe.Slice((*byte)(g.data), n), ev[HeaderLenMmapped:])
		k.fetched++
		return nil
	case monIOCGStats:
		s := (*monBinStats)(arg)
		s.queued, s.dropped = uint32(len(k.q)), k.lost
		k.lost = 0
		return nil
	}
	return unix.ENOTTY
}

func (k *fakeKernel) ioctlValue(fd int, req, v uintptr) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch req {
	case monIOCTRingSize:
		if k.ringErr != nil {
			return 0, k.ringErr
		}
		if v < RingMin || v > RingMax {
			return 0, unix.EINVAL
		}
		k.ring = (int(v) + 4095) &^ 4095
		k.q, k.lost = nil, 0
		return 0, nil
	case monIOCQRingSize:
		return k.ring, nil
	}
	return 0, unix.ENOTTY
}

// poll reports the ring readable when it has events; otherwise it really
// polls the wake-up pipe (fds[1]), so cancellation goes through Live's own
// mechanism.
func (k *fakeKernel) poll(fds []unix.PollFd, timeout int) (int, error) {
	k.mu.Lock()
	k.timeouts = append(k.timeouts, timeout)
	k.mu.Unlock()
	for {
		k.mu.Lock()
		n := len(k.q)
		k.mu.Unlock()
		if n > 0 {
			fds[0].Revents = unix.POLLIN
			return 1, nil
		}
		w := []unix.PollFd{fds[1]}
		c, err := unix.Poll(w, 5)
		if err != nil && err != unix.EINTR {
			return 0, err
		}
		if c > 0 {
			fds[1].Revents = w[0].Revents
			return 1, nil
		}
	}
}

func (k *fakeKernel) close(fd int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closedFd = append(k.closedFd, fd)
	return k.closeErr
}

// kernelEvent is an event as mon_bin_event builds it: len_cap counts the
// captured data only.
func kernelEvent(typ Event, xfer XferType, ep, dev uint8, length int, data []byte) []byte {
	r := Record{ID: 0xffff8880_12345600, Type: typ, XferType: xfer, Endpoint: ep, Device: dev, Bus: 3,
		FlagSetup: FlagNoSetup, TsSec: 1700000000, TsUsec: 123456, Length: uint32(length), Data: data}
	if typ == Complete && ep&0x80 == 0 {
		r.FlagData = FlagDataOut
	}
	return Encode(&r)
}

func openFake(t *testing.T, k *fakeKernel, ring int) *Live {
	t.Helper()
	l, err := openLive(k, 3, LiveOptions{RingSize: ring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLiveGetXCopiesHeaderAndData(t *testing.T) {
	k := &fakeKernel{}
	l := openFake(t, k, 0)
	if l.Ring() != RingMax {
		t.Fatalf("ring %d, want RingMax %d (the default)", l.Ring(), RingMax)
	}
	big := bytes.Repeat([]byte{0xa5, 0x5a, 0x01}, 1000) // 3000 bytes, > a page of nothing special
	evs := [][]byte{
		kernelEvent(Submit, XferBulk, 0x02, 5, len(big), big),
		kernelEvent(Complete, XferBulk, 0x02, 5, len(big), nil),
		kernelEvent(Submit, XferBulk, 0x82, 5, 2048, nil),
		kernelEvent(Complete, XferBulk, 0x82, 5, 60, big[:60]),
	}
	k.push(evs...)
	ctx := context.Background()
	for i, want := range evs {
		ev, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !bytes.Equal(ev, want) {
			t.Fatalf("event %d: got %d bytes, want %d (header %x vs %x)", i, len(ev), len(want), ev[:min(64, len(ev))], want[:64])
		}
	}
	k.mu.Lock()
	k.lost = 4
	k.mu.Unlock()
	if d, err := l.Dropped(); err != nil || d != 4 {
		t.Fatalf("Dropped = %d, %v; want 4", d, err)
	}
	k.mu.Lock()
	k.lost = 3 // the kernel reset its count on the first read
	k.mu.Unlock()
	if d, _ := l.Dropped(); d != 7 {
		t.Fatalf("Dropped after a second MON_IOCG_STATS = %d, want the sum 7", d)
	}
}

func TestLiveWaitsThenWakes(t *testing.T) {
	k := &fakeKernel{}
	l := openFake(t, k, RingMin)
	want := kernelEvent(Submit, XferControl, 0x80, 1, 18, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now() // before the push is scheduled: it comes ≥ 30 ms after t0
	go func() {
		time.Sleep(30 * time.Millisecond)
		k.push(want)
	}()
	ev, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev, want) {
		t.Fatalf("got %x", ev)
	}
	if d := time.Since(t0); d < 25*time.Millisecond {
		t.Fatalf("Next returned after %v: it did not wait for the event", d)
	}
}

func TestLiveCancelWhileBlocked(t *testing.T) {
	g := gomega.NewWithT(t)
	before := gleak.Goroutines()
	k := &fakeKernel{}
	l := openFake(t, k, RingMin)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := l.Next(ctx); done <- err }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next still blocked 2 s after cancel")
	}
	// A fresh context works again, and the drained pipe does not wake it early.
	k.push(kernelEvent(Submit, XferInterrupt, 0x81, 2, 8, nil))
	if _, err := l.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(before))
}

// A kernel that broke its own cap on len_cap (mon_bin_event keeps it within
// maxEventData of the ring) gets an error from Capture, never a panic from
// slicing past Live's buffer.
func TestLiveLenCapBeyondBuffer(t *testing.T) {
	k := &fakeKernel{}
	l := openFake(t, k, RingMin)
	alloc := maxEventData(RingMin)
	long := make([]byte, alloc+100)
	k.push(kernelEvent(Complete, XferBulk, 0x81, 4, len(long), long))
	ev, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != HeaderLenMmapped+alloc {
		t.Fatalf("event of %d bytes, want the header and the alloc=%d bytes GETX copied", len(ev), alloc)
	}
	var r Record
	var te *TruncatedError
	if err := Decode(ev, LinkTypeMmapped, &r); !errors.As(err, &te) {
		t.Fatalf("Decode of a %d-byte event with len_cap %d: %v, want a TruncatedError", len(ev), len(long), err)
	}
}

// A wait on an empty ring allocates nothing of its own: the poll set and
// the wake-up function are built once in setup, so only
// context.AfterFunc's registration is left.
func TestLiveWaitAllocs(t *testing.T) {
	k := &fakeKernel{}
	l := openFake(t, k, RingMin)
	k.push(kernelEvent(Submit, XferBulk, 0x81, 4, 64, nil)) // poll returns at once
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := func() {}
	register := testing.AllocsPerRun(100, func() { context.AfterFunc(ctx, f)() })
	wait := testing.AllocsPerRun(100, func() {
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if wait > register {
		t.Fatalf("wait allocates %v times, context.AfterFunc alone %v", wait, register)
	}
}

func TestLiveErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		k     *fakeKernel
		opts  LiveOptions
		is    error
		words []string
	}{
		{"node missing", &fakeKernel{openErr: unix.ENOENT}, LiveOptions{}, fs.ErrNotExist, []string{"/dev/usbmon3", "no such file"}},
		{"no permission", &fakeKernel{openErr: unix.EACCES}, LiveOptions{}, fs.ErrPermission, []string{"/dev/usbmon3", "root"}},
		{"ring refused", &fakeKernel{ringErr: unix.ENOMEM}, LiveOptions{}, unix.ENOMEM, []string{"MON_IOCT_RING_SIZE", "/dev/usbmon3"}},
		{"ring too small", &fakeKernel{}, LiveOptions{RingSize: 100}, nil, []string{"ring size 100", "BUFF_MIN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := openLive(c.k, 3, c.opts)
			if err == nil {
				l.Close()
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v is not %v", err, c.is)
			}
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if c.k.ringErr != nil && len(c.k.closedFd) != 1 {
				t.Errorf("node not closed after a failed set-up: %v", c.k.closedFd)
			}
		})
	}
	for _, c := range []struct {
		name     string
		loaded   bool
		bus      int
		want     string
		wantNots []string
	}{
		{"module not loaded", false, 9, "run 'modprobe usbmon'", []string{"no bus", "devtmpfs"}},
		{"module not loaded, every bus", false, 0, "run 'modprobe usbmon'", []string{"no bus", "devtmpfs"}},
		{"no such bus", true, 9, "there is no bus 9: see /sys/bus/usb/devices/usb9, or use bus 0", []string{"modprobe", "devtmpfs"}},
		{"every-bus node missing", true, 0, "the node is missing: is devtmpfs mounted on /dev?", []string{"modprobe", "no bus"}},
	} {
		t.Run("missing node hint: "+c.name, func(t *testing.T) {
			old := usbmonLoaded
			usbmonLoaded = func() bool { return c.loaded }
			t.Cleanup(func() { usbmonLoaded = old })
			err := openError(NodePath(c.bus), c.bus, unix.ENOENT)
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v does not wrap ENOENT", err)
			}
			s := err.Error()
			if !strings.Contains(s, c.want) || !strings.Contains(s, NodePath(c.bus)) {
				t.Errorf("%q: want the node and %q", s, c.want)
			}
			for _, w := range c.wantNots {
				if strings.Contains(s, w) {
					t.Errorf("%q: says %q, a hint of another case", s, w)
				}
			}
		})
	}
	t.Run("GETX fails", func(t *testing.T) {
		k := &fakeKernel{}
		l := openFake(t, k, RingMin)
		k.getErr = unix.EFAULT
		_, err := l.Next(context.Background())
		var le *LiveError
		if !errors.As(err, &le) || le.Op != "MON_IOCX_GETX" || !errors.Is(err, unix.EFAULT) {
			t.Fatalf("%v: want a LiveError for MON_IOCX_GETX wrapping EFAULT", err)
		}
	})
	t.Run("real open of a missing node", func(t *testing.T) {
		_, err := OpenLive(0, LiveOptions{Path: t.TempDir() + "/usbmon0"})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "usbmon0") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		k := &fakeKernel{}
		l := openFake(t, k, RingMin)
		l.Close()
		if _, err := l.Next(context.Background()); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
		if len(k.closedFd) != 1 || k.closedFd[0] != fakeFd {
			t.Fatalf("closed fds %v", k.closedFd)
		}
	})
}

// The whole path: fake ring → Live (GETX) → Capture → Writer → Reader.
func TestLiveCaptureRoundTrip(t *testing.T) {
	k := &fakeKernel{}
	l := openFake(t, k, 0)
	payload := bytes.Repeat([]byte("dongle"), 250)
	evs := [][]byte{
		kernelEvent(Submit, XferBulk, 0x02, 7, len(payload), payload),
		kernelEvent(Submit, XferBulk, 0x02, 8, 4, []byte{1, 2, 3, 4}), // another device
		kernelEvent(Complete, XferBulk, 0x02, 7, len(payload), nil),
	}
	k.push(evs...)
	k.lost = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	w, err := NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			k.mu.Lock()
			n := k.fetched
			k.mu.Unlock()
			if n == len(evs) {
				k.mu.Lock()
				k.lost = 2
				k.mu.Unlock()
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	st, err := Capture(ctx, l, w, CaptureOptions{Device: 7})
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 2 || st.Filtered != 1 || st.Dropped != 2 {
		t.Fatalf("stats %+v", st)
	}
	recs, lt, err := ReadAll(&out)
	if err != nil || lt != LinkTypeMmapped || len(recs) != 2 {
		t.Fatalf("re-read: %d records, %v, %v", len(recs), lt, err)
	}
	if !bytes.Equal(Encode(&recs[0]), evs[0]) || !bytes.Equal(Encode(&recs[1]), evs[2]) {
		t.Fatalf("records differ from the kernel's events")
	}
}

// TestLiveBusAndClose: bus 0 opens the every-bus node; Close closes the
// node and the wake-up pipe, and reports a failed close of the node.
func TestLiveBusAndClose(t *testing.T) {
	k := &fakeKernel{}
	l, err := openLive(k, 0, LiveOptions{RingSize: RingMin})
	if err != nil || k.opened != "/dev/usbmon0" {
		t.Fatalf("bus 0 opened %q: %v", k.opened, err)
	}
	wake := l.wake
	if err := l.Close(); err != nil || len(k.closedFd) != 1 || k.closedFd[0] != fakeFd {
		t.Fatalf("close: %v, closed %v", err, k.closedFd)
	}
	for _, fd := range wake {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
			t.Fatalf("wake-up pipe fd %d still open after Close (%v)", fd, err)
		}
	}
	if _, err := openLive(k, -1, LiveOptions{}); err == nil {
		t.Fatal("bus -1 accepted")
	}
	k2 := &fakeKernel{closeErr: unix.EIO}
	l2, err := openLive(k2, 1, LiveOptions{RingSize: RingMin})
	if err != nil {
		t.Fatal(err)
	}
	var le *LiveError
	if err := l2.Close(); !errors.As(err, &le) || le.Op != "close" || !errors.Is(err, unix.EIO) {
		t.Fatalf("failed close: %v", err)
	}
}

// TestLiveFailedOpenClosesOnlyItsOwn: an open that fails after the node
// opened closes the node and no descriptor it did not open (the wake-up
// pipe, not made yet, is no fd 0 or 1).
func TestLiveFailedOpenClosesOnlyItsOwn(t *testing.T) {
	// fds 0 and 1 may be closed in the environment that runs the test: if
	// so, put /dev/null there so that a wrong close shows.
	for _, fd := range []int{0, 1} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if null != fd {
				if err := unix.Dup2(null, fd); err != nil {
					t.Fatal(err)
				}
				unix.Close(null)
			}
		}
	}
	k := &fakeKernel{ringErr: unix.ENOMEM}
	if _, err := openLive(k, 3, LiveOptions{}); err == nil {
		t.Fatal("no error")
	}
	for _, fd := range []uintptr{0, 1} {
		if _, err := unix.FcntlInt(fd, unix.F_GETFD, 0); err != nil {
			t.Fatalf("fd %d closed by a failed open: %v", fd, err)
		}
	}
	if len(k.closedFd) != 1 || k.closedFd[0] != fakeFd {
		t.Fatalf("closed %v", k.closedFd)
	}
}

// TestLiveWaitHasNoTimeout: an empty ring is waited on in poll without a
// timeout (no polling loop burning the CPU).
func TestLiveWaitHasNoTimeout(t *testing.T) {
	k := &fakeKernel{}
	l := openFake(t, k, RingMin)
	go func() {
		time.Sleep(20 * time.Millisecond)
		k.push(kernelEvent(Submit, XferBulk, 0x81, 1, 8, nil))
	}()
	if _, err := l.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.timeouts) == 0 || k.timeouts[0] != -1 {
		t.Fatalf("poll timeouts %v, want -1", k.timeouts)
	}
}

// TestLiveBufferFitsLargestEvent: the GETX buffer is what mon_bin.c can
// hand out for the ring the kernel granted, no less (an event would be
// cut) and no more (memory per open node): data cut to a fifth of the
// ring, plus ISODESC_MAX (128) 16-byte iso descriptors.
func TestLiveBufferFitsLargestEvent(t *testing.T) {
	for _, ring := range []int{RingMin, 64 * 1024, RingMax} {
		l := openFake(t, &fakeKernel{}, ring)
		want := ring/5 + 128*16
		if int(l.get.alloc) != want || len(l.buf) != HeaderLenMmapped+want {
			t.Errorf("ring %d: alloc %d, buffer %d; want %d after the header", ring, l.get.alloc, len(l.buf), want)
		}
	}
}
