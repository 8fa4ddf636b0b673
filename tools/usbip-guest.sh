# The lab's USB/IP round trip, sourced in the lab guest (busybox sh) by
# DONGLE_LAB_SETUP before the test binary runs (tools/lab.sh):
#
#   DONGLE_LAB_SETUP=". $PWD/tools/usbip-guest.sh" go test -exec .lab/labexec ./specs -args --backend=usb:1209:0001
#
# It exports the ECM gadget (USBIP_ID, default 1209:0001, bound to
# cdc_ether on dummy_hcd) as a remote lab host would: bound to usbip-host,
# served by usbipd; then attaches it back through vhci_hcd over TCP to
# 127.0.0.1, as the test host would, and waits for cdc_ether to bind the
# attached device. It exports DONGLE_FAULTS=usbip:127.0.0.1/BUSID, so the
# specs' unplug is a usbip detach and the replug a usbip attach, and
# DONGLE_EXPECT_USBIP=127.0.0.1/BUSID, so every spec fails unless the
# adapter it opened is the one behind vhci_hcd.
#
# When the shell exits (the binary done, passed or not) it detaches the
# port, unbinds the gadget from usbip-host and checks that cdc_ether is
# bound to both of the gadget's interfaces again; if not, the run fails
# (exit 97) whatever the binary said.
USBIP_ID=${USBIP_ID:-1209:0001}
USBIP_DRIVER=${USBIP_DRIVER:-cdc_ether}

# usbip_wait N CMD...: run CMD every 0.1 s until it succeeds, at most N tries.
usbip_wait() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# usbip_dev ID DRIVER: the sysfs name of the device with vendor:product ID
# whose device-level driver is DRIVER (usb, usbip-host).
usbip_dev() {
	local d
	for d in /sys/bus/usb/devices/*; do
		[ "$(cat "$d/idVendor" 2>/dev/null):$(cat "$d/idProduct" 2>/dev/null)" = "$1" ] || continue
		[ "$(basename "$(readlink "$d/driver")" 2>/dev/null)" = "$2" ] && echo "${d##*/}"
	done
	return 0
}

# usbip_bound DEV: both of DEV's interfaces have USBIP_DRIVER bound.
usbip_bound() {
	[ "$(basename "$(readlink "/sys/bus/usb/devices/$1:1.0/driver")" 2>/dev/null)" = "$USBIP_DRIVER" ] &&
		[ "$(basename "$(readlink "/sys/bus/usb/devices/$1:1.1/driver")" 2>/dev/null)" = "$USBIP_DRIVER" ]
}

# usbip_listening: usbipd listens on TCP port 3240 (0x0CA8).
usbip_listening() { grep -q ':0CA8 00000000:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

# usbip_attached: a device other than the exported one has USBIP_ID and
# its driver bound.
usbip_attached() {
	local d
	for d in $(usbip_dev "$USBIP_ID" usb); do
		usbip_bound "$d" && USBIP_LOCAL=$d && return 0
	done
	return 1
}

# usbip_restore detaches the port, unbinds the gadget from usbip-host and
# fails unless its driver is bound to it again (a script that goes on with
# the local device calls it after `trap - EXIT`).
usbip_restore() {
	local rc=0 p
	for p in /var/run/vhci_hcd/port*; do
		[ -f "$p" ] || continue
		case "$(cat "$p")" in
		*" $USBIP_BUSID") usbip detach -p "${p##*/port}" || rc=1 ;;
		esac
	done
	usbip unbind -b "$USBIP_BUSID" || rc=1
	if usbip_wait 100 usbip_bound "$USBIP_BUSID"; then
		echo "usbip-guest: detached, unbound from usbip-host; $USBIP_DRIVER is bound to $USBIP_BUSID ($USBIP_ID) again"
	else
		echo "usbip-guest: FAIL: $USBIP_DRIVER is NOT bound to $USBIP_BUSID ($USBIP_ID) again after the detach and unbind" >&2
		ls -l /sys/bus/usb/devices/ >&2
		rc=1
	fi
	return $rc
}

usbip_teardown() {
	local rc=$?
	trap - EXIT
	usbip_restore || rc=97
	exit $rc
}

modprobe usbip_host && modprobe vhci_hcd || return 1
USBIP_BUSID=$(usbip_dev "$USBIP_ID" usb | head -n 1)
[ -n "$USBIP_BUSID" ] || {
	echo "usbip-guest: no device $USBIP_ID to export" >&2
	return 1
}
usbip_bound "$USBIP_BUSID" || {
	echo "usbip-guest: $USBIP_BUSID ($USBIP_ID) does not have $USBIP_DRIVER bound before the export" >&2
	return 1
}
usbipd -D || return 1
usbip_wait 100 usbip_listening || {
	echo "usbip-guest: usbipd is not listening on 3240 after 10 s" >&2
	return 1
}
usbip bind -b "$USBIP_BUSID" || return 1
trap usbip_teardown EXIT
usbip attach -r 127.0.0.1 -b "$USBIP_BUSID" || return 1
usbip_wait 150 usbip_attached || {
	echo "usbip-guest: the attached $USBIP_ID did not get $USBIP_DRIVER within 15 s" >&2
	return 1
}
export DONGLE_FAULTS="usbip:127.0.0.1/$USBIP_BUSID" DONGLE_EXPECT_USBIP="127.0.0.1/$USBIP_BUSID"
echo "usbip-guest: $USBIP_ID exported from $USBIP_BUSID (usbip-host, usbipd on 127.0.0.1:3240), attached as $USBIP_LOCAL through vhci_hcd; DONGLE_FAULTS=$DONGLE_FAULTS DONGLE_EXPECT_USBIP=$DONGLE_EXPECT_USBIP"
