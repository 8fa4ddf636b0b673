package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dongle/hw/sim/ifwire/vethtest"
	"dongle/hw/vmlab/guest"
	"dongle/netdev/tap"
	"dongle/skbuff"
)

// syncBuffer is the session's stdout, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hostCounts reads iface's counters in the test's own namespace.
func hostCounts(t *testing.T, iface string) vethtest.LinkCounts {
	t.Helper()
	c, err := vethtest.ReadCounts(iface)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var tapStatsLine = regexp.MustCompile(`host→adapter (\d+) \(refused (\d+), malformed (\d+)\); adapter→host (\d+) \(refused by the TAP (\d+)\) \| driver tx_packets (\d+) tx_errors (\d+) tx_dropped (\d+) rx_packets (\d+) rx_errors (\d+) rx_dropped (\d+)`)

// tapSession is a `dongle tap` run in the test's process.
type tapSession struct {
	name     string // the TAP's
	out      *syncBuffer
	cancel   context.CancelFunc
	finished chan struct{}
	err      error
}

// stop ends the session and returns its error; the test's cleanup calls
// it too, so no session outlives its test.
func (s *tapSession) stop() error {
	s.cancel()
	<-s.finished
	return s.err
}

// startTap runs the session and waits until its TAP is made.
func startTap(t *testing.T, c tapConfig) *tapSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &tapSession{out: &syncBuffer{}, cancel: cancel, finished: make(chan struct{})}
	go func() {
		s.err = runTapSession(ctx, c, s.out)
		close(s.finished)
	}()
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(10 * time.Second)
	for s.name == "" {
		select {
		case <-s.finished:
			t.Fatalf("dongle tap %s ended before it was ready: %v; output:\n%s", c.sel, s.err, s.out.String())
		default:
		}
		if b, err := os.ReadFile(c.ready); err == nil && len(b) > 0 {
			s.name = strings.TrimSpace(string(b))
		} else if time.Now().After(deadline) {
			t.Fatalf("no TAP 10 s after dongle tap %s; output:\n%s", c.sel, s.out.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return s
}

// tapCase is an adapter and the far end of its cable.
type tapCase struct {
	sel  string // the adapter, as dongle tap takes it
	wire string // for a model: the near end of its cable (--wire)
	far  string // the interface at the far end, moved into a namespace of its own
}

// tapThrough runs `dongle tap` on the adapter, with the far end of its
// cable in a namespace of its own with 10.77.0.2; the TAP gets 10.77.0.1.
// Then the host pings the far end and moves 1 MiB over TCP each way
// through the TAP, the driver, the adapter and the cable, and every frame
// is accounted for at both ends.
func tapThrough(t *testing.T, c tapCase) {
	model := c.sel
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		vethtest.Cannot(t, "no /dev/net/tun: "+err.Error())
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		vethtest.Cannot(t, "no busybox (busybox-static) for ping")
	}
	far := c.far
	ns := vethtest.NewNetns(t)
	ns.Take(t, far)
	ns.IP(t, "addr", "add", "10.77.0.2/24", "dev", far)
	ns.IP(t, "link", "set", far, "up")

	buffers := skbuff.Live()
	ready := filepath.Join(t.TempDir(), "ready")
	sess := startTap(t, tapConfig{sel: model, wire: c.wire, ready: ready,
		opts: tap.Options{Name: "dgltap%d", Up: true, NoIPv6: true}})
	name := sess.name
	if b, err := exec.Command("ip", "addr", "add", "10.77.0.1/24", "dev", name).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add on %s: %v: %s", name, err, b)
	}
	if !vethtest.WaitRunning(name, true, 10*time.Second) {
		t.Fatalf("%s has no carrier 10 s after it came up; output:\n%s", name, sess.out.String())
	}
	tapBefore := hostCounts(t, name)
	farBefore := ns.Counts(t, far)

	if b, err := exec.Command(busybox, "ping", "-c", "3", "-W", "3", "10.77.0.2").CombinedOutput(); err != nil || !strings.Contains(string(b), "3 packets received") {
		// Which hop lost it: the kernel's counters at both ends of the
		// cable, and (in dongle tap's output, once it stops) dongle's
		// and the driver's in between.
		tapNow, farNow := hostCounts(t, name), ns.Counts(t, far)
		sess.stop()
		t.Fatalf("ping 10.77.0.2 through %s: %v\n%s\nframes since the carrier came up: the TAP sent %d and received %d; the far end received %d and sent %d\ndongle tap:\n%s",
			model, err, b, tapNow.TxPackets-tapBefore.TxPackets, tapNow.RxPackets-tapBefore.RxPackets,
			farNow.RxPackets-farBefore.RxPackets, farNow.TxPackets-farBefore.TxPackets, sess.out.String())
	}

	// TCP, 1 MiB each way: the far end reads the host's MiB, then sends
	// its own.
	l := ns.Listen(t, "tcp4", "10.77.0.2:5001")
	up, downWant := make([]byte, 1<<20), make([]byte, 1<<20)
	rand.Read(up)
	rand.Read(downWant)
	type got struct {
		sum [32]byte
		n   int64
		err error
	}
	server := make(chan got, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			server <- got{err: err}
			return
		}
		defer c.Close()
		h := sha256.New()
		n, err := io.Copy(h, c)
		if err == nil {
			_, err = c.Write(downWant)
		}
		var g got
		copy(g.sum[:], h.Sum(nil))
		g.n, g.err = n, err
		server <- g
	}()
	conn, err := net.DialTimeout("tcp4", "10.77.0.2:5001", 5*time.Second)
	if err != nil {
		t.Fatalf("TCP connect through %s: %v", model, err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(up); err != nil {
		t.Fatalf("TCP send through %s: %v", model, err)
	}
	conn.(*net.TCPConn).CloseWrite()
	down, err := io.ReadAll(conn)
	conn.Close()
	if err != nil {
		t.Fatalf("TCP receive through %s: %v", model, err)
	}
	s := <-server
	if s.err != nil || s.n != int64(len(up)) || s.sum != sha256.Sum256(up) {
		t.Fatalf("the far end got %d bytes (err %v), sha256 match %v; want the 1 MiB sent", s.n, s.err, s.sum == sha256.Sum256(up))
	}
	if !bytes.Equal(down, downWant) {
		t.Fatalf("the host got %d bytes from the far end, not the 1 MiB it sent", len(down))
	}

	// Let the last ACKs cross, then count.
	var tapNow, farNow vethtest.LinkCounts
	for i := 0; ; i++ {
		time.Sleep(200 * time.Millisecond)
		a, b := hostCounts(t, name), ns.Counts(t, far)
		if a == tapNow && b == farNow || i == 25 {
			break
		}
		tapNow, farNow = a, b
	}
	if c.wire != "" {
		// The far end's link is the model's link partner: the TAP's
		// carrier follows it through the driver (link down, then up).
		for _, st := range []struct {
			state string
			up    bool
		}{{"down", false}, {"up", true}} {
			ns.IP(t, "link", "set", far, st.state)
			if !vethtest.WaitRunning(name, st.up, 5*time.Second) {
				t.Errorf("far end %s: the TAP's carrier did not follow", st.state)
			}
		}
	}
	if err := sess.stop(); err != nil {
		t.Fatalf("dongle tap %s: %v; output:\n%s", model, err, sess.out.String())
	}
	m := tapStatsLine.FindAllStringSubmatch(sess.out.String(), -1)
	if len(m) == 0 {
		t.Fatalf("no counters line; output:\n%s", sess.out.String())
	}
	var overflow uint64 // a real adapter's own drops are its driver's rx_missed
	if c.wire != "" {
		om := regexp.MustCompile(`the model dropped (\d+) frames`).FindAllStringSubmatch(sess.out.String(), -1)
		if len(om) == 0 {
			t.Fatalf("no model counters line; output:\n%s", sess.out.String())
		}
		overflow, _ = strconv.ParseUint(om[len(om)-1][1], 10, 64)
	}
	var v [11]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(m[len(m)-1][i+1], 10, 64)
	}
	fromTAP, refused, bad, toTAP, tapRefused := v[0], v[1], v[2], v[3], v[4]
	txPackets, txErrors, txDropped, rxPackets, rxErrors, rxDropped := v[5], v[6], v[7], v[8], v[9], v[10]
	hostSent := tapNow.TxPackets - tapBefore.TxPackets
	hostGot := tapNow.RxPackets - tapBefore.RxPackets
	farGot := farNow.RxPackets - farBefore.RxPackets
	farSent := farNow.TxPackets - farBefore.TxPackets
	dropped := ""
	if c.wire != "" {
		dropped = fmt.Sprintf("the model dropped %d, ", overflow)
	}
	t.Logf("%s: host sent %d frames (TAP read %d, driver sent %d), far end got %d; far end sent %d (%sdriver got %d, TAP wrote %d), host got %d",
		model, hostSent, fromTAP, txPackets, farGot, farSent, dropped, rxPackets, toTAP, hostGot)
	if refused+bad+tapRefused+txErrors+txDropped+rxErrors+rxDropped != 0 {
		t.Errorf("losses: %s", m[len(m)-1][0])
	}
	// The kernel counts the TAP's frames from its creation; the session's
	// counters too: both totals must agree, and so must the differences
	// across the traffic at each end of the cable.
	if tapNow.TxPackets != fromTAP || fromTAP != txPackets {
		t.Errorf("host→adapter: the TAP sent %d, dongle read %d, the driver sent %d", tapNow.TxPackets, fromTAP, txPackets)
	}
	if tapNow.RxPackets != toTAP || toTAP != rxPackets {
		t.Errorf("adapter→host: the driver got %d, dongle wrote %d, the TAP received %d", rxPackets, toTAP, tapNow.RxPackets)
	}
	// What the far end sent and the host did not get, the model dropped
	// and counted; the partner obeys its PAUSE, so it drops nothing.
	if farGot != hostSent || farSent != hostGot+overflow {
		t.Errorf("across the traffic: host sent %d, far end got %d; far end sent %d, host got %d, the model dropped %d", hostSent, farGot, farSent, hostGot, overflow)
	}
	if overflow != 0 {
		t.Errorf("the model dropped %d frames from a partner that obeys its PAUSE", overflow)
	}
	if hostSent < 700 || hostGot < 700 {
		t.Errorf("only %d frames out and %d in for 1 MiB each way", hostSent, hostGot)
	}
	if n := skbuff.Live(); n != buffers {
		t.Errorf("%d live buffers after the session, %d before", n, buffers)
	}
}

func TestTapCarriesPingAndTCPThroughEachModel(t *testing.T) {
	if guest.InLab() {
		t.Skip("in the lab's guest TestLabTap runs instead")
	}
	for _, model := range []string{"sim:ecm-gadget", "sim:ax88772", "sim:ax88179", "sim:ncm", "sim:rtl8153"} {
		t.Run(model, func(t *testing.T) {
			near, far := vethtest.Veth(t)
			vethtest.NoOffload(t, far)
			tapThrough(t, tapCase{sel: model, wire: near, far: far})
		})
	}
}

// The far end starts: IPv6 neighbour discovery reaches the host's stack
// through multicast groups the host joined on the TAP, which the device's
// RX filter only passes because the bridge asks it for all multicast.
func TestTapCarriesWhatTheFarEndStarts(t *testing.T) {
	if guest.InLab() {
		t.Skip("outside the lab only")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		vethtest.Cannot(t, "no /dev/net/tun: "+err.Error())
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		vethtest.Cannot(t, "no busybox (busybox-static) for ping")
	}
	near, far := vethtest.Veth(t)
	vethtest.NoOffload(t, far)
	ns := vethtest.NewNetns(t)
	ns.Take(t, far)
	ns.Do(t, func() error { return os.WriteFile("/proc/sys/net/ipv6/conf/"+far+"/disable_ipv6", []byte("0"), 0) })
	ns.IP(t, "addr", "add", "fd00:77::2/64", "dev", far, "nodad")
	ns.IP(t, "link", "set", far, "up")
	sess := startTap(t, tapConfig{sel: "sim:ax88179", wire: near, ready: filepath.Join(t.TempDir(), "ready"),
		opts: tap.Options{Name: "dgltap%d", Up: true}})
	if b, err := exec.Command("ip", "addr", "add", "fd00:77::1/64", "dev", sess.name, "nodad").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add on %s: %v: %s", sess.name, err, b)
	}
	if !vethtest.WaitRunning(sess.name, true, 10*time.Second) {
		t.Fatalf("%s has no carrier", sess.name)
	}
	if b, err := ns.Run(busybox, "ping", "-6", "-c", "3", "-W", "3", "fd00:77::1"); err != nil || !strings.Contains(string(b), "3 packets received") {
		t.Fatalf("ping -6 from the far end through sim:ax88179: %v\n%s\ndongle tap:\n%s", err, b, sess.out.String())
	}
	if err := sess.stop(); err != nil {
		t.Fatal(err)
	}
}

