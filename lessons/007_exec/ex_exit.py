#!/usr/bin/env python3
# Exercise 007-exit — the other end of a process's life: its exit code.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=007-exit
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

# sched:sched_process_exit fires as each task ends, but it has no exit code: find the tracepoint that has one
# (in tracefs, which lesson 000 names: sudo ls /sys/kernel/tracing/events/syscalls/ | grep exit_group).
program = r"""
#define TASK_COMM_LEN 16

struct ending_t { u32 pid; int code; char comm[TASK_COMM_LEN]; };
BPF_PERF_OUTPUT(endings);

TRACEPOINT_PROBE(sched, sched_process_exit) {
    struct ending_t e = {};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    e.code = 0;                       // TODO: the code the process exits with
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    endings.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every process that exits, with its exit code.", probes=()), [])
b = BPF(text=program)


def print_ending(cpu, data, size):
    e = b["endings"].event(data)
    plumbing.show("%-7d %-16s %4d" % (e.pid, plumbing.printable(e.comm), e.code))


b["endings"].open_perf_buffer(print_ending, lost_cb=plumbing.lost)
plumbing.run(b, args, "exits", lambda: b.perf_buffer_poll(timeout=100), header="%-7s %-16s %4s" % ("PID", "COMM", "CODE"))
