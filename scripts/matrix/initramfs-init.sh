#!/bin/busybox sh
# /init of the kernel-matrix initramfs (busybox only). PID 1 in the guest:
#   1. loads the virtio + 9p modules of the guest kernel (copied from the rootfs, listed in /modules.list in load order)
#   2. mounts the three 9p shares: rootfs (read-only), repo (read-only), results (writable)
#   3. mounts proc, sys, devtmpfs, debugfs, tracefs, securityfs and tmpfs (/tmp, /run, /var/tmp) inside the rootfs
#   4. runs /repo/scripts/matrix/guest-run.sh chrooted into the rootfs (Debian's bash, python3, bcc)
#   5. powers off. If anything above fails it still powers off, after saying why on the serial console.
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "matrix-init: $*"; }
fail() { say "FAILED: $*"; echo "init: $*" > /newroot/results/init-error 2>/dev/null; halt_now; }
halt_now() {
  sync
  echo o > /proc/sysrq-trigger 2>/dev/null   # immediate power off (CONFIG_MAGIC_SYSRQ)
  poweroff -f
  sleep 5
  exit 1   # PID 1 exiting panics the kernel; panic=-1 + qemu -no-reboot end the VM
}

mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/sysrq
hostname matrix-guest

while read -r ko; do
  [ -n "$ko" ] || continue
  insmod "/modules/$ko" || say "insmod $ko failed (built in already?)"
done < /modules.list

# 9p: trans=virtio; cache=loose on the read-only shares (python imports and clang header reads go much
# faster), none on the writable results share so every write reaches the host at once.
ro9p="trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro"
mount -t 9p -o "$ro9p" rootfs /newroot || fail "cannot mount the rootfs 9p share"
mount -t 9p -o "$ro9p" repo /newroot/repo || fail "cannot mount the repo 9p share"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /newroot/results \
  || fail "cannot mount the results 9p share"

cd /newroot
mount -t proc proc proc
mount -t sysfs sysfs sys
mount -t devtmpfs devtmpfs dev
mkdir -p dev/pts dev/shm 2>/dev/null
mount -t devpts devpts dev/pts
mount -t tmpfs tmpfs dev/shm
mount -t debugfs debugfs sys/kernel/debug || say "no debugfs"
mount -t tracefs tracefs sys/kernel/tracing || say "no tracefs at /sys/kernel/tracing"
mount -t securityfs securityfs sys/kernel/security || say "no securityfs"   # lesson 000 reads the lockdown state
for d in tmp run var/tmp root; do mount -t tmpfs -o mode=1777 tmpfs "$d" || fail "cannot mount tmpfs on /$d"; done
chmod 700 root

say "rootfs mounted; running guest-run.sh"
chroot /newroot /bin/bash /repo/scripts/matrix/guest-run.sh
say "guest-run.sh exited $?; powering off"
cd /
halt_now
