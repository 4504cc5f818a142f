#!/usr/bin/env bash
# The kernel matrix: every lesson's tests on stock Debian kernels, each booted under QEMU (`sudo make test-kernels`).
#
#   scripts/kernel-matrix.sh [host] [LANE...]     default: host and every lane ($ALL_LANES in
#                                                 scripts/matrix/lanes.sh); CI mode: host and $CI_LANES
#
# For each LANE (scripts/matrix/lanes.sh): build a Debian root filesystem of the lane's architecture with its
# stock kernel, its matching headers and its own bcc (mmdebstrap; a foreign architecture's maintainer scripts
# run through qemu-user; cached in $MATRIX_CACHE/<lane>, rebuilt only when the lane's package list changes),
# boot that kernel under qemu-system-x86_64 or qemu-system-aarch64 with TCG (software emulation: KVM on the
# machines we run on cannot boot a stock kernel, and cannot run another architecture) from a busybox
# initramfs, share the rootfs and this repo read-only and results/kernel-matrix/<lane>/ writable over 9p,
# run the pytest suite inside, power off.
# "host" runs the same suite on this machine (after scripts/setup.sh) into results/kernel-matrix/host/.
# Then prints a table (test file x lane) and regenerates docs/compatibility.md from the last result of
# every lane. Exits non-zero when any lane run here failed.
#
# Knobs (environment): MATRIX_CACHE (/var/cache/bpf-lessons-matrix), MATRIX_JOBS (guests booted at once, 4),
# MATRIX_ACCEL (the architecture's default in lanes.sh: tcg,thread=single), MATRIX_QEMU_TIMEOUT (seconds per
# guest; default 7200 for an x86 guest: a full lane, exercises included, takes ~2,200 CPU seconds, and four
# guests at once get half a core each; ARCH_SLOWER times that for an arm64 one), MATRIX_BUILD_TIMEOUT
# (seconds per rootfs build, 2400), MATRIX_TIME_SCALE (LESSONS_TIME_SCALE in an x86 guest, 8: a guest gets
# half a core; an arm64 guest's is ARCH_SLOWER times it), MATRIX_MEM (3G), MATRIX_SMP (2), MATRIX_CPU (the
# architecture's default: qemu64, max,pauth-impdef=on), MATRIX_SHARD (set: CI mode, as scripts/matrix/ci.env says:
# the lanes $CI_LANES, and CI_JOBS, CI_TIME_SCALE, CI_QEMU_TIMEOUT as the defaults of the three knobs above;
# each of the $CI_SHARE_LANES guests runs every lesson test but only its share of tests/test_robustness.py,
# and of the test_forced_kprobe tests, so that they together run each of those once, and no exercise test,
# and the others (arm64) run the lesson tests and the exercise tests ci.env names in CI_EXERCISE_TESTS; conftest.py,
# `make test-kernels-ci`),
# MATRIX_HOST_JUNIT (CI: the junit.xml `make test` wrote; the host column is taken from it instead of running
# the suite on the host a second time), MATRIX_APPEND (extra kernel command line), MATRIX_TESTS (pytest's
# arguments, default the lesson test files tests/test_[0-9]*.py, tests/test_exercises.py and
# tests/test_robustness.py),
# MATRIX_GUEST_CMD (debugging: a shell command the guest runs instead of pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# shellcheck source=matrix/lanes.sh
. scripts/matrix/lanes.sh

CACHE=${MATRIX_CACHE:-/var/cache/bpf-lessons-matrix}
OUT=$REPO/results/kernel-matrix
# CI mode (MATRIX_SHARD set: `make test-kernels-ci`) takes its defaults from scripts/matrix/ci.env.
JOBS=${MATRIX_JOBS:-$([ -n "${MATRIX_SHARD:-}" ] && echo "$CI_JOBS" || echo 4)}
QEMU_TIMEOUT=${MATRIX_QEMU_TIMEOUT:-${MATRIX_SHARD:+$CI_QEMU_TIMEOUT}}   # empty: 7200 s x the architecture's ARCH_SLOWER
# One rootfs build: ~1 min for an x86 lane; ~8 min for the arm64 one, whose maintainer scripts (python's
# byte-compilation, depmod, ...) run under qemu-user.
BUILD_TIMEOUT=${MATRIX_BUILD_TIMEOUT:-2400}
TIME_SCALE=${MATRIX_TIME_SCALE:-$([ -n "${MATRIX_SHARD:-}" ] && echo "$CI_TIME_SCALE" || echo 8)}
MEM=${MATRIX_MEM:-3G}
SMP=${MATRIX_SMP:-2}
# The lesson test files: what depends on the kernel. Cross-cutting checks (docs, notebooks, set-up) are
# kernel-independent, need the host (network, jupytext, a writable repo) and run in `make test`.
LESSON_TESTS="tests/test_[0-9]*.py tests/test_forced_kprobe.py"
TESTS=${MATRIX_TESTS:-$LESSON_TESTS tests/test_exercises.py tests/test_robustness.py}
APPEND=${MATRIX_APPEND:-}
# Bump when the rootfs recipe below changes in a way the package list does not show.
RECIPE=1

