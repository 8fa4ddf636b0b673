package vmlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BenchDevice is one lab device of `lab bench --all`: how the guest brings
// it up, which kernel driver it is compared with, and where its far side
// is (where TX is counted, RX is sent from and the echo for the round
// trips runs).
type BenchDevice struct {
	Name   string // short name for -devices
	ID     string // VID:PID, what dongleblast -dev and labguest netif select
	Kernel string // the kernel driver that binds it
	// Target is the ratio dongle/kernel each direction should reach (TX,
	// RX); 0: none set.
	TargetTX, TargetRX float64
	Fixture            string // RunConfig.Fixture
	// Setup is sh(1) code run before the measurements (starts a model);
	// its failure fails the device's boot.
	Setup string
	// Far is the far side's netdev in the guest; "" means the host peer
	// (QEMU usb-net's cable), asked over its control port.
	Far string
	// GadgetLink says Far is a gadget function's netdev (f_ecm, f_ncm)
	// whose open state is the link the host sees: the function sends
	// NETWORK_CONNECTION 1 when it opens, 0 when it closes. The script
	// settles that link once before the first run (settle in the
	// prelude), because the lab kernel's usbnet (6.1.192) loses a
	// carrier-on that follows a carrier-off too closely:
	//
	//	interrupt URB   CONNECT 0                 CONNECT 1
	//	                    │ kevent queued           │ CARRIER_ON and LINK_CHANGE set,
	//	                    ▼                         │ kevent queued again
	//	kevent          __handle_link_change ─────────┴──▶ clear_bit(LINK_CHANGE)
	//	kevent again    LINK_CHANGE clear: nothing runs, the carrier stays off
	//
	// The function queues a NETWORK_CONNECTION 0 at SET_CONFIGURATION
	// (not yet activated) and a 1 once the host's driver selects the
	// data altsetting with the far side up; nothing reads them until
	// the kernel's netdev first opens, which then gets both within a
	// millisecond. Every later open follows the driver's rebind after
	// dongle releases the device, whose SET_INTERFACE has the function
	// queue only 1s. Settling first opens the
	// host's netdev with the far side down (it reads only 0s), then
	// brings the far side up (a lone 1), and closes the host's netdev.
	GadgetLink bool
}

// modelSetup starts ffsmodel with its cable on a veth pair (va: the
// model's end, veth0 the far side: busybox's ip names no peer, the kernel
// names it veth0), the in-process peer silent (-echo=false: the far side's
// stack and labguest echo are the link partner).
func modelSetup(model, extra string) string {
	return "modprobe veth 2>/dev/null; ip link add va type veth && ip link set va up && ip link set veth0 up && " +
		"ffsmodel -daemon -model " + model + " " + extra + " -echo=false -wire va -stats 2s -log /mnt/lab/ffsmodel.log"
}

// BenchDevices are the devices `lab bench --all` measures, in order. The
// aggregating devices (several frames per transfer: AX88179, NCM,
// RTL8153) should match the kernel both ways; the ECM devices should reach
// 0.9 of it sending and match it receiving. The AX88772B has no target.
var BenchDevices = []BenchDevice{
	{Name: "usbnet", ID: "0525:a4a2", Kernel: "cdc_ether", TargetTX: 0.9, TargetRX: 1.0, Fixture: "none"},
	{Name: "ecm", ID: "1209:0001", Kernel: "cdc_ether", TargetTX: 0.9, TargetRX: 1.0, Fixture: "ecm", Far: "gecm0", GadgetLink: true},
	{Name: "ncm", ID: "1209:0002", Kernel: "cdc_ncm", TargetTX: 1.0, TargetRX: 1.0, Fixture: "all", Far: "gncm0", GadgetLink: true},
	{Name: "ax88772b", ID: "0b95:772b", Kernel: "asix", Fixture: "all", Far: "veth0", Setup: modelSetup("ax88772b", "")},
	{Name: "ax88179", ID: "0b95:1790", Kernel: "ax88179_178a", TargetTX: 1.0, TargetRX: 1.0, Fixture: "all", Far: "veth0", Setup: modelSetup("ax88179", "")},
	{Name: "rtl8153", ID: "0bda:8153", Kernel: "r8152", TargetTX: 1.0, TargetRX: 1.0, Fixture: "all", Far: "veth0", Setup: modelSetup("rtl8153", "-usbip")},
}

