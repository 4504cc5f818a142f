#!/bin/bash
# bundle-guest.sh BUNDLE — in the guest of a bare lane (bookworm-6.1-bare: a Debian root filesystem without bcc,
# headers, make or pip packages; no network), run by scripts/test-bundle.sh through MATRIX_GUEST_CMD:
#   1. a writable root: the read-only 9p rootfs under an overlay whose upper layer is a tmpfs (dpkg writes there)
#   2. as a learner would: tar xf the bundle (/repo/BUNDLE, "copied" from the host) in /root,
#      cd ebpf-lessons && ./offline-setup.sh (timed), then `make run` (lesson 001, stopped with SIGINT) and
#      `make test` on the lesson tests, from the bundle's own copy of the repository
# Writes to /results: bundle-setup.log, bundle-setup-seconds, bundle-run.log, bundle-network, pytest.log,
# junit.xml; exits with pytest's status (or 2: set-up failed, 3: make run failed).
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp
# shellcheck source=/dev/null
. /results/guest.env
R=/results
bundle=/repo/${1:?usage: bundle-guest.sh BUNDLE (a path in the repository)}
say() { echo "bundle-guest: $*"; }

if [ -z "${BUNDLE_GUEST_INSIDE:-}" ]; then
  modprobe overlay || { say "cannot load the overlay module"; exit 1; }
  o=/run/bundle-overlay
  mkdir -p $o && mount -t tmpfs -o size=75% tmpfs $o && mkdir -p $o/upper $o/work $o/root || exit 1
  mount -t overlay overlay -o lowerdir=/,upperdir=$o/upper,workdir=$o/work $o/root \
    || { say "cannot mount an overlay on the rootfs"; exit 1; }
  for d in proc sys dev repo results; do mount --rbind /$d $o/root/$d || exit 1; done
  mount -t tmpfs -o mode=1777 tmpfs $o/root/tmp
  say "writable root: overlay on $(df -h $o | awk 'NR == 2 {print $2}') of tmpfs"
  BUNDLE_GUEST_INSIDE=1 exec chroot $o/root /bin/bash /repo/scripts/matrix/bundle-guest.sh "$1"
fi

# No network: the guest has no interface but lo (qemu -nic none); say so in the results.
ls /sys/class/net > $R/bundle-network
say "network interfaces: $(tr '\n' ' ' < $R/bundle-network)"
command -v make >/dev/null && say "make is installed already" || say "no make here (the bundle brings it)"
cd /root || exit 1
t0=$(date +%s.%N)
tar xf "$bundle" || { say "tar xf $bundle failed"; exit 2; }
cd ebpf-lessons || exit 2
./offline-setup.sh > $R/bundle-setup.log 2>&1
rc=$?
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", b - a }' > $R/bundle-setup-seconds
sed 's/^/  /' $R/bundle-setup.log
say "tar xf + offline-setup.sh: exit $rc in $(cat $R/bundle-setup-seconds) s"
[ "$rc" -eq 0 ] || exit 2

# The harness's knobs, as guest-run.sh sets them.
export LESSONS_NO_SKIP=1 LESSONS_EXPECT_AUTO=kprobe LESSONS_KERNEL_LANE="$MATRIX_LANE" \
       LESSONS_TIME_SCALE="$MATRIX_TIME_SCALE"
scale=${MATRIX_TIME_SCALE%.*}
# make run: set-up (a check now), then lesson 001 until Ctrl-C (SIGINT from timeout, which then exits 124 whatever
# make did): the ready line, and the line the lesson prints as it ends, with no traceback.
timeout -s INT $(( 20 * scale )) make run > $R/bundle-run.log 2>&1
sed 's/^/  /' $R/bundle-run.log | head -n 20
if ! grep -q '^Tracing' $R/bundle-run.log || ! grep -q '^trace buffer overruns' $R/bundle-run.log \
   || grep -q Traceback $R/bundle-run.log; then
  say "make run: lesson 001 did not run and end cleanly (bundle-run.log)"; exit 3
fi
say "make run: lesson 001 attached, printed its ready line and ended on Ctrl-C"

per_test=$(( 180 * scale ))
say "make test PYTEST_ARGS=... ${MATRIX_TESTS}"
timeout -s INT -k 20 "$MATRIX_PYTEST_SECONDS" make test PYTEST_ARGS="-p no:cacheprovider -o timeout=$per_test \
  -o junit_family=xunit1 --junitxml=$R/junit.xml -rA $MATRIX_TESTS" > $R/pytest.log 2>&1
rc=$?
tail -n 30 $R/pytest.log
say "make test: exit $rc"
exit $rc
