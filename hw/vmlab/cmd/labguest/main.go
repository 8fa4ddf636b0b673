// Command labguest is the lab's helper inside the guest VM (static, pure Go;
// the lab's /init starts it, and run scripts call it).
//
//	labguest echo  -if gecm0 [-ethertype 0x88b5]     echo frames of one EtherType back out (AF_PACKET)
//	labguest blast -if usb0 -n 20000 [-size 1514]    send frames as fast as the netdev takes them
//	labguest ping  -if usb0 -n 100 [-size 1000]      send numbered frames, expect each back intact (round trips: p50, p99)
//	labguest usb                                     list USB devices, interfaces and bound drivers (sysfs)
//	labguest netif VID:PID                           print the netdev a class driver made for a device
//	labguest link  IF up|down                        ip link set IF up|down (a gadget netdev: link change)
//	labguest peer  mode echo|count | stats | reset   talk to the host peer
//	labguest bulkin -dev VID:PID -ep 0x86 [-n 5]     read bulk IN through usbfs, never clearing a halt
//
// Exit status 0 on success, 1 on failure (with a message on stderr), 2 on usage errors.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw/vmlab/guest"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "echo":
		err = echo(args)
	case "blast":
		err = blast(args)
	case "ping":
		err = ping(args)
	case "usb":
		err = usb()
	case "netif":
		err = netif(args)
	case "link":
		if len(args) != 2 || (args[1] != "up" && args[1] != "down") {
			usage()
		}
		err = guest.SetLink(args[0], args[1] == "up")
	case "peer":
		err = peer(args)
	case "bulkin":
		err = bulkin(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "labguest %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: labguest echo|blast|ping|usb|netif|link|peer|bulkin ... (see go doc dongle/hw/vmlab/cmd/labguest)")
	os.Exit(2)
}

// echoed counts the frames echo sent back.
var echoed atomic.Uint64

func echo(args []string) error {
	fs := flag.NewFlagSet("echo", flag.ExitOnError)
	ifname := fs.String("if", guest.ECMGadgetNetdev, "interface")
	et := fs.Uint("ethertype", guest.EchoEtherType, "EtherType to echo")
	inflight := fs.Int("inflight", 8, "echoes queued on the interface but not yet transmitted, at most (0: no pacing)")
	fs.Parse(args)
	c, err := guest.ListenPacket(*ifname, uint16(*et))
	if err != nil {
		return err
	}
	_, _, rcvbuf, _ := c.Stats()
	fmt.Printf("labguest: echoing EtherType %#04x on %s (receive buffer %d bytes)\n", *et, *ifname, rcvbuf)
	go func() {
		// A dropped frame is a lost echo: say so where the lab keeps the log.
		var last uint64
		for range time.Tick(time.Second) {
			if p, d, _, err := c.Stats(); err == nil && d > 0 {
				fmt.Printf("labguest: echo socket on %s dropped %d of %d frames (receive buffer full)\n", *ifname, d, p)
			}
			if n := echoed.Load(); n != last {
				fmt.Printf("labguest: echoed %d frames on %s\n", n, *ifname)
				last = n
			}
		}
	}()
	pace := newTxPacer(*ifname, *inflight)
	buf := make([]byte, 65536)
	for {
		n, err := c.Recv(buf, 0)
		if errors.Is(err, unix.ENETDOWN) {
			// The interface went down (a link-change test): the socket
			// reports it once; keep echoing once it is back up.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		pace.wait(echoed.Load())
		if err := c.Send(buf[:n]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			continue
		}
		echoed.Add(1)
	}
}

func ifaceMAC(ifname string) (net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	return ifi.HardwareAddr, nil
}

func blast(args []string) error {
	fs := flag.NewFlagSet("blast", flag.ExitOnError)
	ifname := fs.String("if", "usb0", "interface")
	n := fs.Int("n", 20000, "frames")
	size := fs.Int("size", 1514, "frame size (Ethernet header included, no FCS)")
	et := fs.Uint("ethertype", guest.EchoEtherType+1, "EtherType")
	fs.Parse(args)
	if *size < 18 || *size > 9000 {
		return fmt.Errorf("-size %d: want 18..9000", *size)
	}
	mac, err := ifaceMAC(*ifname)
	if err != nil {
		return err
	}
	c, err := guest.ListenPacket(*ifname, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	frame := make([]byte, *size)
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		guest.TestFrame(frame, mac, uint16(*et), uint32(i))
		if err := c.Send(frame); err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
	}
	d := time.Since(t0)
	fmt.Printf("BLAST if=%s frames=%d size=%d sent_in=%.3fs rate=%.0f frames/s %.2f MB/s\n",
		*ifname, *n, *size, d.Seconds(), float64(*n)/d.Seconds(), float64(*n**size)/d.Seconds()/1e6)
	return nil
}

func ping(args []string) error {
	fs := flag.NewFlagSet("ping", flag.ExitOnError)
	ifname := fs.String("if", "usb0", "interface")
	n := fs.Int("n", 100, "frames")
	size := fs.Int("size", 0, "frame size; 0: cycle through 60..1514")
	fs.Parse(args)
	mac, err := ifaceMAC(*ifname)
	if err != nil {
		return err
	}
	c, err := guest.ListenPacket(*ifname, guest.EchoEtherType)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 65536)
	rtt := make([]time.Duration, 0, *n)
	tk0, tkErr := guest.BusyTicks()
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		sz := *size
		if sz == 0 {
			sz = 60 + (i*97)%(1514-60+1)
		}
		f := make([]byte, sz)
		guest.TestFrame(f, mac, guest.EchoEtherType, uint32(i))
		sent := time.Now()
		if err := c.Send(f); err != nil {
			return err
		}
		for {
			m, err := c.Recv(buf, 3*time.Second)
			if err != nil {
				return fmt.Errorf("frame %d (%d bytes): no echo: %w", i, sz, err)
			}
			if m >= 18 && !bytes.Equal(buf[6:12], mac) {
				continue // not ours
			}
			// usbnet may pad short frames; compare what we sent.
			if m < sz || !bytes.Equal(buf[:sz], f) {
				return fmt.Errorf("frame %d: sent %d bytes, got %d back, contents differ", i, sz, m)
			}
			rtt = append(rtt, time.Since(sent))
			break
		}
	}
	// No guest_ticks when /proc/stat could not be read (the bench then
	// takes the shell's count), rather than a difference of garbage.
	ticks := ""
	if tk, err := guest.BusyTicks(); err == nil && tkErr == nil && tk >= tk0 {
		ticks = fmt.Sprintf(" guest_ticks=%d", tk-tk0)
	}
	fmt.Printf("PING if=%s echoed=%d/%d in %.3fs%s rtt %s\n", *ifname, *n, *n, time.Since(t0).Seconds(), ticks, guest.RTT(rtt))
	return nil
}

