#!/usr/bin/env python3
# Exercise 006-paths — how often each file is opened, counted in the kernel.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=006-paths
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>

BPF_ARRAY(total, u64, 1);         // every open, one counter; TODO: a BPF_HASH keyed by the path instead

static int count(const char __user *filename) {
#ifdef FILTER_PID
    if (bpf_get_current_pid_tgid() >> 32 != FILTER_PID)
        return 0;
#endif
    // TODO: read the path into a key (the first 63 bytes), and count under that key
    int zero = 0;
    u64 *n = total.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}

int on_do_sys_openat2(struct pt_regs *ctx) { return count((const char __user *)PT_REGS_PARM2(ctx)); }
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return count(args->filename); }
"""

parser = plumbing.parser("Opens per file name, counted in the kernel, printed at Ctrl-C.")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's opens")
args = plumbing.parse(parser, [])
b = BPF(text=program, cflags=["-DFILTER_PID=%d" % args.pid] if args.pid else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event="do_sys_openat2", fn_name="on_do_sys_openat2"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="on_openat"))


def print_counts():   # TODO: a line "COUNT PATH" per path, from b["..."].items()
    print("opens in all: %d" % b["total"][0].value)


plumbing.run(b, args, "opens per path", lambda: plumbing.sleep(0.1), summary=print_counts)
