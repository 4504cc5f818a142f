#!/usr/bin/env bash
# The offline bundle, tested for real (`sudo make test-bundle`; not part of `make test`). On a Debian 12 amd64
# machine with network:
#   1. make the bundle (scripts/bundle.sh) with KERNELS= the kernel of Debian 12's linux-image-amd64, the one the
#      bare lane boots: the bundle must bring that kernel's headers, as it would for a learner's machine
#   2. boot the lane bookworm-6.1-bare (scripts/matrix/lanes.sh: Debian 12's stock kernel, python3, no bcc, no
#      headers, no make; no network in the guest) with scripts/kernel-matrix.sh, whose guest command
#      (scripts/matrix/bundle-guest.sh) unpacks the bundle, runs offline-setup.sh, `make run` and `make test` on
#      the lesson tests
#   3. say how big the bundle is, how long the offline set-up took, and how the tests went
# Knobs: MATRIX_TESTS (the tests the guest runs: tests/test_00[1-8]_*.py, lessons 001-008), MATRIX_MEM (5G: the installed packages live
# in the guest's RAM), MATRIX_TIME_SCALE, MATRIX_QEMU_TIMEOUT (kernel-matrix.sh), BUNDLE_REUSE=1 (keep a bundle
# made before, if it holds that kernel). Results: results/kernel-matrix/bookworm-6.1-bare/.
set -euo pipefail
cd "$(dirname "$0")/.."
LANE=bookworm-6.1-bare
say() { printf 'test-bundle: %s\n' "$*"; }
die() { printf 'test-bundle: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (apt, mmdebstrap, qemu): run 'sudo make test-bundle'"
# shellcheck source=/dev/null
. /etc/os-release
[ "${ID:-} ${VERSION_ID:-} $(dpkg --print-architecture)" = "debian 12 amd64" ] \
  || die "the bare lane is Debian 12 amd64, and its bundle is made on such a machine; this is ${ID:-?} ${VERSION_ID:-?} $(dpkg --print-architecture)"
NAME=ebpf-lessons-debian-12-amd64
tarball=dist/$NAME.tar

apt-get update -qq
krel=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: linux-image-\(.*\)$/\1/p' | head -n 1)
[ -n "$krel" ] || die "cannot tell which kernel linux-image-amd64 installs"
if [ -n "${BUNDLE_REUSE:-}" ] && [ -e "$tarball" ] \
   && tar -xOf "$tarball" --occurrence=1 ebpf-lessons/bundle/manifest.json | grep -q "^    \"$krel\": "; then
  say "reusing $tarball (it holds headers for $krel)"
else
  say "making the bundle for kernel $krel"
  KERNELS=$krel bash scripts/bundle.sh
fi

res=results/kernel-matrix/$LANE
MATRIX_JOBS=1 MATRIX_MEM=${MATRIX_MEM:-5G} MATRIX_TESTS=${MATRIX_TESTS:-tests/test_00[1-8]_*.py} \
  MATRIX_GUEST_CMD="bash /repo/scripts/matrix/bundle-guest.sh $tarball" bash scripts/kernel-matrix.sh "$LANE"
rc=$(cat "$res/rc" 2>/dev/null || echo none)
summary=$(grep -E '^=+ .*(passed|failed|error).* in ' "$res/pytest.log" 2>/dev/null | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
say "bundle $tarball: $(du -m "$tarball" | cut -f1) MB"
say "guest $(cat "$res/kernel" 2>/dev/null || echo '?'): tar xf + offline set-up in $(cat "$res/bundle-setup-seconds" 2>/dev/null || echo '?') s (log: $res/bundle-setup.log)"
say "make test in the guest: ${summary:-no summary} (exit $rc; log: $res/pytest.log)"
[ "$rc" = 0 ]