// SelectBenchDevices returns the devices named in names (comma-separated
// names or VID:PIDs; "" or "all": every device), in BenchDevices' order.
func SelectBenchDevices(names string) ([]BenchDevice, error) {
	if names == "" || names == "all" {
		return BenchDevices, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, d := range BenchDevices {
			if n == d.Name || n == d.ID {
				want[d.Name], found = true, true
			}
		}
		if !found {
			var all []string
			for _, d := range BenchDevices {
				all = append(all, d.Name)
			}
			return nil, fmt.Errorf("%w: bench device %q: want one of %s", ErrBenchConfig, n, strings.Join(all, ", "))
		}
	}
	var out []BenchDevice
	for _, d := range BenchDevices {
		if want[d.Name] {
			out = append(out, d)
		}
	}
	return out, nil
}

// ErrBenchConfig is wrapped by bench configuration errors.
var ErrBenchConfig = errors.New("bench configuration")

// BenchAllConfig says what BenchAll measures.
type BenchAllConfig struct {
	Devices []BenchDevice
	// N frames of 1514 bytes and N64 of 64 bytes per run; NRTT round
	// trips of 64 bytes per rtt run; Rounds kernel/dongle pairs per cell.
	N, N64, NRTT, Rounds int
	// Profile has dongle's TX and RX runs write pprof CPU profiles; the
	// cells short of their target get a `go tool pprof -top` of them.
	Profile bool
	// Out is the directory for the table, the plot, the BENCH lines and
	// the profiles.
	Out string
	// Lock, if set, is held around each boot (one VM at a time on a
	// shared machine); it returns the unlock.
	Lock func() (func(), error)
	// Floor has dongle's RX runs count with the libusb floor instead of
	// dongle's driver (dongleblast rx -floor: a receive loop in C on
	// libusb alone, for CDC-NCM functions): the same usbfs work per
	// transfer with nothing of dongle's, against the same kernel runs.
	// TX and rtt runs stay dongle's driver.
	Floor bool
	// Args are dongleblast flags for dongle's TX, RX and rtt runs
	// (-rxurbs 32, -procs 1: a tuning tried against the kernel's driver
	// in the same boot).
	Args []string
}

func (c BenchAllConfig) check() error {
	if c.N < 1 || c.N64 < 1 || c.NRTT < 1 || c.Rounds < 1 {
		return fmt.Errorf("%w: -n %d, -n64 %d, -rtt %d, -rounds %d: each must be at least 1", ErrBenchConfig, c.N, c.N64, c.NRTT, c.Rounds)
	}
	if len(c.Devices) == 0 {
		return fmt.Errorf("%w: no devices", ErrBenchConfig)
	}
	if c.Floor {
		for _, d := range c.Devices {
			if d.Kernel != "cdc_ncm" {
				return fmt.Errorf("%w: -floor: %s: the floor receives from NCM functions only (ncm)", ErrBenchConfig, d.Name)
			}
		}
	}
	for _, a := range c.Args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); name == "floor" && strings.HasPrefix(a, "-") {
			return fmt.Errorf("%w: dongleblast flag %s: it is for RX runs alone, which lab bench -floor gives it", ErrBenchConfig, a)
		}
		if a == "" || Quote(a) != a {
			return fmt.Errorf("%w: dongleblast flag %q: only plain words (no spaces or shell characters)", ErrBenchConfig, a)
		}
	}
	return nil
}

