#!/bin/sh
# Real captures of the ways USB NICs fail (issue 21): for each failure rule
# of `dongle diag` (fixtures/failure-<rule>.md lists them), one short usbmon
# capture taken in the virtual USB lab (hw/vmlab) while a real kernel driver
# runs (or, where the kernel's usbnet would hide the failure, a minimal usbfs
# host: labguest bulkin) and the failure is made to happen for real: a
# gadget unbound from its UDC and bound again, a device model told to stop
# reading, to halt an endpoint, to pull its cable, to fail URBs, to send an
# oversize NTB, to hold its link-up until a packet filter. Rules:
#
#   device-vanished tx-timeout link-flap halt-not-cleared error-storm
#   register-access ntb-oversize checksum-fail rx-overflow rx-starvation
#   poor-aggregation link-needs-filter
#
# On the host, from the module root (one lab boot per rule, each under the
# lab's VM lock; the capture lands in fixtures/failure-<rule>.pcap):
#
#   tools/failure-fixtures.sh device-vanished tx-timeout ...
#
# In the lab guest (what the host side runs there; DONGLE_LAB=1):
#
#   sh /mnt/lab/failure-fixtures.sh RULE     writes /mnt/lab/failure-RULE.pcap
#
# The capture is the guest kernel's usbmon on the device's bus, read by
# `dongle record --usbmon` (hw/usbmon), the whole bus (root hub included),
# so that a device that leaves and enumerates again at a new address is
# in it twice. Traffic is kept small (60-byte frames, a few seconds) so
# each fixture stays a few hundred KB at most.
set -u

