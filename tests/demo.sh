#!/bin/sh
# demo.sh [BUILD]: boot SeaBIOS under hvmdm with its serial console on this
# terminal (`make demo`).  There is no boot disk yet, so SeaBIOS prints its
# banner, tries its boot devices and stops at "No bootable device".
#
# Runs directly whenever /dev/kvm can be opened (kvm_pvm hosts included:
# SeaBIOS alone runs there).  With no /dev/kvm at all but a kvm_pvm kernel it
# runs, non-interactively for 30 s, inside the nested KVM host
# (tests/kvmhost/kvmhost.sh).
BUILD=${1:-build}
HVMDM=${HVMDM:-$BUILD/hvmdm}
TOP=$(cd "$(dirname "$0")/.." && pwd)

if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
    echo "hvmdm demo: SeaBIOS on this terminal; to quit press Ctrl-A, then x"
    # SeaBIOS clears the screen as it starts: leave the line up a moment.
    sleep 2
    exec $HVMDM -m 128 -nographic
elif [ -d /sys/module/kvm_pvm ]; then
    echo "hvmdm demo: no usable /dev/kvm here; SeaBIOS runs for 30 s in a nested" \
         "KVM host (boots in a few seconds; Ctrl-C quits)"
    dir=$(cd "$BUILD" && pwd)/demo
    mkdir -p "$dir"
    exec "$TOP/tests/kvmhost/kvmhost.sh" --rw "$dir" --mem 1024 -- \
        sh -c 'timeout 30 "$@" < /dev/null; exit 0' sh $HVMDM -m 128 -nographic
else
    echo "hvmdm demo: /dev/kvm is missing: hvmdm needs KVM (load kvm_intel or" \
         "kvm_amd, or run on a machine with hardware virtualization)" >&2
    exit 1
fi