// benchPrelude is the guest code every device's bench script starts
// with: the settings that keep frames from being lost or added by the
// guest's own stack, and the run functions. Each run prints one line
//
//	CELL drv=kernel|dongle dir=tx|rx|rtt size=S n=N round=R ticks=T rc=RC :: <counts> | <sender's output>
//
// ticks: the guest's user+nice+system+irq+softirq time over the run
// (/proc/stat, USER_HZ), every CPU; rc: the measuring command's status.
const benchPrelude = `D=/mnt/lab/dongleblast
# fq_codel (Debian's default qdisc) drops frames that wait 5 ms under TCG
# while sendto reports them sent; no IPv6 chatter to count as test frames.
echo pfifo_fast >/proc/sys/net/core/default_qdisc
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
# The fixture's echo on gecm0 would answer test frames: only the rtt runs echo.
[ -f /run/labguest-echo.pid ] && kill "$(cat /run/labguest-echo.pid)" && rm -f /run/labguest-echo.pid
# A netdev that was up before default_qdisc changed keeps fq_codel; busybox's
# tc cannot replace a root qdisc, iproute2's (shipped in /mnt/lab) can.
qd() {
	[ -x /mnt/lab/tc ] && LD_LIBRARY_PATH=/mnt/lab/lib /mnt/lab/tc qdisc replace dev "$1" root pfifo_fast
}
ticks() {
	read -r _ u n s _ _ q sq _ </proc/stat
	echo $((u + n + s + q + sq))
}
# SYSNET is where the netdevs' sysfs directories are (a test's fake one).
SYSNET=${SYSNET:-/sys/class/net}
# carrier IF: carrier, and no operstate saying down. A netdev opened
# without carrier has the noop qdisc (which drops every frame) until
# linkwatch sees the carrier come and sets operstate; one opened with
# carrier keeps "unknown", its qdisc active.
carrier() {
	[ "$(cat $SYSNET/$1/carrier 2>/dev/null)" = 1 ] &&
		case "$(cat $SYSNET/$1/operstate 2>/dev/null)" in up | unknown) true ;; *) false ;; esac
}
# waitcarrier IF TENTHS: carrier() within TENTHS tenths of a second.
waitcarrier() {
	local i=0
	while [ $i -lt $2 ]; do
		carrier "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# kif: the kernel's netdev for the device (after dongle releases it the
# kernel rebinds asynchronously: ax88179_178a's bind and reset on a model
# under TCG has taken more than 10 s), up, with carrier, pfifo_fast. It
# fails, saying why in /tmp/kif.txt, when the netdev never has carrier:
# a run on it would count nothing (usbnet submits no RX URB without
# carrier) and look like lost frames.
#
# ax88179_178a's link_reset (the kevent after the link interrupt) polls
# the TX FIFO status for at most HZ/10 and, once past it, returns without
# enabling the medium or the carrier; the chip reports no new link
# change, so the carrier never comes. Under TCG its first poll's three
# control requests, queued behind the async multicast writes of the same
# open, have taken 191 ms after a rebind (usbmon). A second open resets
# the chip (PHY power cycle: link interrupts again) and link_reset runs
# again; kif does that once and says so (kernel_reopened=1 in
# /tmp/kif.txt, which the run's CELL line carries).
kif() {
	local i=0 n
	: >/tmp/kif.txt
	while [ $i -lt 300 ]; do
		if n=$(labguest netif $ID 2>/dev/null) && ip link set "$n" up 2>/dev/null; then
			qd "$n"
			if ! waitcarrier "$n" 100; then
				echo "kernel_reopened=1" >/tmp/kif.txt
				ip link set "$n" down && ip link set "$n" up && qd "$n"
				waitcarrier "$n" 100 || {
					echo "FAIL $n ($ID) has no carrier 10 s after its open, nor 10 s after a second open" >/tmp/kif.txt
					return 1
				}
			fi
			# Carrier comes before the driver's link reset has set the
			# chip up (ax88179_178a's link_reset runs from a kevent after
			# the link interrupt): frames sent at once were lost there.
			sleep 1
			echo "$n"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "FAIL no kernel netdev for $ID in 30 s (is $KDRV bound?)" >/tmp/kif.txt
	return 1
}
# settle: the first open of the kernel's netdev on a gadget function with
# the far side (FAR) down, then FAR up, waiting for carrier; the netdev is
# closed again (BenchDevice.GadgetLink says why). Fails, saying why in
# /tmp/kif.txt, when the carrier does not come. The host reads the queued
# notifications within a millisecond of the open (usbmon): a second is
# long past them and the kevent they schedule.
settle() {
	local i=0 n e
	: >/tmp/kif.txt
	e=$(ip link set "$FAR" down 2>&1) || { echo "FAIL ip link set $FAR down: $e" >/tmp/kif.txt; return 1; }
	until n=$(labguest netif $ID 2>/dev/null); do
		[ $i -lt 300 ] || { echo "FAIL no kernel netdev for $ID in 30 s (is $KDRV bound?)" >/tmp/kif.txt; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	e=$(ip link set "$n" up 2>&1) || { echo "FAIL ip link set $n up: $e" >/tmp/kif.txt; return 1; }
	sleep 1
	e=$(ip link set "$FAR" up 2>&1) || { echo "FAIL ip link set $FAR up: $e" >/tmp/kif.txt; return 1; }
	waitcarrier "$n" 100 || { echo "FAIL $n ($ID) has no carrier 10 s after $FAR came up" >/tmp/kif.txt; return 1; }
	e=$(ip link set "$n" down 2>&1) || { echo "FAIL ip link set $n down: $e" >/tmp/kif.txt; return 1; }
}
# ready waits until the counter (kernrx, or dongleblast rx once its
# driver is up) says it counts: at most $1 tenths of a second.
ready() {
	local i=0
	until grep -q "DONGLEBLAST.* ready" /tmp/k.txt 2>/dev/null; do
		[ $i -lt $((${1:-100} * 2)) ] || return 1
		sleep 0.05
		i=$((i + 1))
	done
}
prof() { # dir size round
	[ -n "$PROF" ] && echo "-cpuprofile /mnt/lab/prof/$1-$2-r$3.prof"
}
# drops: the far side's and the kernel netdev's nonzero drop and error
# counters (since boot), where a lost frame may show.
drops() {
	local i c v out=""
	for i in $FAR $(labguest netif $ID 2>/dev/null); do
		for c in rx_dropped rx_errors tx_dropped tx_errors; do
			v=$(cat /sys/class/net/$i/statistics/$c 2>/dev/null)
			[ -n "$v" ] && [ "$v" != 0 ] && out="$out$i.$c=$v,"
		done
	done
	echo "${out:-none}"
}
cell() { # drv dir size n round ticks rc text
	echo "CELL drv=$1 dir=$2 size=$3 n=$4 round=$5 ticks=$6 rc=$7 drops=$(drops) :: $8"
}
tx() { # drv size n round
	local IF="" K="" rc p c t0 t1 kd
	if [ $1 = kernel ]; then
		IF=$(kif) || { cell $1 tx $2 $3 $4 0 91 "$(cat /tmp/kif.txt)"; return; }
		K=$(cat /tmp/kif.txt)
	fi
	if [ -z "$FAR" ]; then
		labguest peer reset >/dev/null
	else
		rm -f /tmp/k.txt
		$D kernrx -if $FAR -from none -n $3 -timeout 60s >/tmp/k.txt 2>&1 &
		p=$!
		ready || { kill $p; wait $p; cell $1 tx $2 $3 $4 0 92 "FAIL kernrx on $FAR not ready in 10 s"; return; }
	fi
	t0=$(ticks)
	if [ $1 = kernel ]; then
		kd=$(cat /sys/class/net/$IF/statistics/tx_dropped)
		labguest blast -if $IF -n $3 -size $2 >/tmp/s.txt 2>&1
	else
		$D tx -dev $ID $DARGS -n $3 -size $2 $(prof tx $2 $4) >/tmp/s.txt 2>&1
	fi
	rc=$?
	if [ -z "$FAR" ]; then
		sleep 0.5
		c=$(labguest peer stats)
	else
		wait $p
		c=$(grep -v ready /tmp/k.txt)
	fi
	t1=$(ticks)
	# The kernel driver's own transmit drops over the run (its tx_dropped).
	[ $1 = kernel ] && c="kernel_tx_dropped=$(($(cat /sys/class/net/$IF/statistics/tx_dropped) - kd)) $c"
	cell $1 tx $2 $3 $4 $((t1 - t0)) $rc "${K:+$K }$c | $(echo $(cat /tmp/s.txt))"
}
# With a far side in the guest, the sender is a process of its own for
# both drivers (dongleblast send), started once the counter counts: the
# sender's work is then scheduled alike in both runs, rather than inside
# the driver's process in dongle's and beside a sysfs poll in the
# kernel's.
rx() { # drv size n round
	local IF="" K="" rc t0 t1 p w from="-blast"
	if [ $1 = kernel ]; then
		IF=$(kif) || { cell $1 rx $2 $3 $4 0 91 "$(cat /tmp/kif.txt)"; return; }
		K=$(cat /tmp/kif.txt)
	fi
	if [ -n "$FAR" ]; then
		rm -f /tmp/k.txt
		t0=$(ticks)
		if [ $1 = kernel ]; then
			$D kernrx -if $IF -from none -n $3 -size $2 -timeout 60s >/tmp/k.txt 2>&1 &
		else
			$D rx -dev $ID $DARGS $RXARGS -from none -n $3 -size $2 -timeout 60s $(prof rx $2 $4) >/tmp/k.txt 2>&1 &
		fi
		p=$!
		ready 300 || { kill $p; wait $p; cell $1 rx $2 $3 $4 0 92 "FAIL $1's counter not ready in 30 s: $(echo $(cat /tmp/k.txt))"; return; }
		$D send -from $FAR -n $3 -size $2 >/tmp/s.txt 2>&1
		rc=$?
		wait $p
		w=$?
		[ $rc = 0 ] && rc=$w
		t1=$(ticks)
		cell $1 rx $2 $3 $4 $((t1 - t0)) $rc "${K:+$K }$(echo $(grep -v ready /tmp/k.txt)) | $(echo $(cat /tmp/s.txt))"
		return
	fi
	if [ $1 = kernel ]; then
		from=""
		t0=$(ticks)
		$D kernrx -if $IF $from -n $3 -size $2 -timeout 60s >/tmp/s.txt 2>&1
	else
		t0=$(ticks)
		$D rx -dev $ID $DARGS $RXARGS $from -n $3 -size $2 -timeout 60s $(prof rx $2 $4) >/tmp/s.txt 2>&1
	fi
	rc=$?
	t1=$(ticks)
	cell $1 rx $2 $3 $4 $((t1 - t0)) $rc "${K:+$K }$(echo $(cat /tmp/s.txt))"
}
rtt() { # drv n round
	local IF="" K="" rc t0 t1
	if [ $1 = kernel ]; then
		IF=$(kif) || { cell $1 rtt 64 $2 $3 0 91 "$(cat /tmp/kif.txt)"; return; }
		K=$(cat /tmp/kif.txt)
		t0=$(ticks)
		labguest ping -if $IF -n $2 -size 64 >/tmp/s.txt 2>&1
	else
		t0=$(ticks)
		$D rtt -dev $ID $DARGS -n $2 -size 64 >/tmp/s.txt 2>&1
	fi
	rc=$?
	t1=$(ticks)
	cell $1 rtt 64 $2 $3 $((t1 - t0)) $rc "${K:+$K }$(echo $(cat /tmp/s.txt))"
}
echo_on() {
	if [ -z "$FAR" ]; then
		labguest peer mode echo >/dev/null
	else
		labguest echo -if $FAR >/tmp/echo.log 2>&1 &
		ECHO=$!
		sleep 0.3
	fi
}
echo_off() {
	if [ -z "$FAR" ]; then
		labguest peer mode count >/dev/null
	else
		kill $ECHO
		wait $ECHO 2>/dev/null
	fi
}
`