say() { printf 'kernel-matrix: %s\n' "$*"; }
die() { printf 'kernel-matrix: error: %s\n' "$*" >&2; exit 1; }

ensure_binfmt() {  # ensure_binfmt QEMU_ARCH — the kernel hands that architecture's programs to qemu-user
  # qemu-user-static ships the registration in binfmt.d, which systemd-binfmt (or binfmt-support) loads at
  # boot; a machine or container without either has nothing registered, and maybe binfmt_misc not mounted.
  local bf=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-$1.conf
  if [ -e "$bf/qemu-$1" ]; then
    [ "$(head -n 1 "$bf/qemu-$1")" = enabled ] || echo 1 > "$bf/qemu-$1"
    return 0
  fi
  mountpoint -q "$bf" || mount -t binfmt_misc binfmt_misc "$bf" || die "cannot mount binfmt_misc on $bf"
  [ -r "$conf" ] || die "no $conf (qemu-user-static): cannot build a $1 rootfs on this $(uname -m) machine"
  # Its flags include F: the kernel opens the interpreter now, so it is found inside the rootfs chroot too.
  cat "$conf" > "$bf/register" || die "cannot register qemu-$1 with binfmt_misc"
  say "registered qemu-user for $1 programs (binfmt_misc)"
}

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, 9p shares of root-owned files): run 'sudo make test-kernels'"

