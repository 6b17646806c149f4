# lib.sh: helpers for end-to-end scenarios (sourced by run.sh --one).
#
# A scenario runs in its own process with these set:
#   SC_DIR   its log directory (every file it makes goes there)
#   HV       the hvmdm command as an array (HVMDM, e.g. build/hvmdm)
#   SCALE    timeout multiplier (1 directly, more in the nested KVM host)
# It starts guests with vm_start, waits on their output with wait_for, checks
# with expect_*, and calls fail to stop with a reason.  Every guest it
# started is killed when the scenario ends, however it ends.

VM_PID=
VM_STATUS=
VM_PIDS=()

log() { printf '%s %s\n' "$(date +%T)" "$*"; }

# fail REASON: the scenario failed; the reason is the last line of its log.
fail() {
    log "FAIL: $*"
    exit 1
}

_cleanup_vms() {
    local p
    for p in "${VM_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
}
trap _cleanup_vms EXIT
trap 'log "stopped by SIGTERM (scenario timeout)"; exit 1' TERM

# vm_start NAME ARGS...: run "$HV ARGS" in the background, stdin /dev/null,
# stdout in $SC_DIR/NAME.out, stderr in NAME.err, the command in NAME.cmd.
vm_start() {
    local name=$1
    shift
    printf '%q ' "${HV[@]}" "$@" > "$SC_DIR/$name.cmd"
    echo >> "$SC_DIR/$name.cmd"
    "${HV[@]}" "$@" < /dev/null > "$SC_DIR/$name.out" 2> "$SC_DIR/$name.err" &
    VM_PID=$!
    VM_PIDS+=("$VM_PID")
    log "started $name (pid $VM_PID): $(cat "$SC_DIR/$name.cmd")"
}

# vm_alive [PID]: the process exists and is not a zombie.  (Builtins only:
# these run in polling loops, and forks are slow in the nested host.)
vm_alive() {
    local pid=${1:-$VM_PID} st
    IFS= read -r st 2>/dev/null < "/proc/$pid/stat" || return 1
    st=${st##*) }
    st=${st%% *}
    [ "$st" != Z ] && [ "$st" != X ]
}

# count FILE STRING: COUNT gets how many times STRING occurs in FILE.
count() {
    local s= t
    [ -r "$1" ] && IFS= read -r -d '' s < "$1"
    t=${s//"$2"/}
    COUNT=$(( (${#s} - ${#t}) / ${#2} ))
}

# wait_for FILE STRING [COUNT [SECONDS]]: wait until STRING occurs COUNT
# times in FILE (default once, within 20 s times SCALE); fails if the guest's
# process ends first or time runs out.
wait_for() {
    local file=$1 str=$2 n=${3:-1} t=${4:-20}
    local deadline=$((SECONDS + t * SCALE))
    log "waiting for '$str' x$n in ${file##*/}"
    while :; do
        count "$file" "$str"
        [ "$COUNT" -ge "$n" ] && { log "seen"; return 0; }
        if ! vm_alive; then
            count "$file" "$str"
            [ "$COUNT" -ge "$n" ] && { log "seen"; return 0; }
            wait "$VM_PID"
            fail "hvmdm exited with status $? before '$str' appeared $n time(s) in ${file##*/}"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "'$str' did not appear $n time(s) in ${file##*/} within $((t * SCALE)) s" \
                 "(seen $COUNT)"
        fi
        sleep 0.2
    done
}

# vm_wait_exit SECONDS: wait until the guest's process ends; VM_STATUS gets
# its exit status (128+N when killed by signal N).  Fails on timeout.
vm_wait_exit() {
    local t=${1:-20}
    local deadline=$((SECONDS + t * SCALE))
    while vm_alive; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "hvmdm (pid $VM_PID) still running after $((t * SCALE)) s"
        fi
        sleep 0.2
    done
    wait "$VM_PID"
    VM_STATUS=$?
    log "hvmdm exited with status $VM_STATUS"
}

# vm_stop: end the guest (SIGTERM, then SIGKILL) without judging how.
vm_stop() {
    local i
    kill -TERM "$VM_PID" 2>/dev/null
    for i in $(seq 50); do
        vm_alive || break
        sleep 0.2
    done
    kill -KILL "$VM_PID" 2>/dev/null
    wait "$VM_PID" 2>/dev/null
    return 0
}

expect_status() {
    [ "$VM_STATUS" = "$1" ] || fail "exit status $VM_STATUS, expected $1"
}

# expect_count FILE STRING N: STRING occurs exactly N times in FILE.
expect_count() {
    count "$1" "$2"
    [ "$COUNT" -eq "$3" ] || fail "'$2' occurs $COUNT time(s) in ${1##*/}, expected $3"
}

expect_contains() {
    grep -q -F -- "$2" "$1" 2>/dev/null || fail "'$2' not found in ${1##*/}"
}

expect_not_contains() {
    ! grep -q -F -- "$2" "$1" 2>/dev/null || fail "'$2' unexpectedly found in ${1##*/}"
}

# have_kvm: /dev/kvm can be opened read-write.
have_kvm() {
    [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null
}
