// Command dongleblast drives QEMU's usb-net in the lab guest with dongle's
// own driver (usbnet + cdcecm over hw/gousb, probed with catalog.All()),
// for the throughput comparison with the kernel's cdc_ether and for the
// lab's fixture captures:
//
//	dongleblast tx   -n 20000 [-size 1514]   Xmit n frames as fast as the driver takes them (host peer counts)
//	dongleblast rx   -n 20000 [-blast]       count the frames the driver delivers while the host peer blasts
//	                                         (-blast: ask the peer to send them, -size bytes at -rate frames/s)
//	dongleblast kernrx -if usb0 -n 20000     the same for the kernel's driver of that netdev: ask the peer to
//	                                         blast, count rx_packets in sysfs (no USB access); with -from none
//	                                         it prints "DONGLEBLAST kernrx ready" once it has read the base
//	                                         count, and another program may send
//	dongleblast send -from gncm0 -n 20000    only send: n test frames of -size bytes out of a local netdev
//	                                         (AF_PACKET), as fast as it takes them, for a counter in
//	                                         another process (rx or kernrx with -from none)
//	dongleblast echo [-sizes 60,64,...]      send each frame and expect it back intact (host peer echoes)
//	dongleblast rtt -n 500 [-size 64]        send n frames one at a time, each echoed back intact before the
//	                                         next: round-trip p50, p99 and max (guest.RTT)
//
// -from IF (rx, kernrx) sends the frames from a local netdev instead of the
// host peer: a gadget's own netdev (gncm0) is the far side of the lab's
// f_ncm. -from none only counts (another dongleblast or labguest sends):
// kernrx -if gncm0 -from none measures a host driver's TX at the gadget,
// and rx or kernrx with -from none, with dongleblast send in a process of
// its own, a driver's RX from the gadget. With -from none both print
// "DONGLEBLAST rx ready" (kernrx ready) once they count, and wait for the
// first frame (up to -timeout) before the rest may stop coming for a
// second.
//
// Tuning: -workers (hw/gousb Options.Workers: transfers per endpoint in
// flight at the OS), -sync (hw/gousb Options.Sync: the older synchronous
// transfer path), -txurbs / -rxurbs (usbnet's TX_QLEN / RX_QLEN), -ntbs
// (CDC-NCM: full NTBs per bulk OUT transfer, 1 as Linux submits them),
// -cpuprofile FILE (pprof, e.g. in /mnt/lab so the host can read it),
// -trace FILE (runtime/trace: where the goroutines waited, for go tool
// trace -pprof=sched|sync|syscall),
// -procs N (GOMAXPROCS), -nobatch (every WaitBatch returns one transfer:
// usbnet's bottom half then pays a poll and a lock per transfer, though
// what completed together still reaches it in one pass).
//
// tx -wait says how the blaster waits while netdev's transmit queue
// (TxQueueLen 1000, the kernel's qdisc default) is full:
//
//	wake   (default) block on a channel; a DirTX tap (called as each frame
//	       leaves the queue for the driver) signals it once the queue is
//	       half empty: no frame is offered to a full queue, no timer is
//	       armed, and the blaster wakes once per 500 frames
//	sleep  the older loop: offer the frame, have it dropped (ErrQueueFull,
//	       counted in tx_dropped) and sleep 20 µs, which under QEMU's TCG
//	       costs timer and clock work of its own
//	yield  poll TxQueued with runtime.Gosched: measured 2.3x slower than
//	       sleep in the lab, the spinning vCPU starving the rest
//
// rx -floor counts with the libusb floor instead of dongle's driver: a
// receive loop written in C on libusb alone, for CDC-NCM functions
// (floor.go says what it leaves out and why). -rxurbs sets its transfers
// in flight (default 16), -dev must be VID:PID, and -from none or no -from.
//
// Output: one "DONGLEBLAST ..." result line.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"dongle/cmd/internal/gcpace"
	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/hw/vmlab/guest"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
	"dongle/usbnet/cdcncm"
)

