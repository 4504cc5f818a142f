#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 008-failed. Try lessons/008_execve/ex_failed.py first.
# 剧透：练习 008-failed 的参考答案。请先自己做 lessons/008_execve/ex_failed.py。
import plumbing
from bcc import BPF

# The entry has the file name, the exit the result: a map keyed by thread id carries the call from one to
# the other (one thread makes one execve() at a time; a successful one does not return to the same program).
program = r"""
#define TASK_COMM_LEN 16

struct exec_t { u32 pid; int error; char comm[TASK_COMM_LEN]; char filename[128]; };
BPF_HASH(started, u32, struct exec_t);     // thread id -> its execve() in progress
BPF_PERF_OUTPUT(failures);

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    u32 tid = bpf_get_current_pid_tgid();
    struct exec_t e = {};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    bpf_probe_read_user_str(e.filename, sizeof(e.filename), args->filename);
    started.update(&tid, &e);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_execve) {
    u32 tid = bpf_get_current_pid_tgid();
    struct exec_t *e = started.lookup(&tid);
    if (!e)
        return 0;                      // its entry came before we started
    if (args->ret < 0) {
        e->error = args->ret;
        failures.perf_submit(args, e, sizeof(*e));   // straight from the map: no copy on the small BPF stack
    }
    started.delete(&tid);
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every execve() that failed, with its error.", probes=()), [])
b = BPF(text=program)


def print_failure(cpu, data, size):
    f = b["failures"].event(data)
    plumbing.show("%-7d %-16s %5d %s" % (f.pid, plumbing.printable(f.comm), f.error, plumbing.printable(f.filename)))


b["failures"].open_perf_buffer(print_failure, lost_cb=plumbing.lost)
plumbing.run(b, args, "failed execve() calls", lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %-16s %5s %s" % ("PID", "COMM", "ERROR", "FILENAME"))
