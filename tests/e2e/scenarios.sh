# scenarios.sh: the end-to-end scenarios, one shell function each.
#
# To add one: write a function sc_NAME (helpers in lib.sh; it passes by
# returning, fails by calling fail) and add a line to E2E_SCENARIOS:
#
#   NAME   NEEDS   FUNCTION [ARGS...]
#
# NEEDS says where it can run:
#   pvm    needs KVM, and works on a restricted (kvm_pvm) /dev/kvm as well:
#          runs directly everywhere and, on kvm_pvm hosts, in the nested
#          KVM host too
#   kvm    needs a full KVM (a stock guest): on kvm_pvm hosts it runs only
#          in the nested KVM host
#   none   needs no KVM at all: runs directly (and nested)
# Keep each scenario short: in the nested KVM host everything is 5-10x
# slower (timeouts are multiplied by SCALE there).

E2E_SCENARIOS='
seabios-banner-smp1        pvm   sc_seabios_banner 1
seabios-banner-smp2        pvm   sc_seabios_banner 2
seabios-debugcon-smp1      pvm   sc_seabios_debugcon 1
seabios-debugcon-smp2      pvm   sc_seabios_debugcon 2
seabios-serial-file        pvm   sc_seabios_serial_file
seabios-reboot             pvm   sc_seabios_reboot
seabios-no-reboot-exits-0  pvm   sc_seabios_no_reboot
sigterm-exits-cleanly      pvm   sc_signal_exit TERM
sigint-exits-cleanly       pvm   sc_signal_exit INT
kvm-missing-one-line       none  sc_kvm_unavailable missing
kvm-unusable-one-line      none  sc_kvm_unavailable unusable
bad-options-one-line       none  sc_bad_options
'

BANNER='SeaBIOS (version'
NOBOOT='No bootable device'

# SeaBIOS on COM1 with -nographic: version banner, then the end of the boot
# order.
sc_seabios_banner() {
    local smp=$1
    vm_start vm -m 128 -nographic -smp "$smp"
    wait_for "$SC_DIR/vm.out" "$BANNER"
    wait_for "$SC_DIR/vm.out" "$NOBOOT"
    vm_stop
    expect_count "$SC_DIR/vm.out" "$BANNER" 1
}

# SeaBIOS's debug log on the 0x402 debug console, and the CPU count it found
# (the application processors came up under -smp 2).
sc_seabios_debugcon() {
    local smp=$1
    vm_start vm -m 128 -display none -smp "$smp" \
        -chardev "file,id=dbg,path=$SC_DIR/debug.log" \
        -device isa-debugcon,iobase=0x402,chardev=dbg
    wait_for "$SC_DIR/debug.log" "$NOBOOT"
    vm_stop
    expect_contains "$SC_DIR/debug.log" "$BANNER"
    expect_contains "$SC_DIR/debug.log" "Found $smp cpu(s)"
}

# -nographic with COM1 in a file: SeaBIOS's console goes there.
sc_seabios_serial_file() {
    vm_start vm -m 128 -nographic -serial "file:$SC_DIR/com1.log"
    wait_for "$SC_DIR/com1.log" "$NOBOOT"
    vm_stop
    expect_count "$SC_DIR/com1.log" "$BANNER" 1
    expect_not_contains "$SC_DIR/vm.out" "$BANNER"
}

# -boot reboot-timeout=1000 (fw_cfg etc/boot-fail-wait): SeaBIOS resets the
# machine a second after "No bootable device"; the reset must bring it back.
sc_seabios_reboot() {
    vm_start vm -m 128 -nographic -boot reboot-timeout=1000
    wait_for "$SC_DIR/vm.out" "$BANNER" 2 40
    wait_for "$SC_DIR/vm.out" "$NOBOOT" 2 40
    vm_stop
}

# The same with -no-reboot: hvmdm exits with status 0 at the reset.
sc_seabios_no_reboot() {
    vm_start vm -m 128 -nographic -boot reboot-timeout=1000 -no-reboot
    wait_for "$SC_DIR/vm.out" "$NOBOOT"
    vm_wait_exit 30
    expect_status 0
    expect_count "$SC_DIR/vm.out" "$BANNER" 1
}

# SIGTERM / SIGINT while SeaBIOS waits: a clean exit, status 0.
sc_signal_exit() {
    local sig=$1
    vm_start vm -m 128 -nographic
    wait_for "$SC_DIR/vm.out" "$NOBOOT"
    log "sending SIG$sig"
    kill "-$sig" "$VM_PID"
    vm_wait_exit 20
    expect_status 0
}

# No usable /dev/kvm: one line on stderr naming it, exit status 1, no guest.
# A private mount namespace gets a /dev without kvm ("missing") or with
# /dev/kvm being a /dev/null node ("unusable": open works, ioctls fail).
sc_kvm_unavailable() {
    local how=$1
    cat > "$SC_DIR/private-dev.sh" <<'EOF'
# private-dev.sh missing|unusable COMMAND...: run COMMAND with a /dev of its
# own: null, zero, random, urandom and fd only, plus in the "unusable" case a
# /dev/kvm that is really /dev/null.  (Bind mounts rather than mknod, so that
# it also works in a user namespace, as a normal user.)
old=$(mktemp -d) && mount --rbind /dev "$old" &&
mount -t tmpfs -o mode=755 dev /dev || exit 99
for n in null zero random urandom; do
    : > "/dev/$n" && mount --bind "$old/$n" "/dev/$n" || exit 99
done
ln -s /proc/self/fd /dev/fd || exit 99
if [ "$1" = unusable ]; then
    : > /dev/kvm && mount --bind "$old/null" /dev/kvm || exit 99
fi
shift
exec "$@"
EOF
    local ns=(unshare -m)
    [ "$(id -u)" = 0 ] || ns=(unshare -r -m)
    local HV=("${ns[@]}" sh "$SC_DIR/private-dev.sh" "$how" "${HV[@]}")
    vm_start vm -m 128 -nographic
    vm_wait_exit 30
    [ "$VM_STATUS" != 99 ] || fail "could not set up the private /dev (unshare/mount/mknod)"
    expect_status 1
    local lines
    lines=$(grep -c . "$SC_DIR/vm.err")
    [ "$lines" -eq 1 ] || fail "stderr has $lines lines, expected one"
    grep -q -i kvm "$SC_DIR/vm.err" || fail "the error does not name /dev/kvm"
    expect_not_contains "$SC_DIR/vm.out" "$BANNER"
}

# Command-line mistakes: one line on stderr naming the option, exit status 1,
# before any guest runs.
sc_bad_options() {
    local bad
    for bad in "-m 12Q" "-smp 0" "-bios /nonexistent/bios.bin" \
               "-frobnicate" "-chardev socket" "-device no-such-device"; do
        # shellcheck disable=SC2086
        vm_start bad -m 128 -nographic $bad
        vm_wait_exit 30
        expect_status 1
        local opt=${bad%% *} lines
        lines=$(grep -c . "$SC_DIR/bad.err")
        [ "$lines" -eq 1 ] || fail "hvmdm ... $bad: $lines lines on stderr, expected one"
        grep -q -F -- "$opt" "$SC_DIR/bad.err" ||
            fail "hvmdm ... $bad: the error does not name $opt: $(cat "$SC_DIR/bad.err")"
        expect_not_contains "$SC_DIR/bad.out" "$BANNER"
        log "$bad: $(cat "$SC_DIR/bad.err")"
    done
}
