#!/bin/bash
# build.sh: build the end-to-end test guest, a small bootable Linux ISO.
#
#   tests/guest/build.sh [--out DIR] [--cache DIR] [--key]
#
# From Debian packages only: the distribution kernel (linux-image-amd64's
# current kernel package, unpacked with apt-get download + dpkg -x, never
# installed), the modules the tests need with their dependencies, busybox
# (busybox-static) and tests/guest/init as an initramfs, isolinux
# (isolinux, syslinux-common) as the El Torito boot loader, xorriso to make a
# hybrid ISO.  The CD also holds /hvmdm/pattern.bin, the 8 MiB data pattern
# the disk tests write (tests/guest/pattern.awk, label "hvmdm-pat").
#
# The result is cached in $HVMDM_GUEST_CACHE/KEY/ (default /var/cache/hvmdm-guest,
# for a normal user ~/.cache/hvmdm-guest),
# KEY being a checksum of every input (these scripts, the init, the package
# versions); a cached build is reused and only copied.  --out DIR (default
# build/guest) gets:
#   guest.iso      the ISO (boots with -cdrom guest.iso -boot d)
#   guest.iso.md5  its md5sum, for the guest's raw CD read
#   pattern.bin    the pattern file on the CD, and pattern.md5
#   guest.key      the cache key; kernel.version  the guest kernel's release
# --key prints the key and exits.  The kernel package is downloaded once
# (Debian's archive must be reachable then).  Output: one line naming the ISO.
set -euo pipefail
ARGS=("$@")
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=$TOP/build/guest
CACHE=${HVMDM_GUEST_CACHE:-}
KEY_ONLY=
while [ $# -gt 0 ]; do
    case $1 in
    --out) OUT=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --key) KEY_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) echo "guest/build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
die() { echo "guest/build.sh: $*" >&2; exit 1; }
if [ -z "$CACHE" ]; then
    # A normal user cannot write /var/cache: then the own cache.
    CACHE=/var/cache/hvmdm-guest
    mkdir -p "$CACHE" 2> /dev/null && [ -w "$CACHE" ] ||
        CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hvmdm-guest
fi

# The modules, by name; their dependencies are added.  Storage (issue 3),
# then what the NIC, USB and input tests use.
MODULES="scsi_mod libata ata_piix ahci sd_mod sr_mod cdrom isofs
    ne2k_pci 8139too pcnet32 e1000 ehci_pci uhci_hcd usbhid hid_generic evdev"
# The data pattern on the CD: 16384 sectors (8 MiB).
PATTERN_LABEL=hvmdm-pat
PATTERN_SECTORS=16384
# Everything in the ISO gets this time stamp (reproducible output).
EPOCH=1700000000

for t in xorriso cpio gzip awk apt-get dpkg; do
    command -v $t > /dev/null ||
        die "$t is missing: run scripts/install-deps.sh (as root)"
done
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
ISOHDPFX=/usr/lib/ISOLINUX/isohdpfx.bin
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
BUSYBOX=/bin/busybox
for f in $ISOLINUX_BIN $ISOHDPFX $LDLINUX $BUSYBOX; do
    [ -f $f ] || die "$f is missing: run scripts/install-deps.sh (packages" \
        "isolinux, syslinux-common, busybox-static)"
done

# The kernel package linux-image-amd64 points at now.
kernel_pkg() {
    apt-cache depends linux-image-amd64 2> /dev/null |
        sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n 1
}
KPKG=$(kernel_pkg)
if [ -z "$KPKG" ]; then
    apt-get update -qq > /dev/null 2>&1 || true
    KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "no linux-image-amd64 in apt's lists (apt-get update?)"
KVERSION=$(apt-cache policy "$KPKG" | sed -n 's/^ *Candidate: //p')

pkgver() { dpkg-query -W -f='${Version}' "$1" 2> /dev/null || echo none; }
KEY=$( {
    echo "kernel $KPKG $KVERSION"
    for p in busybox-static isolinux syslinux-common xorriso; do
        echo "$p $(pkgver $p)"
    done
    echo "modules $MODULES"
    cat "$HERE/build.sh" "$HERE/init" "$HERE/pattern.awk"
} | md5sum | cut -c1-16)
if [ -n "$KEY_ONLY" ]; then
    echo "$KEY"
    exit 0
