#!/usr/bin/env bash
# dongle's two entry points on a fresh Debian/Ubuntu machine:
#   ./do diag [ARGS]   the main job: diagnose an adapter (or, with none plugged in, the embedded trace)
#   ./do test          every test: vet, gofmt, unit tests, the Ginkgo suite on every sim backend and
#                      fixture trace, tshark cross-checks, short fuzz runs, and the virtual USB lab
# Both install the Debian packages they need when they are missing (as root, or through sudo).
set -euo pipefail
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/go/bin
export GOFLAGS=${GOFLAGS:--mod=mod}

need_pkgs() { # install the Debian packages whose marker files are missing
  local missing=()
  while [ $# -gt 0 ]; do
    [ -e "$2" ] || missing+=("$1")
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "do: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q "${missing[@]}" >/dev/null
}

base_pkgs() {
  need_pkgs libusb-1.0-0-dev /usr/include/libusb-1.0/libusb.h pkg-config /usr/bin/pkg-config
}
lab_pkgs() {
  need_pkgs tshark /usr/bin/tshark qemu-system-x86 /usr/bin/qemu-system-x86_64 \
    busybox-static /bin/busybox kmod /sbin/depmod iproute2 /sbin/ip usbip /usr/sbin/usbip
}

case "${1:-}" in
diag | list | decode | replay | record | udev | lab)
  base_pkgs
  go build -o .bin/dongle ./cmd/dongle
  exec .bin/dongle "$@"
  ;;
test)
  shift
  base_pkgs
  lab_pkgs
  exec ./tools/test.sh "$@"
  ;;
*)
  sed -n '2,7p' "$0" >&2
  exit 2
  ;;
esac