if [ -z "${DONGLE_LAB:-}" ]; then
	# ---- host side -------------------------------------------------------
	set -e
	cd "$(dirname "$0")/.."
	export PATH=$PATH:/usr/local/go/bin
	[ $# -gt 0 ] || { echo "usage: tools/failure-fixtures.sh RULE..." >&2; exit 2; }
	T=$(mktemp -d)
	trap 'rm -rf "$T"' EXIT
	go build -o "$T/dongle" ./cmd/dongle # cgo (gousb): the initramfs has its libraries
	go run ./cmd/dongle lab setup >/dev/null # ffsmodel in the initramfs is this tree's
	LAB=${DONGLE_LAB_DIR:-$PWD/.lab}
	LOCK=${DONGLE_VM_LOCK:-$LAB/vm.lock} # one lab VM at a time: share this file with whatever else boots it
	for rule in "$@"; do
		fixture=none
		case $rule in
		device-vanished | rx-overflow | rx-starvation) fixture=ecm ;;
		esac
		echo "failure-fixtures: $rule (lab fixture $fixture)"
		rc=0
		flock "$LOCK" go run ./cmd/dongle lab run -fixture $fixture -no-usbnet \
			-file dongle="$T/dongle" -file failure-fixtures.sh="$PWD/tools/failure-fixtures.sh" \
			-- "sh /mnt/lab/failure-fixtures.sh $rule" || rc=$?
		d=$(ls -td "$LAB"/runs/*/ | head -n 1)
		if [ $rc -ne 0 ] || [ ! -s "${d}share/failure-$rule.pcap" ]; then
			echo "failure-fixtures: $rule failed (exit $rc); run dir $d" >&2
			exit 1
		fi
		cp "${d}share/failure-$rule.pcap" "fixtures/failure-$rule.pcap"
		echo "failure-fixtures: fixtures/failure-$rule.pcap ($(wc -c <"fixtures/failure-$rule.pcap") bytes) from $d"
	done
	exit 0
fi

# ---- guest side ------------------------------------------------------------
RULE=${1:?usage: failure-fixtures.sh RULE}
OUT=/mnt/lab/failure-$RULE.pcap
DONGLE=/mnt/lab/dongle
G=/sys/kernel/config/usb_gadget
log() { echo "failure-fixtures: $(cut -d' ' -f1 /proc/uptime) $*"; }

# devpath VID PID: the device's sysfs directory, waiting up to 10 s.
devpath() {
	n=200
	while [ $n -gt 0 ]; do
		for d in /sys/bus/usb/devices/*; do
			[ -f "$d/idVendor" ] && [ "$(cat "$d/idVendor"):$(cat "$d/idProduct")" = "$1:$2" ] && { echo "$d"; return 0; }
		done
		sleep 0.05
		n=$((n - 1))
	done
	echo "failure-fixtures: $1:$2 did not enumerate" >&2
	return 1
}

# netif VID:PID: the kernel netdev of the device, up (waiting up to 10 s).
netif() {
	n=100
	while [ $n -gt 0 ]; do
		i=$(labguest netif "$1" 2>/dev/null) && ip link set "$i" up && { echo "$i"; return 0; }
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# traffic VID:PID [N]: until /tmp/stop-traffic exists, bursts of N (20)
# 60-byte frames of EtherType 0x88b5 (echoed by the far side) through the device's
# kernel netdev, 20 bursts a second; it follows the device across a
# re-enumeration (a new netdev each life).
traffic() {
	rm -f /tmp/stop-traffic
	while [ ! -f /tmp/stop-traffic ]; do
		i=$(labguest netif "$1" 2>/dev/null) && ip link set "$i" up 2>/dev/null &&
			labguest blast -if "$i" -n "${2:-20}" -size 60 -ethertype 0x88b5 >/dev/null 2>&1
		sleep 0.05
	done
}

# record BUS SECONDS: usbmon of the whole bus into $OUT, in the background.
record() {
	"$DONGLE" record --usbmon "$1" --duration "$2"s -o "$OUT" >/tmp/record.log 2>&1 &
	REC=$!
	# dongle takes a while to start under TCG: nothing happens before its
	# usbmon reader is open (it says so once it is).
	n=200
	until grep -q '^capturing usbmon' /tmp/record.log; do
		[ $n -gt 0 ] || { echo "failure-fixtures: dongle record did not start" >&2; cat /tmp/record.log >&2; exit 1; }
		sleep 0.05
		n=$((n - 1))
	done
	log "recording bus $1 for at most $2 s"
}

# stoprecord: end the capture now (dongle record stops on SIGTERM) and wait
# for it.
stoprecord() {
	kill -TERM $REC 2>/dev/null
	wait $REC || { cat /tmp/record.log; exit 1; }
	tail -n 1 /tmp/record.log
}

# ecmreader BULKIN-FLAGS...: record the ECM gadget's bus, plug the
# gadget in again (UDC unbind and bind: its enumeration is in the capture,
# for a decoder to know the device), then take its data interface from cdc_ether with `labguest bulkin` (alt 1: f_ecm's
# endpoints exist there) and read its bulk IN 0x81 with the flags given,
# in the background (BR); returns once gecm0 has carrier (f_ecm is
# connected), so frames sent from gecm0 go to the reader.
ecmreader() {
	D=$(devpath 1209 0001) || exit 1
	BUS=$(cat "$D/busnum")
	echo "" >$G/ecm/UDC
	n=100
	while [ -e "$D" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	record "$BUS" 25
	echo dummy_udc.0 >$G/ecm/UDC
	D=$(devpath 1209 0001) || exit 1
	n=200 # cdc_ether bound (its netdev is left down: no URBs of its own)
	until [ "$(basename "$(readlink "$D:1.0/driver")" 2>/dev/null)" = cdc_ether ]; do
		[ $n -gt 0 ] || { echo "failure-fixtures: cdc_ether did not bind" >&2; exit 1; }
		sleep 0.05
		n=$((n - 1))
	done
	labguest bulkin -dev 1209:0001 -iface 1 -alt 1 -ep 0x81 -giveback=false "$@" >/tmp/bulkin.log 2>&1 &
	BR=$!
	n=200
	until grep -q 'claimed' /tmp/bulkin.log; do
		[ $n -gt 0 ] || { cat /tmp/bulkin.log; exit 1; }
		sleep 0.05
		n=$((n - 1))
	done
	carrier gecm0 || exit 1
	log "labguest bulkin has the ECM gadget's data interface (bus $BUS address $(cat "$D/devnum")); gecm0 has carrier"
}

SOCK=/run/ffsmodel.sock
# hcbus SERIAL SPEED: the bus number of the root hub with that serial
# (dummy_hcd.0, vhci_hcd.0) and speed (480, 5000).
hcbus() {
	for r in /sys/bus/usb/devices/usb*; do
		[ "$(cat "$r/serial")" = "$1" ] && [ "$(cat "$r/speed")" = "$2" ] && { cat "$r/busnum"; return 0; }
	done
	echo "failure-fixtures: no $1 bus at $2 Mb/s" >&2
	return 1
}

# model CHIP VID PID SECONDS [FLAGS]: record the bus the model will be on
# (at most SECONDS), then start ffsmodel serving CHIP with a control
# socket, so that the capture holds its enumeration and the kernel
# driver's start; sets D (sysfs), BUS, IF (the kernel driver's netdev, up).
model() {
	case " ${5:-} " in
	*" -usbip "*) modprobe vhci-hcd && BUS=$(hcbus vhci_hcd.0 480) ;;
	*) modprobe dummy_hcd && BUS=$(hcbus dummy_hcd.0 480) ;;
	esac || exit 1
	record "$BUS" "$4"
	ffsmodel -daemon -model "$1" -sock $SOCK -stats 2s -log /mnt/lab/ffsmodel-$RULE.log ${5:-} || exit 1
	D=$(devpath "$2" "$3") || exit 1
	IF=$(netif "$2:$3") || exit 1
	log "$1 model $D: bus $(cat "$D/busnum") address $(cat "$D/devnum"), driver $(basename "$(readlink "$D:1.0/driver")"), netdev $IF"
}

# tell CMD...: one request to the model (protocol: hw/vmlab/guest/wire.go).
tell() {
	log "model: $*"
	ffsmodel -sock $SOCK -send "$*" || exit 1
}

# carrier IF: wait up to 10 s for the netdev's carrier.
carrier() {
	n=100
	until [ "$(cat /sys/class/net/$1/carrier 2>/dev/null)" = 1 ]; do
		[ $n -gt 0 ] || { echo "failure-fixtures: no carrier on $1" >&2; return 1; }
		sleep 0.1
		n=$((n - 1))
	done
}

modprobe usbmon
# No udev in the guest: the class drivers of the models are loaded here.
for m in asix ax88179_178a r8152 cdc_ncm; do modprobe $m; done
n=50
while [ ! -e /dev/usbmon0 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done

case $RULE in
device-vanished)
	# The Linux ECM gadget (f_ecm on dummy_udc.0, 1209:0001, serial
	# lab-ecm) under the kernel's cdc_ether. The gadget is unbound before
	# the capture starts and bound once it runs, so its first life's
	# enumeration (descriptors, serial string) is in the capture; frames
	# flow both ways (gecm0 echoes 0x88b5); then its UDC is unbound (the
	# gadget leaves the bus mid-traffic) and bound again: the same device
	# enumerates at a new address, cdc_ether binds again, traffic resumes.
	D=$(devpath 1209 0001) || exit 1
	BUS=$(cat "$D/busnum")
	echo "" >$G/ecm/UDC
	n=100
	while [ -e "$D" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	record "$BUS" 7
	echo dummy_udc.0 >$G/ecm/UDC
	D=$(devpath 1209 0001) || exit 1
	netif 1209:0001 >/dev/null || exit 1
	log "first life: bus $BUS address $(cat "$D/devnum"), driver $(basename "$(readlink "$D:1.0/driver")")"
	traffic 1209:0001 &
	TR=$!
	sleep 1.5
	log "unbinding the gadget from dummy_udc.0 (traffic running)"
	echo "" >$G/ecm/UDC
	sleep 0.5
	log "binding it again"
	echo dummy_udc.0 >$G/ecm/UDC
	D=$(devpath 1209 0001) || exit 1
	netif 1209:0001 >/dev/null || exit 1
	log "second life: bus $BUS address $(cat "$D/devnum"), driver $(basename "$(readlink "$D:1.0/driver")")"
	sleep 1.5
	touch /tmp/stop-traffic
	wait $TR
	wait $REC || { cat /tmp/record.log; exit 1; }
	tail -n 1 /tmp/record.log
	;;
tx-timeout)
	# dongle's AX88772B model as a FunctionFS gadget (0b95:772b) under
	# the kernel's asix driver. A few frames go through; then the model
	# stops reading its bulk OUT endpoint (hold: no FunctionFS read
	# request queued, dummy_hcd NAKs the host's OUT transfers) while 100
	# more frames are sent: usbnet's TX queue fills and stops, and after
	# the netdev watchdog's 5 s usbnet_tx_timeout unlinks the URBs in
	# flight. Then the model reads again and the queue drains.
	model ax88772b 0b95 772b 30
	carrier "$IF" || exit 1
	labguest blast -if "$IF" -n 5 -size 60 >/dev/null || exit 1
	sleep 0.3
	tell hold 0x02
	labguest blast -if "$IF" -n 100 -size 60 >/dev/null || exit 1
	log "100 frames queued; waiting for the TX watchdog"
	n=150
	until dmesg | grep "NETDEV WATCHDOG" | grep -q "$IF"; do
		[ $n -gt 0 ] || { echo "failure-fixtures: no TX timeout on $IF in 15 s" >&2; dmesg | tail -n 20; exit 1; }
		sleep 0.1
		n=$((n - 1))
	done
	log "$(dmesg | grep "NETDEV WATCHDOG" | tail -n 1)"
	sleep 1
	tell release 0x02
	sleep 1.5
	stoprecord
	for c in tx_packets tx_errors tx_dropped; do log "$IF $c $(cat /sys/class/net/$IF/statistics/$c)"; done
	;;
link-flap)
	# dongle's AX88179 model as a FunctionFS gadget (0b95:1790) under the
	# kernel's ax88179_178a driver, which learns the link from the chip's
	# interrupt status (ax88179_status: usbnet_link_change). Its cable
	# is pulled and plugged back 4 times, 0.5 s apart (ffsmodel's
	# "link down" / "link up": the model reports each change on its
	# interrupt endpoint).
	model ax88179 0b95 1790 30
	carrier "$IF" || exit 1
	for i in 1 2 3 4; do
		tell link down
		sleep 0.5
		log "$IF carrier $(cat /sys/class/net/$IF/carrier)"
		tell link up
		sleep 0.5
		log "$IF carrier $(cat /sys/class/net/$IF/carrier)"
	done
	sleep 0.5
	stoprecord
	dmesg | grep -i "link" | tail -n 12
	;;
halt-not-cleared)
	# dongle's AX88772B model as a FunctionFS gadget (0b95:772b). The
	# kernel's asix binds it first (the kernel's usbnet clears every halt
	# it meets, so it is not the host here); then `labguest bulkin` takes
	# the interface from asix through usbfs (USBDEVFS_DISCONNECT) and
	# reads bulk IN (0x86), one synchronous URB every 0.3 s, and never
	# clears a halt. While its first read is pending, the model halts bulk
	# IN (ffsmodel's "stall 0x86": hw/ffs Bridge.Halt, FunctionFS
	# set_halt on dummy_hcd): that read and every later one complete
	# -EPIPE. (No data reaches the reader: asix's stop powered the PHY
	# down as it let go, so the model has no link.) The capture stops
	# before anything gives the interface back to asix (which would clear
	# the halt).
	model ax88772b 0b95 772b 30
	carrier "$IF" || exit 1
	labguest bulkin -dev 0b95:772b -ep 0x86 -n 6 -timeout 3s -gap 300ms -giveback=false >/tmp/bulkin.log 2>&1 &
	BR=$!
	until grep -q 'claimed' /tmp/bulkin.log; do sleep 0.05; done
	sleep 0.5
	tell stall 0x86
	wait $BR
	cat /tmp/bulkin.log
	sleep 0.3
	stoprecord
	;;
error-storm)
	# dongle's RTL8153B model attached over USB/IP to the guest's vhci_hcd
	# (ffsmodel -usbip, 0bda:8153) under the kernel's r8152. Frames flow
	# both ways (bursts of 5 EtherType 0x88b5 frames, echoed by the
	# model's peer); then the model completes its next 30 bulk IN URBs
	# with -71 (EPROTO; ffsmodel's "fail 0x81 -71 30": hw/usbip
	# Server.FailNext, the status in each RET_SUBMIT, which vhci_hcd gives
	# r8152 as the URB's), then normally again.
	model rtl8153 0bda 8153 30 -usbip
	carrier "$IF" || exit 1
	traffic 0bda:8153 5 &
	TR=$!
	sleep 1
	tell fail 0x81 -71 30
	sleep 2
	touch /tmp/stop-traffic
	wait $TR
	sleep 0.3
	stoprecord
	dmesg | grep r8152 | tail -n 8
	for c in rx_packets rx_errors rx_dropped; do log "$IF $c $(cat /sys/class/net/$IF/statistics/$c)"; done
	;;
register-access)
	# dongle's RTL8153B model over USB/IP (as for error-storm) under the
	# kernel's r8152. Once the link is up, the model is told to fail its
	# next 4 vendor control requests with -71 (ffsmodel's "fail 0 -71 4":
	# hw/usbip Server.FailNext answers them at once with that status,
	# without the model seeing them; standard requests are left alone),
	# and eth0 is taken down and up, so that r8152 reads and writes its
	# registers (rtl8152_close/open: OCP and USB register access through
	# vendor requests 0x05).
	model rtl8153 0bda 8153 30 -usbip
	carrier "$IF" || exit 1
	sleep 0.3
	tell fail 0 -71 4
	ip link set "$IF" down
	sleep 0.5
	ip link set "$IF" up
	carrier "$IF" || log "no carrier on $IF after the failed register accesses"
	sleep 0.5
	stoprecord
	dmesg | grep r8152 | tail -n 8
	;;
checksum-fail)
	# dongle's AX88179 model as a FunctionFS gadget (0b95:1790) under the
	# kernel's ax88179_178a, which enables the chip's RX checksum engine
	# (RXCOE: IPv4 header, TCP, UDP). Three IPv4/UDP frames to eth0's MAC
	# are put on the model's wire 0.3 s apart (ffsmodel's "inject"): one
	# good, one with a wrong UDP checksum, one with a wrong IPv4 header
	# checksum. The model's checksum engine checks each and sets the L4
	# or L3 error bit in the frame's RX header, as the chip does; the
	# driver then leaves the checksum to the stack (CHECKSUM_NONE).
	model ax88179 0b95 1790 30
	carrier "$IF" || exit 1
	# 60-byte frames 02:00:00:00:00:02 -> 00:0e:c6:81:79:01, IPv4 10.9.9.2
	# -> 10.9.9.1 (header checksum 0x54aa), UDP 9 -> 9 (checksum 0x9f51),
	# 18 bytes "dongle checksum...": good; UDP checksum 0x1234; IPv4
	# header checksum 0x1234.
	tell inject AA7GgXkBAgAAAAACCABFAAAuAAEAAEARVKoKCQkCCgkJAQAJAAkAGp9RZG9uZ2xlIGNoZWNrc3VtLi4u
	sleep 0.3
	tell inject AA7GgXkBAgAAAAACCABFAAAuAAEAAEARVKoKCQkCCgkJAQAJAAkAGhI0ZG9uZ2xlIGNoZWNrc3VtLi4u
	sleep 0.3
	tell inject AA7GgXkBAgAAAAACCABFAAAuAAEAAEAREjQKCQkCCgkJAQAJAAkAGp9RZG9uZ2xlIGNoZWNrc3VtLi4u
	sleep 0.5
	stoprecord
	for c in rx_packets rx_errors rx_dropped; do log "$IF $c $(cat /sys/class/net/$IF/statistics/$c)"; done
	grep -i 'udp\|InCsumErrors\|Ip:' /proc/net/snmp | head -n 4
	;;
ntb-oversize)
	# dongle's CDC-NCM model over USB/IP (ffsmodel -usbip, 1209:0004)
	# under the kernel's cdc_ncm, which sets the NTB input size it wants
	# (SET_NTB_INPUT_SIZE). Frames are echoed by the model's peer; then
	# the model is told to make its next NTB 700 bytes longer than that
	# size (ffsmodel's "oversize 700": hw/sim/ncm Model.OversizeNext),
	# and one more frame is echoed into it; then normal frames again.
	model ncm 1209 0004 30 -usbip
	carrier "$IF" || exit 1
	labguest blast -if "$IF" -n 3 -size 60 -ethertype 0x88b5 >/dev/null || exit 1
	sleep 0.5
	tell oversize 700
	labguest blast -if "$IF" -n 1 -size 60 -ethertype 0x88b5 >/dev/null || exit 1
	sleep 0.5
	labguest blast -if "$IF" -n 3 -size 60 -ethertype 0x88b5 >/dev/null || exit 1
	sleep 0.5
	stoprecord
	dmesg | grep cdc_ncm | tail -n 6
	for c in rx_packets rx_errors rx_length_errors rx_dropped; do log "$IF $c $(cat /sys/class/net/$IF/statistics/$c)"; done
	;;
rx-overflow)
	# The Linux ECM gadget (f_ecm on dummy_hcd, 1209:0001): a usbfs
	# reader (labguest bulkin) takes its data interface from cdc_ether
	# and reads bulk IN with 100-byte URBs; the gadget's netdev gecm0
	# sends 600-byte frames, one every 0.4 s. Each frame is more than the
	# URB can take: dummy_hcd completes the URB -EOVERFLOW (babble).
	ecmreader -n 4 -size 100 -timeout 3s -gap 200ms
	for i in 1 2 3 4; do
		labguest blast -if gecm0 -n 1 -size 600 -ethertype 0x88b6 >/dev/null || exit 1
		sleep 0.4
	done
	wait $BR
	cat /tmp/bulkin.log
	sleep 0.3
	stoprecord
	;;
rx-starvation)
	# The Linux ECM gadget again, under a usbfs reader with one URB at a
	# time and a slow consumer: 512-byte reads, 1 s apart, while gecm0
	# has 30 frames of 1514 bytes queued for the host. Between a read's
	# completion and the next submission no URB is outstanding for 1 s,
	# and each next read completes at once, full.
	ecmreader -n 6 -size 512 -timeout 3s -gap 1s
	labguest blast -if gecm0 -n 30 -size 1514 -ethertype 0x88b6 >/dev/null || exit 1
	wait $BR
	cat /tmp/bulkin.log
	sleep 0.3
	stoprecord
	;;
poor-aggregation)
	# dongle's CDC-NCM model over USB/IP (1209:0004) under the kernel's
	# cdc_ncm, with both NTB sizes set to NCM's minimum, 2048 bytes
	# (sysfs cdc_ncm/rx_max: SET_NTB_INPUT_SIZE; tx_max), where one
	# 1514-byte frame fills an NTB: 40 full-size frames go out back to
	# back and the model's peer echoes them, each NTB carrying one frame
	# both ways. (The same run with the default 16384-byte NTBs batches.)
	model ncm 1209 0004 30 -usbip
	carrier "$IF" || exit 1
	echo 2048 >/sys/class/net/$IF/cdc_ncm/rx_max || exit 1
	echo 2048 >/sys/class/net/$IF/cdc_ncm/tx_max || exit 1
	log "$IF rx_max $(cat /sys/class/net/$IF/cdc_ncm/rx_max) tx_max $(cat /sys/class/net/$IF/cdc_ncm/tx_max)"
	carrier "$IF" || exit 1
	sleep 0.3
	labguest blast -if "$IF" -n 40 -size 1514 -ethertype 0x88b5 || exit 1
	sleep 1
	stoprecord
	for c in tx_packets rx_packets rx_errors; do log "$IF $c $(cat /sys/class/net/$IF/statistics/$c)"; done
	;;
link-needs-filter)
	# dongle's CDC-NCM model over USB/IP (1209:0004) under the kernel's
	# cdc_ncm, told to hold each link-up NETWORK_CONNECTION until the
	# host's next SET_ETHERNET_PACKET_FILTER (ffsmodel's "linkgate on":
	# hw/sim/ncm Model.GateLinkOnFilter), as devices do that show no link
	# until a filter is set. Its cable is pulled and plugged back: the
	# link-down goes out, the link-up is held while cdc_ncm polls the
	# interrupt endpoint; 1.5 s later `ip link set usb0 promisc on` makes
	# cdc_ncm send SET_ETHERNET_PACKET_FILTER, and the link-up follows.
	model ncm 1209 0004 30 -usbip
	carrier "$IF" || exit 1
	tell linkgate on
	tell link down
	sleep 0.5
	tell link up
	sleep 1.5
	log "$IF carrier $(cat /sys/class/net/$IF/carrier) 1.5 s after the cable came back"
	ip link set "$IF" promisc on
	carrier "$IF" || exit 1
	log "$IF carrier $(cat /sys/class/net/$IF/carrier) after the packet filter"
	sleep 0.3
	stoprecord
	;;
*)
	echo "failure-fixtures: unknown rule $RULE" >&2
	exit 2
	;;
esac
log "done: $OUT ($(wc -c <"$OUT") bytes)"