// benchScript is the guest script for one device: the prelude, the
// device's setup, then Rounds rounds of, for 1514 and 64 bytes, TX and RX
// by the kernel's driver and dongle's (in alternating order, so that a
// drift within the boot weighs on both alike), then the round trips.
func benchScript(d BenchDevice, cfg BenchAllConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "echo CELLDEV %s\nID=%s\nFAR=%s\nKDRV=%s\n", Quote(d.Name), Quote(d.ID), Quote(d.Far), Quote(d.Kernel))
	if cfg.Profile {
		b.WriteString("PROF=1\nmkdir -p /mnt/lab/prof\n")
	}
	// The runs expand $DARGS unquoted: check made sure each is one word.
	fmt.Fprintf(&b, "DARGS=%s\n", Quote(strings.Join(cfg.Args, " ")))
	// RXARGS: flags for dongle's RX runs alone (also unquoted).
	if cfg.Floor {
		b.WriteString("RXARGS=-floor\necho " + cellFloor + "\n")
	} else {
		b.WriteString("RXARGS=\n")
	}
	b.WriteString(benchPrelude)
	// No hotplug loads a module in the guest: a model's kernel driver is
	// loaded here (the fixture's are already).
	b.WriteString("modprobe \"$KDRV\" 2>/dev/null\n")
	if d.Setup != "" {
		fmt.Fprintf(&b, "{ %s\n} >/tmp/setup.txt 2>&1 || { echo \"CELLSETUP failed (exit $?): $(echo $(tail -n 3 /tmp/setup.txt))\"; exit 95; }\ncat /tmp/setup.txt\n", d.Setup)
	}
	if d.GadgetLink {
		b.WriteString("settle || { echo \"CELLSETUP failed (settle): $(cat /tmp/kif.txt)\"; exit 95; }\n")
	}
	if d.Far != "" {
		fmt.Fprintf(&b, "ip link set %[1]s up && qd %[1]s\nfor i in $(seq 100); do [ \"$(cat /sys/class/net/%[1]s/carrier)\" = 1 ] && break; sleep 0.1; done\nsleep 0.2\n", Quote(d.Far))
	} else {
		b.WriteString("labguest peer mode count >/dev/null || exit 90\n")
	}
	for r := 1; r <= cfg.Rounds; r++ {
		order := "kernel dongle"
		if r%2 == 0 {
			order = "dongle kernel"
		}
		for _, s := range []struct{ size, n int }{{1514, cfg.N}, {64, cfg.N64}} {
			for _, dir := range []string{"tx", "rx"} {
				fmt.Fprintf(&b, "for v in %s; do %s $v %d %d %d; done\n", order, dir, s.size, s.n, r)
			}
		}
		fmt.Fprintf(&b, "echo_on\nfor v in %s; do rtt $v %d %d; done\necho_off\n", order, cfg.NRTT, r)
	}
	b.WriteString("echo CELLDONE\n")
	return b.String()
}

