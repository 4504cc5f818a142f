#!/usr/bin/env bash
# The kernel matrix: every lesson's tests on stock Debian kernels, each booted under QEMU (`sudo make test-kernels`).
#
#   scripts/kernel-matrix.sh [host] [LANE...]     default: host bookworm-6.1 bookworm-6.12 bullseye-5.10
#
# For each LANE (scripts/matrix/lanes.sh): build a Debian root filesystem with the lane's stock kernel, its
# matching headers and its own bcc (mmdebstrap; cached in $MATRIX_CACHE/<lane>, rebuilt only when the lane's
# package list changes), boot that kernel under qemu-system-x86_64 with TCG (software emulation: KVM on the
# machines we run on cannot boot a stock kernel) from a busybox initramfs, share the rootfs and this repo
# read-only and results/kernel-matrix/<lane>/ writable over 9p, run the pytest suite inside, power off.
# "host" runs the same suite on this machine (after scripts/setup.sh) into results/kernel-matrix/host/.
# Then prints a table (test file x lane) and regenerates docs/compatibility.md from the last result of
# every lane. Exits non-zero when any lane run here failed.
#
# Knobs (environment): MATRIX_CACHE (/var/cache/bpf-lessons-matrix), MATRIX_JOBS (guests booted at once, 3),
# MATRIX_ACCEL (tcg,thread=single), MATRIX_QEMU_TIMEOUT (seconds per guest, 3000: a full lane took ~1,700 s
# with three at once), MATRIX_TIME_SCALE (LESSONS_TIME_SCALE in the guest, 6: a guest gets 2/3 of a core),
# MATRIX_MEM (3G), MATRIX_SMP (2), MATRIX_CPU (qemu64),
# MATRIX_SHARD (set: CI mode, each guest runs every lesson test but only its share of tests/test_robustness.py
# and of the test_forced_kprobe tests, so that the guests together run each of those once; conftest.py,
# `make test-kernels-ci`),
# MATRIX_HOST_JUNIT (CI: the junit.xml `make test` wrote; the host column is taken from it instead of running
# the suite on the host a second time), MATRIX_APPEND (extra kernel command line), MATRIX_TESTS (pytest's
# arguments, default the lesson test files
# tests/test_[0-9]*.py and tests/test_robustness.py), MATRIX_GUEST_CMD (debugging: a shell command the guest runs instead of pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# shellcheck source=matrix/lanes.sh
. scripts/matrix/lanes.sh

CACHE=${MATRIX_CACHE:-/var/cache/bpf-lessons-matrix}
OUT=$REPO/results/kernel-matrix
JOBS=${MATRIX_JOBS:-3}
QEMU_TIMEOUT=${MATRIX_QEMU_TIMEOUT:-3000}
TIME_SCALE=${MATRIX_TIME_SCALE:-6}
MEM=${MATRIX_MEM:-3G}
SMP=${MATRIX_SMP:-2}
# The lesson test files: what depends on the kernel. Cross-cutting checks (docs, notebooks, set-up) are
# kernel-independent, need the host (network, jupytext, a writable repo) and run in `make test`.
TESTS=${MATRIX_TESTS:-tests/test_[0-9]*.py tests/test_robustness.py}
APPEND=${MATRIX_APPEND:-}
CPU=${MATRIX_CPU:-qemu64}
# One host thread runs both vCPUs of a guest (thread=single), so two guests fill the 2 cores; three at once
# (the default) share them and end together, sooner than two then one. Measured: two thread=multi guests at
# once each ran >2x slower.
ACCEL=${MATRIX_ACCEL:-tcg,thread=single}
# Bump when the rootfs recipe below changes in a way the package list does not show.
RECIPE=1

