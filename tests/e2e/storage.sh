# storage.sh: end-to-end scenarios for storage (issue 3): the test guest
# (tests/guest) boots from the ATAPI CD-ROM and its own drivers (ata_piix,
# sr_mod, sd_mod) read the CD and write and read IDE disks in raw, qcow2 and
# vmdk images, which the host then checks with qemu-img.
#
# Sourced by run.sh after scenarios.sh; adds to E2E_SCENARIOS (same format).
# In the outer run (not --one/--inner) it builds the guest ISO first
# (tests/guest/build.sh --out BUILD/guest, cached), because the nested KVM host
# sees the file system read-only and has no network.
#
# What the guest prints and how it is told what to test: tests/guest/init.

E2E_SCENARIOS="$E2E_SCENARIOS
guest-cdrom-boot           kvm   sc_guest_boot
guest-cdrom-slave-checksum kvm   sc_guest_cd_checksum
guest-disk-raw             kvm   sc_guest_disk raw
guest-disk-qcow2-backing   kvm   sc_guest_disk qcow2-backing
guest-disk-vmdk            kvm   sc_guest_disk vmdk
hda-missing-one-line       none  sc_hda_missing
"

# The disk tests' layout, in 512-byte sectors (the disk is 64 MiB).
GUEST_DISK_SECTORS=131072
# 0-7: the config text.  8-16383: data the host puts there ("pre" pattern).
GUEST_PRE_FIRST=8
GUEST_PRE_COUNT=16376
# What the guest writes (MODE SECTOR COUNT), a prefix of the CD's pattern:
# inside the host's data, starting and ending mid-cluster (qcow2 and vmdk
# must copy the rest of the cluster/grain from the backing data); across the
# end of the host's data; the disk's last 100 sectors.
GUEST_WRITES='direct 4099 2053
buffered 12288 16384
direct 130972 100'