// A TAP deleted under a session ends it with an error naming the TAP.
func TestTapEndsWhenItsTAPIsDeleted(t *testing.T) {
	if guest.InLab() {
		t.Skip("outside the lab only")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		vethtest.Cannot(t, "no /dev/net/tun: "+err.Error())
	}
	near, _ := vethtest.Veth(t)
	sess := startTap(t, tapConfig{sel: "sim:ecm", wire: near, ready: filepath.Join(t.TempDir(), "ready"),
		opts: tap.Options{Name: "dgltap%d", Up: true, NoIPv6: true}})
	if b, err := exec.Command("ip", "link", "del", sess.name).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v: %s", err, b)
	}
	select {
	case <-sess.finished:
	case <-time.After(3 * time.Second):
		t.Fatal("the session went on after its TAP was deleted")
	}
	if sess.err == nil || !strings.Contains(sess.err.Error(), sess.name) {
		t.Errorf("session error %v, want one naming %s", sess.err, sess.name)
	}
}

func TestTapRefusesWhatItCannotCarry(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"tap", "testdata/nothing.pcap"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not an adapter") {
		t.Errorf("a trace: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Main([]string{"tap", "sim:ecm", "sim:ecm"}, &stdout, &stderr); code != 2 {
		t.Errorf("two adapters: exit %d, %q", code, stderr.String())
	}
	err := runTapSession(context.Background(), tapConfig{sel: "sim:ecm"}, io.Discard)
	if !errors.Is(err, errNoWire) {
		t.Errorf("a model without --wire: %v, want errNoWire", err)
	}
}

// TestLabTap is `dongle tap` on the lab's real USB devices, in the guest:
// DONGLE_LAB_TAP lists ADAPTER=FAR pairs, FAR the guest interface at the
// far end of that adapter's cable (the ECM gadget's gecm0; a veth end
// that an ffsmodel -wire model's cable plugs into). tools/lab.sh sets it.
func TestLabTap(t *testing.T) {
	spec := os.Getenv("DONGLE_LAB_TAP")
	if spec == "" {
		t.Skip("DONGLE_LAB_TAP not set: the lab stage runs this in the guest")
	}
	for _, pair := range strings.Fields(spec) {
		sel, far, ok := strings.Cut(pair, "=")
		if !ok {
			t.Fatalf("DONGLE_LAB_TAP: %q is not ADAPTER=FAR", pair)
		}
		t.Run(sel, func(t *testing.T) {
			if strings.HasPrefix(far, "veth") {
				vethtest.NoOffload(t, far)
			}
			tapThrough(t, tapCase{sel: sel, far: far})
		})
	}
}