func main() {
	gcpace.Set()
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	sel := fs.String("dev", fmt.Sprintf("%04x:%04x", guest.USBNetVendor, guest.USBNetProduct), "device selector")
	n := fs.Int("n", 20000, "frames")
	size := fs.Int("size", 1514, "frame size (tx)")
	sizes := fs.String("sizes", "60,63,64,65,128,512,1024,1514", "frame sizes (echo)")
	workers := fs.Int("workers", 0, "hw/gousb transfers in flight per endpoint (0: default)")
	syncPath := fs.Bool("sync", false, "hw/gousb Options.Sync: gousb's synchronous transfers on worker goroutines")
	wait := fs.String("wait", "wake", "tx: how to wait while the transmit queue is full: wake, sleep or yield")
	txurbs := fs.Int("txurbs", 0, "usbnet TX transfers in flight (0: default)")
	rxurbs := fs.Int("rxurbs", 0, "usbnet RX transfers in flight (0: default)")
	prof := fs.String("cpuprofile", "", "write a CPU profile here")
	traceOut := fs.String("trace", "", "write a runtime execution trace here (go tool trace)")
	procs := fs.Int("procs", 0, "GOMAXPROCS (0: the runtime's default, one per CPU)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	blast := fs.Bool("blast", false, "rx: have the host peer send the frames once the driver is up")
	rate := fs.Int("rate", 0, "rx, kernrx: host peer send rate in frames/s (0: as fast as usb-net takes them)")
	ifname := fs.String("if", "", "kernrx: the kernel netdev")
	nobatch := fs.Bool("nobatch", false, "make usbnet reap one transfer per WaitBatch (no batching, for comparison)")
	ntbs := fs.Int("ntbs", 0, "CDC-NCM: full NTBs per bulk OUT transfer (cdcncm.Driver.NTBsPerTransfer; 0: the driver's default)")
	from := fs.String("from", "", "rx, kernrx: send the frames from this local netdev (AF_PACKET; a gadget's gncm0) instead of the host peer; none: count only, another program sends")
	floor := fs.Bool("floor", false, "rx: count with the libusb floor (a C loop on libusb alone, NCM) instead of dongle's driver")
	fs.Parse(os.Args[2:])

	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *wait != "wake" && *wait != "yield" && *wait != "sleep" {
		fail(fmt.Errorf("-wait %q: want wake, sleep or yield", *wait))
	}
	if mode == "send" {
		if err := send(*from, *n, *size); err != nil {
			fail(err)
		}
		return
	}
	if *floor {
		if mode != "rx" {
			fail(fmt.Errorf("-floor: %s: the floor only receives (rx)", mode))
		}
		if err := floorFlags(fs); err != nil {
			fail(err)
		}
		defer cpuProfile(*prof)()
		if err := floorRX(*sel, *n, *rxurbs, *from, *timeout); err != nil {
			fail(err)
		}
		return
	}
	if mode == "kernrx" {
		if err := kernrx(*ifname, *n, *size, *rate, *from, *timeout); err != nil {
			fail(err)
		}
		return
	}
	b, err := open(*sel, &usbhw.Options{Workers: *workers, Sync: *syncPath}, *txurbs, *rxurbs, *ntbs, mode == "echo" || mode == "rtt", *nobatch)
	if err != nil {
		fail(err)
	}
	defer b.close()
	defer cpuProfile(*prof)()
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			fail(err)
		}
		if err := trace.Start(f); err != nil {
			fail(fmt.Errorf("trace %s: %w", *traceOut, err))
		}
		defer func() { trace.Stop(); f.Close() }()
	}
	switch mode {
	case "tx":
		err = b.tx(*n, *size, *wait, *timeout)
	case "rx":
		err = b.rx(*n, *size, *rate, *blast, *from, *timeout)
	case "echo":
		err = b.echo(*sizes, *timeout)
	case "rtt":
		err = b.rtt(*n, *size, *timeout)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

// cpuProfile starts a CPU profile into path ("": none) and returns what
// stops it.
func cpuProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fail(fmt.Errorf("cpuprofile %s: %w", path, err))
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: dongleblast tx|rx|echo [flags] (go doc dongle/cmd/dongleblast)")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dongleblast:", err)
	os.Exit(1)
}

