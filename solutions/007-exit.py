#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 007-exit. Try lessons/007_exec/ex_exit.py first.
# 剧透：练习 007-exit 的参考答案。请先自己做 lessons/007_exec/ex_exit.py。
import plumbing
from bcc import BPF

# exit_group() is how a process ends itself (returning from main(), sys.exit(), exit()): its tracepoint has the
# code. (A process killed by a signal never calls it.)
program = r"""
#define TASK_COMM_LEN 16

struct exit_t { u32 pid; int code; char comm[TASK_COMM_LEN]; };
BPF_PERF_OUTPUT(exits);

TRACEPOINT_PROBE(syscalls, sys_enter_exit_group) {
    struct exit_t e = {};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    e.code = args->error_code;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    exits.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every process that exits, with its exit code.", probes=()), [])
b = BPF(text=program)


def print_exit(cpu, data, size):
    e = b["exits"].event(data)
    plumbing.show("%-7d %-16s %4d" % (e.pid, plumbing.printable(e.comm), e.code))


b["exits"].open_perf_buffer(print_exit, lost_cb=plumbing.lost)
plumbing.run(b, args, "exits", lambda: b.perf_buffer_poll(timeout=100), header="%-7s %-16s %4s" % ("PID", "COMM", "CODE"))
