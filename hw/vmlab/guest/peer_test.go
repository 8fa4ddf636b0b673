package guest

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeHost answers the control protocol on a unix socket: each command
// line gets the answers script gives it, written after delay.
func fakeHost(t *testing.T, script func(cmd string) (answers []string, delay time.Duration)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rd := bufio.NewReader(c)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			ans, delay := script(strings.TrimSpace(line))
			time.Sleep(delay)
			for _, a := range ans {
				if _, err := c.Write([]byte(a + "\n")); err != nil {
					return
				}
			}
		}
	}()
	return path
}

// TestPeerDesync: an answer that comes after its command gave up would be
// read as the next command's; the peer refuses every later command
// instead, and a new connection's ping passes over stale lines.
func TestPeerDesync(t *testing.T) {
	path := fakeHost(t, func(cmd string) ([]string, time.Duration) {
		switch cmd {
		case "ping":
			// A stale answer left by an earlier user, then the pong.
			return []string{"ok frames=3", "ok pong"}, 0
		case "slow":
			return []string{"ok late"}, 300 * time.Millisecond
		}
		return []string{"ok " + cmd}, 0
	})
	p, err := DialWire(path)
	if err != nil {
		t.Fatalf("dial through a stale answer: %v", err)
	}
	defer p.Close()
	if got, err := p.cmd("reset"); err != nil || got != "reset" {
		t.Fatalf("reset after the sync: %q, %v (the stale line was taken as its answer?)", got, err)
	}
	if _, err := p.cmdWithin("slow", 50*time.Millisecond); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unanswered command: %v", err)
	}
	time.Sleep(400 * time.Millisecond) // the late "ok late" has arrived
	if got, err := p.cmd("reset"); !errors.Is(err, ErrDesync) {
		t.Fatalf("command after an unanswered one: %q, %v; want ErrDesync, not the late answer", got, err)
	}
}

// TestShortKeepsForty: error messages quote at most 40 characters of an
// answer; one of exactly 40 is quoted whole.
func TestShortKeepsForty(t *testing.T) {
	forty := strings.Repeat("x", 40)
	if got := short(forty); got != forty {
		t.Errorf("short(40 chars) = %q", got)
	}
	if got := short(forty + "y"); got != forty+"..." {
		t.Errorf("short(41 chars) = %q", got)
	}
}
