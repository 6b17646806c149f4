#!/bin/bash
# img-convert.sh: hvmdm-img convert against qemu-img convert, side by side.
#
#   tests/perf/img-convert.sh [--build DIR] [--size MIB] [--runs N] [--dir DIR]
#
# Makes a qcow2 image of --size MiB (default 1024) full of random data (with
# qemu-img, from /dev/urandom), then converts it to raw with both tools in
# turn, --runs times each (default 5), in two cache modes:
#   unsafe     -t unsafe: no flush, the pure copy (qemu-img's default)
#   writeback  -t writeback: the target is flushed to the disk at the end
#              (hvmdm-img's default)
# and prints the median wall time of each, and the ratio qemu-img/hvmdm-img
# (above 1 means hvmdm-img is faster). Every output is checked with
# qemu-img compare once. The page cache is warm for both (the source is read
# once before timing). Benchmarks never fail on timing: the exit status is
# non-zero only when a program could not be measured at all.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$TOP/build SIZE=1024 RUNS=5 DIR=
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) echo "img-convert.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
BUILD=$(cd "$BUILD" && pwd) || exit 2
HVMDM_IMG=$BUILD/hvmdm-img
if [ ! -x "$HVMDM_IMG" ]; then
    echo "img-convert.sh: $HVMDM_IMG missing (make O=$BUILD)" >&2
    exit 2
fi
if ! command -v qemu-img > /dev/null; then
    echo "img-convert.sh: qemu-img missing (apt-get install qemu-utils)" >&2
    exit 2
fi
WORK=$(mktemp -d "${DIR:-${TMPDIR:-/tmp}}/img-convert.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT

now_ns() { date +%s%N; }

# time_one OUTFILE CMD...: prints milliseconds, or "fail".
time_one() {
    local out=$1 t0 t1
    shift
    rm -f "$out"
    t0=$(now_ns)
    if ! "$@" > /dev/null 2>&1; then
        echo fail
        return
    fi
    t1=$(now_ns)
    echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

echo "making a ${SIZE} MiB qcow2 image of random data in $WORK"
head -c "$((SIZE * 1024 * 1024))" /dev/urandom > "$WORK/src.raw" || exit 2
qemu-img convert -f raw -O qcow2 "$WORK/src.raw" "$WORK/src.qcow2" || exit 2
rm -f "$WORK/src.raw"
cat "$WORK/src.qcow2" > /dev/null
sync

status=0
printf '%-10s %14s %14s %8s\n' "cache" "hvmdm-img ms" "qemu-img ms" "ratio"
for mode in unsafe writeback; do
    ours=() theirs=()
    for ((i = 0; i < RUNS; i++)); do
        sync
        ours+=("$(time_one "$WORK/a.raw" "$HVMDM_IMG" convert -t "$mode" \
                  -f qcow2 -O raw "$WORK/src.qcow2" "$WORK/a.raw")")
        sync
        theirs+=("$(time_one "$WORK/b.raw" qemu-img convert -t "$mode" \
                    -f qcow2 -O raw "$WORK/src.qcow2" "$WORK/b.raw")")
    done
    if [ "$mode" = unsafe ] &&
       ! qemu-img compare -q -f qcow2 -F raw "$WORK/src.qcow2" "$WORK/a.raw"; then
        echo "hvmdm-img convert: output differs from the source" >&2
        status=1
    fi
    if printf '%s\n' "${ours[@]}" "${theirs[@]}" | grep -q fail; then
        echo "$mode: a conversion failed" >&2
        status=1
        continue
    fi
    o=$(printf '%s\n' "${ours[@]}" | median)
    t=$(printf '%s\n' "${theirs[@]}" | median)
    printf '%-10s %14s %14s %8s\n' "$mode" "$o" "$t" \
        "$(awk -v o="$o" -v t="$t" 'BEGIN { printf "%.2f", o ? t / o : 0 }')"
done
echo "(median of $RUNS runs each; ratio = qemu-img time / hvmdm-img time)"
exit $status