say() { printf 'kernel-matrix: %s\n' "$*"; }
die() { printf 'kernel-matrix: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, 9p shares of root-owned files): run 'sudo make test-kernels'"

lanes=()
if [ $# -eq 0 ]; then set -- host $ALL_LANES; fi
for l in "$@"; do
  if [ "$l" = host ] || lane_def "$l"; then lanes+=("$l"); else die "unknown lane '$l' (lanes: host $ALL_LANES)"; fi
done

# ---------------------------------------------------------------- host tools
# shellcheck source=apt.sh
. scripts/apt.sh   # apt_install: only what is missing, apt-get update at most once
guest_lanes=()
for l in "${lanes[@]}"; do [ "$l" = host ] || guest_lanes+=("$l"); done
if [ ${#guest_lanes[@]} -gt 0 ]; then
  apt_install qemu-system-x86 mmdebstrap busybox-static cpio gzip xz-utils zstd debian-archive-keyring coreutils
fi

now() { date +%s; }
mkdir -p "$OUT" "$CACHE"

# ---------------------------------------------------------------- rootfs (cached)
lane_spec() {  # what the lane's rootfs is made of; a change rebuilds it
  lane_def "$1"
  printf 'recipe %s\nsuite %s\n%s\npackages %s %s\n' "$RECIPE" "$SUITE" "$SOURCES" "$KERNEL" "$COMMON_PACKAGES"
}

build_rootfs() {  # build_rootfs LANE — $CACHE/LANE/rootfs, unless the stamp says it is up to date
  local lane=$1 dir=$CACHE/$1 t0 pkgs
  mkdir -p "$dir"
  if [ -d "$dir/rootfs/boot" ] && lane_spec "$lane" | cmp -s - "$dir/stamp"; then
    say "$lane: rootfs cached ($dir/rootfs)"
    echo 0 > "$dir/build-seconds"
    return 0
  fi
  lane_def "$lane"
  say "$lane: building rootfs ($SUITE; $KERNEL) with mmdebstrap"
  t0=$(now)
  rm -rf "$dir/rootfs" "$dir/stamp"
  pkgs=$(echo "$KERNEL $COMMON_PACKAGES" | tr ' ' ',')
  # variant essential: Essential:yes packages plus --include (and their dependencies), no recommends.
  # The kernel's postinst would build an initramfs we never use: divert update-initramfs to true.
  # /repo and /results are the mount points of the repo and results shares.
  local srcargs=()
  mapfile -t srcargs <<< "$SOURCES"
  if ! mmdebstrap --mode=root --variant=essential --include="$pkgs" \
      --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -sf /bin/true "$1/usr/sbin/update-initramfs"' \
      --customize-hook='mkdir -p "$1/repo" "$1/results"' \
      "$SUITE" "$dir/rootfs" "${srcargs[@]}" > "$dir/mmdebstrap.log" 2>&1; then
    tail -n 20 "$dir/mmdebstrap.log" >&2
    die "$lane: mmdebstrap failed (log: $dir/mmdebstrap.log)"
  fi
  lane_spec "$lane" > "$dir/stamp"
  echo $(( $(now) - t0 )) > "$dir/build-seconds"
  say "$lane: rootfs built in $(cat "$dir/build-seconds") s ($(du -sh "$dir/rootfs" | cut -f1))"
}

# ---------------------------------------------------------------- one guest
run_lane() {  # run_lane LANE [k/n] — boot the lane's kernel, run the suite (robustness shard k of n), results in $OUT/LANE
  local lane=$1 dir=$CACHE/$1 res=$OUT/$1 kernel kver t0 qrc
  kernel=$(ls "$dir"/rootfs/boot/vmlinuz-* | sort -V | tail -n 1)
  kver=${kernel##*/vmlinuz-}
  bash scripts/matrix/mkinitramfs.sh "$dir/rootfs" "$kver" "$dir/initramfs.cpio.gz"
  rm -rf "$res"
  mkdir -p "$res"
  {  # sourced by the guest's bash: %q quotes every value safely
    printf 'MATRIX_LANE=%q\n' "$lane"
    printf 'MATRIX_TIME_SCALE=%q\n' "$TIME_SCALE"
    printf 'MATRIX_PYTEST_SECONDS=%q\n' "$(( QEMU_TIMEOUT - 90 ))"
    printf 'MATRIX_TESTS=%q\n' "$TESTS"
    printf 'MATRIX_GUEST_CMD=%q\n' "${MATRIX_GUEST_CMD:-}"
    printf 'MATRIX_SHARD=%q\n' "${2:-}"
  } > "$res/guest.env"
  t0=$(now)
  set +e
  # In the background so that a signal to this lane (Ctrl-C, an outer timeout) can end qemu too.
  timeout -k 10 "$QEMU_TIMEOUT" qemu-system-x86_64 \
    -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m "$MEM" \
    -nodefaults -no-user-config -display none -no-reboot -nic none \
    -serial "file:$res/serial.log" \
    -kernel "$kernel" -initrd "$dir/initramfs.cpio.gz" \
    -append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 $APPEND" \
    -fsdev "local,id=fsroot,path=$dir/rootfs,security_model=passthrough,readonly=on" \
    -device virtio-9p-pci,fsdev=fsroot,mount_tag=rootfs \
    -fsdev "local,id=fsrepo,path=$REPO,security_model=passthrough,readonly=on" \
    -device virtio-9p-pci,fsdev=fsrepo,mount_tag=repo \
    -fsdev "local,id=fsres,path=$res,security_model=passthrough" \
    -device virtio-9p-pci,fsdev=fsres,mount_tag=results \
    -device virtio-rng-pci \
    > "$res/qemu.log" 2>&1 &
  QEMU_PID=$!
  wait "$QEMU_PID"
  qrc=$?
  QEMU_PID=
  set -e
  printf 'qemu_rc=%s\nguest_seconds=%s\nbuild_seconds=%s\n' "$qrc" "$(( $(now) - t0 ))" \
    "$(cat "$dir/build-seconds" 2>/dev/null || echo 0)" > "$res/timing"
  [ "$qrc" -eq 124 ] && echo "qemu killed after ${QEMU_TIMEOUT}s (MATRIX_QEMU_TIMEOUT)" > "$res/host-error"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$res/date"
  git -C "$REPO" describe --always --dirty > "$res/commit" 2>/dev/null || true
}

run_host() {  # the same suite on this machine, as `make test` runs it
  local res=$OUT/host t0 rc
  rm -rf "$res"; mkdir -p "$res"
  if [ -n "${MATRIX_HOST_JUNIT:-}" ]; then
    # CI: `make test` has just run the whole suite here; its results for $TESTS are the host's column.
    say "host: the results of make test ($MATRIX_HOST_JUNIT) on $(uname -r)"
    set +e
    /usr/bin/python3 scripts/matrix/report.py --take-junit "$MATRIX_HOST_JUNIT" "$res" $TESTS
    rc=$?
    set -e
  else
    say "host: scripts/setup.sh, then the suite on $(uname -r)"
    bash scripts/setup.sh > "$res/setup.log" 2>&1 || { tail -n 5 "$res/setup.log" >&2; echo "setup.sh failed" > "$res/host-error"; }
    t0=$(now)
    set +e
    LESSONS_NO_SKIP=1 timeout -k 10 "$QEMU_TIMEOUT" .venv/bin/python -m pytest \
      -p no:cacheprovider -o junit_family=xunit1 --junitxml="$res/junit.xml" -rA $TESTS > "$res/pytest.log" 2>&1
    rc=$?
    set -e
    printf 'guest_seconds=%s\nbuild_seconds=0\n' "$(( $(now) - t0 ))" > "$res/timing"
  fi
  echo "$rc" > "$res/rc"
  uname -r > "$res/kernel"
  . /etc/os-release; echo "$(cat /etc/debian_version 2>/dev/null || echo "$VERSION_ID")" > "$res/os"
  .venv/bin/python -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' > "$res/python" 2>&1 || true
  .venv/bin/python -c 'import bcc; print(bcc.__version__)' > "$res/bcc" 2>&1 || true
  date -u +%Y-%m-%dT%H:%M:%SZ > "$res/date"
  git -C "$REPO" describe --always --dirty > "$res/commit" 2>/dev/null || true
  say "host: pytest exit $rc in $(grep -o '[0-9]*' <<< "$(grep guest_seconds "$res/timing")") s"
}

# ---------------------------------------------------------------- the run
T0=$(now)
QEMU_PID=
# Ctrl-C or an outer timeout: end the guests still running (each lane's subshell kills its own qemu).
trap '[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null; kill $(jobs -p) 2>/dev/null; exit 130' INT TERM
for l in "${lanes[@]}"; do [ "$l" = host ] && run_host; done
# Root filesystems one after another (network and disk bound), then the guests, $JOBS at a time
# (TCG is CPU bound and each guest runs on one host thread, so two guests fill a 2-core machine).
for l in "${guest_lanes[@]}"; do build_rootfs "$l"; done
running=0
lane_index=0
for l in "${guest_lanes[@]}"; do
  shard=
  [ -n "${MATRIX_SHARD:-}" ] && shard="$lane_index/${#guest_lanes[@]}"
  lane_index=$((lane_index + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
  say "$l: booting $(basename "$(ls "$CACHE/$l"/rootfs/boot/vmlinuz-* | sort -V | tail -n 1)") under TCG"
  ( trap '[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null; exit 143' TERM
    run_lane "$l" "$shard"; say "$l: done in $(sed -n 's/guest_seconds=//p' "$OUT/$l/timing") s (pytest exit $(cat "$OUT/$l/rc" 2>/dev/null || echo none))" ) &
  running=$((running + 1))
done
wait
say "all lanes done in $(( $(now) - T0 )) s; cache $(du -sh "$CACHE" 2>/dev/null | cut -f1) in $CACHE"

if [ -n "${MATRIX_GUEST_CMD:-}" ]; then
  for l in "${guest_lanes[@]}"; do say "$l: $OUT/$l/guest-cmd.log (rc $(cat "$OUT/$l/rc" 2>/dev/null || echo none))"; done
  exit 0
fi
# docs/compatibility.md records full runs only: a narrowed MATRIX_TESTS prints the table and leaves the doc alone.
doc=docs/compatibility.md
[ -z "${MATRIX_TESTS:-}" ] || doc=
/usr/bin/python3 scripts/matrix/report.py --results "$OUT" --doc "$doc" --lessons lessons "${lanes[@]}"