// BenchAll measures every device of cfg in one boot each: dongle's driver
// against the kernel's, both ways, 1514- and 64-byte frames, and the round
// trip through an echo at the far side (dongleblast built from the module
// at root). A device whose boot fails has each of its cells say so; the
// error is for what stops the whole bench (the build, the context).
func (l *Lab) BenchAll(ctx context.Context, root string, cfg BenchAllConfig, out io.Writer) (*BenchReport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	bin, err := l.buildDongleblast(ctx, root, out)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"dongleblast": bin}
	if tc, err := exec.LookPath("tc"); err == nil {
		if libs, err := LddClosure(ctx, tc); err == nil {
			files["tc"] = tc
			for _, lib := range libs {
				if !strings.Contains(filepath.Base(lib), "ld-linux") {
					files["lib/"+filepath.Base(lib)] = lib
				}
			}
		}
	}
	rep := &BenchReport{Rounds: cfg.Rounds}
	for _, d := range cfg.Devices {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		cells, dir := l.benchDevice(ctx, d, cfg, files, out)
		rep.Cells = append(rep.Cells, cells...)
		if cfg.Profile && dir != "" {
			rep.Profiles = append(rep.Profiles, benchProfiles(ctx, d, cells, dir, bin, cfg.Out)...)
		}
	}
	return rep, nil
}

