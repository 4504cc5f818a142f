#!/usr/bin/env bash
# Set up everything the lessons need, on a fresh Debian or Ubuntu machine. Idempotent: a second run
# only checks, and takes seconds. Called by `make run`, `make test` and `make setup`.
#
#   1. apt packages: bcc (python3-bpfcc, bpfcc-tools), bpftool, python3-venv; clang, libbpf-dev and
#      python3-matplotlib for the documentation checks and figures
#   2. kernel headers: linux-headers-$(uname -r) where the distro has it; otherwise the distro's
#      generic headers (Debian: linux-headers-amd64 or linux-headers-arm64, by dpkg's architecture;
#      Ubuntu: linux-headers-generic, on either architecture) linked in as /lib/modules/$(uname -r)/{build,source} (a FALLBACK: bcc compiles,
#      but struct layouts may differ from the running kernel)
#   3. debugfs and tracefs mounted (bcc reads trace_pipe and tracepoint formats there)
#   4. .venv: a Python environment on the distro's python3 that sees the distro's bcc, plus requirements.txt
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
trap 'die "step failed (line $LINENO): $BASH_COMMAND"' ERR   # never stop silently

[ "$(id -u)" -eq 0 ] || die "needs root (BPF, mounts, apt): run it as 'sudo make run' or 'sudo make test'"
[ "$(uname -s)" = Linux ] || die "eBPF needs a Linux kernel; this is $(uname -s)"
command -v apt-get >/dev/null || die "this set-up knows Debian/Ubuntu (apt) only; install bcc by hand: see bcc's INSTALL.md"
# The bpf() syscall is in the kernel's symbol table when the kernel was built with CONFIG_BPF_SYSCALL.
grep -qE ' (__[a-z0-9]+_)?sys_bpf$' /proc/kallsyms \
  || die "this kernel has no bpf() system call (CONFIG_BPF_SYSCALL off): no lesson can run here"

KREL=$(uname -r)
ARCH=$(dpkg --print-architecture)
# shellcheck source=apt.sh
. scripts/apt.sh   # apt_install, apt_has, apt_update_once
# Offline (BUNDLE=path: a bundle of `make bundle`): checks it fits this machine, then apt and pip below take
# everything from it and nothing from the network (scripts/offline.sh).
# shellcheck source=offline.sh
[ -z "${BUNDLE:-}" ] || . scripts/offline.sh

# 1. Packages. Never 'pip install bcc': PyPI's "bcc" is an unrelated project.
apt_install bpfcc-tools python3-bpfcc python3-venv make
# Lessons 011 and 012 build small C programs of their own: USDT probes (<sys/sdt.h>) and frame pointers.
apt_install gcc libc6-dev systemtap-sdt-dev
# For the tests, figures and benchmark: clang + libbpf-dev compile the notes' libbpf-form examples
# (tests/test_docs.py), matplotlib draws img/ (make figures), gcc builds the benchmark's workloads and
# bpftrace is the peer it is compared with (make bench).
apt_install clang libbpf-dev python3-matplotlib gcc libc6-dev bpftrace
# bpftool is optional (Ubuntu ships it per kernel, in linux-tools-*); the lessons do not need it.
command -v bpftool >/dev/null || { apt_has bpftool && apt_install bpftool; } || say "note: no bpftool package (optional)"

# 2. Kernel headers. bcc compiles every program against /lib/modules/$KREL/build (and .../source).
MODDIR=/lib/modules/$KREL
if [ -e "$MODDIR/build/Makefile" ]; then
  # Which kernel the headers were made for: lessons/facts.py answers it for set-up, lesson 000 and the tests.
  made_for=$(/usr/bin/python3 lessons/facts.py --headers-release)
  if [ "$made_for" = "$KREL" ]; then say "kernel headers: matching ($MODDIR/build)"
  else say "kernel headers: FALLBACK, made for $made_for (struct layouts may differ from $KREL)"; fi
else
  apt_update_once
  if apt_has "linux-headers-$KREL"; then
    apt_install "linux-headers-$KREL"
    say "kernel headers: linux-headers-$KREL (matches the running kernel)"
  else
    # No package for this kernel (a custom or cloud kernel). Take the distro's generic headers and link
    # them where bcc looks. Debian splits them into a -common tree (source) and a per-flavour tree (build);
    # bcc needs both, so 'build' and 'source' point at one each.
    generic=linux-headers-$ARCH
    apt_has "$generic" || generic=linux-headers-generic   # Ubuntu's name
    apt_has "$generic" || die "no headers package for $KREL and no generic one ($generic); install kernel headers by hand"
    apt_install "$generic"
    build=$( (ls -d /usr/src/linux-headers-*-"$ARCH" /usr/src/linux-headers-*-generic 2>/dev/null || true) | sort -V | tail -n 1)
    [ -n "$build" ] || die "installed $generic but found no /usr/src/linux-headers-* tree"
    source=${build%-"$ARCH"}-common
    [ -d "$source" ] || source=${build%-generic}
    [ -d "$source" ] || source=$build
    mkdir -p "$MODDIR"
    ln -sfn "$build" "$MODDIR/build"
    ln -sfn "$source" "$MODDIR/source"
    say "kernel headers: no linux-headers-$KREL in the distro; FALLBACK to $(basename "$build")"
    say "  WARNING: these headers are for another kernel. bcc compiles, but struct layouts may differ from"
    say "  the running kernel (reading task->real_parent->tgid, for one, can give garbage). Lesson 000 says more."
  fi
fi

# 3. debugfs and tracefs: not mounted on some fresh machines, and bcc needs them.
mountpoint -q /sys/kernel/debug || { mount -t debugfs debugfs /sys/kernel/debug && say "mounted debugfs"; } \
  || die "cannot mount debugfs on /sys/kernel/debug (in a container? run on the host or a VM)"
if [ ! -e /sys/kernel/tracing/trace_pipe ] && [ ! -e /sys/kernel/debug/tracing/trace_pipe ]; then
  mount -t tracefs tracefs /sys/kernel/tracing && say "mounted tracefs" \
    || die "cannot mount tracefs on /sys/kernel/tracing"
fi

# Lesson 000 reads the kernel lockdown state from securityfs.
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true

# 4. The Python environment: the distro's python3 (the one python3-bpfcc installs into), with its
# site-packages visible, plus requirements.txt. Rebuilt only when requirements.txt changes.
VENV=.venv
if ! cmp -s requirements.txt "$VENV/.requirements" 2>/dev/null || [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV (distro python3 + requirements.txt)"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
  cp requirements.txt "$VENV/.requirements"
fi
# A Jupyter kernel for the notebooks (make notebooks / make lab), inside .venv so each clone has its own.
if [ ! -e "$VENV/share/jupyter/kernels/ebpf-lessons/kernel.json" ]; then
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name ebpf-lessons \
    --display-name "Python 3 (eBPF lessons, distro bcc)" >/dev/null
  say "Jupyter kernel ebpf-lessons installed in $VENV"
fi
"$VENV/bin/python" -c 'from bcc import BPF' 2>/dev/null \
  || die "bcc does not import in $VENV: is python3-bpfcc installed for /usr/bin/python3?"
say "ready (bcc $("$VENV/bin/python" -c 'import bcc; print(bcc.__version__)'), kernel $KREL)"
