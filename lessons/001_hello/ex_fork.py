#!/usr/bin/env python3
# Exercise 001-fork — every new process, however it was made. The task: EXERCISES.md (中文: EXERCISES.zh.md).
# Check it: sudo make check EX=001-fork
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

# The scheduler's tracepoint for a new task. Its fields:
#   sudo cat /sys/kernel/tracing/events/sched/sched_process_fork/format
program = r"""
TRACEPOINT_PROBE(sched, sched_process_fork) {
    // TODO: print the parent's pid and the child's pid, as "parent=PARENT child=CHILD"
    bpf_trace_printk("a new task");
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every new task: the parent's and the child's pid.", probes=(), count=False), [])
b = BPF(text=program)
plumbing.run(b, args, "forks", b.trace_print, trace_pipe=True)
