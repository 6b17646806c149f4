#!/bin/bash
# seabios.sh: SeaBIOS start-up figures for hvmdm and QEMU, side by side.
#
#   tests/perf/seabios.sh [--build DIR] [--where auto|direct|nested]
#                         [--runs N] [--idle SECONDS]
#
# For each program, with the same guest (SeaBIOS, 128 MiB, no disks, serial
# console on stdout):
#   - time from process start to SeaBIOS's banner on the serial port
#     (median of --runs, default 3)
#   - the process's RSS at that moment
#   - host CPU the process uses over --idle seconds (default 10) while
#     SeaBIOS waits at "No bootable device" (percent of one core)
# and the ratio hvmdm/QEMU.  QEMU runs as
#   qemu-system-x86_64 -accel kvm -nographic -nodefaults -m 128 -serial stdio -net none
#
# Where: directly when /dev/kvm can be opened, and inside the nested KVM host
# (tests/kvmhost) on kvm_pvm machines; --where forces one.  Absolute figures
# in the nested host say nothing about real hardware; the ratio does.
# Benchmarks never fail on timing: the exit status is non-zero only when a
# program could not be measured at all.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")
TOP=$(cd "$HERE/../.." && pwd)
BUILD=build WHERE=auto RUNS=3 IDLE=10 INNER=
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift 2 ;;
    --where) WHERE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --inner) INNER=$2; shift 2 ;;  # internal: results to this file
    -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$SELF" | sed '$d'; exit 0 ;;
    *) echo "seabios.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
BUILD=$(cd "$BUILD" && pwd) || exit 2
HVMDM=${HVMDM:-$BUILD/hvmdm}
QEMU="qemu-system-x86_64 -accel kvm -nographic -nodefaults -m 128 -serial stdio -net none"
HVMDM_ARGS="-m 128 -nographic"
TICKS=$(getconf CLK_TCK)
BANNER='SeaBIOS (version'
NOBOOT='No bootable device'

have_kvm() { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }
now_ns() { date +%s%N; }

# cpu_ticks PID: user+system ticks of the whole process (all threads).
cpu_ticks() {
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# measure_once IDLE CMD...: prints "BANNER_MS RSS_KB CPU_PCT" (CPU only when
# IDLE > 0, else "-"), or "fail REASON".
measure_once() {
    local idle=$1 start pid line t_banner="" rss="" cpu="-" c0 c1 deadline rc
    shift
    start=$(now_ns)
    coproc VM { exec "$@" < /dev/null 2> /dev/null; }
    pid=$VM_PID
    deadline=$((SECONDS + 120))
    local fd=${VM[0]}
    while [ $SECONDS -lt $deadline ]; do
        # A quiet spell (QEMU's floppy probe in the nested host) is not the
        # end: only end of output or the deadline stops the wait.
        IFS= read -r -t 5 line <&"$fd"
        rc=$?
        if [ $rc -gt 128 ]; then
            continue
        elif [ $rc -ne 0 ]; then
            break
        fi
        if [ -z "$t_banner" ] && [[ $line == *"$BANNER"* ]]; then
            t_banner=$(( ($(now_ns) - start) / 1000000 ))
            rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        fi
        if [[ $line == *"$NOBOOT"* ]]; then
            break
        fi
    done
    if [ -z "$t_banner" ] || [[ $line != *"$NOBOOT"* ]]; then
        kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        echo "fail no-banner-or-no-boot-device-message"
        return
    fi
    if [ "$idle" -gt 0 ]; then
        c0=$(cpu_ticks "$pid")
        sleep "$idle"
        c1=$(cpu_ticks "$pid")
        cpu=$(awk -v d=$((c1 - c0)) -v hz="$TICKS" -v s="$idle" \
              'BEGIN { printf "%.2f", 100 * d / hz / s }')
    fi
    kill -TERM "$pid" 2>/dev/null
    sleep 0.5
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "$t_banner ${rss:-0} $cpu"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

# measure LABEL CMD...: RUNS start-ups, the last one with the idle sample.
# Prints "LABEL BANNER_MS RSS_KB CPU_PCT" (medians) or "LABEL fail".
measure() {
    local label=$1 i r ms=() rss=() cpu=-
    shift
    for i in $(seq "$RUNS"); do
        r=$(measure_once "$([ "$i" -eq "$RUNS" ] && echo "$IDLE" || echo 0)" "$@")
        case $r in fail*) echo "$label fail"; return ;; esac
        read -r a b c <<< "$r"
        ms+=("$a") rss+=("$b")
        [ "$c" != - ] && cpu=$c
    done
    echo "$label $(printf '%s\n' "${ms[@]}" | median) $(printf '%s\n' "${rss[@]}" | median) $cpu"
}

# run_all: both programs here; "hvmdm ..." and "qemu ..." lines.
run_all() {
    # shellcheck disable=SC2086
    measure hvmdm $HVMDM $HVMDM_ARGS
    # shellcheck disable=SC2086
    measure qemu $QEMU
}

if [ -n "$INNER" ]; then
    run_all > "$INNER"
    exit 0
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "fail") printf "%.2f", a / b; else printf "n/a" }'; }

