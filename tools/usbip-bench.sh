# What USB/IP costs, measured in the lab guest in one boot against the same
# device: the ECM gadget (1209:0001, f_ecm on dummy_hcd) attached locally,
# then exported by usbip-host and attached back through vhci_hcd over TCP
# to 127.0.0.1 (tools/usbip-guest.sh, which also restores it at the end).
# For each attachment, dongle's driver (cmd/dongleblast) and the kernel's
# cdc_ether move frames of 1514 and 64 bytes to the gadget and from it,
# counted where they arrive (frames/s; to the gadget: the gadget's gecm0
# rx_packets; from it: dongle's handler or the kernel netdev's rx_packets),
# then one frame at a time through an echo on gecm0 (round trip p50/p99).
# Run from the module root (dongleblast built with cgo, as for the lab):
#
#   go build -o /tmp/dongleblast ./cmd/dongleblast
#   TC=$(for l in $(ldd /sbin/tc | grep -o '/lib/[^ ]*\.so[^ ]*' | grep -v ld-linux); do echo "-file lib/${l##*/}=$l"; done)
#   flock /work/notes/vm.lock go run ./cmd/dongle lab run -file tc=/sbin/tc $TC \
#     -file dongleblast=/tmp/dongleblast -file usbip-guest.sh=$PWD/tools/usbip-guest.sh \
#     -file usbip-bench.sh=$PWD/tools/usbip-bench.sh -- 'sh /mnt/lab/usbip-bench.sh 10000 10000 300'
#
# The local device is measured before and after the USB/IP one (its two
# runs' spread is the boot's noise).
# Output: "BENCH ATTACHMENT DRIVER DIRECTION SIZE: <result line>" per run.
N=${1:-10000}  # frames of 1514 bytes per run
NS=${2:-10000} # frames of 64 bytes per run
NR=${3:-300}   # round trips
D=/mnt/lab/dongleblast
ID=1209:0001
# fq_codel (Debian's default) drops frames that wait 5 ms under TCG while
# sendto reports them sent; no IPv6 chatter to count as test frames.
echo pfifo_fast >/proc/sys/net/core/default_qdisc
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
kill "$(cat /run/labguest-echo.pid)" && rm /run/labguest-echo.pid
ip link set gecm0 up
# gecm0 came up with fq_codel at boot, and busybox's tc cannot replace a
# root qdisc: iproute2's tc is shipped with its libraries (-file tc=...,
# -file lib/...; see the command above).
pfifo() {
	[ -x /mnt/lab/tc ] && LD_LIBRARY_PATH=/mnt/lab/lib /mnt/lab/tc qdisc replace dev "$1" root pfifo_fast
	echo "usbip-bench: $1 qdisc: $(tc qdisc show dev "$1")"
}
pfifo gecm0

# kif: the kernel's netdev for the device (after dongle released it, the
# kernel rebinds it asynchronously), brought up.
kif() {
	local i=0 n
	while [ $i -lt 100 ]; do
		n=$(labguest netif $ID 2>/dev/null) && ip link set "$n" up && pfifo "$n" >&2 && echo "$n" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "usbip-bench: no kernel netdev for $ID" >&2
	return 1
}

# drops: what gecm0 (u_ether) dropped or failed so far, both ways, and the
# kernel netdev's transmit drops (where a lost frame went).
drops() {
	local i c out=""
	for i in gecm0 $(labguest netif $ID 2>/dev/null); do
		for c in rx_dropped rx_errors tx_dropped tx_errors; do
			out="$out ${i}_$c=$(cat /sys/class/net/$i/statistics/$c)"
		done
	done
	echo "totals:$out"
}

# ready waits until the counting kernrx has read its base count.
ready() {
	local i=0
	until grep -q "kernrx ready" /tmp/k.txt 2>/dev/null; do
		[ $i -lt 200 ] || { echo "usbip-bench: kernrx not ready in 10 s" >&2; return 1; }
		sleep 0.05
		i=$((i + 1))
	done
}

bench() { # attachment
	local s n p e IF
	for s in 1514 64; do
		n=$N
		[ $s = 64 ] && n=$NS
		rm -f /tmp/k.txt
		$D kernrx -if gecm0 -from none -n $n -timeout 60s >/tmp/k.txt &
		p=$!
		ready || return 1
		$D tx -dev $ID -n $n -size $s >/tmp/t.txt
		wait $p
		echo "BENCH $1 dongle to-gadget $s: $(grep -v ready /tmp/k.txt) | $(cat /tmp/t.txt) $(drops)"
		echo "BENCH $1 dongle from-gadget $s: $($D rx -dev $ID -from gecm0 -n $n -size $s) $(drops)"
		IF=$(kif) || return 1
		rm -f /tmp/k.txt
		$D kernrx -if gecm0 -from none -n $n -timeout 60s >/tmp/k.txt &
		p=$!
		ready || return 1
		labguest blast -if "$IF" -n $n -size $s >/tmp/t.txt
		wait $p
		echo "BENCH $1 kernel to-gadget $s: $(grep -v ready /tmp/k.txt) | $(cat /tmp/t.txt) $(drops)"
		echo "BENCH $1 kernel from-gadget $s: $($D kernrx -if "$IF" -from gecm0 -n $n -size $s) $(drops)"
	done
	labguest echo -if gecm0 >/tmp/echo.log 2>&1 &
	e=$!
	sleep 0.3
	echo "BENCH $1 dongle rtt 64: $($D rtt -dev $ID -n $NR -size 64)"
	IF=$(kif) || return 1
	echo "BENCH $1 kernel rtt 64: $(labguest ping -if "$IF" -n $NR -size 64)"
	kill $e
}

bench local || exit 1
. /mnt/lab/usbip-guest.sh || exit 1
bench usbip || exit 1
trap - EXIT
usbip_restore || exit 97
bench local-again || exit 1
