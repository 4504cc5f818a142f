#!/usr/bin/env python3
# Exercise 008-failed — the execve() calls that failed, and why.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=008-failed
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
#define TASK_COMM_LEN 16

struct call_t { u32 pid; int error; char comm[TASK_COMM_LEN]; char filename[128]; };
BPF_PERF_OUTPUT(calls);

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    struct call_t c = {};
    c.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&c.comm, sizeof(c.comm));
    bpf_probe_read_user_str(c.filename, sizeof(c.filename), args->filename);
    // TODO: the result is only known at the exit (syscalls:sys_exit_execve, args->ret): keep the call in a
    // map keyed by the thread id until then, and send only the calls whose result is an error
    calls.perf_submit(args, &c, sizeof(c));
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every execve() that failed, with its error.", probes=()), [])
b = BPF(text=program)
columns = "%-7s %-16s %5s %s" % ("PID", "COMM", "ERROR", "FILENAME")


def print_call(cpu, data, size):
    c = b["calls"].event(data)
    comm, filename = plumbing.printable(c.comm), plumbing.printable(c.filename)
    plumbing.show("%-7d %-16s %5d %s" % (c.pid, comm, c.error, filename))


b["calls"].open_perf_buffer(print_call, page_cnt=16, lost_cb=plumbing.lost)
plumbing.run(b, args, "failed execve() calls", lambda: b.perf_buffer_poll(timeout=100), header=columns)
