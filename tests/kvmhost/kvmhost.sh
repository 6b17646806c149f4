#!/bin/bash
# kvmhost.sh: run a command on a machine with a working, unrestricted /dev/kvm.
# (hvmdm's copy of the build machines' kvmhost script, adapted: a lock around the
# shared cache, an initrd named after this script's contents, PATH set for the
# command, /dev/fd, /dev/pts and /dev/shm in its /dev, and the host's console
# kept in --log FILE instead of stdout.)
#
# Some hosts (these build machines among them) expose a /dev/kvm that cannot run a stock
# guest: a paravirtual KVM (kvm_pvm) whose instruction emulator stops at code a BIOS boot
# loader runs. This script boots a small Linux "KVM host" under QEMU's software CPU (TCG)
# with an AMD CPU model that has SVM (one vCPU: with two, the
# emulated SVM has been seen to hang), loads kvm_amd there, and runs COMMAND inside it with
# the real host's root file system mounted read-only and one directory mounted read-write.
#
#   kvmhost.sh [--rw DIR] [--mem MB] [--smp N] [--timeout S] [--log FILE] -- COMMAND [ARGS...]
#
# COMMAND runs in a chroot of the host's / (read-only), with DIR (default: the current
# directory) read-write at the same path, fresh /proc, /sys, /dev and a tmpfs /tmp.
# The script exits with COMMAND's exit status (125 if the KVM host itself failed).
# Needs: qemu-system-x86, busybox-static (Debian packages); fetches Debian's kernel package
# once into ${KVMHOST_CACHE:-/var/cache/kvmhost}.
set -euo pipefail
RW=$PWD MEM=3072 SMP=1 TIMEOUT=1800 LOG=
while [ $# -gt 0 ]; do
  case $1 in
    --rw) RW=$(cd "$2" && pwd); shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --smp) SMP=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --log) LOG=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "kvmhost: unknown option $1" >&2; exit 125 ;;
  esac
done
[ $# -gt 0 ] || { echo "kvmhost: no command given" >&2; exit 125; }
CACHE=${KVMHOST_CACHE:-/var/cache/kvmhost}
mkdir -p "$CACHE"
# Several runs may share the cache: one at a time fills it.
exec 9>"$CACHE/.lock"
flock 9

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The kernel: Debian's own, unpacked (not installed) into the cache.
if ! ls "$CACHE"/k/boot/vmlinuz-* >/dev/null 2>&1; then
  rm -rf "$CACHE/k" "$CACHE/dl" && mkdir -p "$CACHE/k" "$CACHE/dl"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
  if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
  fi
  (cd "$CACHE/dl" && apt-get download -qq "$pkg" && dpkg -x ./*.deb ../k)
fi
KERNEL=$(ls "$CACHE"/k/boot/vmlinuz-* | head -n1)
KVER=${KERNEL##*/vmlinuz-}
MODDIR=$CACHE/k/lib/modules/$KVER

INITRD=$CACHE/initrd-$KVER-$(md5sum < "$0" | cut -c1-12).gz
if [ ! -f "$INITRD" ]; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,proc,sys,dev,host,mod}
  cp /bin/busybox "$root/bin/busybox"
  for a in sh mount insmod mkdir cat echo poweroff chroot sleep ln; do ln -s busybox "$root/bin/$a"; done
  n=0
  for m in kernel/virt/lib/irqbypass.ko kernel/arch/x86/kvm/kvm.ko kernel/drivers/crypto/ccp/ccp.ko \
           kernel/arch/x86/kvm/kvm-amd.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko \
           kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko \
           kernel/drivers/virtio/virtio_pci.ko kernel/fs/netfs/netfs.ko kernel/fs/fscache/fscache.ko \
           kernel/net/9p/9pnet.ko kernel/net/9p/9pnet_virtio.ko kernel/fs/9p/9p.ko \
           kernel/drivers/net/tun.ko kernel/drivers/net/veth.ko kernel/net/llc/llc.ko \
           kernel/net/802/stp.ko kernel/net/bridge/bridge.ko; do
    n=$((n+1))
    [ -f "$MODDIR/$m" ] && cp "$MODDIR/$m" "$root/mod/$(printf %02d $n)-${m##*/}"
  done
  cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in /mod/*.ko; do insmod $m 2>/dev/null; done
o=trans=virtio,version=9p2000.L,msize=262144,cache=none
mount -t 9p -o $o,ro hostroot /host || { echo "kvmhost: no host root"; poweroff -f; }
RW=$(sed -n 's/.* kvmhost.rw=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o ptmxmode=666 devpts /host/dev/pts; mount -t tmpfs shm /host/dev/shm
ln -s /proc/self/fd /host/dev/fd; ln -s fd/0 /host/dev/stdin
ln -s fd/1 /host/dev/stdout; ln -s fd/2 /host/dev/stderr
mount -t tmpfs tmp /host/tmp
mkdir -p "/host$RW" 2>/dev/null
mount -t 9p -o $o hostrw "/host$RW" || echo "kvmhost: cannot mount $RW"
[ -e /dev/kvm ] || echo "kvmhost: kvm_amd did not load"
chroot /host /bin/sh -c "cd $RW && sh $RW/.kvmhost-cmd; echo \$? > $RW/.kvmhost-rc"
poweroff -f
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.tmp" && mv "$INITRD.tmp" "$INITRD"
  rm -rf "$root"
fi
exec 9>&-

# The command, quoted for sh, in a file the KVM host runs.
{ echo 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH'
  printf 'cd %q && exec' "$PWD"; printf ' %q' "$@"; echo; } > "$RW/.kvmhost-cmd"
rm -f "$RW/.kvmhost-rc"
trap 'rm -f "$RW/.kvmhost-cmd" "$RW/.kvmhost-rc"' EXIT

# --foreground: QEMU stays in the terminal's process group, so on an interactive
# terminal (make demo) its -serial stdio is not stopped by SIGTTOU.
timeout --foreground "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC,+svm,+npt -smp "$SMP" -m "$MEM" \
  -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 quiet panic=-1 kvmhost.rw=$RW" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$RW",mount_tag=hostrw,security_model=none,multidevs=remap \
  2> >(grep -v -e "TCG doesn't support requested feature" >&2) | tr -d '\r' > "${LOG:-/dev/stdout}" || true
[ -f "$RW/.kvmhost-rc" ] || { echo "kvmhost: the KVM host did not finish the command" >&2; exit 125; }
exit "$(cat "$RW/.kvmhost-rc")"
