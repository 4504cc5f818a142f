#!/usr/bin/env python3
# Exercise 003-result — each open with its result. The task: EXERCISES.md (中文: EXERCISES.zh.md).
# Check it: sudo make check EX=003-result
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>

static int opened(const char __user *filename) {
    char path[256];
    bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK %s", path);
    return 0;
}

int on_do_sys_openat2(struct pt_regs *ctx) { return opened((const char __user *)PT_REGS_PARM2(ctx)); }
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return opened(args->filename); }
// TODO: the result: a kretprobe on do_sys_openat2 (PT_REGS_RC), or the tracepoint syscalls:sys_exit_openat
"""

args = plumbing.parse(plumbing.parser("Every open, with its result: the file descriptor or the error."), [])
b = BPF(text=plumbing.marked(program))
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event="do_sys_openat2", fn_name="on_do_sys_openat2"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="on_openat"))


def print_open():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 1)
    if fields:   # TODO: print PID COMM RESULT PATH, RESULT being the fd or the negative error
        plumbing.show("%-7d %-16s %s" % (pid, plumbing.printable(task), plumbing.printable(fields[0])))


plumbing.run(b, args, "opens", print_open, trace_pipe=True, header="%-7s %-16s %s" % ("PID", "COMM", "PATH"))