// benchDevice boots the VM for one device and returns its cells and the
// run's directory ("" if it did not boot).
func (l *Lab) benchDevice(ctx context.Context, d BenchDevice, cfg BenchAllConfig, files map[string]string, out io.Writer) ([]*BenchCell, string) {
	fail := func(why string) []*BenchCell {
		cells := NewBenchCells(d, cfg.Rounds)
		for _, c := range cells {
			c.Fail = why
		}
		return cells
	}
	if cfg.Lock != nil {
		l.step("bench %s: waiting for the VM lock", d.Name)
		unlock, err := cfg.Lock()
		if err != nil {
			return fail("VM lock: " + err.Error()), ""
		}
		defer unlock()
	}
	l.step("bench %s (%s, kernel %s): booting, %d rounds", d.Name, d.ID, d.Kernel, cfg.Rounds)
	var buf strings.Builder
	t0 := time.Now()
	res, err := l.Run(ctx, RunConfig{
		Script: benchScript(d, cfg), Files: files,
		Stdout: io.MultiWriter(out, &buf), Peer: "count", Fixture: d.Fixture,
		Timeout: 15 * time.Minute,
	})
	fmt.Fprintf(out, "bench %s: boot and runs took %.0f s\n", d.Name, time.Since(t0).Seconds())
	if err != nil {
		return fail("boot: " + err.Error()), ""
	}
	if cfg.Out != "" {
		// The guest's output, for ReplayBench (a table or plot redrawn
		// without booting again) and for reading what a cell's runs said.
		if werr := os.WriteFile(filepath.Join(cfg.Out, d.Name+".log"), []byte(buf.String()), 0o644); werr != nil {
			fmt.Fprintf(out, "bench %s: the guest's output is not kept (-replay will not find it): %v\n", d.Name, werr)
		}
	}
	cells, perr := ParseBenchCells(d, cfg.Rounds, buf.String())
	if perr != nil {
		for _, c := range cells {
			if c.Fail == "" {
				c.Fail = perr.Error()
			}
		}
	}
	if res.ExitCode != 0 {
		why := fmt.Sprintf("guest script exited %d (console %s/console.log)", res.ExitCode, res.Dir)
		for _, c := range cells {
			if c.Fail == "" && !c.complete() {
				c.Fail = why
			}
		}
	}
	return cells, res.Dir
}