fi

mkdir -p "$CACHE" 2> /dev/null && [ -w "$CACHE" ] ||
    die "cannot write the cache $CACHE (set HVMDM_GUEST_CACHE)"
# Several builds may share the cache: one at a time.
exec 9> "$CACHE/.lock"
flock 9
DST=$CACHE/$KEY

# build_guest DEB: build the ISO from the kernel package DEB into DST (in a
# subshell: a failure leaves nothing behind).
build_guest() (
    deb=$1
    WORK=$(mktemp -d "$CACHE/work.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    if ! dpkg -x "$deb" "$WORK/k"; then
        rm -f "$deb"
        die "$deb is damaged: removed, the next run downloads it again"
    fi
    KREL=$(ls "$WORK/k/lib/modules")
    MODDIR=$WORK/k/lib/modules/$KREL
    [ -f "$WORK/k/boot/vmlinuz-$KREL" ] || die "$deb has no kernel image"

    # name -> path of every loadable module; the built-in ones.
    declare -A MODPATH BUILTIN DONE
    while read -r p; do
        n=${p##*/}
        n=${n%.ko}
        MODPATH[${n//-/_}]=$p
    done < "$MODDIR/modules.order"
    while read -r p; do
        n=${p##*/}
        n=${n%.ko}
        BUILTIN[${n//-/_}]=1
    done < "$MODDIR/modules.builtin"
    # add NAME: NAME's dependencies first (from the module's .modinfo
    # "depends=" tag), then NAME, each once, into ORDER.
    ORDER=()
    add() {
        local n=${1//-/_} p d deps
        [ -z "${DONE[$n]:-}" ] || return 0
        DONE[$n]=1
        if [ -n "${BUILTIN[$n]:-}" ]; then
            return 0
        fi
        p=${MODPATH[$n]:-}
        [ -n "$p" ] || die "no module $n in $KPKG"
        deps=$(tr '\0' '\n' < "$MODDIR/$p" | sed -n 's/^depends=//p' | head -n 1)
        for d in ${deps//,/ }; do
            add "$d"
        done
        ORDER+=("$p")
    }
    for m in $MODULES; do
        add "$m"
    done

    # The initramfs: busybox, the init, the modules in load order.
    R=$WORK/initrd
    mkdir -p "$R"/{bin,dev,proc,sys,tmp,cd,etc,lib/modules}
    cp "$BUSYBOX" "$R/bin/busybox"
    ln -s busybox "$R/bin/sh"
    cp "$HERE/init" "$R/init"
    chmod 755 "$R/init"
    i=0
    for p in "${ORDER[@]}"; do
        i=$((i + 1))
        f=$(printf '%02d-%s' $i "${p##*/}")
        cp "$MODDIR/$p" "$R/lib/modules/$f"
        echo "$f" >> "$R/lib/modules/load.list"
    done
    printf 'kernel=%s\nkey=%s\n' "$KREL" "$KEY" > "$R/etc/hvmdm-guest"
    find "$R" -exec touch -h -d "@$EPOCH" {} +
    (cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 2> /dev/null |
        gzip -n -9) > "$WORK/initrd.gz"

    # The CD.
    C=$WORK/cd
    mkdir -p "$C"/{isolinux,boot,hvmdm}
    cp "$ISOLINUX_BIN" "$LDLINUX" "$C/isolinux/"
    cat > "$C/isolinux/isolinux.cfg" << EOF
SERIAL 0 115200
DEFAULT hvmdm
PROMPT 0
TIMEOUT 0
LABEL hvmdm
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.gz
  APPEND console=ttyS0,115200 quiet panic=-1 scsi_mod.scan=sync hvmdm.test=auto
EOF
    cp "$WORK/k/boot/vmlinuz-$KREL" "$C/boot/vmlinuz"
    cp "$WORK/initrd.gz" "$C/boot/initrd.gz"
    awk -v label=$PATTERN_LABEL -v first=0 -v count=$PATTERN_SECTORS \
        -f "$HERE/pattern.awk" > "$C/hvmdm/pattern.bin"
    [ "$(stat -c %s "$C/hvmdm/pattern.bin")" -eq $((PATTERN_SECTORS * 512)) ] ||
        die "pattern.awk made a pattern of the wrong size"
    (cd "$C/hvmdm" && md5sum pattern.bin > pattern.md5)
    printf 'kernel=%s\nkey=%s\n' "$KREL" "$KEY" > "$C/hvmdm/VERSION"
    find "$C" -exec touch -h -d "@$EPOCH" {} +
    SOURCE_DATE_EPOCH=$EPOCH xorriso -as mkisofs -quiet -o "$WORK/guest.iso" \
        -V HVMDM_GUEST -R -J \
        -isohybrid-mbr "$ISOHDPFX" \
        -c isolinux/boot.cat -b isolinux/isolinux.bin \
        -no-emul-boot -boot-load-size 4 -boot-info-table \
        "$C" > "$WORK/xorriso.log" 2>&1 ||
        die "xorriso failed: $(tail -n 3 "$WORK/xorriso.log")"

    mkdir -p "$WORK/out"
    mv "$WORK/guest.iso" "$WORK/out/guest.iso"
    cp "$C/hvmdm/pattern.bin" "$C/hvmdm/pattern.md5" "$WORK/out/"
    (cd "$WORK/out" && md5sum guest.iso > guest.iso.md5)
    echo "$KEY" > "$WORK/out/guest.key"
    echo "$KREL" > "$WORK/out/kernel.version"
    rm -rf "$DST"
    mv "$WORK/out" "$DST"
    # Older builds are of no use any more.
    for old in "$CACHE"/*/guest.key; do
        [ -e "$old" ] || continue
        [ "${old%/guest.key}" = "$DST" ] || rm -rf "${old%/guest.key}"
    done
)

# use_older WHY: fall back to an older build in the cache (offline, or the
# archive moved on since apt's lists were fetched), or fail.
use_older() {
    local old
    for old in "$CACHE"/*/guest.iso; do
        [ -e "$old" ] || continue
        DST=${old%/guest.iso}
        echo "guest/build.sh: $*; using the older build in $DST" >&2
        return 0
    done
    die "$*"
}

if [ ! -f "$DST/guest.iso" ]; then
    echo "guest/build.sh: building the test guest ($KPKG $KVERSION, key $KEY)" >&2
    # The kernel package, downloaded once per version (apt-get download runs
    # as _apt: a directory it can write).  If the archive no longer has it,
    # apt's lists are old: update them (as root) and start again, once.
    deb=$CACHE/dl/${KPKG}_$KVERSION.deb
    if [ ! -f "$deb" ]; then
        mkdir -p "$CACHE/dl"
        dl=$(mktemp -d "$CACHE/dl/tmp.XXXXXX")
        chmod 755 "$dl"
        if (cd "$dl" && apt-get download -qq "$KPKG=$KVERSION" > "$dl/log" 2>&1); then
            mv "$dl"/*.deb "$deb"
        elif [ -z "${HVMDM_GUEST_RETRY:-}" ] && [ "$(id -u)" = 0 ] &&
            apt-get update -qq > /dev/null 2>&1; then
            rm -rf "$dl"
            exec 9>&-
            HVMDM_GUEST_RETRY=1 exec "$0" "${ARGS[@]}"
        fi
        rm -rf "$dl"
    fi
    if [ ! -f "$deb" ]; then
        use_older "cannot download $KPKG $KVERSION from Debian's archive"
    else
        # (In the background: errexit holds there, unlike in a condition.)
        build_guest "$deb" &
        wait $! || use_older "building the ISO failed"
    fi
fi
exec 9>&-

mkdir -p "$OUT"
for f in guest.iso guest.iso.md5 pattern.bin pattern.md5 guest.key kernel.version; do
    if ! cmp -s "$DST/$f" "$OUT/$f"; then
        cp "$DST/$f" "$OUT/$f.tmp" && mv "$OUT/$f.tmp" "$OUT/$f"
    fi
done
echo "$OUT/guest.iso"
