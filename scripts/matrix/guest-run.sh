#!/bin/bash
# Runs inside the kernel-matrix guest, chrooted into the Debian rootfs (see initramfs-init.sh), as root.
# /repo is the repository (read-only), /results is the lane's results folder on the host (writable).
# The host writes /results/guest.env (MATRIX_LANE, MATRIX_TIME_SCALE, MATRIX_PYTEST_SECONDS, MATRIX_TESTS,
# MATRIX_GUEST_CMD, MATRIX_SHARD).
# Writes: boot-seconds, kernel, arch, bcc, python, os (one line each), env.txt, pytest.log, junit.xml, rc.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
       PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp
# shellcheck source=/dev/null
. /results/guest.env

R=/results
# Seconds since the kernel started: the boot's cost (kernel, initramfs, 9p mounts), before any test runs.
cut -d' ' -f1 /proc/uptime > $R/boot-seconds
uname -r > $R/kernel
uname -m > $R/arch
cat /etc/debian_version > $R/os
/usr/bin/python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' > $R/python 2>&1
/usr/bin/python3 -c 'import bcc; print(getattr(bcc, "__version__", "unknown"))' > $R/bcc 2>&1
{
  echo "lane: $MATRIX_LANE ($(uname -m), booted in $(cat $R/boot-seconds) s)"
  echo "kernel: $(uname -r) ($(uname -v))"
  echo "cpus: $(nproc)  mem: $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
  echo "debian: $(cat /etc/debian_version)  python: $(cat $R/python)  bcc: $(cat $R/bcc)"
  echo "pytest: $(/usr/bin/python3 -m pytest --version 2>&1 | head -n 1)"
  echo "headers: $(readlink -f /lib/modules/"$(uname -r)"/build)"
  t=/sys/kernel/tracing
  echo "kprobe_events: $([ -e $t/kprobe_events ] && echo yes || echo no)  btf: $([ -e /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
} > $R/env.txt 2>&1
sed 's/^/matrix-guest: /' $R/env.txt

cd /repo || { echo 1 > $R/rc; exit 1; }
if [ -n "${MATRIX_GUEST_CMD:-}" ]; then   # debugging: run this instead of the suite
  { bash -c "$MATRIX_GUEST_CMD"; echo $? > $R/rc; } 2>&1 | tee $R/guest-cmd.log
  exit 0
fi
# The harness's own knobs (conftest.py): no quiet skips, the probe kind `auto` must pick on a stock kernel,
# and every wait scaled for software emulation.
export LESSONS_NO_SKIP=1 LESSONS_EXPECT_AUTO=kprobe LESSONS_KERNEL_LANE="$MATRIX_LANE" \
       LESSONS_TIME_SCALE="$MATRIX_TIME_SCALE"
# CI mode: this guest's share of the robustness and forced-kprobe tests (conftest.py deselects the others).
[ -n "${MATRIX_SHARD:-}" ] && export LESSONS_SHARD="$MATRIX_SHARD"
# -p no:cacheprovider: /repo is read-only. -o timeout: pytest.ini's per-test bound, scaled like the waits.
# junit_family=xunit1: record_property (probe_auto) without a warning, and file= on every testcase.
# The outer `timeout` interrupts pytest (SIGINT: it still prints its summary and writes junit.xml) before the
# host's qemu timeout ends the guest, so rc and the logs come back.
per_test=$(( 180 * ${MATRIX_TIME_SCALE%.*} ))
echo "matrix-guest: python3 -m pytest $MATRIX_TESTS (up to ${MATRIX_PYTEST_SECONDS}s)"
{
  timeout -s INT -k 20 "$MATRIX_PYTEST_SECONDS" /usr/bin/python3 -m pytest -p no:cacheprovider \
    -o timeout="$per_test" -o junit_family=xunit1 --junitxml=$R/junit.xml -rA $MATRIX_TESTS
  echo $? > $R/rc
} 2>&1 | tee $R/pytest.log
sync
echo "matrix-guest: pytest exit $(cat $R/rc)"