# report PLACE FILE: the table.
report() {
    local h q hb hr hc qb qr qc
    h=$(grep '^hvmdm ' "$2") q=$(grep '^qemu ' "$2")
    read -r _ hb hr hc <<< "$h"
    read -r _ qb qr qc <<< "$q"
    echo "SeaBIOS start-up, $1:"
    printf '  %-48s %10s %10s %8s\n' "" hvmdm qemu ratio
    if [ "${hb:-fail}" = fail ] || [ "${qb:-fail}" = fail ]; then
        echo "  hvmdm: ${hb:-no result}  qemu: ${qb:-no result}" \
             "(a program did not reach \"$NOBOOT\")"
        return 1
    fi
    printf '  %-48s %10s %10s %8s\n' "process start -> banner (ms, median of $RUNS)" \
        "$hb" "$qb" "$(ratio "$hb" "$qb")"
    printf '  %-48s %10.1f %10.1f %8s\n' "RSS at the banner (MiB)" \
        "$(awk -v k="$hr" 'BEGIN { print k / 1024 }')" \
        "$(awk -v k="$qr" 'BEGIN { print k / 1024 }')" "$(ratio "$hr" "$qr")"
    printf '  %-48s %10s %10s %8s\n' "idle host CPU at \"$NOBOOT\" (%, ${IDLE} s)" \
        "$hc" "$qc" "$(ratio "$hc" "$qc")"
}

status=0
out=$BUILD/perf
mkdir -p "$out"
if [ "$WHERE" = direct ] || { [ "$WHERE" = auto ] && have_kvm; }; then
    if have_kvm; then
        run_all > "$out/direct.txt"
        place="directly on this machine's /dev/kvm"
        [ -d /sys/module/kvm_pvm ] && place="$place (kvm_pvm)"
        report "$place" "$out/direct.txt" || status=1
    else
        echo "SeaBIOS start-up, directly: not measured, /dev/kvm is missing"
    fi
elif [ "$WHERE" = auto ]; then
    echo "SeaBIOS start-up, directly: not measured, /dev/kvm is missing"
fi
if [ "$WHERE" = nested ] || { [ "$WHERE" = auto ] && [ -d /sys/module/kvm_pvm ]; }; then
    nd=$out/nested
    rm -rf "$nd" && mkdir -p "$nd"
    "$TOP/tests/kvmhost/kvmhost.sh" --rw "$nd" --mem 2048 --smp 1 --timeout 900 \
        --log "$nd/kvmhost-console.log" -- \
        env HVMDM="$HVMDM" "$SELF" --build "$BUILD" --runs "$RUNS" --idle "$IDLE" \
        --inner "$nd/results.txt" > "$nd/kvmhost.out" 2>&1
    if [ -s "$nd/results.txt" ]; then
        report "inside the nested KVM host (TCG + SVM, one vCPU)" "$nd/results.txt" || status=1
    else
        echo "SeaBIOS start-up, nested: the KVM host gave no results (see $nd)"
        status=1
    fi
fi
exit $status
