#!/usr/bin/env bash
# mkinitramfs.sh ROOTFS KVER OUT.cpio.gz [BUSYBOX] — the kernel-matrix initramfs: a static busybox (BUSYBOX,
# default the host's: a guest of another architecture needs its own, e.g. ROOTFS/usr/bin/busybox from that
# architecture's busybox-static), /init (initramfs-init.sh), and the guest kernel's own virtio/9p modules taken
# from ROOTFS/lib/modules/KVER, with their dependencies, uncompressed (busybox insmod cannot read
# .ko.xz/.ko.zst), in load order.
set -euo pipefail
rootfs=$1 kver=$2 out=$3 busybox=${4:-$(command -v busybox || true)}
here=$(cd "$(dirname "$0")" && pwd)
moddir=$rootfs/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || { echo "mkinitramfs: no $moddir/modules.dep" >&2; exit 1; }
# ldd fails on a static binary ("not a dynamic executable"), of this architecture or another: the initramfs
# has no libc.
[ -n "$busybox" ] && [ -f "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 \
  || { echo "mkinitramfs: need a static busybox, not '$busybox' (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/modules"
cp "$busybox" "$work/bin/busybox"
cp "$here/initramfs-init.sh" "$work/init"
chmod 755 "$work/init"

# modules.dep: "kernel/x/a.ko: kernel/y/b.ko kernel/z/c.ko" — the full closure, to be loaded last to first.
declare -A seen=()
order=()
add_module() {  # add_module NAME — NAME and what it needs, dependencies first
  local name=$1 line path deps i
  line=$(grep -E "(^|/)${name}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | head -n 1 || true)
  if [ -z "$line" ]; then
    grep -qE "(^|/)${name}\.ko$" "$moddir/modules.builtin" 2>/dev/null \
      || echo "mkinitramfs: note: module $name is neither a module nor built in for $kver" >&2
    return 0
  fi
  path=${line%%:*}
  read -r -a deps <<< "${line#*:}"
  for (( i=${#deps[@]}-1; i>=0; i-- )); do
    [ -n "${seen[${deps[i]}]:-}" ] || { seen[${deps[i]}]=1; order+=("${deps[i]}"); }
  done
  [ -n "${seen[$path]:-}" ] || { seen[$path]=1; order+=("$path"); }
}
# virtio-pci transport, the 9p filesystem over virtio, and a virtio RNG (getrandom() must not stall early).
for m in virtio_pci 9pnet_virtio 9p virtio-rng; do add_module "$m"; done

: > "$work/modules.list"
for path in "${order[@]}"; do
  base=$(basename "$path")
  case "$base" in
    *.ko.xz)  xz -dc "$moddir/$path" > "$work/modules/${base%.xz}";   base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$path" > "$work/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz)  gzip -dc "$moddir/$path" > "$work/modules/${base%.gz}"; base=${base%.gz} ;;
    *)        cp "$moddir/$path" "$work/modules/$base" ;;
  esac
  echo "$base" >> "$work/modules.list"
done

(cd "$work" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out"
