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
echo "lab.sh: lab stage passed in $((SECONDS - T0)) s"
