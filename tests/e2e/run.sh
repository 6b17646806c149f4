#!/bin/bash
# run.sh: hvmdm's end-to-end tests: real guests under a real KVM.
#
#   tests/e2e/run.sh [--build DIR] [--log DIR] [--where auto|direct|nested]
#                    [NAME...]
#
# Runs the scenarios of scenarios.sh and storage.sh (all, or the NAMEs given) and prints one
# TAP line per scenario and place ("ok - e2e/direct/seabios-banner-smp1"),
# with "#" lines saying why and where the logs are when one fails, then
# "N passed, N failed"; the exit status is 1 if anything failed.
#
# Where they run (--where auto, the default):
#   - a normal /dev/kvm: every scenario, directly;
#   - a restricted /dev/kvm (/sys/module/kvm_pvm exists): the scenarios that
#     work there directly, and all of them inside a nested KVM host booted
#     under QEMU's software CPU (tests/kvmhost/kvmhost.sh), in one boot;
#   - kvm_pvm loaded but no /dev/kvm (a kvm_pvm kernel that is itself a
#     kvm_pvm guest binds none): all of them in the nested host, and a loud
#     note that nothing ran directly;
#   - no /dev/kvm and no kvm_pvm: every scenario that needs KVM FAILS, loudly
#     (never a pass, never a skip).
# --where direct|nested forces one place for every scenario.
#
# Environment: HVMDM  the command under test (default DIR/hvmdm; may carry
#                     arguments, e.g. "qemu-system-x86_64 -accel kvm")
#              E2E_NESTED_SCALE  timeout multiplier in the nested host (5)
#              E2E_NESTED_MEM    the nested host's memory in MiB (3072)
# Logs: DIR/e2e-logs/{direct,nested}/NAME/ (default --log DIR/e2e-logs).
#
# Internal modes: --one NAME (run one scenario in this process, logs in
# --log), --inner TAPFILE (run the NAMEs here, appending results to TAPFILE:
# what the nested KVM host runs).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")
TOP=$(cd "$HERE/../.." && pwd)

BUILD=build
LOGDIR=
WHERE=${E2E_WHERE:-auto}
ONE=
INNER=
names=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift 2 ;;
    --log) LOGDIR=$2; shift 2 ;;
    --where) WHERE=$2; shift 2 ;;
    --one) ONE=$2; shift 2 ;;
    --inner) INNER=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$SELF" | sed '$d'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
    esac
done
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "run.sh: no build directory" >&2; exit 2; }
LOGDIR=${LOGDIR:-$BUILD/e2e-logs}
mkdir -p "$LOGDIR" && LOGDIR=$(cd "$LOGDIR" && pwd)
HVMDM=${HVMDM:-$BUILD/hvmdm}
SCALE=${E2E_SCALE:-1}
NESTED_SCALE=${E2E_NESTED_SCALE:-5}
NESTED_MEM=${E2E_NESTED_MEM:-3072}
# Seconds one scenario may take before it is stopped (times SCALE).
SCENARIO_TIMEOUT=90

# shellcheck source=scenarios.sh
. "$HERE/scenarios.sh"
# shellcheck source=storage.sh
. "$HERE/storage.sh"

# The table: NEEDS[name], CALL[name] (function and arguments), in ORDER.
# (Plain bash, no subprocesses: process start-up is slow in the nested host.)
declare -A NEEDS CALL
ORDER=()
while read -r n need call; do
    case $n in ""|"#"*) continue ;; esac
    NEEDS[$n]=$need CALL[$n]=$call
    ORDER+=("$n")
done <<< "$E2E_SCENARIOS"

