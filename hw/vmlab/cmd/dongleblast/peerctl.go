package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw/vmlab/guest"
)

// peerBlast asks the host peer, over its control port, to send n frames of
// size bytes at rate frames/s (0: as fast as usb-net takes them) and waits
// for its answer "ok sent=N in_ns=N". guest.Peer has no blast method (and a
// 10 s answer deadline, too short for a blast), hence this small client.
func peerBlast(n, size, rate int, timeout time.Duration) (sent int, elapsed time.Duration, err error) {
	f, err := os.OpenFile(guest.PeerPort, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("host peer control: %w", err)
	}
	defer f.Close()
	if err := rawTTY(int(f.Fd())); err != nil {
		return 0, 0, fmt.Errorf("host peer control %s: %w", guest.PeerPort, err)
	}
	c := fmt.Sprintf("blast %d %d %d", n, size, rate)
	if _, err := f.WriteString(c + "\n"); err != nil {
		return 0, 0, fmt.Errorf("host peer %q: %w", c, err)
	}
	f.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("host peer %q: no answer: %w", c, err)
	}
	var ns int64
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "ok sent=%d in_ns=%d", &sent, &ns); err != nil {
		return 0, 0, fmt.Errorf("host peer %q: answer %q", c, strings.TrimSpace(line))
	}
	return sent, time.Duration(ns), nil
}

// rawTTY is cfmakeraw(3).
func rawTTY(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
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

// waitRX polls count every millisecond until n frames arrived, or the
// blast is over and nothing came for a second, or timeout. It returns the
// count, the time of the first poll that saw frames and of the poll that
// saw the last (for the kernel, whose counter is all there is; dongle's
// handler timestamps frames itself), and the blast's result.
func waitRX(count rxCounter, n uint64, blast <-chan blastResult, timeout time.Duration) (got uint64, first, last time.Time, firstCount uint64, br blastResult) {
	deadline := time.Now().Add(timeout)
	done := false
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
				done = true
			default:
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
