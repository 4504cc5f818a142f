#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 003-result. Try lessons/003_do_sys_open/ex_result.py first.
# 剧透：练习 003-result 的参考答案。请先自己做 lessons/003_do_sys_open/ex_result.py。
import plumbing
from bcc import BPF

# One line at the entry (the path), one at the return (the result); Python joins them by the thread id,
# which both trace lines carry: one thread makes one open at a time.
program = r"""
#include <uapi/linux/ptrace.h>

static int entry(const char __user *filename) {
    char path[256];
    bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK e %s", path);
    return 0;
}

static int result(long ret) {
    bpf_trace_printk("MARK r %ld", ret);
    return 0;
}

int on_entry(struct pt_regs *ctx) { return entry((const char __user *)PT_REGS_PARM2(ctx)); }
int on_return(struct pt_regs *ctx) { return result(PT_REGS_RC(ctx)); }   // do_sys_openat2's return value

int on_enter_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return entry(args->filename); }
int on_exit_openat(struct tracepoint__syscalls__sys_exit_openat *args) { return result(args->ret); }
"""

args = plumbing.parse(plumbing.parser("Every open, with its result: the file descriptor or the error."), [])
b = BPF(text=plumbing.marked(program))


def kprobes():
    b.attach_kprobe(event="do_sys_openat2", fn_name="on_entry")
    b.attach_kretprobe(event="do_sys_openat2", fn_name="on_return")


def tracepoints():
    b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="on_enter_openat")
    b.attach_tracepoint(tp="syscalls:sys_exit_openat", fn_name="on_exit_openat")


plumbing.attach(args.probe, b, kprobe=kprobes, tracepoint=tracepoints)
paths = {}   # thread id -> the path its open started with


def print_open():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 2)
    if fields and fields[0] == b"e":
        paths[pid] = fields[1]
    elif fields and pid in paths:
        plumbing.show("%-7d %-16s %6d %s" % (pid, plumbing.printable(task), int(fields[1]),
                                             plumbing.printable(paths.pop(pid))))


plumbing.run(b, args, "opens and their results", print_open, trace_pipe=True,
             header="%-7s %-16s %6s %s" % ("PID", "COMM", "RESULT", "PATH"))