if [ ${#names[@]} -eq 0 ]; then
    names=("${ORDER[@]}")
fi
for n in "${names[@]}"; do
    [ -n "${NEEDS[$n]:-}" ] || { echo "run.sh: no scenario named $n" >&2; exit 2; }
done

# ---- one scenario, in this process -----------------------------------------
if [ -n "$ONE" ]; then
    # shellcheck source=lib.sh
    . "$HERE/lib.sh"
    SC_DIR=$LOGDIR
    read -r -a HV <<< "$HVMDM"
    read -r -a fn <<< "${CALL[$ONE]}"
    log "scenario $ONE: ${fn[*]} (scale $SCALE)"
    "${fn[@]}" || fail "${fn[0]} returned status $?"
    log "PASS"
    exit 0
fi

have_kvm() { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }

# emit RESULT NAME [DIAGNOSTIC...]: one TAP line, then "#" lines.
emit() {
    local res=$1 name=$2 line
    shift 2
    echo "$res - $name"
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/#   /'
    done
}

# Why a scenario failed: the reason, the log directory, the tail of each of
# its output files (escape sequences made visible).
diagnose() {
    local dir=$1 f
    grep -h '^[0-9:]* FAIL: \|stopped by SIGTERM' "$dir/scenario.log" 2>/dev/null | tail -n 1 |
        sed 's/^[0-9:]* //'
    echo "logs: $dir"
    for f in "$dir"/*.cmd "$dir"/*.err "$dir"/*.out "$dir"/*.log; do
        [ -s "$f" ] || continue
        case $f in */scenario.log) continue ;; esac
        echo "--- ${f##*/} (last lines):"
        tail -n 8 "$f" | cat -v | cut -c1-200
    done
}

# run_here PLACE NAME: run scenario NAME in a child process with a watchdog;
# prints its TAP line.
run_here() {
    local place=$1 name=$2 dir rc
    dir=${PLACE_DIR:-$LOGDIR/$place}/$name
    rm -rf "$dir" && mkdir -p "$dir"
    if [ "${NEEDS[$name]}" != none ] && ! have_kvm; then
        emit "not ok" "e2e/$place/$name" \
            "FAIL: /dev/kvm is missing or cannot be opened: this test needs KVM" \
            "(a KVM-less machine fails the end-to-end tests; see docs/testing.md)"
        return
    fi
    HVMDM=$HVMDM E2E_SCALE=$SCALE \
        timeout -k 10 $((SCENARIO_TIMEOUT * SCALE)) \
        "$SELF" --build "$BUILD" --log "$dir" --one "$name" > "$dir/scenario.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        emit "ok" "e2e/$place/$name"
    else
        [ $rc -eq 124 ] && echo "$(date +%T) FAIL: scenario timed out after" \
            "$((SCENARIO_TIMEOUT * SCALE)) s" >> "$dir/scenario.log"
        emit "not ok" "e2e/$place/$name" "$(diagnose "$dir")"
    fi
}

# ---- inside the nested KVM host --------------------------------------------
if [ -n "$INNER" ]; then
    have_kvm || echo "# the nested KVM host has no usable /dev/kvm" >> "$INNER"
    PLACE_DIR=$LOGDIR
    for n in "${names[@]}"; do
        run_here nested "$n" >> "$INNER"
    done
    exit 0
fi

# ---- the outer run ----------------------------------------------------------
# run_nested NAME...: one KVM-host boot running all of them.
run_nested() {
    local ndir=$LOGDIR/nested tap n rc t rw
    tap=$ndir/results.tap
    rm -rf "$ndir" && mkdir -p "$ndir"
    : > "$tap"
    # The watchdog: every scenario's own limit, plus the host's boot.
    t=$(( ${#@} * SCENARIO_TIMEOUT * NESTED_SCALE / 2 + 300 ))
    [ $t -gt 1200 ] && t=1200
    echo "# nested KVM host: ${#@} scenario(s), console in $ndir/kvmhost-console.log"
    # The nested host sees this machine's / read-only but has its own /tmp:
    # share the whole tree read-write when the logs are inside it, so a
    # checkout under /tmp works too.
    rw=$ndir
    case $ndir in "$TOP"/*) rw=$TOP ;; esac
    "$TOP/tests/kvmhost/kvmhost.sh" --rw "$rw" --mem "$NESTED_MEM" --smp 1 \
        --timeout "$t" --log "$ndir/kvmhost-console.log" -- \
        env HVMDM="$HVMDM" E2E_SCALE="$NESTED_SCALE" \
        "$SELF" --build "$BUILD" --log "$ndir" --inner "$tap" "$@" \
        > "$ndir/kvmhost.out" 2>&1
    rc=$?
    grep '^# ' "$tap" | grep -v '^#   '
    for n in "$@"; do
        if grep -q "^\(ok\|not ok\) - e2e/nested/$n\$" "$tap"; then
            # The line and its diagnostics.
            awk -v n="e2e/nested/$n" '
                /^(ok|not ok) - / { on = ($0 ~ (" - " n "$")) }
                on && !/^# [^ ]/' "$tap"
        else
            emit "not ok" "e2e/nested/$n" "$(
                echo "FAIL: the nested KVM host did not report this scenario" \
                     "(kvmhost.sh exit status $rc)"
                echo "logs: $ndir"
                tail -n 5 "$ndir/kvmhost.out" 2>/dev/null
                echo "--- kvmhost-console.log (last lines):"
                tail -n 8 "$ndir/kvmhost-console.log" 2>/dev/null | cat -v)"
        fi
    done
}

direct=() nested=()
case $WHERE in
direct) direct=("${names[@]}") ;;
nested) nested=("${names[@]}") ;;
auto)
    if [ -d /sys/module/kvm_pvm ]; then
        # A kvm_pvm kernel that is itself a kvm_pvm guest binds no /dev/kvm:
        # there only the nested host has a KVM to test on.
        if have_kvm; then
            for n in "${names[@]}"; do
                [ "${NEEDS[$n]}" = kvm ] || direct+=("$n")
            done
        fi
        nested=("${names[@]}")
    else
        direct=("${names[@]}")
    fi ;;
*) echo "run.sh: --where auto|direct|nested" >&2; exit 2 ;;
esac

{
    echo "# e2e: testing '$HVMDM'"
    read -r -a hv0 <<< "$HVMDM"
    command -v "${hv0[0]}" > /dev/null ||
        echo "# e2e: ******** '${hv0[0]}' is not a program: build it first (make) ********"
    if ! have_kvm && [ -d /sys/module/kvm_pvm ]; then
        echo "# e2e: ******** kvm_pvm is loaded but binds no /dev/kvm here:" \
             "no direct runs; every scenario runs in the nested KVM host ********"
    elif ! have_kvm; then
        if [ ${#direct[@]} -gt 0 ]; then
            echo "# e2e: ******** /dev/kvm is missing or unusable on this machine:" \
                 "every direct test that needs KVM FAILS ********"
        fi
    elif [ -d /sys/module/kvm_pvm ] && [ ${#nested[@]} -gt 0 ]; then
        echo "# e2e: restricted /dev/kvm (kvm_pvm): the scenarios that work there" \
             "run directly, all of them in a nested KVM host"
    fi
    for n in "${direct[@]}"; do
        run_here direct "$n"
    done
    [ ${#nested[@]} -gt 0 ] && run_nested "${nested[@]}"
} | tee "$LOGDIR/results.tap"

pass=$(grep -c '^ok - ' "$LOGDIR/results.tap")
failed=$(grep -c '^not ok - ' "$LOGDIR/results.tap")
echo "e2e: $pass passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
