#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 001-fork. Try lessons/001_hello/ex_fork.py yourself first.
# 剧透：练习 001-fork 的参考答案。请先自己做 lessons/001_hello/ex_fork.py。
import plumbing
from bcc import BPF

# sched:sched_process_fork fires inside the kernel for every new task, whichever system call made it
# (clone, clone3, vfork, fork): its fields are in /sys/kernel/tracing/events/sched/sched_process_fork/format.
program = r"""
TRACEPOINT_PROBE(sched, sched_process_fork) {
    bpf_trace_printk("parent=%d child=%d", args->parent_pid, args->child_pid);
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every new task: the parent's and the child's pid.", probes=(), count=False), [])
b = BPF(text=program)
plumbing.run(b, args, "forks", b.trace_print, trace_pipe=True)
