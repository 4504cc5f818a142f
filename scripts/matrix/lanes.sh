# The kernel-matrix lanes: one stock Debian kernel each, with that suite's own bcc and matching headers.
# Sourced by scripts/kernel-matrix.sh. lane_def NAME sets:
#   SUITE     the Debian suite mmdebstrap bootstraps
#   SOURCES   apt source lines (one per line) for that suite, its updates and its security archive
#   KERNEL    the packages that bring the kernel image and its matching headers (and, on bookworm, bpftool:
#             bullseye's bpftool comes from the kernel's source package in bullseye-security, whose pool
#             dropped the .deb its index still named (404, 2026-11-24); the tests then list BPF programs
#             with the bpf() command bpftool uses, and read BTF offsets with the lesson's own parser only)
# Every lane also gets COMMON_PACKAGES. Changing any of these rebuilds that lane's root filesystem.

ALL_LANES="bookworm-6.1 bookworm-6.12 bullseye-5.10"

# bcc (tools + Python module), the test runner, and what the harness and lessons call.
# python3-pytest-timeout is in both bookworm and bullseye.
COMMON_PACKAGES="bpfcc-tools python3-bpfcc python3-pytest python3-pytest-timeout make procps kmod coreutils util-linux"

MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security

lane_def() {
  case "$1" in
    bookworm-6.1)    # Debian 12's default kernel
      SUITE=bookworm
      KERNEL="linux-image-amd64 linux-headers-amd64 bpftool" ;;
    bookworm-6.12)   # the 6.12 kernel Debian 12 ships in bookworm-security (meta packages track 6.12.x)
      SUITE=bookworm
      KERNEL="linux-image-6.12-amd64 linux-headers-6.12-amd64 bpftool" ;;
    bullseye-5.10)   # Debian 11: kernel 5.10, bcc 0.18, Python 3.9
      SUITE=bullseye
      KERNEL="linux-image-amd64 linux-headers-amd64" ;;
    *) return 1 ;;
  esac
  SOURCES="deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main"
}