# storage_prepare: build (or take from the cache) the guest ISO.
storage_prepare() {
    local n want=
    if [ ${#names[@]} -eq 0 ]; then
        want=1
    else
        for n in "${names[@]}"; do
            case $n in guest-*) want=1 ;; esac
        done
    fi
    [ -n "$want" ] || return 0
    mkdir -p "$LOGDIR"
    if ! "$TOP/tests/guest/build.sh" --out "$BUILD/guest" > "$LOGDIR/guest-build.log" 2>&1; then
        echo "# e2e: ******** the test guest ISO could not be built:" \
             "$(tail -n 1 "$LOGDIR/guest-build.log") (log: $LOGDIR/guest-build.log) ********"
    fi
}
if [ -z "${ONE:-}" ] && [ -z "${INNER:-}" ] && [ -n "${BUILD:-}" ]; then
    storage_prepare
fi

# guest_iso: GUEST_DIR and ISO name the built guest, or the scenario fails.
guest_iso() {
    GUEST_DIR=$BUILD/guest
    ISO=$GUEST_DIR/guest.iso
    [ -f "$ISO" ] && [ -f "$GUEST_DIR/pattern.bin" ] ||
        fail "no test guest in $GUEST_DIR: tests/guest/build.sh did not run or failed" \
             "(see e2e-logs/guest-build.log)"
}

# guest_run ARGS...: boot the guest with ARGS, wait for its last line, end
# it (it halts: without ACPI "poweroff -f" only stops the CPU) and expect
# status 0 from hvmdm; GUEST gets the guest's HVMDM- lines (guest.txt).
guest_run() {
    local i
    vm_start vm -m 256 -nographic -no-reboot "$@"
    wait_for "$SC_DIR/vm.out" "HVMDM-DONE" 1 85
    # The kernel's last words ("reboot: Power down", or "System halted" with
    # no way to power off); then give a machine that can power off (ACPI)
    # a moment to do so.
    wait_for "$SC_DIR/vm.out" "] reboot: " 1 20
    count "$SC_DIR/vm.out" "reboot: System halted"
    if [ "$COUNT" -eq 0 ]; then
        for i in $(seq $((2 * SCALE))); do
            vm_alive || break
            sleep 0.5
        done
    fi
    if vm_alive; then
        log "the guest halted; stopping hvmdm with SIGTERM"
        kill -TERM "$VM_PID"
    fi
    vm_wait_exit 30
    expect_status 0
    GUEST=$SC_DIR/guest.txt
    tr -d '\r' < "$SC_DIR/vm.out" | grep -a -o 'HVMDM-.*' > "$GUEST"
}

# gval PREFIX KEY: the value of KEY= on the guest's line starting with PREFIX.
gval() {
    grep -a -m 1 "^$1" "$GUEST" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# guest_verdict: the guest booted, every result it reported is ok and it
# ended with status 0.
guest_verdict() {
    local bad
    expect_count "$GUEST" "HVMDM-BOOT " 1
    bad=$(grep -a -e '^HVMDM-RESULT .* status=fail' -e '^HVMDM-KLOG-LINE' "$GUEST" |
        head -n 5 | tr '\n' ';')
    [ -z "$bad" ] || fail "the guest reports: $bad"
    grep -a -q '^HVMDM-DONE status=0' "$GUEST" ||
        fail "the guest did not end with HVMDM-DONE status=0: $(grep -a HVMDM-DONE "$GUEST")"
    grep -a -q '^HVMDM-RESULT name=kernel-log status=ok' "$GUEST" ||
        fail "the guest did not check its kernel log"
    log "guest: $(grep -a -c '^HVMDM-RESULT .* status=ok' "$GUEST") result(s) ok"
}

# expect_md5 WHAT WANT: the guest reported md5 WANT for WHAT.
expect_md5() {
    local got
    got=$(grep -a -m 1 "^HVMDM-MD5 what=$1 " "$GUEST" | sed 's/.* md5=//')
    [ -n "$got" ] || fail "the guest reported no md5 for $1"
    [ "$got" = "$2" ] || fail "md5 of $1: the guest reports $got, the host computes $2"
    log "md5 of $1 matches ($got)"
}

md5() { md5sum | cut -d ' ' -f 1; }

# region FILE SECTOR COUNT: those sectors of FILE on stdout.  (Large blocks:
# the nested host's 9p share is slow with small ones.)
region() {
    dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip=$(($2 * 512)) \
        count=$(($3 * 512)) status=none
}
# put FILE SECTOR: stdin into FILE from that sector on.
put() {
    dd of="$1" bs=1M iflag=fullblock oflag=seek_bytes seek=$(($2 * 512)) \
        conv=notrunc status=none
}

# The guest boots from the CD-ROM (secondary master, -cdrom, -boot d): it
# reports the PIIX3 IDE function bound to ata_piix, the CD with the ISO's
# size, reads the CD, finds nothing wrong and ends with status 0.
sc_guest_boot() {
    guest_iso
    guest_run -cdrom "$ISO" -boot d
    guest_verdict
    grep -a -q '^HVMDM-PCI .* id=8086:7010 .* driver=ata_piix' "$GUEST" ||
        fail "no PIIX3 IDE function (8086:7010) bound to ata_piix"
    local size
    size=$(gval "HVMDM-CDROM sr0" size)
    [ "$size" = "$(stat -c %s "$ISO")" ] ||
        fail "the guest's sr0 has $size bytes, the ISO $(stat -c %s "$ISO")"
    [ "$(gval "HVMDM-CDROM sr0" hctl)" = 1:0:0:0 ] ||
        fail "the CD is not the secondary master: $(grep -a HVMDM-CDROM "$GUEST")"
    grep -a -q '^HVMDM-DISK' "$GUEST" &&
        fail "the guest sees a disk that is not there: $(grep -a HVMDM-DISK "$GUEST")"
    return 0
}

# The CD as the primary slave (-drive media=cdrom,index=1): the guest's md5
# of a file on it and of the whole device match the host's.
sc_guest_cd_checksum() {
    guest_iso
    guest_run -drive "file=$ISO,media=cdrom,if=ide,index=1" -boot d
    guest_verdict
    [ "$(gval "HVMDM-CDROM sr0" hctl)" = 0:0:1:0 ] ||
        fail "the CD is not the primary slave: $(grep -a HVMDM-CDROM "$GUEST")"
    expect_md5 cd-file:/hvmdm/pattern.bin "$(cut -d ' ' -f 1 "$GUEST_DIR/pattern.md5")"
    [ "$(gval "HVMDM-MD5 what=cd-raw" bytes)" = "$(stat -c %s "$ISO")" ] ||
        fail "the guest read $(gval "HVMDM-MD5 what=cd-raw" bytes) bytes of the CD," \
             "the ISO has $(stat -c %s "$ISO")"
    expect_md5 cd-raw:sr0 "$(cut -d ' ' -f 1 "$GUEST_DIR/guest.iso.md5")"
}

# The disk test on an IDE disk (primary master) in format KIND: raw, qcow2
# over a raw backing file, or vmdk (monolithicSparse).  The host makes a
# 64 MiB disk holding the guest's config and a data pattern; the guest
# checks the data, writes GUEST_WRITES (page cache + fsync, O_DIRECT) and
# reads them back both ways.  After hvmdm exits the host checks the image:
# qemu-img check, the regions against the guest's checksums, and the whole
# disk against what it must hold now (qemu-img compare).
sc_guest_disk() {
    local kind=$1 d=$SC_DIR fmt args=() mode s c want
    guest_iso
    # The disk's first content: config, data, zeros.
    {
        echo "HVMDM-TEST 1"
        echo "tests=disk"
        echo "read $GUEST_PRE_FIRST $GUEST_PRE_COUNT"
        echo "$GUEST_WRITES" | sed 's/^/write /'
        echo "end"
    } > "$d/config.txt"
    rm -f "$d/pre.raw"
    truncate -s $((GUEST_DISK_SECTORS * 512)) "$d/pre.raw"
    put "$d/pre.raw" 0 < "$d/config.txt"
    awk -v label=pre-$kind -v first=$GUEST_PRE_FIRST -v count=$GUEST_PRE_COUNT \
        -f "$TOP/tests/guest/pattern.awk" |
        put "$d/pre.raw" $GUEST_PRE_FIRST
    # What it must hold afterwards.
    cp --sparse=always "$d/pre.raw" "$d/expect.raw"
    while read -r mode s c; do
        region "$GUEST_DIR/pattern.bin" 0 "$c" |
            put "$d/expect.raw" "$s"
    done <<< "$GUEST_WRITES"

    case $kind in
    raw)
        fmt=raw
        cp --sparse=always "$d/pre.raw" "$d/disk.raw"
        args=(-drive "file=$d/disk.raw,format=raw,if=ide,index=0,media=disk") ;;
    qcow2-backing)
        fmt=qcow2
        cp --sparse=always "$d/pre.raw" "$d/backing.raw"
        qemu-img create -q -f qcow2 -b "$d/backing.raw" -F raw "$d/disk.qcow2" ||
            fail "qemu-img create failed"
        # -hda: the format is probed (qcow2).
        args=(-hda "$d/disk.qcow2") ;;
    vmdk)
        fmt=vmdk
        qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse \
            "$d/pre.raw" "$d/disk.vmdk" || fail "qemu-img convert to vmdk failed"
        args=(-drive "file=$d/disk.vmdk,format=vmdk,if=ide,index=0") ;;
    *) fail "unknown disk kind $kind" ;;
    esac
    local img=$d/disk.$fmt
    log "image: $(qemu-img info "$img" | tr '\n' ' ')"

    guest_run "${args[@]}" -cdrom "$ISO" -boot d
    guest_verdict
    grep -a -q '^HVMDM-CONFIG sda tests=disk' "$GUEST" ||
        fail "the guest did not find its config on sda"
    [ "$(gval "HVMDM-DISK sda" size)" = $((GUEST_DISK_SECTORS * 512)) ] ||
        fail "the guest's sda has $(gval "HVMDM-DISK sda" size) bytes," \
             "the image $((GUEST_DISK_SECTORS * 512))"
    [ "$(gval "HVMDM-DISK sda" hctl)" = 0:0:0:0 ] ||
        fail "the disk is not the primary master: $(grep -a HVMDM-DISK "$GUEST")"
    local nver
    nver=$(grep -a -c '^HVMDM-RESULT name=sda-verify-.* status=ok' "$GUEST")
    [ "$nver" -eq 6 ] || fail "$nver write(s) verified by the guest, expected 6 (3 x 2 ways)"

    # The image, by qemu-img.
    if [ "$fmt" != raw ]; then
        qemu-img check -f "$fmt" "$img" > "$d/check.txt" 2>&1 ||
            fail "qemu-img check $fmt (status $?): $(tr '\n' ' ' < "$d/check.txt")"
        log "qemu-img check: $(tr '\n' ' ' < "$d/check.txt")"
    fi
    qemu-img convert -f "$fmt" -O raw "$img" "$d/actual.raw" ||
        fail "qemu-img convert of the image failed"
    # What the guest read and wrote, against the image.
    want=$(region "$d/pre.raw" $GUEST_PRE_FIRST $GUEST_PRE_COUNT | md5)
    expect_md5 "sda:read:$GUEST_PRE_FIRST+$GUEST_PRE_COUNT" "$want"
    while read -r mode s c; do
        want=$(region "$d/actual.raw" "$s" "$c" | md5)
        expect_md5 "sda:write:$s+$c" "$want"
    done <<< "$GUEST_WRITES"
    # Nothing else changed, nothing was lost.
    qemu-img compare -f raw -F "$fmt" "$d/expect.raw" "$img" > "$d/compare.txt" 2>&1 ||
        fail "qemu-img compare expected/image: $(tr '\n' ' ' < "$d/compare.txt")"
    cmp -s "$d/expect.raw" "$d/actual.raw" || fail "the image differs from what it must hold"
    if [ "$kind" = qcow2-backing ]; then
        cmp -s "$d/pre.raw" "$d/backing.raw" || fail "the backing file was written to"
    fi
    log "the image holds exactly what it must"
    rm -f "$d"/*.raw "$d"/disk.*
}

# -hda with a file that does not exist: one line naming it, exit status 1,
# no guest.
sc_hda_missing() {
    vm_start bad -m 128 -nographic -hda /nonexistent/disk.img
    vm_wait_exit 30
    expect_status 1
    local lines
    lines=$(grep -c . "$SC_DIR/bad.err")
    [ "$lines" -eq 1 ] || fail "$lines lines on stderr, expected one: $(cat "$SC_DIR/bad.err")"
    grep -q -F /nonexistent/disk.img "$SC_DIR/bad.err" ||
        fail "the error does not name the file: $(cat "$SC_DIR/bad.err")"
    expect_not_contains "$SC_DIR/bad.out" "SeaBIOS"
    log "stderr: $(cat "$SC_DIR/bad.err")"
}