lanes=()
if [ $# -eq 0 ]; then
  # shellcheck disable=SC2086
  if [ -n "${MATRIX_SHARD:-}" ]; then set -- host $CI_LANES; else set -- host $ALL_LANES; fi
fi
for l in "$@"; do
  if [ "$l" = host ] || lane_def "$l"; then lanes+=("$l"); else die "unknown lane '$l' (lanes: host $ALL_LANES)"; fi
done

# ---------------------------------------------------------------- host tools
# shellcheck source=apt.sh
. scripts/apt.sh   # apt_install: only what is missing, apt-get update at most once
HOST_ARCH=$(dpkg --print-architecture)
guest_lanes=()
declare -A guest_arches=()
for l in "${lanes[@]}"; do
  [ "$l" = host ] && continue
  guest_lanes+=("$l")
  lane_def "$l"; guest_arches[$ARCH]=1
done
if [ ${#guest_lanes[@]} -gt 0 ]; then
  apt_install mmdebstrap busybox-static cpio gzip xz-utils zstd debian-archive-keyring coreutils
  # the debian-archive-keyring of bookworm (2023.3+deb12u1 on) knows trixie's keys too
  for a in "${!guest_arches[@]}"; do
    case "$a" in
      amd64) apt_install qemu-system-x86 ;;
      arm64) apt_install qemu-system-arm ;;
    esac
    # a foreign rootfs: dpkg runs its maintainer scripts (chrooted) through qemu-user
    # (mmdebstrap asks arch-test whether this machine can run them).
    [ "$a" = "$HOST_ARCH" ] || { apt_install qemu-user-static arch-test; arch_def "$a"; ensure_binfmt "$QEMU_ARCH"; }
  done
fi

now() { date +%s; }
mkdir -p "$OUT" "$CACHE"

# ---------------------------------------------------------------- rootfs (cached)
lane_spec() {  # what the lane's rootfs is made of; a change rebuilds it
  lane_def "$1"
  printf 'recipe %s\nsuite %s\n%s\npackages %s %s\n' "$RECIPE" "$SUITE" "$SOURCES" "$KERNEL" "$PACKAGES"
  # (amd64's stamps predate the arch line: written for other architectures only, they stay valid)
  [ "$ARCH" = amd64 ] || printf 'arch %s\n' "$ARCH"
}

build_rootfs() {  # build_rootfs LANE — $CACHE/LANE/rootfs, unless the stamp says it is up to date; 1 if it failed
  local lane=$1 dir=$CACHE/$1 t0 pkgs rc
  mkdir -p "$dir"
  if [ -d "$dir/rootfs/boot" ] && lane_spec "$lane" | cmp -s - "$dir/stamp"; then
    say "$lane: rootfs cached ($dir/rootfs)"
    echo 0 > "$dir/build-seconds"
    return 0
  fi
  lane_def "$lane"
  say "$lane: building rootfs ($SUITE $ARCH; $KERNEL) with mmdebstrap"
  t0=$(now)
  rm -rf "$dir/rootfs" "$dir/stamp"
  pkgs=$(echo "$KERNEL $PACKAGES" | tr ' ' ',')
  # variant essential: Essential:yes packages plus --include (and their dependencies), no recommends.
  # The kernel's postinst would build an initramfs we never use: divert update-initramfs to true.
  # /repo and /results are the mount points of the repo and results shares.
  local srcargs=()
  mapfile -t srcargs <<< "$SOURCES"
  # In the background, so that a signal to this build (Ctrl-C, an outer timeout) can end mmdebstrap too.
  set +e
  timeout -k 10 "$BUILD_TIMEOUT" mmdebstrap --mode=root --variant=essential --architectures="$ARCH" --include="$pkgs" \
      --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -sf /bin/true "$1/usr/sbin/update-initramfs"' \
      --customize-hook='mkdir -p "$1/repo" "$1/results"' \
      "$SUITE" "$dir/rootfs" "${srcargs[@]}" > "$dir/mmdebstrap.log" 2>&1 &
  BUILD_PID=$!
  wait "$BUILD_PID"
  rc=$?
  BUILD_PID=
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -n 20 "$dir/mmdebstrap.log" >&2
    [ "$rc" -eq 124 ] && say "$lane: mmdebstrap killed after ${BUILD_TIMEOUT}s (MATRIX_BUILD_TIMEOUT)"
    say "$lane: mmdebstrap failed (exit $rc; log: $dir/mmdebstrap.log)"
    return 1
  fi
  lane_spec "$lane" > "$dir/stamp"
  echo $(( $(now) - t0 )) > "$dir/build-seconds"
  say "$lane: rootfs built in $(cat "$dir/build-seconds") s ($(du -sh "$dir/rootfs" | cut -f1))"
}

# ---------------------------------------------------------------- one guest
run_lane() {  # run_lane LANE SHARD TESTS — boot the lane's kernel, run TESTS (CI: SHARD k/n of the robustness
             # tests, or empty), results in $OUT/LANE
  local lane=$1 dir=$CACHE/$1 res=$OUT/$1 kernel kver t0 qrc busybox scale limit
  lane_def "$lane"
  arch_def "$ARCH"
  kernel=$(ls "$dir"/rootfs/boot/vmlinuz-* | sort -V | tail -n 1)
  kver=${kernel##*/vmlinuz-}
  # The initramfs's busybox runs in the guest: the host's for a guest of the host's architecture, else the
  # lane's own static one (busybox-static in its package list, lanes.sh).
  busybox=$(command -v busybox || true)
  [ "$ARCH" = "$HOST_ARCH" ] || busybox=$dir/rootfs/usr/bin/busybox
  bash scripts/matrix/mkinitramfs.sh "$dir/rootfs" "$kver" "$dir/initramfs.cpio.gz" "$busybox"
  # An architecture that emulates slower gets its waits, and by default its time in qemu, scaled by
  # ARCH_SLOWER. A MATRIX_QEMU_TIMEOUT given (CI) is every guest's deadline as it is.
  scale=$(awk -v a="$TIME_SCALE" -v b="$ARCH_SLOWER" 'BEGIN { print a * b }')
  limit=${QEMU_TIMEOUT:-$(awk -v b="$ARCH_SLOWER" 'BEGIN { printf "%d", 7200 * b }')}
  rm -rf "$res"
  mkdir -p "$res"
  {  # sourced by the guest's bash: %q quotes every value safely
    printf 'MATRIX_LANE=%q\n' "$lane"
    printf 'MATRIX_TIME_SCALE=%q\n' "$scale"
    printf 'MATRIX_PYTEST_SECONDS=%q\n' "$(( limit - 90 ))"
    printf 'MATRIX_TESTS=%q\n' "$3"
    printf 'MATRIX_GUEST_CMD=%q\n' "${MATRIX_GUEST_CMD:-}"
    printf 'MATRIX_SHARD=%q\n' "$2"
  } > "$res/guest.env"
  t0=$(now)
  set +e
  # In the background so that a signal to this lane (Ctrl-C, an outer timeout) can end qemu too.
  nice -n "$ARCH_NICE" timeout -k 10 "$limit" "$QEMU_SYSTEM" -machine "$MACHINE" \
    -accel "${MATRIX_ACCEL:-$ARCH_ACCEL}" -cpu "${MATRIX_CPU:-$CPU}" -smp "$SMP" -m "$MEM" \
    -nodefaults -no-user-config -display none -no-reboot -nic none \
    -serial "file:$res/serial.log" \
    -kernel "$kernel" -initrd "$dir/initramfs.cpio.gz" \
    -append "console=$CONSOLE rdinit=/init panic=-1 loglevel=4 $APPEND" \
    -fsdev "local,id=fsroot,path=$dir/rootfs,security_model=passthrough,readonly=on" \
    -device virtio-9p-pci,fsdev=fsroot,mount_tag=rootfs \
    -fsdev "local,id=fsrepo,path=$REPO,security_model=passthrough,readonly=on" \
    -device virtio-9p-pci,fsdev=fsrepo,mount_tag=repo \
    -fsdev "local,id=fsres,path=$res,security_model=passthrough" \
    -device virtio-9p-pci,fsdev=fsres,mount_tag=results \
    -device virtio-rng-pci \
    > "$res/qemu.log" 2>&1 &
  QEMU_PID=$!
  # bash's `time` also reports the CPU seconds of the children reaped meanwhile (qemu): the guest's cost
  # without the waits for a core that other guests cause, which the wall time includes.
  local TIMEFORMAT='%U %S'
  { time wait "$QEMU_PID"; } 2> "$res/qemu-cpu"
  qrc=$?
  QEMU_PID=
  set -e
  printf 'qemu_rc=%s\nguest_seconds=%s\nbuild_seconds=%s\ncpu_seconds=%s\n' "$qrc" "$(( $(now) - t0 ))" \
    "$(cat "$dir/build-seconds" 2>/dev/null || echo 0)" \
    "$(awk '{ printf "%d", $1 + $2 }' "$res/qemu-cpu" 2>/dev/null)" > "$res/timing"
  [ "$qrc" -eq 124 ] && echo "qemu killed after ${limit}s (MATRIX_QEMU_TIMEOUT)" > "$res/host-error"
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
    LESSONS_NO_SKIP=1 timeout -k 10 "${QEMU_TIMEOUT:-3000}" .venv/bin/python -m pytest \
      -p no:cacheprovider -o junit_family=xunit1 --junitxml="$res/junit.xml" -rA $TESTS > "$res/pytest.log" 2>&1
    rc=$?
    set -e
    printf 'guest_seconds=%s\nbuild_seconds=0\n' "$(( $(now) - t0 ))" > "$res/timing"
  fi
  echo "$rc" > "$res/rc"
  uname -r > "$res/kernel"
  uname -m > "$res/arch"
  . /etc/os-release; echo "$(cat /etc/debian_version 2>/dev/null || echo "$VERSION_ID")" > "$res/os"
  .venv/bin/python -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' > "$res/python" 2>&1 || true
  .venv/bin/python -c 'import bcc; print(bcc.__version__)' > "$res/bcc" 2>&1 || true
  date -u +%Y-%m-%dT%H:%M:%SZ > "$res/date"
  git -C "$REPO" describe --always --dirty > "$res/commit" 2>/dev/null || true
  say "host: pytest exit $rc in $(grep -o '[0-9]*' <<< "$(grep guest_seconds "$res/timing")") s"
}

# ---------------------------------------------------------------- the run
lane_broken() {  # lane_broken LANE WHY — the lane did not boot: its column in the report says why
  rm -rf "${OUT:?}/$1"; mkdir -p "$OUT/$1"
  echo "$2" > "$OUT/$1/host-error"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$OUT/$1/date"
}

launch_lane() {  # launch_lane LANE — its guest in the background (CI: with its share of the shared tests)
  local l=$1 shard= tests=$TESTS
  if [ -n "${MATRIX_SHARD:-}" ]; then
    if [ -n "${share_index[$l]:-}" ]; then
      shard="${share_index[$l]}/${#share_index[@]}"
    elif [ -z "${MATRIX_TESTS:-}" ]; then
      tests="$LESSON_TESTS $CI_EXERCISE_TESTS"   # not a sharing lane: every lesson test (ci.env, CI_SHARE_LANES)
    fi
  elif [ -z "${MATRIX_TESTS:-}" ]; then
    # An emulated architecture (arm64: ~2x an x86 guest's CPU per test) runs the lesson and exercise tests; the
    # robustness tests (signals, escaping, losses: the Python side, the same on every architecture) run on
    # the x86-64 lanes and the host.
    lane_def "$l"; [ "$ARCH" = amd64 ] || tests="$LESSON_TESTS tests/test_exercises.py"
  fi
  say "$l: booting $(basename "$(ls "$CACHE/$l"/rootfs/boot/vmlinuz-* | sort -V | tail -n 1)") under TCG${shard:+ (CI share $shard)}"
  ( trap '[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null; exit 143' TERM
    run_lane "$l" "$shard" "$tests"
    say "$l: done in $(sed -n 's/guest_seconds=//p' "$OUT/$l/timing") s (pytest exit $(cat "$OUT/$l/rc" 2>/dev/null || echo none))" ) &
  guest_pid[$!]=$l
}

T0=$(now)
QEMU_PID= BUILD_PID=
# Ctrl-C or an outer timeout: end the guests and builds still running (each subshell kills its own qemu or
# mmdebstrap).
trap '[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null; [ -n "$BUILD_PID" ] && kill "$BUILD_PID" 2>/dev/null; kill $(jobs -p) 2>/dev/null; exit 130' INT TERM
for l in "${lanes[@]}"; do [ "$l" = host ] && run_host; done

# CI mode: the lanes named in CI_SHARE_LANES share out the robustness and forced-kprobe tests, k of n.
declare -A share_index=()
if [ -n "${MATRIX_SHARD:-}" ]; then
  for l in "${guest_lanes[@]}"; do
    [[ " $CI_SHARE_LANES " == *" $l "* ]] && share_index[$l]=${#share_index[@]}
  done
fi

# Root filesystems. A foreign architecture's takes minutes of CPU (its maintainer scripts run under qemu-user):
# those build in the background from the start, while the native ones (network and disk bound, ~1 min each)
# build one after another and their guests boot. $CACHE/LANE/build-rc says a build has ended, and how.
for l in "${guest_lanes[@]}"; do
  rm -f "$CACHE/$l/build-rc"
  lane_def "$l"
  [ "$ARCH" = "$HOST_ARCH" ] && continue
  ( trap '[ -n "$BUILD_PID" ] && kill "$BUILD_PID" 2>/dev/null; exit 143' TERM
    rc=0; build_rootfs "$l" || rc=$?; echo "$rc" > "$CACHE/$l/build-rc" ) &
done
for l in "${guest_lanes[@]}"; do
  lane_def "$l"
  [ "$ARCH" = "$HOST_ARCH" ] || continue
  rc=0; build_rootfs "$l" || rc=$?; echo "$rc" > "$CACHE/$l/build-rc"
done

# The guests, at most $JOBS at once (TCG is CPU bound: two single-threaded guests fill a 2-core machine, more
# share it), each as soon as its rootfs is ready, in the order of $guest_lanes (lanes.sh lists the slowest
# first). A lane whose rootfs failed is reported and skipped.
declare -A guest_pid=()
pending=("${guest_lanes[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  while [ ${#guest_pid[@]} -ge "$JOBS" ]; do   # a free slot: wait for any guest to end (bash >= 5.1: -p)
    finished=
    wait -n -p finished "${!guest_pid[@]}" || true
    if [ -n "$finished" ]; then unset "guest_pid[$finished]"; continue; fi
    for p in "${!guest_pid[@]}"; do kill -0 "$p" 2>/dev/null || unset "guest_pid[$p]"; done   # reaped already
    sleep 1
  done
  next=() started=
  for l in "${pending[@]}"; do
    if [ -z "$started" ] && [ -e "$CACHE/$l/build-rc" ]; then
      started=$l
      if [ "$(cat "$CACHE/$l/build-rc")" = 0 ]; then launch_lane "$l"
      else lane_broken "$l" "rootfs build failed (log: $CACHE/$l/mmdebstrap.log)"; fi
    else
      next+=("$l")
    fi
  done
  pending=("${next[@]}")
  # nothing ready: a foreign rootfs is still building (bounded by MATRIX_BUILD_TIMEOUT)
  [ -n "$started" ] || sleep 5
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
