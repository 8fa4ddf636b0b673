package main

import (
	"fmt"
	"net"
	"time"

	"dongle/hw/vmlab/guest"
)

// peerBlast asks the host peer for a blast (guest.Peer.Blast) on a
// control connection of its own, so that the answer can take as long as the
// blast does.
func peerBlast(n, size, rate int, timeout time.Duration) (sent int, elapsed time.Duration, err error) {
	p, err := guest.DialPeer()
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	return p.Blast(n, size, rate, timeout)
}

// blastResult is the host peer's answer, delivered when the blast is over.
type blastResult struct {
	sent    int
	elapsed time.Duration
	err     error
}

// startBlast runs peerBlast in the background.
func startBlast(n, size, rate int, timeout time.Duration) <-chan blastResult {
	ch := make(chan blastResult, 1)
	go func() {
		s, el, err := peerBlast(n, size, rate, timeout)
		ch <- blastResult{s, el, err}
	}()
	return ch
}

// rxCounter reports how many frames arrived so far.
type rxCounter func() uint64

// firstFrameWait is how long waitRX waits, once the blast is over, for
// a first frame. Frames reach the counter well after they were sent: an
// AF_PACKET sender on a veth is done long before a driver under TCG has
// completed its first bulk IN. Ending when the blast did would report
// every frame lost while they were on their way (the netdev's
// rx_dropped, read just after, would count them).
var firstFrameWait = 5 * time.Second

// waitRX polls count every millisecond until n frames arrived, or the
// blast is over and nothing came for a second after the first frame (for
// firstFrameWait when none came), or timeout. It returns the
// count, the time of the first poll that saw frames and of the poll that
// saw the last (for the kernel, whose counter is all there is; dongle's
// handler timestamps frames itself), and the blast's result.
func waitRX(count rxCounter, n uint64, blast <-chan blastResult, timeout time.Duration) (got uint64, first, last time.Time, firstCount uint64, br blastResult) {
	deadline := time.Now().Add(timeout)
	done := false
	var doneAt time.Time
	for time.Now().Before(deadline) {
		c := count()
		now := time.Now()
		if c > 0 && first.IsZero() {
			first, firstCount = now, c
		}
		if c != got {
			got, last = c, now
		}
		if got >= n {
			break
		}
		if !done {
			select {
			case br = <-blast:
				done, doneAt = true, now
			default:
			}
		} else if first.IsZero() {
			if now.Sub(doneAt) > firstFrameWait {
				break
			}
		} else if now.Sub(last) > time.Second && now.Sub(first) > time.Second {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !done {
		select {
		case br = <-blast:
		case <-time.After(time.Until(deadline) + time.Second):
			br.err = fmt.Errorf("host peer blast: no answer")
		}
	}
	return got, first, last, firstCount, br
}

// waitFull is waitRX for a counter that signals: it sleeps until full is
// closed (every frame arrived), the blast ended and no frame came for a
// second, or timeout, checking progress every 100 ms rather than polling
// every millisecond (each poll a timer and a wake-up the driver pays for
// under TCG).
func waitFull(full <-chan struct{}, count rxCounter, blast <-chan blastResult, timeout time.Duration) (got uint64, br blastResult) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	done, last, lastChange := false, uint64(0), time.Now()
wait:
	for {
		select {
		case <-full:
			break wait
		case br = <-blast:
			done, blast = true, nil
		case now := <-tick.C:
			if c := count(); c != last {
				last, lastChange = c, now
			} else if done && now.Sub(lastChange) > time.Second {
				break wait
			}
		case <-deadline.C:
			break wait
		}
	}
	if !done {
		select {
		case br = <-blast:
		case <-time.After(2 * time.Second):
			br.err = fmt.Errorf("host peer blast: no answer")
		}
	}
	return count(), br
}

// localBlast sends n test frames of size bytes out of the local netdev
// ifname (AF_PACKET) as fast as it takes them, in the background: the
// source for a device whose far side is a netdev in the guest (a gadget's
// gncm0) rather than the host peer. from "none" sends nothing (another
// program is the source); the result then arrives at once.
func localBlast(ifname string, n, size int) <-chan blastResult {
	ch := make(chan blastResult, 1)
	if ifname == "none" {
		ch <- blastResult{}
		return ch
	}
	go func() {
		ch <- sendFrames(ifname, n, size)
	}()
	return ch
}

// send is dongleblast send: sendFrames in a process of its own, its
// result on one line.
func send(ifname string, n, size int) error {
	if ifname == "" || ifname == "none" {
		return fmt.Errorf("send: -from %q: want a local netdev", ifname)
	}
	br := sendFrames(ifname, n, size)
	r := 0.0
	if br.elapsed > 0 {
		r = float64(br.sent) / br.elapsed.Seconds()
	}
	fmt.Printf("DONGLEBLAST send if=%s sent=%d/%d size=%d sent_ns=%d send_rate=%.0f frames/s\n", ifname, br.sent, n, size, br.elapsed.Nanoseconds(), r)
	return br.err
}

func sendFrames(ifname string, n, size int) blastResult {
	ni, err := net.InterfaceByName(ifname)
	if err != nil {
		return blastResult{err: fmt.Errorf("-from %s: %w", ifname, err)}
	}
	c, err := guest.ListenPacket(ifname, 0)
	if err != nil {
		return blastResult{err: fmt.Errorf("-from %s: %w", ifname, err)}
	}
	defer c.Close()
	frame := make([]byte, size)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		// EchoEtherType: what dongleblast rx's handler counts.
		guest.TestFrame(frame, ni.HardwareAddr, guest.EchoEtherType, uint32(i))
		if err := c.Send(frame); err != nil {
			return blastResult{sent: i, elapsed: time.Since(t0), err: fmt.Errorf("-from %s: frame %d: %w", ifname, i, err)}
		}
	}
	return blastResult{sent: n, elapsed: time.Since(t0)}
}
