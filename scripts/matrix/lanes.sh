# The kernel-matrix lanes: one stock Debian kernel each, with that suite's own bcc and matching headers.
# Sourced by scripts/kernel-matrix.sh. lane_def NAME sets:
#   SUITE     the Debian suite mmdebstrap bootstraps
#   ARCH      the Debian architecture of the rootfs and kernel (amd64, arm64); arch_def ARCH says how to boot it
#   SOURCES   apt source lines (one per line) for that suite, its updates and its security archive
#   KERNEL    the packages that bring the kernel image and its matching headers (and, on bookworm, bpftool:
#             bullseye's bpftool comes from the kernel's source package in bullseye-security, whose pool
#             dropped the .deb its index still named (404, 2026-11-24); the tests then list BPF programs
#             with the bpf() command bpftool uses, and read BTF offsets with the lesson's own parser only)
#   PACKAGES  what else the rootfs holds: COMMON_PACKAGES, but for a bare lane
# Changing any of these rebuilds that lane's root filesystem.

# Every lane, in the order `make test-kernels` runs them (the longest first: the arm64 lane is emulated
# instruction by instruction on an x86 host, so it starts first and the x86 guests fill the other core).
ALL_LANES="trixie-arm64 bookworm-6.1 bookworm-6.12 bullseye-5.10 trixie-6.12"
# CI mode's lanes and how they share the tests: scripts/matrix/ci.env, CI's whole policy in one file.
# shellcheck source=ci.env
. "$(dirname "${BASH_SOURCE[0]}")/ci.env"

# bcc (tools + Python module), the test runner, and what the harness and lessons call (gcc, libc6-dev and
# systemtap-sdt-dev: the C programs lessons 011 and 012 build). python3-pytest-timeout is in bullseye, bookworm and trixie.
COMMON_PACKAGES="bpfcc-tools python3-bpfcc python3-pytest python3-pytest-timeout make procps kmod coreutils util-linux gcc libc6-dev systemtap-sdt-dev"

# A bare lane (bookworm-6.1-bare; not in ALL_LANES): what a fresh Debian has (apt and mount: priority required, not
# essential), no bcc, no headers, no make: the guest
# sets up from an offline bundle (scripts/test-bundle.sh, `make test-bundle`). kmod: the guest's overlay module.
BARE_PACKAGES="apt mount python3 procps kmod coreutils util-linux"

MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security

lane_def() {
  ARCH=amd64 PACKAGES=$COMMON_PACKAGES
  case "$1" in
    bookworm-6.1)    # Debian 12's default kernel
      SUITE=bookworm
      KERNEL="linux-image-amd64 linux-headers-amd64 bpftool" ;;
    bookworm-6.12)   # the 6.12 kernel Debian 12 ships in bookworm-security (meta packages track 6.12.x)
      SUITE=bookworm
      KERNEL="linux-image-6.12-amd64 linux-headers-6.12-amd64 bpftool" ;;
    bookworm-6.1-bare)   # Debian 12's default kernel alone: headers, bcc and the rest come from the bundle
      SUITE=bookworm PACKAGES=$BARE_PACKAGES
      KERNEL="linux-image-amd64" ;;
    bullseye-5.10)   # Debian 11: kernel 5.10, bcc 0.18, Python 3.9
      SUITE=bullseye
      KERNEL="linux-image-amd64 linux-headers-amd64" ;;
    trixie-6.12)     # Debian 13: kernel 6.12, bcc 0.31, Python 3.13
      SUITE=trixie
      KERNEL="linux-image-amd64 linux-headers-amd64 bpftool" ;;
    trixie-arm64)    # Debian 13 on arm64 (a Raspberry Pi 4/5, an Ampere or Graviton server, a Mac's Linux VM)
      SUITE=trixie ARCH=arm64
      # busybox-static: the initramfs's busybox must be an arm64 one too (scripts/matrix/mkinitramfs.sh)
      KERNEL="linux-image-arm64 linux-headers-arm64 bpftool busybox-static" ;;
    *) return 1 ;;
  esac
  SOURCES="deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main"
}

# arch_def ARCH sets how a guest of that architecture boots under TCG:
#   QEMU_SYSTEM   the qemu binary          MACHINE   its -machine          CPU    its default -cpu (MATRIX_CPU)
#   CONSOLE       the serial console's name on the kernel command line
#   QEMU_ARCH     the name qemu-user (binfmt_misc) knows the architecture by, to run its maintainer scripts
#                 while mmdebstrap builds a foreign rootfs
#   ARCH_ACCEL    the default -accel (MATRIX_ACCEL)
#   ARCH_SLOWER   how much slower than an x86 guest its tests run on an x86 host (measured: ~2x the CPU
#                 seconds per lesson test); the waits' scale, and the default time in qemu, are multiplied by it
#   ARCH_NICE     the guest's nice value. The arm64 lane is the matrix's longest chain (~8 min of rootfs build
#                 under qemu-user, then its tests at half an x86 guest's speed): the x86 guests yield to it, and
#                 take the CPU it leaves (alone, or against each other, nice changes nothing).
arch_def() {
  case "$1" in
    amd64)
      QEMU_SYSTEM=qemu-system-x86_64 MACHINE=pc CPU=qemu64 CONSOLE=ttyS0 QEMU_ARCH=x86_64
      # One host thread runs both vCPUs (thread=single), so two guests fill the 2 cores; three at once share
      # them and end together, sooner than two then one. Measured: two thread=multi guests at once each ran
      # >2x slower.
      ARCH_ACCEL=tcg,thread=single ARCH_SLOWER=1 ARCH_NICE=10 ;;
    arm64)
      # -cpu max emulates pointer authentication with QARMA, which costs ~3x at boot and 1.6x compiling a BPF
      # program; pauth-impdef=on keeps pauth but with a cheap IMPLEMENTATION DEFINED algorithm.
      # thread=single too: thread=multi used ~20% more CPU for the same tests (their wall time was the same
      # with other guests running), and the x86 guests get the second core.
      QEMU_SYSTEM=qemu-system-aarch64 MACHINE=virt CPU=max,pauth-impdef=on CONSOLE=ttyAMA0 QEMU_ARCH=aarch64
      ARCH_ACCEL=tcg,thread=single ARCH_SLOWER=2 ARCH_NICE=0 ;;
    *) return 1 ;;
  esac
}
