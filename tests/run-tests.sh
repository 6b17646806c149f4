#!/bin/bash
# run-tests.sh: run hvmdm's tests and count the results.
#
#   tests/run-tests.sh [--unit DIR] [--asan DIR] [--e2e DIR]
#
#   --unit DIR   every unit test binary DIR/tests/unit/test-* (GLib GTest,
#                run with --tap), one result line per test case
#   --asan DIR   the same binaries from a SANITIZE=address,undefined build;
#                a sanitizer report fails the binary
#   --e2e DIR    the end-to-end suite (tests/e2e/run.sh) against DIR/hvmdm
#
# Each result is one line, "ok unit/test-rtc /rtc/alarm-raises-irq8" or
# "not ok ..." followed by "#" lines saying why and where the full output is
# (DIR/test-logs/).  The last line is "N passed, N failed"; the exit status is
# 1 when anything failed or when no test ran at all.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
# Seconds one unit test binary may run.
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}

units=() asans=() e2es=()
while [ $# -gt 0 ]; do
    case $1 in
    --unit) units+=("$2"); shift 2 ;;
    --asan) asans+=("$2"); shift 2 ;;
    --e2e) e2es+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) echo "run-tests.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

pass=0 fail=0 skip=0
failed_names=()

result() {  # result ok|"not ok" NAME [DIAGNOSTIC]
    echo "$1 $2"
    if [ "$1" = ok ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        failed_names+=("$2")
    fi
    [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
    return 0
}

# unreported BIN LOG: the test paths BIN lists that LOG has no result for.
unreported() {
    local p
    "$1" -l 2>/dev/null < /dev/null | grep '^/' | while IFS= read -r p; do
        grep -q -E "^(not )?ok [0-9]+ $p( |\$)" "$2" || echo "$p"
    done
}

# run_unit_dir KIND DIR: every test binary of DIR, KIND is unit or asan.
run_unit_dir() {
    local kind=$1 dir=$2 logs src name bin log rc n_ok n_notok line desc
    logs=$dir/test-logs/$kind
    mkdir -p "$logs"
    local srcs=(tests/unit/test-*.c)
    if [ ! -e "${srcs[0]}" ]; then
        echo "# $kind: no unit tests (tests/unit/test-*.c)"
        return
    fi
    for src in "${srcs[@]}"; do
        name=$(basename "$src" .c)
        bin=$dir/tests/unit/$name
        log=$logs/$name.log
        if [ ! -x "$bin" ]; then
            result "not ok" "$kind/$name" "not built: $bin missing (make O=$dir unit-programs)"
            continue
        fi
        # halt_on_error: the first sanitizer report ends the binary with a
        # failure status; GLib's slice allocator would hide leaks from LSan.
        # (The braces keep bash's "Aborted" job notice off the terminal.)
        { ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0} \
          UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
          G_SLICE=always-malloc G_DEBUG=gc-friendly \
            timeout -k 10 "$UNIT_TIMEOUT" "$bin" --tap > "$log" 2>&1 < /dev/null; } 2>/dev/null
        rc=$?
        n_ok=0 n_notok=0
        while IFS= read -r line; do
            case $line in
            "ok "*|"not ok "*)
                # "ok 3 /rtc/alarm # SKIP reason" -> "/rtc/alarm"
                desc=${line#ok } desc=${desc#not ok }
                desc=${desc#* } desc=${desc%% # *}
                case $line in
                *"# SKIP"*|*"# TODO"*)
                    skip=$((skip + 1))
                    echo "skip $kind/$name $desc #${line##* # }" ;;
                "ok "*)
                    n_ok=$((n_ok + 1))
                    result ok "$kind/$name $desc" ;;
                *)
                    n_notok=$((n_notok + 1))
                    result "not ok" "$kind/$name $desc" \
                        "$(grep -v -e '^ok ' -e '^not ok ' -e '^1\.\.' "$log" |
                           grep -v '^# ' | tail -n 15)
full output: $log" ;;
                esac ;;
            esac
        done < "$log"
        if [ $rc -ne 0 ] && [ $n_notok -eq 0 ]; then
            # A failed g_assert aborts the binary before it prints "not ok",
            # as do crashes, timeouts and sanitizer reports: the case that
            # failed is the first listed one that did not report.
            local why="exit status $rc" first rest
            [ $rc -eq 124 ] && why="timed out after $UNIT_TIMEOUT s"
            [ $rc -gt 128 ] && [ $rc -ne 124 ] && why="killed by signal $((rc - 128))"
            first=$(unreported "$bin" "$log" | head -n 1)
            rest=$(unreported "$bin" "$log" | sed 1d | wc -l)
            if [ -z "$first" ]; then
                first="(at exit, after its last case)"
            elif [ "$rest" -gt 0 ]; then
                why="$why; $rest later case(s) of $name did not run"
            fi
            result "not ok" "$kind/$name $first" "$why
$(grep -v -e '^ok ' -e '^1\.\.' -e '^# Start of' -e '^# End of' "$log" | tail -n 25)
full output: $log"
        elif [ $rc -eq 0 ] && [ $((n_ok + n_notok)) -eq 0 ]; then
            result "not ok" "$kind/$name (no test cases ran)" "full output: $log"
        fi
    done
}

for d in "${units[@]}"; do
    echo "# unit tests ($d)"
    run_unit_dir unit "$d"
done
for d in "${asans[@]}"; do
    echo "# unit tests under AddressSanitizer/UBSan ($d)"
    run_unit_dir asan "$d"
done
for d in "${e2es[@]}"; do
    echo "# end-to-end tests ($d)"
    # The suite prints TAP ("ok - e2e/...") and "#" lines; count its results.
    # It must report something, and fail only with a failed result.
    before=$((pass + fail)) fail_before=$fail e2e_rc=
    while IFS= read -r line; do
        case $line in
        "ok - "*) result ok "${line#ok - }" ;;
        "not ok - "*) result "not ok" "${line#not ok - }" ;;
        "e2e: "*" passed, "*) ;;
        "run-tests-e2e-status "*) e2e_rc=${line##* } ;;
        *) printf '%s\n' "$line" ;;
        esac
    done < <(tests/e2e/run.sh --build "$d" 2>&1; echo "run-tests-e2e-status $?")
    if [ $((pass + fail)) -eq "$before" ]; then
        result "not ok" "e2e (the suite reported no result; exit status $e2e_rc)"
    elif [ "$e2e_rc" != 0 ] && [ $fail -eq "$fail_before" ]; then
        result "not ok" "e2e (the suite failed with exit status $e2e_rc)"
    fi
done

echo
if [ $fail -gt 0 ]; then
    echo "failed:"
    printf '  %s\n' "${failed_names[@]}"
fi
[ $skip -gt 0 ] && echo "$skip skipped (not counted as passed)"
echo "$pass passed, $fail failed"
if [ $((pass + fail)) -eq 0 ]; then
    echo "run-tests.sh: no test ran" >&2
    exit 1
fi
[ $fail -eq 0 ]
