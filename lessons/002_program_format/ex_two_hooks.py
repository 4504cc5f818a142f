#!/usr/bin/env python3
# Exercise 002-two-hooks — one program, two hooks, and which one fired. The task: EXERCISES.md (中文: EXERCISES.zh.md).
# Check it: sudo make check EX=002-two-hooks
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
int hello_clone(void *ctx) {
    bpf_trace_printk("Hello, clone!");
    return 0;
}
// TODO: a second function that says "Hello, execve!"
"""

args = plumbing.parse(plumbing.parser("Hello on clone() and on execve(), saying which."), [])
b = BPF(text=program)
clone = b.get_syscall_fnname("clone")
# TODO: attach your second function to the execve() syscall too, in both ways
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=clone, fn_name="hello_clone"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_clone", fn_name="hello_clone"))


def print_line():   # lesson 002's columns: TIME(s) COMM PID CPU MESSAGE
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    plumbing.show("%-18.6f %-16s %-7d %-3d %s" % (ts, plumbing.printable(task), pid, cpu, plumbing.printable(msg)))


plumbing.run(b, args, "clone() and execve()", print_line, trace_pipe=True,
             header="%-18s %-16s %-7s %-3s %s" % ("TIME(s)", "COMM", "PID", "CPU", "MESSAGE"))
