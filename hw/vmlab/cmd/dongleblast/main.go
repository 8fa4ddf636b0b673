// Command dongleblast drives QEMU's usb-net in the lab guest with dongle's
// own driver (usbnet + cdcecm over hw/gousb, probed with drivers.All()),
// for the throughput comparison with the kernel's cdc_ether and for the
// lab's fixture captures:
//
//	dongleblast tx   -n 20000 [-size 1514]   Xmit n frames as fast as the driver takes them (host peer counts)
//	dongleblast rx   -n 20000                count the frames the driver delivers while the host peer blasts
//	dongleblast echo [-sizes 60,64,...]      send each frame and expect it back intact (host peer echoes)
//
// Tuning: -workers (hw/gousb Options.Workers: transfers per endpoint in
// flight at the OS), -sync (hw/gousb Options.Sync: the older synchronous
// transfer path), -txurbs / -rxurbs (usbnet's TX_QLEN / RX_QLEN),
// -cpuprofile FILE (pprof, e.g. in /mnt/lab so the host can read it),
// -procs N (GOMAXPROCS).
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
// Output: one "DONGLEBLAST ..." result line.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	usbhw "dongle/hw/gousb"
	"dongle/hw/vmlab/guest"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/drivers"
)

func main() {
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
	procs := fs.Int("procs", 0, "GOMAXPROCS (0: the runtime's default, one per CPU)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	fs.Parse(os.Args[2:])

	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *wait != "wake" && *wait != "yield" && *wait != "sleep" {
		fail(fmt.Errorf("-wait %q: want wake, sleep or yield", *wait))
	}
	b, err := open(*sel, &usbhw.Options{Workers: *workers, Sync: *syncPath}, *txurbs, *rxurbs)
	if err != nil {
		fail(err)
	}
	defer b.close()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	switch mode {
	case "tx":
		err = b.tx(*n, *size, *wait, *timeout)
	case "rx":
		err = b.rx(*n, *timeout)
	case "echo":
		err = b.echo(*sizes, *timeout)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: dongleblast tx|rx|echo [flags] (go doc dongle/hw/vmlab/cmd/dongleblast)")
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
	last atomic.Int64 // unix ns of the last frame received
	frst atomic.Int64
	got  chan []byte
}

func open(sel string, opts *usbhw.Options, txurbs, rxurbs int) (*blaster, error) {
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
	d, err := usbnet.Probe(dev, drivers.All()...)
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
	b := &blaster{ctx: c, dev: dev, d: d, net: d.Net, got: make(chan []byte, 64)}
	d.Net.AddHandler(guest.EchoEtherType, func(buf *skbuff.Buff) {
		now := time.Now().UnixNano()
		b.frst.CompareAndSwap(0, now)
		b.last.Store(now)
		b.nrx.Add(1)
		select {
		case b.got <- append(append([]byte(nil), buf.MACHeader()...), buf.Data()...):
		default:
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
	t0 := time.Now()
	for i := 0; i < n; i++ {
		for {
			switch wait {
			case "yield":
				for b.net.TxQueued() >= qlen {
					runtime.Gosched()
				}
			case "wake":
				if queued.Load() >= qlen {
					waiting.Store(true)
					if queued.Load() >= qlen { // the tap may have run meanwhile
						<-room
					} else if !waiting.CompareAndSwap(true, false) {
						<-room // the tap took it and is sending
					}
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
			if wait == "wake" {
				queued.Add(-1) // dropped, never reached the tap
			}
			if !errors.Is(err, netdev.ErrQueueFull) {
				return fmt.Errorf("frame %d: %w", i, err)
			}
			if wait == "sleep" {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	deadline := t0.Add(timeout)
	for st.TxPackets.Load() < uint64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	d := time.Since(t0)
	fmt.Printf("DONGLEBLAST tx frames=%d size=%d tx_packets=%d tx_dropped=%d tx_errors=%d in=%.3fs rate=%.0f frames/s stops=%d\n",
		n, size, st.TxPackets.Load(), st.TxDropped.Load(), st.TxErrors.Load(), d.Seconds(), float64(st.TxPackets.Load())/d.Seconds(), b.d.Counters().TxQueueStops.Load())
	if st.TxPackets.Load() != uint64(n) {
		return fmt.Errorf("%d of %d frames sent", st.TxPackets.Load(), n)
	}
	return nil
}

// rx counts frames until n arrived or nothing came for a second.
func (b *blaster) rx(n int, timeout time.Duration) error {
	fmt.Println("DONGLEBLAST rx ready")
	deadline := time.Now().Add(timeout)
	var lastCount uint64
	idle := time.Now()
	for b.nrx.Load() < uint64(n) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		if c := b.nrx.Load(); c != lastCount {
			lastCount, idle = c, time.Now()
		} else if c > 0 && time.Since(idle) > time.Second {
			break
		}
	}
	got := b.nrx.Load()
	el := time.Duration(b.last.Load() - b.frst.Load())
	rate := 0.0
	if got > 1 && el > 0 {
		rate = float64(got-1) / el.Seconds()
	}
	st := b.net.Stats()
	fmt.Printf("DONGLEBLAST rx frames=%d/%d in=%.3fs rate=%.0f frames/s rx_errors=%d rx_dropped=%d\n",
		got, n, el.Seconds(), rate, st.RxErrors.Load(), st.RxDropped.Load())
	return nil
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