func usb() error {
	devs, err := guest.USBDevices()
	if err != nil {
		return err
	}
	for _, d := range devs {
		fmt.Println(d)
	}
	return nil
}

func netif(args []string) error {
	if len(args) != 1 {
		usage()
	}
	v, p, ok := strings.Cut(args[0], ":")
	vid, err1 := strconv.ParseUint(v, 16, 16)
	pid, err2 := strconv.ParseUint(p, 16, 16)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q: want VID:PID in hex", args[0])
	}
	d, err := guest.FindUSB(uint16(vid), uint16(pid))
	if err != nil {
		return err
	}
	name, err := d.Netdev()
	if err != nil {
		return err
	}
	fmt.Println(name)
	return nil
}

func peer(args []string) error {
	if len(args) == 0 {
		usage()
	}
	p, err := guest.DialPeer()
	if err != nil {
		return err
	}
	defer p.Close()
	switch args[0] {
	case "mode":
		if len(args) != 2 {
			usage()
		}
		return p.SetMode(guest.PeerMode(args[1]))
	case "reset":
		return p.Reset()
	case "stats":
		s, err := p.Stats()
		if err != nil {
			return err
		}
		fmt.Printf("PEER %s rate=%.0f frames/s\n", s, s.FramesPerSecond())
		return nil
	}
	return errors.New("peer: want mode|reset|stats")
}

// txPacer keeps the echo from queueing more than max frames that the
// interface has not transmitted yet (sent - tx_packets). Measured in the
// lab: a burst of 500 full-size echoes on gecm0 loses one now and then
// between a successful sendto and the USB bus (the gadget's tx_packets,
// tx_dropped and the qdisc show nothing, and the host never sees the frame
// on bulk IN), while the same burst paced by the gadget's own completions
// arrives whole. A host that stopped reading must not stall the echo
// forever, so the wait is bounded.
type txPacer struct {
	f         *os.File
	max, base uint64 // base: tx_packets when the echo started
	buf       [32]byte
}

func newTxPacer(ifname string, max int) *txPacer {
	if max <= 0 {
		return &txPacer{}
	}
	f, err := os.Open("/sys/class/net/" + ifname + "/statistics/tx_packets")
	if err != nil {
		return &txPacer{}
	}
	p := &txPacer{f: f, max: uint64(max)}
	p.base = p.txPackets()
	return p
}

func (p *txPacer) txPackets() uint64 {
	n, err := p.f.ReadAt(p.buf[:], 0)
	if err != nil && n == 0 {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(p.buf[:n])), 10, 64)
	return v
}

func (p *txPacer) wait(sent uint64) {
	if p.f == nil {
		return
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for sent+p.base >= p.txPackets()+p.max && time.Now().Before(deadline) {
		time.Sleep(20 * time.Microsecond)
	}
}
