#!/usr/bin/env python3
"""Each probe kind, tried on this kernel: does it attach, and does it see this process's own call?

    sudo python3 notes/demos/probe_kinds.py

One counter per kind, counting only this process's calls: getppid() for the kernel-side kinds, libc's
getpid() for the user-space ones (fentry, when it loads, only attaches). Evidence for notes/probe-kinds.md.
"""
import ctypes as ct
import os
import platform

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lessons"))
import facts  # noqa: E402  (lessons/facts.py: where tracefs is, headers, BTF)

from bcc import BPF

PROGRAM = r"""
#include <asm/unistd.h>
BPF_ARRAY(hits, u64, 8);
static int hit(int kind) {
    if (bpf_get_current_pid_tgid() >> 32 == TGID)
        hits.increment(kind);
    return 0;
}
int on_kprobe(void *ctx) { return hit(0); }
int on_kretprobe(void *ctx) { return hit(1); }
int on_tracepoint(void *ctx) { return hit(2); }
RAW_TRACEPOINT_PROBE(sys_enter) { return ctx->args[1] == __NR_getppid ? hit(3) : 0; }
int on_uprobe(void *ctx) { return hit(5); }
int on_uretprobe(void *ctx) { return hit(6); }
"""
FENTRY = r"""
KFUNC_PROBE(TARGET) { return 0; }   /* fentry: attached when loaded */
"""


def first_line(e):
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def main():
    cflags = ["-DTGID=%d" % os.getpid()]
    b = BPF(text=PROGRAM, cflags=cflags)
    fn = b.get_syscall_fnname("getppid").decode()
    tries = [
        (0, "kprobe", fn, lambda: b.attach_kprobe(event=fn, fn_name="on_kprobe")),
        (1, "kretprobe", fn, lambda: b.attach_kretprobe(event=fn, fn_name="on_kretprobe")),
        (2, "tracepoint", "syscalls:sys_enter_getppid",
         lambda: b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="on_tracepoint")),
        (3, "raw_tracepoint", "sys_enter", lambda: None),       # RAW_TRACEPOINT_PROBE: attached on load
        # fentry needs the function in BTF: the syscall wrapper is not there on 6.18, vfs_read is
        (4, "fentry", "vfs_read", lambda: BPF(text=FENTRY.replace("TARGET", "vfs_read"), cflags=cflags)),
        (5, "uprobe", "libc:getpid", lambda: b.attach_uprobe(name="c", sym="getpid", fn_name="on_uprobe")),
        (6, "uretprobe", "libc:getpid", lambda: b.attach_uretprobe(name="c", sym="getpid", fn_name="on_uretprobe")),
    ]
    results = {}
    keep = []
    for kind_id, kind, target, attach in tries:
        try:
            keep.append(attach())
            results[kind_id] = "attached"
        except Exception as e:                       # bcc raises Exception for every attach failure
            results[kind_id] = "FAILED: " + first_line(e)
    os.getppid()
    ct.CDLL(None).getpid()                           # libc's getpid(), through the uprobe
    print("kernel %s, bcc %s; kprobe_events in tracefs: %s" % (
        platform.release(), __import__("bcc").__version__,
        "yes" if facts.kprobes_available() else "no"))
    print("%-15s %-27s %-6s %s" % ("KIND", "TARGET", "HITS", "ATTACH"))
    for kind_id, kind, target, _ in tries:
        hits = b["hits"][kind_id].value if results[kind_id] == "attached" and kind_id != 4 else "-"
        print("%-15s %-27s %-6s %s" % (kind, target, hits, results[kind_id]))


if __name__ == "__main__":
    main()
