#!/usr/bin/env bash
# The virtual USB lab stage (called by tools/test.sh; see dongle/hw/vmlab):
# set the lab up from scratch or from its cache (idempotent), then run the
# conformance suite inside the lab VM, in one boot, against QEMU's usb-net
# (usb:0525:a4a2) and the Linux ECM gadget on dummy_hcd (usb:1209:0001).
# Reports: specs/reports/lab-junit-usb-*.xml; failing specs' USB traces in
# specs/reports/traces; every run's QEMU capture in .lab/runs/<id>/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
T0=$SECONDS
mkdir -p specs/reports
go run ./cmd/dongle lab setup
go run ./cmd/dongle lab suite -- -ginkgo.junit-report=reports/lab-junit-{backend}.xml
# The libusb backend's lab-only tests, in one more boot: hw/hwtest's
# conformance set on both lab devices and both transfer paths (the lab
# echoes frames: usb-net's host peer all, the gadget's gecm0 EtherType
# 0x88b5), the kernel-driver rebind after a release, and the zero-allocation
# bulk OUT path. labexec fails the run if a kernel driver is not reattached.
T1=$SECONDS
DONGLE_USB_DEVICE=0525:a4a2,1209:0001 DONGLE_LOOPBACK=1 \
	go test -count=1 -exec "${DONGLE_LAB_DIR:-$PWD/.lab}/labexec" ./hw/gousb \
	-run '^(TestConformance|TestRealReleaseRebinds|TestRealBulkOutAllocs)$'
echo "lab.sh: hw/gousb lab tests passed in $((SECONDS - T1)) s"
echo "lab.sh: lab stage passed in $((SECONDS - T0)) s"
