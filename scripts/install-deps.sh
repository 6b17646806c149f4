#!/bin/sh
# install-deps.sh: install the Debian packages hvmdm's build and tests need.
#
# Only what is missing is installed (checked with dpkg-query first); apt-get
# update runs once before installing.  Silent when everything is present.
# `make check`, `make demo` and `make bench` run this first, so both work on a
# fresh Debian 12 machine as root.  As a normal user it uses sudo if present.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --list   print the package list and exit
#   scripts/install-deps.sh --check  exit 1 (listing them) if any is missing
set -eu

# Build: compiler, pkg-config and the libraries configure probes.
build_pkgs="build-essential pkg-config libglib2.0-dev libpixman-1-dev
    libvncserver-dev libsdl2-dev libxkbcommon-dev libjson-glib-dev
    libslirp-dev liburing-dev zlib1g-dev libzstd-dev libxen-dev"
# Run time: the firmware hvmdm loads (SeaBIOS, VGA BIOSes, NIC boot ROMs).
run_pkgs="seabios ipxe-qemu"
# Tests: QEMU as the reference and as the nested KVM host's CPU
# (tests/kvmhost), qemu-img as the image referee, busybox and cpio for the
# KVM host's initramfs, util-linux for unshare/flock, clang-format for
# `make format`; isolinux, syslinux-common and xorriso for the test guest's
# ISO (tests/guest/build.sh).
test_pkgs="qemu-system-x86 qemu-utils busybox-static cpio util-linux
    clang-format isolinux syslinux-common xorriso"

all_pkgs="$build_pkgs $run_pkgs $test_pkgs"

case ${1:-} in
--list) echo $all_pkgs; exit 0 ;;
--check|"") ;;
*) echo "install-deps: unknown option $1 (--list, --check)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: not a Debian system; install the equivalents of:" >&2
    echo "  $all_pkgs" | fmt >&2
    exit 0
fi

missing=""
for p in $all_pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $status in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "${1:-}" = --check ]; then
    echo "install-deps: missing:$missing" >&2
    exit 1
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=sudo
    else
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run as root: apt-get install$missing" >&2
        exit 1
    fi
fi

echo "install-deps: installing:$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
