#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 002-two-hooks. Try lessons/002_program_format/ex_two_hooks.py first.
# 剧透：练习 002-two-hooks 的参考答案。请先自己做 lessons/002_program_format/ex_two_hooks.py。
import plumbing
from bcc import BPF

# Two functions: a BPF program does not know which hook it was attached to, so each hook gets its own.
program = r"""
int hello_clone(void *ctx) {
    bpf_trace_printk("Hello, clone!");
    return 0;
}

int hello_execve(void *ctx) {
    bpf_trace_printk("Hello, execve!");
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Hello on clone() and on execve(), saying which."), [])
b = BPF(text=program)
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(s), fn_name="hello_" + s)
                                for s in ("clone", "execve")],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + s, fn_name="hello_" + s)
                                    for s in ("clone", "execve")])


def print_line():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    plumbing.show("%-18.6f %-16s %-7d %-3d %s" % (ts, plumbing.printable(task), pid, cpu, plumbing.printable(msg)))


plumbing.run(b, args, "clone() and execve()", print_line, trace_pipe=True,
             header="%-18s %-16s %-7s %-3s %s" % ("TIME(s)", "COMM", "PID", "CPU", "MESSAGE"))