type blaster struct {
	ctx  *usbhw.Context
	dev  *usbhw.Device
	d    *usbnet.Dev
	net  *netdev.Device
	nrx  atomic.Uint64
	last atomic.Int64 // unix ns of frame lastN
	frst atomic.Int64 // unix ns of the first frame
	// The handler reads the clock for the first frame, every stampEvery-th
	// and the want-th (then closes full), not for each: under TCG a clock
	// read per frame is a measurable share of the driver's own work. The
	// rate is over frames 1..lastN, exactly as timed.
	lastN atomic.Uint64
	want  atomic.Uint64
	full  chan struct{}
	got   chan []byte
}

// open binds dongle's driver; keep: hand copies of received frames to
// b.got (echo), which costs an allocation per frame the rx count must not pay.
func open(sel string, opts *usbhw.Options, txurbs, rxurbs, ntbs int, keep, nobatch bool) (*blaster, error) {
	c, err := usbhw.Open()
	if err != nil {
		return nil, err
	}
	s, err := usbhw.ParseSelector(sel)
	if err != nil {
		c.Close()
		return nil, err
	}
	dev, err := c.OpenDevice(s, opts)
	if err != nil {
		c.Close()
		return nil, err
	}
	var hwdev hw.Device = dev
	if nobatch {
		hwdev = oneByOne{dev}
	}
	d, err := usbnet.Probe(hwdev, catalog.All()...)
	if err != nil {
		dev.Close()
		c.Close()
		return nil, err
	}
	if txurbs > 0 {
		d.TxURBs = txurbs
	}
	if rxurbs > 0 {
		d.RxURBs = rxurbs
	}
	if n, ok := d.Driver.(*cdcncm.Driver); ok && ntbs > 0 {
		n.NTBsPerTransfer = ntbs
	}
	b := &blaster{ctx: c, dev: dev, d: d, net: d.Net, got: make(chan []byte, 64), full: make(chan struct{})}
	d.Net.AddHandler(guest.EchoEtherType, func(buf *skbuff.Buff) {
		if c := b.nrx.Add(1); c == 1 || c%stampEvery == 0 || c == b.want.Load() {
			now := time.Now().UnixNano()
			if c == 1 {
				b.frst.Store(now)
			}
			b.last.Store(now)
			b.lastN.Store(c)
			if c == b.want.Load() {
				close(b.full)
			}
		}
		if keep {
			select {
			case b.got <- append(append([]byte(nil), buf.MACHeader()...), buf.Data()...):
			default:
			}
		}
		buf.Free(skbuff.FreeRead)
	})
	if err := d.Net.Open(); err != nil {
		b.close()
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for !d.Net.Carrier() {
		if time.Now().After(deadline) {
			b.close()
			return nil, errors.New("no carrier 5 s after open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return b, nil
}

func (b *blaster) close() {
	if b.net.Flags()&netdev.FlagUp != 0 {
		b.net.Close()
	}
	b.d.Disconnect()
	b.dev.Close()
	b.ctx.Close()
}

func frame(dst, src []byte, size int, seq uint32) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], guest.EchoEtherType)
	binary.BigEndian.PutUint32(f[14:], seq)
	for i := 18; i < size; i++ {
		f[i] = byte(uint32(i) * (seq | 1))
	}
	return f
}

func (b *blaster) tx(n, size int, wait string, timeout time.Duration) error {
	me := b.net.HardwareAddr()
	f := frame([]byte{2, 0, 0, 0xaa, 0xbb, 0xcc}, me, size, 0)
	st := b.net.Stats()
	const qlen = 1000 // the kernel's default qdisc length: the same budget for both
	b.net.SetTxQueueLen(qlen)
	// wake: queued-left counts frames the queue still holds (Xmit adds,
	// the tap subtracts); the tap wakes a waiting blaster at half empty.
	var (
		queued  atomic.Int64
		waiting atomic.Bool
		room    = make(chan struct{}, 1)
	)
	if wait == "wake" {
		remove := b.net.AddTap(func(_ *skbuff.Buff, dir netdev.Direction) {
			if dir == netdev.DirTX && queued.Add(-1) <= qlen/2 && waiting.CompareAndSwap(true, false) {
				room <- struct{}{}
			}
		})
		defer remove()
	}
	ru0 := cpuTime()
	tk0 := busyTicks()
	t0 := time.Now()
	deadline := t0.Add(timeout)
	// full: the last Xmit was refused (ErrQueueFull) although queued was
	// below qlen: a frame the driver answered XmitBusy went back to the
	// queue after the tap had counted it out. Waiting for half empty then,
	// as when queued says full, keeps the blaster from spinning on
	// refusals (each one an allocation, a copy and a tx_dropped).
	full := false
	for i := 0; i < n; i++ {
		for {
			switch wait {
			case "yield":
				for b.net.TxQueued() >= qlen {
					runtime.Gosched()
				}
			case "wake":
				if full || queued.Load() >= qlen {
					waiting.Store(true)
					// The tap wakes a waiter once queued is down to
					// half; if it got there first, it either took
					// waiting (and is sending) or left it to us.
					if queued.Load() > qlen/2 || !waiting.CompareAndSwap(true, false) {
						select {
						case <-room:
						case <-time.After(time.Until(deadline)):
							return fmt.Errorf("%s: frame %d: the transmit queue was still above %d frames %v after the start (%d sent, %d dropped, carrier %v)",
								b.d.Name(), i, qlen/2, timeout, st.TxPackets.Load(), st.TxDropped.Load(), b.net.Carrier())
						}
					}
					full = false
				}
				queued.Add(1)
			}
			buf := skbuff.Alloc(size)
			buf.PutData(f)
			binary.BigEndian.PutUint32(buf.Data()[14:], uint32(i))
			err := b.net.Xmit(buf)
			if err == nil {
				break
			}
			if !errors.Is(err, netdev.ErrQueueFull) {
				return fmt.Errorf("frame %d: %w", i, err)
			}
			if wait == "wake" {
				queued.Add(-1) // refused, never reached the tap
				full = true
			}
			if wait == "sleep" {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	for st.TxPackets.Load() < uint64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	d := time.Since(t0)
	ru := cpuTime()
	tk := ticksSince(tk0)
	fmt.Printf("DONGLEBLAST tx frames=%d size=%d guest_ticks=%d tx_packets=%d tx_dropped=%d tx_errors=%d in=%.3fs rate=%.0f frames/s stops=%d cpu_us_per_frame=%.1f (user %.1f sys %.1f)\n",
		n, size, tk, st.TxPackets.Load(), st.TxDropped.Load(), st.TxErrors.Load(), d.Seconds(), float64(st.TxPackets.Load())/d.Seconds(), b.d.Counters().TxQueueStops.Load(),
		float64(ru[0]+ru[1]-ru0[0]-ru0[1])/1e3/float64(n), float64(ru[0]-ru0[0])/1e3/float64(n), float64(ru[1]-ru0[1])/1e3/float64(n))
	if c := b.d.Counters(); c.TxAggregates.Load() > 0 {
		// An aggregating driver: how many frames each transfer carried
		// and why each block went (full, the next frame did not fit,
		// the timer).
		fmt.Printf("DONGLEBLAST txagg blocks=%d frames_per_block=%.2f full=%d noroom=%d timer=%d\n",
			c.TxAggregates.Load(), float64(st.TxPackets.Load())/float64(c.TxAggregates.Load()), c.TxAggFull.Load(), c.TxAggNoRoom.Load(), c.TxAggTimer.Load())
	}
	if st.TxPackets.Load() != uint64(n) {
		return fmt.Errorf("%d of %d frames sent", st.TxPackets.Load(), n)
	}
	return nil
}

// rx counts frames until n arrived or nothing came for a second; with
// blast, it asks the host peer to send them once the driver is up. The
// rate is over the handler's timestamps of the first and last frame.
// stampEvery: see blaster.lastN.
const stampEvery = 1024

func (b *blaster) rx(n, size, rate int, blast bool, from string, timeout time.Duration) error {
	b.want.Store(uint64(n))
	tk0 := busyTicks()
	ru0 := cpuTime()
	var bl <-chan blastResult
	if from == "none" {
		// Another process sends once this line is out: wait for its
		// first frame; what it did before (its start) is not the
		// frames' cost.
		fmt.Println("DONGLEBLAST rx ready")
		for deadline := time.Now().Add(timeout); b.nrx.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		tk0 = busyTicks()
		ru0 = cpuTime()
		bl = localBlast(from, n, size)
	} else if from != "" {
		bl = localBlast(from, n, size)
	} else if blast {
		bl = startBlast(n, size, rate, timeout)
	} else {
		fmt.Println("DONGLEBLAST rx ready")
		ch := make(chan blastResult, 1)
		ch <- blastResult{}
		bl = ch
	}
	got, br := waitFull(b.full, b.nrx.Load, bl, timeout)
	tk := ticksSince(tk0)
	ru := cpuTime()
	el := time.Duration(b.last.Load() - b.frst.Load())
	st := b.net.Stats()
	var iv uint64
	if m := b.lastN.Load(); m > 1 {
		iv = m - 1
	}
	per := func(ns int64) float64 { return float64(ns) / 1e3 / float64(max(got, 1)) }
	c := b.d.Counters()
	report("rx", got, n, iv, el, br, fmt.Sprintf("guest_ticks=%d rx_errors=%d rx_dropped=%d cpu_us_per_frame=%.1f (user %.1f sys %.1f) rx_reaps=%d rx_max_batch=%d",
		tk, st.RxErrors.Load(), st.RxDropped.Load(), per(ru[0]-ru0[0]+ru[1]-ru0[1]), per(ru[0]-ru0[0]), per(ru[1]-ru0[1]), c.RxReaps.Load(), c.RxMaxBatch.Load()))
	if br.err != nil {
		return br.err
	}
	return nil
}

// kernrx is rx for the kernel's driver of netdev ifname: it counts
// /sys/class/net/IF/statistics/rx_packets (usbnet counts a frame there as
// it hands it to the stack), polled every millisecond; the rate is over
// the polls that saw the first and the last frames.
func kernrx(ifname string, n, size, rate int, from string, timeout time.Duration) error {
	if ifname == "" {
		return errors.New("kernrx: -if is required")
	}
	f, err := os.Open("/sys/class/net/" + ifname + "/statistics/rx_packets")
	if err != nil {
		return fmt.Errorf("kernrx: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 32)
	read := func() uint64 {
		m, _ := f.ReadAt(buf, 0)
		v, _ := strconv.ParseUint(strings.TrimSpace(string(buf[:m])), 10, 64)
		return v
	}
	base := read()
	tk0 := busyTicks()
	var bl <-chan blastResult
	switch from {
	case "":
		bl = startBlast(n, size, rate, timeout)
	case "none":
		// Another program sends, and may start later: wait for its first
		// frame (the sender is "done" from the start). The sender may
		// start once this line is out: the base count is read.
		fmt.Println("DONGLEBLAST kernrx ready")
		for deadline := time.Now().Add(timeout); read() == base && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		// What the sender did before its first frame arrived (a
		// driver's bind, a process's start) is not the frames' cost.
		tk0 = busyTicks()
		bl = localBlast(from, n, size)
	default:
		bl = localBlast(from, n, size)
	}
	got, first, last, firstCount, br := waitRX(func() uint64 { return read() - base }, uint64(n), bl, timeout)
	tk := ticksSince(tk0)
	// The rate is over the frames counted after the first poll that saw any.
	report("kernrx", got, n, got-firstCount, last.Sub(first), br, fmt.Sprintf("guest_ticks=%d if=%s", tk, ifname))
	if br.err != nil {
		return br.err
	}
	return nil
}

// report prints the rx result line that hw/vmlab's bench parses:
// "DONGLEBLAST MODE frames=GOT/N intervals=I in_ns=NS rate=R frames/s host_sent=S host_ns=NS ...".
// GOT frames arrived; I frame intervals took NS: rate is I/NS.
func report(mode string, got uint64, n int, intervals uint64, el time.Duration, br blastResult, extra string) {
	r := 0.0
	if intervals > 0 && el > 0 {
		r = float64(intervals) / el.Seconds()
	}
	fmt.Printf("DONGLEBLAST %s frames=%d/%d intervals=%d in_ns=%d rate=%.0f frames/s host_sent=%d host_ns=%d %s\n",
		mode, got, n, intervals, el.Nanoseconds(), r, br.sent, br.elapsed.Nanoseconds(), extra)
}

func (b *blaster) echo(list string, timeout time.Duration) error {
	me := b.net.HardwareAddr()
	for i, s := range strings.Split(list, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || size < 18 || size > 1514 {
			return fmt.Errorf("-sizes: %q is not a frame size 18..1514", s)
		}
		f := frame(me, me, size, uint32(i))
		buf := skbuff.Alloc(size)
		buf.PutData(f)
		if err := b.net.Xmit(buf); err != nil {
			return fmt.Errorf("%d bytes: %w", size, err)
		}
		select {
		case g := <-b.got:
			if !bytes.Equal(g, f) {
				return fmt.Errorf("%d bytes: echo differs (got %d bytes)", size, len(g))
			}
		case <-time.After(timeout):
			return fmt.Errorf("%d bytes: no echo", size)
		}
	}
	fmt.Printf("DONGLEBLAST echo sizes=%s ok zlps=%d\n", list, b.d.Counters().ZLPs.Load())
	return nil
}

// rtt sends n frames of size bytes one at a time through dongle's driver;
// each must come back intact (the far side echoes) before the next goes.
// It prints the round trips' p50, p99 and max.
func (b *blaster) rtt(n, size int, timeout time.Duration) error {
	if size < 18 || size > 1514 {
		return fmt.Errorf("rtt: -size %d is not a frame size 18..1514", size)
	}
	me := b.net.HardwareAddr()
	d := make([]time.Duration, 0, n)
	tk0 := busyTicks()
	for i := 0; i < n; i++ {
		f := frame(me, me, size, uint32(i))
		buf := skbuff.Alloc(size)
		buf.PutData(f)
		t0 := time.Now()
		if err := b.net.Xmit(buf); err != nil {
			return fmt.Errorf("rtt frame %d: %w", i, err)
		}
		deadline := time.After(timeout)
	wait:
		for {
			select {
			case g := <-b.got:
				if len(g) < 18 || binary.BigEndian.Uint16(g[12:]) != guest.EchoEtherType || binary.BigEndian.Uint32(g[14:]) != uint32(i) {
					continue // another frame on the wire (the far side's own traffic)
				}
				if !bytes.Equal(g[:min(len(g), size)], f) {
					return fmt.Errorf("rtt frame %d: the echo differs (got %d bytes)", i, len(g))
				}
				break wait
			case <-deadline:
				return fmt.Errorf("rtt frame %d: no echo within %v", i, timeout)
			}
		}
		d = append(d, time.Since(t0))
	}
	fmt.Printf("DONGLEBLAST rtt size=%d guest_ticks=%d %s\n", size, ticksSince(tk0), guest.RTT(d))
	return nil
}

// oneByOne is a device whose endpoints reap one transfer per WaitBatch
// (they pass out[:1] on, still a correct WaitBatch), so usbnet pays a poll
// per transfer, as with Wait (-nobatch).
type oneByOne struct{ hw.Device }

func (d oneByOne) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := d.Device.OpenEndpoint(addr)
	if err != nil {
		return nil, err
	}
	return oneAtATime{ep}, nil
}

type oneAtATime struct{ hw.Endpoint }

var _ hw.Endpoint = oneAtATime{}

func (e oneAtATime) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	return e.Endpoint.WaitBatch(ctx, out[:1])
}

// busyTicks is guest.BusyTicks, 0 where /proc/stat cannot be read (the
// result lines then say guest_ticks=0, which the bench reports as such).
func busyTicks() uint64 {
	t, _ := guest.BusyTicks()
	return t
}

// ticksSince is the busy ticks since t0, 0 when either read failed (never
// the wrapped difference of a failed read).
func ticksSince(t0 uint64) uint64 {
	t := busyTicks()
	if t0 == 0 || t < t0 {
		return 0
	}
	return t - t0
}

// cpuTime is the process's user and system CPU time so far, in ns
// (getrusage): what a frame costs in the guest, which host load sways less
// than a frame rate.
func cpuTime() [2]int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return [2]int64{}
	}
	return [2]int64{ru.Utime.Nano(), ru.Stime.Nano()}
}