// BenchProfile is where dongle's time went in a cell short of its target.
type BenchProfile struct {
	Cell  string   // the cell's name
	Files []string // the profiles (one per round), merged by Top
	Top   string   // go tool pprof -top
}

// benchProfiles copies the profiles of the cells under their target from
// the run's share to outDir and summarises each cell's with pprof; a cell
// that also failed a round is profiled too (its other rounds still say
// where the time went).
func benchProfiles(ctx context.Context, d BenchDevice, cells []*BenchCell, runDir, bin, outDir string) []BenchProfile {
	var out []BenchProfile
	for _, c := range cells {
		if c.Dir == "rtt" || !c.belowTarget() {
			continue
		}
		p := BenchProfile{Cell: c.Name()}
		glob, _ := filepath.Glob(filepath.Join(runDir, "share", "prof", fmt.Sprintf("%s-%d-r*.prof", c.Dir, c.Size)))
		sort.Strings(glob)
		for _, g := range glob {
			dst := filepath.Join(outDir, d.Name+"-"+filepath.Base(g))
			if err := copyFile(dst, g); err == nil {
				p.Files = append(p.Files, dst)
			}
		}
		if len(p.Files) == 0 {
			p.Top = "no profile written (see the run's console)"
			out = append(out, p)
			continue
		}
		args := append([]string{"tool", "pprof", "-top", "-nodecount=15", bin}, p.Files...)
		cmd := exec.CommandContext(ctx, "go", args...)
		txt, err := cmd.Output()
		p.Top = strings.TrimSpace(string(txt))
		if err != nil {
			p.Top += fmt.Sprintf("\n(go tool pprof: %v)", err)
		}
		out = append(out, p)
	}
	return out
}

// WriteBenchOutputs writes the report's table (bench.txt), BENCH lines
// (bench.lines) and plot (bench.svg) into dir, creating it.
func WriteBenchOutputs(dir string, r *BenchReport) (svgPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var t, lines strings.Builder
	r.WriteTable(&t)
	for _, c := range r.Cells {
		lines.WriteString(c.Line() + "\n")
	}
	svgPath = filepath.Join(dir, "bench.svg")
	for name, body := range map[string]string{"bench.txt": t.String(), "bench.lines": lines.String(), "bench.svg": r.SVG()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return svgPath, nil
}

// ReplayBench rebuilds a report from guest output saved by BenchAll
// (DIR/<device>.log, or any text with each device's lines after its
// "CELLDEV <name>" line), without booting: to redraw the table, lines
// and plot. Devices appear in BenchDevices' order. rounds <= 0: for each
// device, as many as its CELL lines name. A device whose lines appear
// twice (two CELLDEV blocks) has them all parsed together, so a run
// given twice is an error rather than one of them silently kept.
func ReplayBench(out string, rounds int) (*BenchReport, error) {
	per := map[string]*strings.Builder{}
	var cur *strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "CELLDEV "); ok {
			if _, err := SelectBenchDevices(name); err != nil {
				return nil, err
			}
			if cur = per[name]; cur == nil {
				cur = &strings.Builder{}
				per[name] = cur
			}
			continue
		}
		if cur != nil {
			cur.WriteString(line + "\n")
		}
	}
	rep := &BenchReport{Rounds: rounds}
	for _, d := range BenchDevices {
		if per[d.Name] == nil {
			continue
		}
		text := per[d.Name].String()
		n := rounds
		if n <= 0 {
			n = logRounds(text)
		}
		rep.Rounds = max(rep.Rounds, n)
		cells, err := ParseBenchCells(d, n, text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		rep.Cells = append(rep.Cells, cells...)
	}
	if len(rep.Cells) == 0 {
		return nil, fmt.Errorf("%w: no CELLDEV line: nothing to replay", ErrBenchConfig)
	}
	return rep, nil
}

// logRounds is the highest round a saved guest output's CELL lines
// name (1 if none does).
func logRounds(out string) int {
	n := 1
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "CELL ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "round="); ok {
				if r, err := strconv.Atoi(v); err == nil && r > n {
					n = r
				}
				break
			}
		}
	}
	return n
}
